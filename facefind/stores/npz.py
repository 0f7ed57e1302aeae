"""The album index in memory and in one .npz file: the embedded `IndexStore` (store.py).

Every photo's name, size and thumbnail, and all faces as one matrix.

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
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np

from facefind import __version__
from facefind.analysis.words import Word, tokens
from facefind.config import EMBEDDING_SIZE, FaceSettings
from facefind.errors import FacefindError, IndexFileError
from facefind.sources.archive import Skipped
from facefind.stores.base import FaceMatches, FaceRows, PhotoInfo, PhotoTable

#: The format this version writes, and the oldest it reads (older ones are migrated on load,
#: one version at a time: `MIGRATIONS`). 2: Dlib faces are embedded from dlib's 5-point chips
#: (format 1 held box-crop embeddings, which do not mix with queries embedded the new way:
#: such a file is refused with "index again").
#: 3: the words read in each photo (text, box, confidence). A format 2 file is read as an index
#: whose words were not read (`words` None), and written back as format 3.
#: 4: the faces of people who asked not to be found (`opted_out`); an older facefind, which
#: would not keep them out, refuses a format 4 file.
#: 5: the sharpness of each face's chip (`sharpness`; analysis.quality). An older file's faces
#: read as not measured (NaN: counted as sharp).
INDEX_FORMAT = 5
OLDEST_READABLE_FORMAT = 2
log = logging.getLogger("facefind")
#: The reason listed for a photo removed from the index (`facefind remove`).
REMOVED = "removed by the organiser"
#: Faces compared with the queries at a time: (block, n) similarities, never (m, n) at once.
FACE_BLOCK = 65536
#: One big matrix product at a time in this process: each already uses every core (OpenBLAS),
#: and many at once from the threads of an event's sessions fight over the cores and run
#: 30x slower in all (bench_event.py: 7 searches/s without it).
_PRODUCT_LOCK = threading.Lock()


@dataclass(frozen=True)
class AlbumIndex:
    """Photos and faces of one album, ready to search. Never changed once made (a change, such
    as adding photo embeddings, makes a new one), so a search never sees it half-built."""

    model: str
    detector: str
    settings: FaceSettings
    #: by id: the photo's position (given as a list, made a table)
    photos: PhotoTable = field(default_factory=lambda: PhotoTable.numbered([]))
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
    #: The words read in each photo (one list per photo), and the reader that read them; None
    #: when the album was indexed without reading words (an index older than format 3, or
    #: reading turned off).
    words: list[list[Word]] | None = None
    word_reader: str | None = None
    version: str = __version__
    #: Where the photos were read from (folders and zips, absolute), when the user indexed
    #: them from the command line: an event serves its photos from there. Empty for uploads.
    sources: tuple[str, ...] = ()
    #: The user's People work (people.PeopleNotes as JSON), saved only when the user saves
    #: the index from the app; None otherwise.
    people_notes: dict | None = None
    #: The faces of people who asked not to be found (`forget`), (k, 128): kept so that a
    #: query like them finds nothing and their faces stay out of photos indexed later.
    opted_out_faces: np.ndarray = field(
        default_factory=lambda: np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    )
    #: The sharpness of each face's chip (analysis.quality); None: not measured (an index
    #: older than format 5, or made by hand), read as NaN for every face.
    sharpness: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.photos, PhotoTable):  # a list of PhotoInfo, numbered in order
            object.__setattr__(self, "photos", PhotoTable.numbered(self.photos))

    @property
    def face_sharpness(self) -> np.ndarray:
        """One value per face, NaN where it was not measured."""
        if self.sharpness is None:
            return np.full(self.face_count, np.nan, dtype=np.float32)
        return self.sharpness

    @cached_property
    def word_photos(self) -> dict[str, set[int]]:
        """token -> the photos whose words hold it (made on the first word search)."""
        found: dict[str, set[int]] = {}
        for photo, photo_words in enumerate(self.words or ()):
            for word in photo_words:
                for token in tokens(word.text):
                    found.setdefault(token, set()).add(photo)
        return found

    @property
    def face_count(self) -> int:
        return int(self.embeddings.shape[0])

    def is_consistent(self) -> bool:
        """Whether the parts fit together as search needs (checked by `load` and the builder)."""
        return _parts_fit(self)

    @classmethod
    def joined(cls, parts: Sequence[AlbumIndex]) -> AlbumIndex:
        """One index of parts of one album indexed apart (by cluster workers), photos in the
        parts' order. The parts must be of the same model and settings."""
        if not parts:
            raise FacefindError("Nothing was indexed.")
        first = parts[0]
        if any((p.model, p.settings) != (first.model, first.settings) for p in parts):
            raise FacefindError("Parts indexed with different models cannot be joined.")
        offsets = np.cumsum([0] + [len(part.photos) for part in parts])
        described = all(part.photo_embeddings is not None for part in parts)
        read = all(part.words is not None for part in parts)
        return replace(
            first,
            photos=PhotoTable.numbered(photo for part in parts for photo in part.photos),
            thumbnails=[thumb for part in parts for thumb in part.thumbnails],
            embeddings=np.concatenate([part.embeddings for part in parts]),
            face_photo=np.concatenate(
                [part.face_photo + offset for part, offset in zip(parts, offsets, strict=False)]
            ).astype(np.int32),
            boxes=np.concatenate([part.boxes for part in parts]),
            confidences=np.concatenate([part.confidences for part in parts]),
            sharpness=np.concatenate([part.face_sharpness for part in parts]),
            skipped=[item for part in parts for item in part.skipped],
            photo_embeddings=(
                np.concatenate([part.photo_embeddings for part in parts]) if described else None
            ),
            photo_model=first.photo_model if described else None,
            words=[words for part in parts for words in part.words or ()] if read else None,
            word_reader=first.word_reader if read else None,
            opted_out_faces=np.concatenate([part.opted_out_faces for part in parts]),
        )

    def remove(self, names: Sequence[str], keep_out: bool = True) -> AlbumIndex:
        """This index without these photos (and, with `keep_out`, listing them as removed)."""
        wanted = set(names)
        gone = {photo for photo, info in self.photos.with_id() if info.name in wanted}
        index = self.without_photos(gone)
        if keep_out:
            known = {item.name for item in index.skipped}
            removed = [Skipped(name, REMOVED) for name in names if name not in known]
            index = replace(index, skipped=[*index.skipped, *removed])
        return index

    def forget_faces(self, faces: Sequence[int], opted_out: np.ndarray) -> AlbumIndex:
        """This index without these faces, remembering `opted_out` (see optout.py)."""
        return self.without_faces({int(face) for face in faces}, opted_out)

    def keep(self, where: str) -> None:
        """Save a changed index where it was read from (the database store commits as it goes)."""
        self.save(where)

    def add_photo_vectors(self, photo_model: str, vectors: np.ndarray) -> AlbumIndex:
        """This index with the UForm vectors of its photos, in photo order (`describe`)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) != len(self.photos):
            raise FacefindError("One vector per photo is needed to describe an index.")
        return replace(self, photo_embeddings=vectors, photo_model=photo_model)

    def without_photos(self, gone: set[int]) -> AlbumIndex:
        """This index without these photos (by id), their faces, words and thumbnails; the
        others renumbered in order (a new index: a saved file is rewritten whole)."""
        kept = [photo for photo in range(len(self.photos)) if photo not in gone]
        new_number = np.full(len(self.photos) + 1, -1, dtype=np.int64)
        new_number[kept] = np.arange(len(kept))
        faces = np.flatnonzero(new_number[self.face_photo] >= 0)
        return self._with(kept, faces, new_number)

    def without_faces(self, gone: set[int], opted_out: np.ndarray) -> AlbumIndex:
        """This index without these faces (by id), remembering `opted_out` faces."""
        faces = np.array([row for row in range(self.face_count) if row not in gone], np.int64)
        kept = list(range(len(self.photos)))
        index = self._with(kept, faces, np.arange(len(self.photos) + 1))
        opted = np.concatenate([self.opted_out_faces, opted_out]).astype(np.float32)
        return replace(index, opted_out_faces=opted)

    def _with(self, kept: list[int], faces: np.ndarray, new_number: np.ndarray) -> AlbumIndex:
        return replace(
            self,
            photos=PhotoTable.numbered(self.photos[photo] for photo in kept),
            thumbnails=[self.thumbnails[photo] for photo in kept],
            embeddings=self.embeddings[faces],
            face_photo=new_number[self.face_photo[faces]].astype(np.int32),
            boxes=self.boxes[faces],
            confidences=self.confidences[faces],
            sharpness=self.face_sharpness[faces],
            photo_embeddings=(
                None if self.photo_embeddings is None else self.photo_embeddings[kept]
            ),
            words=None if self.words is None else [self.words[photo] for photo in kept],
        )

    # --- the IndexStore interface (store.py): face ids are the rows of the face matrix ---

    def faces_above(self, queries: np.ndarray, min_similarity: float) -> FaceMatches:
        """Exact: one matrix product over every face, in blocks, so memory stays bounded."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        parts = []
        for start in range(0, self.face_count, FACE_BLOCK):
            with _PRODUCT_LOCK:
                block = self.embeddings[start : start + FACE_BLOCK] @ queries.T
            rows, columns = np.nonzero(block >= min_similarity)
            faces = rows + start
            parts.append(
                FaceMatches(
                    faces,
                    columns,
                    block[rows, columns],
                    self.face_photo[faces],
                    self.embeddings[faces],
                )
            )
        return FaceMatches.joined(parts)

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        rows = np.asarray(ids, dtype=np.int64).reshape(-1)
        return FaceRows(
            rows,
            self.face_photo[rows],
            self.boxes[rows],
            self.confidences[rows],
            self.embeddings[rows],
            self.face_sharpness[rows],
        )

    def faces_in(self, photos: Sequence[int] | np.ndarray) -> FaceRows:
        wanted = np.unique(np.asarray(photos, dtype=np.int64))
        # faces of a photo are contiguous and in photo order: two binary searches per photo
        starts = np.searchsorted(self.face_photo, wanted, side="left")
        ends = np.searchsorted(self.face_photo, wanted, side="right")
        spans = [np.arange(start, end) for start, end in zip(starts, ends, strict=True)]
        return self.faces(np.concatenate(spans) if spans else np.zeros(0, np.int64))

    def face_blocks(self, size: int) -> Iterator[FaceRows]:
        for start in range(0, self.face_count, size):
            yield self.faces(np.arange(start, min(start + size, self.face_count)))

    def thumbnail(self, photo: int) -> bytes:
        return self.thumbnails[photo]

    def photo_vectors(self) -> np.ndarray | None:
        return self.photo_embeddings

    def words_read(self) -> bool:
        return self.words is not None

    def words_in(self, photo: int) -> list[Word]:
        return self.words[photo] if self.words is not None else []

    def described(self) -> bool:
        return self.photo_embeddings is not None

    def words_of(self, photos: Sequence[int]) -> dict[int, list[Word]]:
        return {int(photo): self.words_in(int(photo)) for photo in photos}

    def common_tokens(self, more_than: int, share: float) -> set[str]:
        least = share * len(self.photos)
        return {
            token
            for token, photos in self.word_photos.items()
            if len(photos) > more_than and len(photos) >= least
        }

    def photos_with_token(self, token: str) -> set[int]:
        return self.word_photos.get(token, set())

    def token_counts(self) -> dict[str, int]:
        return {token: len(photos) for token, photos in self.word_photos.items()}

    def opted_out(self) -> np.ndarray:
        return self.opted_out_faces

    def refresh(self) -> bool:
        return False  # never changed in place: a change makes a new index

    def close(self) -> None:
        """Nothing held open."""

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
            "word_reader": self.word_reader,
            "words_read": self.words is not None,
            "sources": list(self.sources),
            "people_notes": self.people_notes,
        }
        words = [(photo, word) for photo, found in enumerate(self.words or ()) for word in found]
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
            sharpness=self.face_sharpness,
            photo_embeddings=photo_embeddings,
            thumbnails=thumbs,
            thumbnail_offsets=offsets,
            word_texts=np.array([word.text for _, word in words], dtype=str),
            word_photo=np.array([photo for photo, _ in words], dtype=np.int32),
            word_boxes=np.array([word.box for _, word in words], dtype=np.int32).reshape(-1, 4),
            word_confidences=np.array([word.confidence for _, word in words], dtype=np.float32),
            opted_out=self.opted_out_faces,
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


