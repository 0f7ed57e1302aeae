"""Building an album's index in one pass: faces, thumbnails and UForm photo embeddings.

`IndexBuilder` reads the album (archive), decodes each photo (images), finds and aligns its
faces (faces) in worker threads, embeds the faces in batches in a helper process
(face_process) and the photos with UForm (semantic), and records everything in an
`AlbumIndex` (index), whose parts it checks before handing it out.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import numpy as np

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.quality import sharpness
from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.steps import AnalysedPhoto, AnalysePhoto, EmbedPhotos, prepare_for_uform
from facefind.analysis.words import READER_NAME, Word, WordReader
from facefind.config import EMBEDDING_SIZE, FaceSettings, ImageLimits, IndexingSettings
from facefind.errors import ArchiveError, FacefindError, ModelUnavailableError, PhotoError
from facefind.geometry import Box
from facefind.indexing.face_process import FaceEmbeddingProcess
from facefind.indexing.progress import Progress
from facefind.sources.archive import Album, PhotoEntry, PhotoSource, Skipped
from facefind.stores.base import IndexStore, IndexTarget, PhotoTable
from facefind.stores.npz import AlbumIndex, PhotoInfo
from facefind.stores.opening import check_album_of

log = logging.getLogger("facefind")


@dataclass(frozen=True)
class FaceRecord:
    """What the index keeps of a face besides its embedding: its photo, box, confidence and
    the sharpness of its chip (how recognisable it is: analysis.quality)."""

    photo: int
    box: Box
    confidence: float
    sharpness: float


@dataclass
class _Collected:
    """The photos recorded so far, in album order, and the files skipped."""

    photos: list[PhotoInfo] = field(default_factory=list)
    thumbnails: list[bytes] = field(default_factory=list)
    words: list[list[Word]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def record(self, analysed: AnalysedPhoto) -> int | None:
        """Add the photo and return its number (None if it was skipped)."""
        if analysed.info is None:
            assert analysed.skipped is not None
            self.skipped.append(analysed.skipped)
            return None
        if analysed.partly is not None:
            self.skipped.append(analysed.partly)
        self.photos.append(analysed.info)
        self.thumbnails.append(analysed.thumbnail)
        self.words.append(analysed.words)
        return len(self.photos) - 1


class _Batched:
    """Collects model inputs and runs the model on them in batches, keeping their tags.

    `run` may return a pending result (the face model in a helper process) that `finish`
    turns into the output array; at most `ahead` batches are left pending, so inputs do not
    pile up in memory when the model is the slowest step.
    """

    def __init__(
        self,
        size: int,
        run: Callable[[list], Any],
        finish: Callable[[Any], np.ndarray] = np.asarray,
        ahead: int = 4,
    ) -> None:
        self.size, self.run, self.finish, self.ahead = size, run, finish, ahead
        self.tags: list = []
        self._inputs: list = []
        self._outputs: list = []
        self._finished = 0  # outputs before this one are arrays

    def add(self, tag: object, model_input: object) -> None:
        self.tags.append(tag)
        self._inputs.append(model_input)
        if len(self._inputs) >= self.size:
            self._flush()

    def _flush(self) -> None:
        if self._inputs:
            self._outputs.append(self.run(self._inputs))
            self._inputs = []
        while len(self._outputs) - self._finished > self.ahead:
            self._finish_next()

    def _finish_next(self) -> None:
        self._outputs[self._finished] = self.finish(self._outputs[self._finished])
        self._finished += 1

    def outputs(self) -> np.ndarray:
        """All outputs in input order (an empty array when nothing was added)."""
        self._flush()
        while self._finished < len(self._outputs):
            self._finish_next()
        if not self._outputs:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(self._outputs).astype(np.float32)


def _photo_batches(photo_model: PhotoTextModel | None, size: int = 16) -> _Batched:
    """UForm image-encoder calls of 16 prepared photos at a time (none are added without a
    model)."""
    return _Batched(size, EmbedPhotos(photo_model) if photo_model else _no_model)


def _no_model(inputs: list) -> np.ndarray:
    raise AssertionError("no photo is prepared for UForm without its model")


class IndexBuilder:
    """Turns an album into an AlbumIndex in one pass: faces, thumbnails, UForm embeddings.

    Worker threads decode and detect a few photos ahead (Pillow, dlib and OpenCV release the
    GIL); the face model embeds their crops in batches (dlib's network in OpenVINO, here,
    without the GIL; a model that holds it in helper processes: see face_process), and this
    thread runs the UForm image encoder. Only thumbnails and
    embeddings are kept: a decoded photo is dropped as soon as its faces are cropped, and at
    most a few photos and batches are in flight, so memory does not grow with the album.
    """

    def __init__(
        self,
        embedder: FaceEmbedder,
        photo_model: PhotoTextModel | None = None,
        image_limits: ImageLimits | None = None,
        settings: IndexingSettings | None = None,
        notify: Callable[[str], None] | None = None,
        helper_process: bool | None = None,
        word_reader: WordReader | None = None,
    ) -> None:
        self.embedder = embedder
        self.photo_model = photo_model
        #: Reads the words in every photo (bibs, signs); None: words are not read.
        self.word_reader = word_reader
        self.image_limits = image_limits or ImageLimits()
        self.settings = settings or IndexingSettings()
        self.workers = self.settings.workers or min(4, os.cpu_count() or 1)
        self.notify = notify or log.warning
        self._helper_process = helper_process

    def helper_processes(self) -> int:
        """Helper processes that embed faces: where the face model holds the GIL (dlib itself,
        FaceNet through DeepFace), one per core where there is more than one (see
        IndexingSettings.embedding_processes); none for dlib's network in OpenVINO, which
        embeds in this process without the GIL (12.5 s with two helpers, 12.2 s without, on
        bench_index's 120 photos), or when `helper_process` is False."""
        if self._helper_process is False:
            return 0
        cores = os.cpu_count() or 1
        holds_gil = not self.embedder.embeds_without_gil()
        wanted = self.settings.embedding_processes or (cores if cores > 1 and holds_gil else 0)
        return max(wanted, int(bool(self._helper_process)))

    def build(self, album: PhotoSource, progress: Progress | None = None) -> AlbumIndex:
        if not album.photos and not album.skipped:
            raise ArchiveError("The album is empty: it holds no files.")
        if not album.photos:
            others = len(album.skipped)
            raise ArchiveError(
                "The album has no photos facefind can read "
                f"({others} other {'file' if others == 1 else 'files'})."
            )
        self.embedder.load()
        if self.word_reader is not None:
            self.word_reader.load()
        photo_model = self.usable_photo_model()
        collected = _Collected(skipped=list(album.skipped))
        with FaceEmbeddingProcess(self.embedder, self.helper_processes()) as embedding:
            faces = _Batched(
                self.settings.face_batch,
                embedding.submit,
                embedding.result,
                self.settings.pending_batches,
            )
            photos = _photo_batches(photo_model, self.settings.photo_batch)
            self._analyse_all(album, collected, photo_model, (faces, photos), progress)
            embeddings, face_photo, boxes, confidences, sharp = _face_arrays(
                faces.tags, faces.outputs()
            )
        index = AlbumIndex(
            model=self.embedder.model_name,
            detector=self.embedder.detector,
            settings=self.embedder.in_effect,
            photos=PhotoTable.numbered(collected.photos),
            thumbnails=collected.thumbnails,
            skipped=collected.skipped,
            photo_embeddings=photos.outputs() if photo_model else None,
            photo_model=photo_model.name if photo_model else None,
            words=collected.words if self.word_reader else None,
            word_reader=READER_NAME if self.word_reader else None,
            embeddings=embeddings,
            face_photo=face_photo,
            boxes=boxes,
            confidences=confidences,
            sharpness=sharp,
        )
        if not index.is_consistent():  # search relies on it: never hand out a broken index
            raise FacefindError("Indexing went wrong: the index's parts do not fit together.")
        return index

    def _analyse_all(
        self,
        album: PhotoSource,
        collected: _Collected,
        photo_model: PhotoTextModel | None,
        batches: tuple[_Batched, _Batched],
        progress: Progress | None,
    ) -> None:
        """Every photo analysed by the workers and recorded in album order; its face crops
        and UForm input go to the (faces, photos) batches."""
        faces, photos = batches
        total = len(album)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="facefind-index") as pool:
            for done, analysed in enumerate(self._in_order(album, pool, photo_model), start=1):
                number = collected.record(analysed)
                if number is not None:
                    for face in analysed.faces:
                        record = FaceRecord(number, face.box, face.confidence, sharpness(face.crop))
                        faces.add(record, face.crop)
                    if analysed.photo_input is not None:
                        photos.add(number, analysed.photo_input)
                if progress:
                    progress(done, total)

    def skipped_only(self, skipped: Sequence[Skipped]) -> AlbumIndex:
        """An index of no photo that records files skipped (a chunk no photo of which could be
        read, or a resumed run that found only unreadable new files)."""
        self.embedder.load()
        embedder = self.embedder
        return AlbumIndex(
            embedder.model_name, embedder.detector, embedder.in_effect, skipped=list(skipped)
        )

    def usable_photo_model(self) -> PhotoTextModel | None:
        """The UForm model if it can be loaded (said once if not); without it faces are indexed
        all the same."""
        if self.photo_model is None:
            return None
        try:
            self.photo_model.load()
        except ModelUnavailableError as error:
            self.notify(str(error))
            return None
        return self.photo_model

    def _in_order(
        self, album: PhotoSource, pool: ThreadPoolExecutor, photo_model: PhotoTextModel | None
    ) -> Iterator[AnalysedPhoto]:
        """Photos analysed by the pool, in album order, with a bounded number in flight."""
        analyse = AnalysePhoto(self.embedder, photo_model, self.word_reader, self.image_limits)
        in_flight: deque[Future] = deque()
        for entry in album:
            in_flight.append(pool.submit(_analyse_entry, analyse, album, entry))
            if len(in_flight) > self.settings.look_ahead * self.workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def _analyse_entry(analyse: AnalysePhoto, album: PhotoSource, entry: PhotoEntry) -> AnalysedPhoto:
    """Read one photo from the album and analyse it (in a worker thread); a photo that cannot
    be read is skipped with its reason, like one that cannot be decoded."""
    try:
        data = album.read(entry)
    except PhotoError as error:
        return AnalysedPhoto(entry.name, skipped=Skipped(entry.name, str(error)))
    return analyse(entry.name, entry.size, data)


