"""Indexing on a Ray cluster: the same steps as the local builder, on workers that load each
model once (Ray actors), written to the store as results arrive.

The driver (this process) reads the album (folders, zips) and sends chunks of photos to a pool
of `IndexWorker` actors; each runs the local builder (builder.py: the same `AnalysePhoto`,
`EmbedFaces`, `EmbedPhotos` steps) on its chunk with one core, and sends back that chunk's
index; the driver adds it to the store at once. A stopped run continues where it stopped: the
photos a store holds are not sent again. Only this module imports Ray, and only with --ray.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.words import WordReader
from facefind.config import ImageLimits, IndexingSettings
from facefind.errors import FacefindError, PhotoError
from facefind.indexing.builder import IndexBuilder
from facefind.indexing.chunks import PartsStore, index_in_chunks
from facefind.indexing.progress import Progress
from facefind.sources.archive import PhotoEntry, PhotoSource, Skipped
from facefind.stores.npz import AlbumIndex

#: Photos sent to a worker at a time: large enough to batch the face model, small enough that
#: an interrupted run loses little and the workers finish together.
CLUSTER_CHUNK = 16


@dataclass
class JoinedParts:
    """Parts collected in memory, joined into one .npz index at the end (`--ray` with -o
    FILE.facefind)."""

    parts: list[AlbumIndex]

    def done_photos(self) -> set[str]:
        return set()

    def add(self, part: AlbumIndex) -> None:
        self.parts.append(part)


class _BytesAlbum(PhotoSource):
    """A chunk of photos sent to a worker: their bytes travel with it."""

    def __init__(self, photos: Sequence[tuple[str, int, bytes]]) -> None:
        self.photos = [PhotoEntry(name, size, data) for name, size, data in photos]
        self.skipped: list[Skipped] = []
        self._index_names()

    def read(self, entry: PhotoEntry) -> bytes:
        return entry.info


class IndexWorker:
    """One Ray actor: the steps and their models, loaded once, indexing chunk after chunk."""

    def __init__(
        self,
        embedder: FaceEmbedder,
        photo_model: PhotoTextModel | None,
        word_reader: WordReader | None,
        image_limits: ImageLimits,
    ) -> None:
        # one core per actor: one decoding thread, faces embedded here (no helper process)
        settings = IndexingSettings(workers=1, embedding_processes=0)
        self.builder = IndexBuilder(
            embedder,
            photo_model,
            image_limits,
            settings,
            helper_process=False,
            word_reader=word_reader,
        )
        embedder.load()

    def index(self, photos: Sequence[tuple[str, int, bytes]]) -> AlbumIndex:
        return self.builder.build(_BytesAlbum(photos))


def connect(address: str, workers: int | None = None) -> Any:
    """Join the Ray cluster at `address` (as `ray.init` takes it: "auto", "host:port",
    "ray://host:10001"), or start one on this machine with "local"."""
    try:
        import ray
    except ImportError as error:
        raise FacefindError(
            "Indexing on a cluster needs Ray: pip install 'facefind[cluster]'."
        ) from error
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    # Ray puts the driver's working folder first on its workers' import path: run from the
    # folder above a clone named "facefind", the workers would import that folder instead of
    # the package ("cannot import name '__version__'"). From the package's own parent folder,
    # they import what the driver imported.
    here = os.getcwd()
    os.chdir(Path(__file__).resolve().parent.parent)
    try:
        if address == "local":
            ray.init(num_cpus=workers or os.cpu_count() or 1, **options)
        else:
            ray.init(address=address, **options)
    finally:
        os.chdir(here)
    return ray


def index_on_ray(
    ray: Any,
    album: PhotoSource,
    builder: IndexBuilder,
    store: PartsStore,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int = CLUSTER_CHUNK,
) -> tuple[int, int]:
    """Index the album's photos the store does not hold yet on `workers` actors (default: one
    per CPU of the cluster), adding each chunk's index to the store as it arrives. Returns
    (photos indexed now, photos already there)."""
    return index_in_chunks(store, album, builder, RayRunner(ray, builder, workers), chunk, progress)


class RayRunner:
    """Chunks indexed by Ray actors (`IndexWorker`, one core each, the models loaded once per
    actor): the photos' bytes read here and sent, at most two chunks per actor in flight, each
    chunk's index given back as it finishes."""

    def __init__(self, ray: Any, builder: IndexBuilder, workers: int | None = None) -> None:
        self.ray, self.builder, self.workers = ray, builder, workers

    def run(
        self, album: PhotoSource, chunks: list[list[PhotoEntry]], done: Callable[[int], None]
    ) -> Iterator[AlbumIndex]:
        ray, builder = self.ray, self.builder
        builder.embedder.load()  # the settings in effect, resolved once here, travel along
        photo_model = builder.usable_photo_model()  # not to be had: said here, once
        count = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(IndexWorker)
        pool = [
            actor.remote(builder.embedder, photo_model, builder.word_reader, builder.image_limits)
            for _ in range(min(count, len(chunks)))
        ]
        in_flight: dict[Any, int] = {}

        def finished() -> AlbumIndex:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            done(in_flight.pop(ready[0]))
            return ray.get(ready[0])

        try:
            for turn, (photos, unreadable) in enumerate(_chunks(album, chunks)):
                if unreadable:  # skipped as the local builder skips them
                    done(len(unreadable))
                    yield builder.skipped_only(unreadable)
                if len(in_flight) >= 2 * len(pool):  # bounded: photos do not pile up in memory
                    yield finished()
                if photos:
                    in_flight[pool[turn % len(pool)].index.remote(photos)] = len(photos)
            while in_flight:
                yield finished()
        finally:
            for worker in pool:
                ray.kill(worker)


def _chunks(
    album: PhotoSource, chunks: list[list[PhotoEntry]]
) -> Iterator[tuple[list[tuple[str, int, bytes]], list[Skipped]]]:
    """Each chunk's photos' bytes, and the photos that could not be read (with the reason)."""
    for entries in chunks:
        photos, unreadable = [], []
        for entry in entries:
            try:
                photos.append((entry.name, entry.size, album.read(entry)))
            except PhotoError as error:
                unreadable.append(Skipped(entry.name, str(error)))
        yield photos, unreadable
