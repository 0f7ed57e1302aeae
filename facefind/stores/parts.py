"""An index file written from parts: what `facefind index` writes to when the output is a file
(a database store takes the parts itself, each as it is done).

The parts are indexed at once by the local builder, or chunk by chunk by Ray workers; `keep`
saves them joined as one .npz. An index file it replaces hands on the people who asked not to
be found there: their faces are dropped from the new photos too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from facefind.config import EMBEDDING_SIZE
from facefind.stores.base import PhotoTable
from facefind.stores.npz import AlbumIndex, is_index_file
from facefind.stores.optout import without_opted_out


class IndexFileParts:
    """The parts of an index file being made (an `IndexTarget`, store.base)."""

    def __init__(self, where: str) -> None:
        self.parts: list[AlbumIndex] = []
        self.sources: tuple[str, ...] = ()
        self._opted_out = np.zeros((0, EMBEDDING_SIZE), np.float32)
        if is_index_file(where):
            self._opted_out = AlbumIndex.load(where).opted_out()
        #: an index file is made anew: no photo of it is there before this run
        self.photos = PhotoTable.numbered([])

    #: written once, whole, at the end: a stopped run starts again
    resumable = False

    def opted_out(self) -> np.ndarray:
        return self._opted_out

    def done_photos(self) -> set[str]:
        return set()

    def add(self, part: AlbumIndex) -> None:
        self.parts.append(without_opted_out(part, self._opted_out))

    def add_sources(self, paths: Sequence[str]) -> None:
        self.sources = tuple(dict.fromkeys([*self.sources, *paths]))

    def remove(self, names: Sequence[str], keep_out: bool = True) -> IndexFileParts:
        return self  # holds nothing of an earlier run to remove

    def as_store(self) -> AlbumIndex:
        """The parts as one index, with the sources and the opt-outs handed on."""
        joined = AlbumIndex.joined(self.parts)
        return replace(joined, sources=self.sources, opted_out_faces=self._opted_out)

    def keep(self, where: str) -> None:
        self.as_store().save(where)

    def close(self) -> None:
        """Nothing held open."""