def _face_arrays(tags: list[FaceRecord], vectors: np.ndarray) -> _FaceArrays:
    """The index's face arrays (embeddings, photo numbers, boxes, confidences, sharpness) in
    album order."""
    return (
        vectors.reshape(len(tags), EMBEDDING_SIZE),
        np.array([tag.photo for tag in tags], dtype=np.int32),
        np.array([tag.box for tag in tags], dtype=np.int32).reshape(-1, 4),
        np.array([tag.confidence for tag in tags], dtype=np.float32),
        np.array([tag.sharpness for tag in tags], dtype=np.float32),
    )


_FaceArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def add_photo_embeddings(
    index: AlbumIndex,
    album: PhotoSource,
    photo_model: PhotoTextModel,
    progress: Progress | None = None,
) -> AlbumIndex:
    """The index with UForm photo embeddings added (an index made offline), faces untouched."""
    vectors = describe_photos(index, album, photo_model, progress)
    return replace(index, photo_embeddings=vectors, photo_model=photo_model.name)


def indexed_entries(index: IndexStore, album: PhotoSource) -> list[PhotoEntry]:
    """The album's entry for each photo of the index, in photo order: reading them again
    (describe, words) needs the very album the index was made from."""
    check_album_of(index, album)
    return [album.entry(info.name) for info in index.photos]


