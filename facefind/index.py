"""The album index: every photo's name, size and thumbnail, and all faces as one matrix.

Faces of all photos are stacked in one float32 `(m, 128)` matrix of unit-length rows, with
`face_photo[i]` naming the photo of face `i` (faces of a photo are contiguous), so a search is
one matrix product. An index can be saved to a single `.npz` file (no pickle) and loaded back;
it records the model, detector and facefind version it was made with.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Union

import numpy as np

from . import __version__
from .archive import Album, PhotoEntry, Skipped
from .config import EMBEDDING_SIZE, FaceSettings, ImageLimits
from .errors import FacefindError, IndexFileError, PhotoError
from .faces import DetectedFace, FaceEmbedder
from .images import decode_photo, thumbnail_jpeg

INDEX_FORMAT = 1
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

    def save(self, path: Union[str, Path, BinaryIO]) -> None:
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
        }
        if isinstance(path, (str, Path)):  # np.savez would append ".npz" to a path
            with open(path, "wb") as handle:
                return self.save(handle)
        np.savez(
            path,
            meta=np.array(json.dumps(meta)),
            embeddings=self.embeddings,
            face_photo=self.face_photo,
            boxes=self.boxes,
            confidences=self.confidences,
            thumbnails=thumbs,
            thumbnail_offsets=offsets,
        )

    @classmethod
    def load(cls, path: Union[str, Path, BinaryIO], model: str | None = None) -> "AlbumIndex":
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
            thumbnails=[blob[start:end] for start, end in zip(offsets[:-1], offsets[1:])],
            embeddings=data["embeddings"].astype(np.float32, copy=False),
            face_photo=data["face_photo"].astype(np.int32, copy=False),
            boxes=data["boxes"].astype(np.int32, copy=False),
            confidences=data["confidences"].astype(np.float32, copy=False),
            skipped=[Skipped(**item) for item in meta["skipped"]],
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
        and (faces == 0 or 0 <= index.face_photo.min() <= index.face_photo.max() < len(index.photos))
    )
    if not consistent:
        raise IndexFileError(f"{path} is damaged: its parts do not fit together.")


@dataclass
class _Analysed:
    """What a worker made of one photo: its record and faces, or why it was skipped."""

    entry: PhotoEntry
    info: PhotoInfo | None = None
    thumbnail: bytes = b""
    faces: list[DetectedFace] = field(default_factory=list)
    skipped: Skipped | None = None


class IndexBuilder:
    """Turns an album into an AlbumIndex, batching the face model over many photos.

    Worker threads decode and detect a few photos ahead (Pillow, dlib and OpenCV release the
    GIL), while this thread embeds the faces in batches. Only thumbnails and embeddings are
    kept: a decoded photo is dropped as soon as its faces are cropped, and at most a few photos
    are in flight, so memory does not grow with the album.
    """

    def __init__(
        self,
        embedder: FaceEmbedder,
        image_limits: ImageLimits | None = None,
        batch_faces: int = 32,
        workers: int | None = None,
    ) -> None:
        self.embedder = embedder
        self.image_limits = image_limits or ImageLimits()
        self.batch_faces = batch_faces
        self.workers = workers or min(4, os.cpu_count() or 1)

    def build(self, album: Album, progress: Progress | None = None) -> AlbumIndex:
        self.embedder.load()
        index = AlbumIndex(
            model=self.embedder.model_name,
            detector=self.embedder.detector,
            # the model actually used, which differs from the asked one after a fallback
            settings=replace(self.embedder.settings, model=self.embedder.model_name),
            skipped=list(album.skipped),
        )
        pending: list[tuple[int, DetectedFace]] = []
        parts: list[tuple[np.ndarray, list[tuple[int, DetectedFace]]]] = []
        total = len(album)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="facefind-index") as pool:
            for done, analysed in enumerate(self._in_order(album, pool), start=1):
                pending.extend(self._record(analysed, index))
                if len(pending) >= self.batch_faces:
                    parts.append((self._embed(pending), pending))
                    pending = []
                if progress:
                    progress(done, total)
        if pending:
            parts.append((self._embed(pending), pending))
        _stack_faces(index, parts)
        return index

    def _in_order(self, album: Album, pool: ThreadPoolExecutor) -> Iterator[_Analysed]:
        """Photos analysed by the pool, in album order, with a bounded number in flight."""
        in_flight: deque[Future] = deque()
        for entry in album:
            in_flight.append(pool.submit(self._analyse, album, entry))
            if len(in_flight) > 2 * self.workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()

    def _analyse(self, album: Album, entry: PhotoEntry) -> _Analysed:
        """Read, decode and detect one photo (in a worker); never raises for a bad photo."""
        try:
            data = album.read(entry)
            photo = decode_photo(data, 2 * self.embedder.settings.detect_size, self.image_limits)
            del data
            faces = self.embedder.detect(photo)
            thumbnail = thumbnail_jpeg(photo.pixels, self.image_limits.thumbnail_size)
        except PhotoError as error:
            return _Analysed(entry, skipped=Skipped(entry.name, str(error)))
        except FacefindError:
            raise  # the model itself failed: not this photo's fault
        except Exception as error:  # never let one photo stop the album
            return _Analysed(entry, skipped=Skipped(entry.name, f"could not be processed ({error})"))
        info = PhotoInfo(entry.name, photo.width, photo.height, entry.size)
        return _Analysed(entry, info=info, thumbnail=thumbnail, faces=faces)

    @staticmethod
    def _record(analysed: _Analysed, index: AlbumIndex) -> list[tuple[int, DetectedFace]]:
        """Add the photo to the index; return its faces tagged with its photo number."""
        if analysed.info is None:
            assert analysed.skipped is not None
            index.skipped.append(analysed.skipped)
            return []
        number = len(index.photos)
        index.photos.append(analysed.info)
        index.thumbnails.append(analysed.thumbnail)
        return [(number, face) for face in analysed.faces]

    def _embed(self, faces: list[tuple[int, DetectedFace]]) -> np.ndarray:
        return self.embedder.embed([face.crop for _, face in faces])


def _stack_faces(
    index: AlbumIndex, parts: list[tuple[np.ndarray, list[tuple[int, DetectedFace]]]]
) -> None:
    faces = [face for _, batch in parts for face in batch]
    if not faces:
        return
    index.embeddings = np.concatenate([vectors for vectors, _ in parts]).astype(np.float32)
    index.face_photo = np.array([number for number, _ in faces], dtype=np.int32)
    index.boxes = np.array([face.box for _, face in faces], dtype=np.int32).reshape(-1, 4)
    index.confidences = np.array([face.confidence for _, face in faces], dtype=np.float32)


def build_index(
    source: Union[Album, bytes, BinaryIO],
    settings: FaceSettings | None = None,
    progress: Progress | None = None,
    embedder: FaceEmbedder | None = None,
) -> AlbumIndex:
    """Index an album zip (bytes, file object or opened Album) with the given face settings."""
    album = source if isinstance(source, Album) else Album(source)
    embedder = embedder or FaceEmbedder(settings)
    return IndexBuilder(embedder).build(album, progress)


def is_index_file(path: Union[str, Path]) -> bool:
    """True for a saved facefind index (an .npz), False for anything else, e.g. an album zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return {"meta.npy", "embeddings.npy"} <= names
