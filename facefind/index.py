"""The album index: every photo's name, size and thumbnail, and all faces as one matrix.

Faces of all photos are stacked in one float32 `(m, 128)` matrix of unit-length rows, with
`face_photo[i]` naming the photo of face `i` (faces of a photo are contiguous), so a search is
one matrix product. An index can be saved to a single `.npz` file (no pickle) and loaded back;
it records the model, detector and facefind version it was made with.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np

from . import __version__
from .archive import Album, PhotoEntry, Skipped
from .config import EMBEDDING_SIZE, FaceSettings, ImageLimits
from .errors import ArchiveError, FacefindError, IndexFileError, ModelUnavailableError, PhotoError
from .face_process import FaceEmbeddingProcess
from .faces import DetectedFace, FaceEmbedder
from .images import decode_photo, thumbnail_jpeg
from .semantic import PhotoTextModel

#: 2: Dlib faces are embedded from dlib's 5-point chips (format 1 held box-crop embeddings, which
#: do not mix with queries embedded the new way: such a file is refused with "index again").
INDEX_FORMAT = 2
log = logging.getLogger("facefind")
#: Called as progress(photos_done, photos_total) while an album is indexed.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PhotoInfo:
    """A photo of the album as the index knows it (the original bytes stay in the zip)."""

    name: str
    width: int
    height: int
    size: int


@dataclass
class AlbumIndex:
    """Photos and faces of one album, ready to search."""

    model: str
    detector: str
    settings: FaceSettings
    photos: list[PhotoInfo] = field(default_factory=list)
    thumbnails: list[bytes] = field(default_factory=list)
    embeddings: np.ndarray = field(
        default_factory=lambda: np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    )
    face_photo: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int32))
    confidences: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    skipped: list[Skipped] = field(default_factory=list)
    #: UForm embeddings of the photos, one unit-length row per photo, and the model that made
    #: them; None when the album was indexed without a UForm model (e.g. offline).
    photo_embeddings: np.ndarray | None = None
    photo_model: str | None = None
    version: str = __version__

    @property
    def face_count(self) -> int:
        return int(self.embeddings.shape[0])

    def faces_of(self, photo: int) -> np.ndarray:
        """Row numbers of the faces in one photo."""
        return np.flatnonzero(self.face_photo == photo)

    def photo_id(self, name: str) -> int:
        for number, info in enumerate(self.photos):
            if info.name == name:
                return number
        raise KeyError(name)

    def save(self, path: str | Path | BinaryIO) -> None:
        """Write the index to one .npz file. Only when the user asks: it holds biometric data."""
        thumbs = np.frombuffer(b"".join(self.thumbnails), dtype=np.uint8)
        offsets = np.cumsum([0] + [len(thumb) for thumb in self.thumbnails], dtype=np.int64)
        meta = {
            "format": INDEX_FORMAT,
            "facefind": self.version,
            "model": self.model,
            "detector": self.detector,
            "settings": asdict(self.settings),
            "photos": [asdict(photo) for photo in self.photos],
            "skipped": [asdict(item) for item in self.skipped],
            "photo_model": self.photo_model,
        }
        photo_embeddings = self.photo_embeddings
        if photo_embeddings is None:
            photo_embeddings = np.zeros((0, 0), dtype=np.float32)
        if isinstance(path, (str, Path)):
            return _replace_atomically(Path(path), self.save)
        np.savez(
            path,
            meta=np.array(json.dumps(meta)),
            embeddings=self.embeddings,
            face_photo=self.face_photo,
            boxes=self.boxes,
            confidences=self.confidences,
            photo_embeddings=photo_embeddings,
            thumbnails=thumbs,
            thumbnail_offsets=offsets,
        )

    @classmethod
    def load(cls, path: str | Path | BinaryIO, model: str | None = None) -> AlbumIndex:
        """Read an index file, refusing a damaged one or one made with another model."""
        try:
            with np.load(path, allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                data = {name: arrays[name] for name in arrays.files if name != "meta"}
        except FileNotFoundError as error:
            raise IndexFileError(f"No index file at {path}.") from error
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
            raise IndexFileError(
                f"{path} is not a facefind index, or it is damaged or incomplete."
            ) from error
        index = _index_from(meta, data, path)
        if model and index.model != model:
            raise IndexFileError(
                f"This index was made with the {index.model} face model, not {model}: faces "
                f"of different models cannot be compared. Index the album again with {model}, "
                f"or search with --model {index.model}."
            )
        return index


def _replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file beside `path`, then put it in its place in one step: the old index stays
    whole until the new one is complete (`describe` rewrites the user's only copy). Through a
    file object, since np.savez would append ".npz" to a path."""
    handle = tempfile.NamedTemporaryFile(
        "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            write(cast(BinaryIO, handle))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _index_from(meta: dict, data: dict, path: object) -> AlbumIndex:
    if meta.get("format") != INDEX_FORMAT:
        raise IndexFileError(
            f"{path} was written by facefind {meta.get('facefind', '?')} in a format this "
            f"version ({__version__}) does not read. Index the album again."
        )
    try:
        offsets = data["thumbnail_offsets"]
        blob = data["thumbnails"].tobytes()
        index = AlbumIndex(
            model=meta["model"],
            detector=meta["detector"],
            settings=FaceSettings(**meta["settings"]),
            photos=[PhotoInfo(**photo) for photo in meta["photos"]],
            thumbnails=[
                blob[start:end] for start, end in zip(offsets[:-1], offsets[1:], strict=True)
            ],
            embeddings=data["embeddings"].astype(np.float32, copy=False),
            face_photo=data["face_photo"].astype(np.int32, copy=False),
            boxes=data["boxes"].astype(np.int32, copy=False),
            confidences=data["confidences"].astype(np.float32, copy=False),
            skipped=[Skipped(**item) for item in meta["skipped"]],
            photo_model=meta["photo_model"],
            photo_embeddings=(
                data["photo_embeddings"].astype(np.float32, copy=False)
                if meta["photo_model"]
                else None
            ),
            version=meta["facefind"],
        )
    except (KeyError, TypeError) as error:
        raise IndexFileError(f"{path} is damaged: {error} is missing.") from error
    _check_consistent(index, path)
    return index


def _check_consistent(index: AlbumIndex, path: object) -> None:
    faces = index.face_count
    consistent = (
        index.embeddings.ndim == 2
        and index.embeddings.shape[1] == EMBEDDING_SIZE
        and index.face_photo.shape == (faces,)
        and index.boxes.shape == (faces, 4)
        and index.confidences.shape == (faces,)
        and len(index.thumbnails) == len(index.photos)
        and (
            index.photo_embeddings is None
            or (
                index.photo_embeddings.ndim == 2
                and len(index.photo_embeddings) == len(index.photos)
            )
        )
        and (
            faces == 0 or 0 <= index.face_photo.min() <= index.face_photo.max() < len(index.photos)
        )
    )
    if not consistent:
        raise IndexFileError(f"{path} is damaged: its parts do not fit together.")


@dataclass
class _Analysed:
    """What a worker made of one photo: its record and faces, or why it was skipped."""

    info: PhotoInfo | None = None
    thumbnail: bytes = b""
    faces: list[DetectedFace] = field(default_factory=list)
    photo_input: np.ndarray | None = None  # the photo prepared for the UForm image encoder
    skipped: Skipped | None = None


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


def _photo_batches(photo_model: PhotoTextModel | None) -> _Batched:
    """UForm image-encoder calls of 16 prepared photos at a time (none are added without a
    model)."""

    def run(inputs: list) -> np.ndarray:
        assert photo_model is not None
        return photo_model.embed_images(np.stack(inputs))

    return _Batched(16, run)


class IndexBuilder:
    """Turns an album into an AlbumIndex in one pass: faces, thumbnails, UForm embeddings.

    Worker threads decode and detect a few photos ahead (Pillow, dlib and OpenCV release the
    GIL); the face model embeds their crops in batches in a helper process (dlib holds the
    GIL: see face_process), and this thread runs the UForm image encoder. Only thumbnails and
    embeddings are kept: a decoded photo is dropped as soon as its faces are cropped, and at
    most a few photos and batches are in flight, so memory does not grow with the album.
    """

    def __init__(
        self,
        embedder: FaceEmbedder,
        photo_model: PhotoTextModel | None = None,
        image_limits: ImageLimits | None = None,
        workers: int | None = None,
        notify: Callable[[str], None] | None = None,
        helper_process: bool | None = None,
    ) -> None:
        self.embedder = embedder
        self.photo_model = photo_model
        self.image_limits = image_limits or ImageLimits()
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.notify = notify or log.warning
        #: Embed faces in a helper process; by default wherever there is more than one core.
        if helper_process is None:
            helper_process = (os.cpu_count() or 1) > 1
        self.helper_process = helper_process
        self.batch_faces = 8

    def build(self, album: Album, progress: Progress | None = None) -> AlbumIndex:
        if not album.photos:
            raise ArchiveError(
                f"The zip has no photos facefind can read ({len(album.skipped)} other files)."
            )
        self.embedder.load()
        photo_model = self._usable_photo_model()
        index = AlbumIndex(
            model=self.embedder.model_name,
            detector=self.embedder.detector,
            # the model actually used, which differs from the asked one after a fallback
            settings=replace(self.embedder.settings, model=self.embedder.model_name),
            skipped=list(album.skipped),
            photo_model=photo_model.name if photo_model else None,
        )
        with FaceEmbeddingProcess(self.embedder, self.helper_process) as embedding:
            faces = _Batched(self.batch_faces, embedding.submit, embedding.result)
            photos = _photo_batches(photo_model)
            self._analyse_all(album, index, photo_model, (faces, photos), progress)
            _set_faces(index, faces.tags, faces.outputs())
        if photo_model:
            index.photo_embeddings = photos.outputs()
        return index

    def _analyse_all(
        self,
        album: Album,
        index: AlbumIndex,
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
                number = self._record(analysed, index)
                for face in analysed.faces if number is not None else ():
                    faces.add((number, face.box, face.confidence), face.crop)
                if number is not None and analysed.photo_input is not None:
                    photos.add(number, analysed.photo_input)
                if progress:
                    progress(done, total)

    def _usable_photo_model(self) -> PhotoTextModel | None:
        """The UForm model if it can be loaded; without it faces are indexed all the same."""
        if self.photo_model is None:
            return None
        try:
            self.photo_model.load()
        except ModelUnavailableError as error:
            self.notify(str(error))
            return None
        return self.photo_model

    def _in_order(
        self, album: Album, pool: ThreadPoolExecutor, photo_model: PhotoTextModel | None
    ) -> Iterator[_Analysed]:
        """Photos analysed by the pool, in album order, with a bounded number in flight."""
        in_flight: deque[Future] = deque()
        for entry in album:
            in_flight.append(pool.submit(self._analyse, album, entry, photo_model))
            if len(in_flight) > 2 * self.workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()

    def _analyse(
        self, album: Album, entry: PhotoEntry, photo_model: PhotoTextModel | None
    ) -> _Analysed:
        """Read, decode and detect one photo (in a worker); never raises for a bad photo."""
        try:
            data = album.read(entry)
            photo = self.embedder.decode(data, self.image_limits)
            del data
            # one shrunk copy serves the detector, the thumbnail and the UForm encoder
            preview = photo.shrunk(self.embedder.settings.detect_size)
            faces = self.embedder.detect(photo, preview)
            thumbnail = thumbnail_jpeg(preview.pixels, self.image_limits.thumbnail_size)
            photo_input = photo_model.preprocess(preview.pixels) if photo_model else None
        except PhotoError as error:
            return _Analysed(skipped=Skipped(entry.name, str(error)))
        except FacefindError:
            raise  # the model itself failed: not this photo's fault
        except Exception as error:  # never let one photo stop the album
            log.error("Unexpected error on %s", entry.name, exc_info=error)  # server log only
            reason = f"could not be processed ({error})"
            return _Analysed(skipped=Skipped(entry.name, reason))
        info = PhotoInfo(entry.name, photo.width, photo.height, entry.size)
        return _Analysed(info, thumbnail, faces, photo_input)

    @staticmethod
    def _record(analysed: _Analysed, index: AlbumIndex) -> int | None:
        """Add the photo to the index and return its number (None if it was skipped)."""
        if analysed.info is None:
            assert analysed.skipped is not None
            index.skipped.append(analysed.skipped)
            return None
        index.photos.append(analysed.info)
        index.thumbnails.append(analysed.thumbnail)
        return len(index.photos) - 1


def _set_faces(index: AlbumIndex, tags: list, vectors: np.ndarray) -> None:
    if not tags:
        return
    index.embeddings = vectors
    index.face_photo = np.array([number for number, _, _ in tags], dtype=np.int32)
    index.boxes = np.array([box for _, box, _ in tags], dtype=np.int32).reshape(-1, 4)
    index.confidences = np.array([confidence for _, _, confidence in tags], dtype=np.float32)


def add_photo_embeddings(
    index: AlbumIndex,
    album: Album,
    photo_model: PhotoTextModel,
    progress: Progress | None = None,
) -> None:
    """Give an index made without UForm (e.g. offline) its photo embeddings, faces untouched.

    The photos are read again from the album the index was made from.
    """
    try:
        entries = [album.entry(info.name) for info in index.photos]
    except KeyError as missing:
        raise FacefindError(
            f"This album is not the one the index was made from ({missing.args[0]} is missing)."
        ) from None
    photo_model.load()
    batch = _photo_batches(photo_model)
    for done, entry in enumerate(entries, start=1):
        pixels = decode_photo(album.read(entry), 512).pixels
        batch.add(done - 1, photo_model.preprocess(pixels))
        if progress:
            progress(done, len(entries))
    index.photo_embeddings = batch.outputs()
    index.photo_model = photo_model.name


def build_index(
    source: Album | bytes | BinaryIO,
    settings: FaceSettings | None = None,
    progress: Progress | None = None,
    embedder: FaceEmbedder | None = None,
    photo_model: PhotoTextModel | None = None,
) -> AlbumIndex:
    """Index an album zip (bytes, file object or opened Album) with the given face settings."""
    album = source if isinstance(source, Album) else Album(source)
    embedder = embedder or FaceEmbedder(settings)
    return IndexBuilder(embedder, photo_model).build(album, progress)


def is_index_file(path: str | Path) -> bool:
    """True for a saved facefind index (an .npz), False for anything else, e.g. an album zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return {"meta.npy", "embeddings.npy"} <= names