def describe_photos(
    index: IndexStore,
    album: PhotoSource,
    photo_model: PhotoTextModel,
    progress: Progress | None = None,
) -> np.ndarray:
    """The UForm vector of every photo of an index (a file or a database store), in photo order.

    The photos are read again from the album the index was made from, and prepared for UForm
    as indexing prepares them (steps.prepare_for_uform), so the vectors are those `index`
    gives.
    """
    entries = indexed_entries(index, album)
    photo_model.load()
    batch = _photo_batches(photo_model)
    for done, entry in enumerate(entries, start=1):
        batch.add(done - 1, prepare_for_uform(photo_model, album.read(entry), index.settings, None))
        if progress:
            progress(done, len(entries))
    return batch.outputs()


def build_index(
    source: PhotoSource | bytes | BinaryIO,
    settings: FaceSettings | None = None,
    progress: Progress | None = None,
    embedder: FaceEmbedder | None = None,
    photo_model: PhotoTextModel | None = None,
    word_reader: WordReader | None = None,
) -> AlbumIndex:
    """Index an album (a zip's bytes or file object, or an opened source) with the given face
    settings."""
    album = source if isinstance(source, PhotoSource) else Album(source)
    embedder = embedder or FaceEmbedder(settings)
    return IndexBuilder(embedder, photo_model, word_reader=word_reader).build(album, progress)


def changed_photos(
    store: IndexStore | IndexTarget, album: PhotoSource
) -> tuple[list[str], list[str]]:
    """Photos of the store whose file is now another size (changed since it was indexed), and
    those the album no longer holds."""
    changed, vanished = [], []
    for info in store.photos:
        try:
            entry = album.entry(info.name)
        except KeyError:
            vanished.append(info.name)
            continue
        if entry.size != info.size:
            changed.append(info.name)
    return changed, vanished