def _words_not_read(meta: dict, data: dict) -> None:
    """Format 2 -> 3: the album's words were not read (format 2 had none)."""
    meta["words_read"] = False
    meta.setdefault("word_reader", None)


def _nobody_opted_out(meta: dict, data: dict) -> None:
    """Format 3 -> 4: no one had asked not to be found."""
    data["opted_out"] = np.zeros((0, EMBEDDING_SIZE), np.float32)


def _sharpness_not_measured(meta: dict, data: dict) -> None:
    """Format 4 -> 5: faces indexed before their sharpness was measured (NaN: not measured)."""
    faces = len(data.get("face_photo", ()))
    data["sharpness"] = np.full(faces, np.nan, dtype=np.float32)


#: format N -> the change that makes a format N file's contents format N + 1.
MIGRATIONS: dict[int, Callable[[dict, dict], None]] = {
    2: _words_not_read,
    3: _nobody_opted_out,
    4: _sharpness_not_measured,
}


def migrate(meta: dict, data: dict, path: object) -> None:
    """Bring a file's contents up to `INDEX_FORMAT`, one format at a time; a format older than
    the oldest migration (box-crop embeddings that do not mix with today's) or newer than this
    version is refused with what to do."""
    found = meta.get("format")
    if not isinstance(found, int) or not OLDEST_READABLE_FORMAT <= found <= INDEX_FORMAT:
        raise IndexFileError(
            f"{path} was written by facefind {meta.get('facefind', '?')} in a format this "
            f"version ({__version__}) does not read. Index the album again."
        )
    for version in range(found, INDEX_FORMAT):
        MIGRATIONS[version](meta, data)
    meta["format"] = INDEX_FORMAT


