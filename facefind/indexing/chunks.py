"""One indexing orchestration for every runner: the photos a store does not hold yet, in
chunks, each chunk's index added to the store as soon as it is done (a run stopped part way
continues where it stopped and embeds no finished photo again), the files skipped recorded
once, and progress as photos finish. Runners differ only in how a chunk is indexed: here, in
order (`LocalRunner`), or on Ray actors (`cluster.RayRunner`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Protocol

from facefind.indexing.builder import IndexBuilder
from facefind.indexing.progress import Progress
from facefind.sources.archive import PhotoEntry, PhotoSource, Skipped
from facefind.sources.folders import PartOfAlbum
from facefind.stores.npz import AlbumIndex

#: Photos indexed, then written to a store, at a time: what an interrupted run can lose.
STORE_CHUNK = 256


class PartsStore(Protocol):
    """Where an index made in parts goes, each part as soon as it is done (a PostgresStore,
    an index file's parts, cluster.JoinedParts); the names it holds are not indexed again."""

    def done_photos(self) -> set[str]: ...
    def add(self, part: AlbumIndex) -> None: ...


class ChunkRunner(Protocol):
    """Indexes chunks of an album: each chunk's index as it finishes (in any order), telling
    `done(photos)` as photos finish."""

    def run(
        self, album: PhotoSource, chunks: list[list[PhotoEntry]], done: Callable[[int], None]
    ) -> Iterator[AlbumIndex]: ...


class LocalRunner:
    """Chunks indexed here, one after another, by the builder (its threads and helper)."""

    def __init__(self, builder: IndexBuilder) -> None:
        self.builder = builder

    def run(
        self, album: PhotoSource, chunks: list[list[PhotoEntry]], done: Callable[[int], None]
    ) -> Iterator[AlbumIndex]:
        for entries in chunks:
            told = 0

            def step(finished: int, _: int) -> None:
                nonlocal told
                done(finished - told)
                told = finished

            yield self.builder.build(PartOfAlbum(album, entries), step)


def still_to_index(store: PartsStore, album: PhotoSource) -> tuple[list[PhotoEntry], list[Skipped]]:
    """The album's photos, and the files it skipped, that the store does not hold yet."""
    done = store.done_photos()
    pending = [entry for entry in album if entry.name not in done]
    return pending, [item for item in album.skipped if item.name not in done]


def index_into(
    store: PartsStore,
    album: PhotoSource,
    builder: IndexBuilder,
    progress: Progress | None = None,
    chunk: int = STORE_CHUNK,
) -> tuple[int, int]:
    """Index the photos of `album` that the store does not hold yet, `chunk` at a time, each
    chunk written as soon as it is done: a run stopped part way continues where it stopped and
    embeds no finished photo again. Returns (photos indexed now, photos already there)."""
    return index_in_chunks(store, album, builder, LocalRunner(builder), chunk, progress)


def index_in_chunks(
    store: PartsStore,
    album: PhotoSource,
    builder: IndexBuilder,
    runner: ChunkRunner,
    chunk: int,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """What every runner does around its chunks (see the module). Returns (photos indexed now,
    photos already there)."""
    pending, skipped = still_to_index(store, album)
    total, finished = len(pending), 0

    def done(photos: int) -> None:
        nonlocal finished
        finished += photos
        if progress:
            progress(finished, total)

    chunks = [pending[start : start + chunk] for start in range(0, total, chunk)]
    for part in runner.run(album, chunks, done):
        if skipped:  # the album's own skipped files go with the first part written
            part = replace(part, skipped=[*skipped, *part.skipped])
            skipped = []
        store.add(part)
    if skipped:  # nothing new to index, but files newly skipped
        store.add(builder.skipped_only(skipped))
    return total, len(album) - total
