"""The index store: everything search, people, the gallery, the app and the CLI may ask of an
indexed album, and nothing about how it is kept.

Two stores answer it: `AlbumIndex` (index.py), the album in memory and saved as one `.npz`
file, the embedded default; and a database store for an event too big for one machine, which
answers "faces above the bar for these query vectors" without loading every vector. Callers go
through these methods and never reach for a store's arrays, so a store can keep its faces
anywhere and in any order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .archive import Skipped
from .config import EMBEDDING_SIZE, FaceSettings
from .words import Word


@dataclass(frozen=True)
class PhotoInfo:
    """A photo of the album as the index knows it (the original bytes stay in the album)."""

    name: str
    width: int
    height: int
    size: int


@dataclass(frozen=True)
class FaceRows:
    """Some faces of a store, in increasing id order: their ids, the photo each is in, its box
    (x, y, width, height in the photo's pixels), detector confidence and unit-length vector."""

    ids: np.ndarray
    photos: np.ndarray
    boxes: np.ndarray
    confidences: np.ndarray
    vectors: np.ndarray

    @classmethod
    def empty(cls) -> FaceRows:
        return cls(
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros((0, 4), dtype=np.int32),
            np.zeros(0, dtype=np.float32),
            np.zeros((0, EMBEDDING_SIZE), dtype=np.float32),
        )

    @classmethod
    def joined(cls, parts: Sequence[FaceRows]) -> FaceRows:
        """The faces of several parts as one (in the parts' order)."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([part.ids for part in parts]),
            np.concatenate([part.photos for part in parts]),
            np.concatenate([part.boxes for part in parts]),
            np.concatenate([part.confidences for part in parts]),
            np.concatenate([part.vectors for part in parts]),
        )

    def take(self, positions: np.ndarray) -> FaceRows:
        """These rows (positions into this one), in the order given."""
        return FaceRows(
            self.ids[positions],
            self.photos[positions],
            self.boxes[positions],
            self.confidences[positions],
            self.vectors[positions],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def box(self, row: int) -> tuple[int, int, int, int]:
        x, y, width, height = (int(side) for side in self.boxes[row])
        return x, y, width, height


@dataclass(frozen=True)
class FaceMatches:
    """Faces at least as similar as a bar to some query vectors: one entry per (face, query)
    pair that passed, with its cosine similarity, computed exactly, and the face's photo and
    vector (what a search needs next, without asking the store again)."""

    faces: np.ndarray
    queries: np.ndarray
    similarity: np.ndarray
    photos: np.ndarray
    vectors: np.ndarray

    @classmethod
    def joined(cls, parts: Sequence[FaceMatches]) -> FaceMatches:
        if not parts:
            return cls(
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                np.zeros(0, np.float32),
                np.zeros(0, np.int32),
                np.zeros((0, EMBEDDING_SIZE), np.float32),
            )
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _MATCH_FIELDS))

    def of_query(self, query: int) -> np.ndarray:
        """Positions of the faces that passed for one query, most similar first (ties in face
        order)."""
        mine = np.flatnonzero(self.queries == query)
        return mine[np.lexsort((self.faces[mine], -self.similarity[mine]))]


_MATCH_FIELDS = ("faces", "queries", "similarity", "photos", "vectors")


class IndexStore(Protocol):
    """What an indexed album answers. Photos are numbered 0..n-1 in album order; faces have ids
    that are stable for the store's life (the rows of an .npz index, a database's keys)."""

    @property
    def model(self) -> str: ...
    @property
    def detector(self) -> str: ...
    @property
    def settings(self) -> FaceSettings: ...
    @property
    def photos(self) -> Sequence[PhotoInfo]: ...
    @property
    def skipped(self) -> Sequence[Skipped]: ...
    @property
    def photo_model(self) -> str | None: ...
    @property
    def word_reader(self) -> str | None: ...
    @property
    def face_count(self) -> int: ...
    @property
    def sources(self) -> tuple[str, ...]:
        """Where the photos were read from (absolute paths), if known."""
        ...

    def faces_above(self, queries: np.ndarray, min_similarity: float) -> FaceMatches:
        """Every face at least `min_similarity` alike to each query vector (rows of `queries`),
        the similarity computed exactly (a store may find candidates approximately first)."""
        ...

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        """The faces with these ids."""
        ...

    def faces_in(self, photos: Sequence[int] | np.ndarray) -> FaceRows:
        """Every face of these photos."""
        ...

    def face_blocks(self, size: int) -> Iterator[FaceRows]:
        """All faces, `size` at a time, in id order (for grouping people, exporting)."""
        ...

    def thumbnail(self, photo: int) -> bytes:
        """The photo's JPEG thumbnail."""
        ...

    def photo_vectors(self) -> np.ndarray | None:
        """The UForm embedding of every photo, one unit-length row per photo; None when the
        album was indexed without them."""
        ...

    def words_read(self) -> bool:
        """Whether the words in the photos were read when the album was indexed."""
        ...

    def words_in(self, photo: int) -> list[Word]:
        """The words read in one photo."""
        ...

    def photos_with_token(self, token: str) -> set[int]:
        """The photos whose words hold this token (see words.tokens)."""
        ...

    def token_counts(self) -> dict[str, int]:
        """How many photos hold each token (to tell the event's words from one runner's)."""
        ...


def open_store(where: str, model: str | None = None) -> IndexStore:
    """An index file, or the store at a postgresql:// URL (its driver imported only then)."""
    from .errors import FacefindError
    from .pgurl import is_store_url

    if not is_store_url(where):
        from .index import AlbumIndex

        return AlbumIndex.load(where, model=model)
    from .pgstore import PostgresStore

    store = PostgresStore(where)
    if model and store.face_count and store.model != model:
        raise FacefindError(
            f"This store holds faces of the {store.model} model, not {model}: search with "
            f"--model {store.model}."
        )
    return store