def _index_from(meta: dict, data: dict, path: object) -> AlbumIndex:
    migrate(meta, data, path)
    try:
        offsets = data["thumbnail_offsets"]
        blob = data["thumbnails"].tobytes()
        index = AlbumIndex(
            model=meta["model"],
            detector=meta["detector"],
            settings=FaceSettings(**meta["settings"]),
            photos=PhotoTable.numbered(PhotoInfo(**photo) for photo in meta["photos"]),
            thumbnails=[
                blob[start:end] for start, end in zip(offsets[:-1], offsets[1:], strict=True)
            ],
            embeddings=data["embeddings"].astype(np.float32, copy=False),
            face_photo=data["face_photo"].astype(np.int32, copy=False),
            boxes=data["boxes"].astype(np.int32, copy=False),
            confidences=data["confidences"].astype(np.float32, copy=False),
            sharpness=data["sharpness"].astype(np.float32, copy=False),
            skipped=[Skipped(**item) for item in meta["skipped"]],
            photo_model=meta["photo_model"],
            photo_embeddings=(
                data["photo_embeddings"].astype(np.float32, copy=False)
                if meta["photo_model"]
                else None
            ),
            words=_words_from(meta, data),
            word_reader=meta.get("word_reader"),
            version=meta["facefind"],
            sources=tuple(meta.get("sources", ())),
            people_notes=meta.get("people_notes"),
            opted_out_faces=data["opted_out"]
            .astype(np.float32, copy=False)
            .reshape(-1, EMBEDDING_SIZE),
        )
    except (KeyError, TypeError) as error:
        raise IndexFileError(f"{path} is damaged: {error} is missing.") from error
    except (IndexError, ValueError) as error:
        raise IndexFileError(f"{path} is damaged: its words do not fit its photos.") from error
    _check_consistent(index, path)
    return index


def _words_from(meta: dict, data: dict) -> list[list[Word]] | None:
    """The words of each photo, or None where they were not read."""
    if not meta["words_read"]:
        return None
    words: list[list[Word]] = [[] for _ in meta["photos"]]
    for text, photo, box, confidence in zip(
        data["word_texts"].tolist(),
        data["word_photo"].tolist(),
        data["word_boxes"].tolist(),
        data["word_confidences"].tolist(),
        strict=True,
    ):
        x, y, width, height = (int(side) for side in box)
        words[photo].append(Word(str(text), (x, y, width, height), float(confidence)))
    return words


def _check_consistent(index: AlbumIndex, path: object) -> None:
    if not index.is_consistent():
        raise IndexFileError(f"{path} is damaged: its parts do not fit together.")


def _parts_fit(index: AlbumIndex) -> bool:
    """What search relies on: one row per face in every array, faces of a photo contiguous
    (`face_photo` non-decreasing), every face in a photo of the index."""
    faces = index.face_count
    consistent = (
        index.embeddings.ndim == 2
        and index.embeddings.shape[1] == EMBEDDING_SIZE
        and index.face_photo.shape == (faces,)
        and index.boxes.shape == (faces, 4)
        and index.confidences.shape == (faces,)
        and index.face_sharpness.shape == (faces,)
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
        and bool(np.all(np.diff(index.face_photo) >= 0))
        and (index.words is None or len(index.words) == len(index.photos))
    )
    return bool(consistent)


def is_index_file(path: str | Path) -> bool:
    """True for a saved facefind index (an .npz), False for anything else, e.g. an album zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return {"meta.npy", "embeddings.npy"} <= names
