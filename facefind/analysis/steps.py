"""Indexing as steps: what is done to each photo, as plain picklable callables.

- `AnalysePhoto`: bytes of one photo -> `AnalysedPhoto` (decode, find and align the faces,
  thumbnail, the UForm encoder's input, the words in it); never raises for a bad photo.
- `EmbedFaces`: aligned face crops -> unit-length face vectors, in one batched model call.
- `EmbedPhotos`: prepared UForm inputs -> unit-length photo vectors.

Each holds settings and models that load themselves once in the process that runs them
(runtime.ShipsWithoutModels), and no lock another process would need, so the same steps run in
the local builder's threads and helper processes (builder.py), in a process pool, or on a Ray
cluster's workers (cluster.py) with no change to them. `describe` is `EmbedPhotos` after
`prepare_for_uform`, the same preparation `AnalysePhoto` does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facefind.analysis.detection import DetectedFace
from facefind.analysis.faces import FaceEmbedder, decode_for_faces, embed_crops
from facefind.analysis.images import DecodedPhoto, thumbnail_jpeg
from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.words import Word, WordReader
from facefind.config import FaceSettings, ImageLimits
from facefind.errors import FacefindError, PhotoError
from facefind.geometry import Box
from facefind.sources.archive import PhotoInfo, Skipped

log = logging.getLogger("facefind")


@dataclass
class AnalysedPhoto:
    """What `AnalysePhoto` made of one photo: its record and aligned faces, or why it was
    skipped. The typed hand-off from the photo step to the embedding steps and the store."""

    name: str
    info: PhotoInfo | None = None
    thumbnail: bytes = b""
    faces: list[DetectedFace] = field(default_factory=list)
    photo_input: np.ndarray | None = None  # the photo prepared for the UForm image encoder
    words: list[Word] = field(default_factory=list)
    skipped: Skipped | None = None
    #: a part that failed on this photo while the photo itself was indexed (words not read)
    partly: Skipped | None = None


def prepare_for_uform(
    photo_model: PhotoTextModel, data: bytes, settings: FaceSettings, limits: ImageLimits | None
) -> np.ndarray:
    """A photo prepared for the UForm image encoder exactly as indexing prepares it, so that
    `describe` gives the embeddings `index` would have given."""
    _, preview = decode_for_faces(data, settings, limits)
    return photo_model.preprocess(preview.pixels)


class AnalysePhoto:
    """The per-photo step: everything but the batched model calls."""

    def __init__(
        self,
        embedder: FaceEmbedder,
        photo_model: PhotoTextModel | None = None,
        word_reader: WordReader | None = None,
        image_limits: ImageLimits | None = None,
    ) -> None:
        self.embedder = embedder
        self.photo_model = photo_model
        self.word_reader = word_reader
        self.image_limits = image_limits or ImageLimits()

    def __call__(self, name: str, size: int, data: bytes) -> AnalysedPhoto:
        try:
            photo, preview = decode_for_faces(data, self.embedder.in_effect, self.image_limits)
            del data
            faces = self.embedder.detect(photo, preview)
            thumbnail = thumbnail_jpeg(preview.pixels, self.image_limits.thumbnail_size)
            photo_input = self.photo_model.preprocess(preview.pixels) if self.photo_model else None
            words, partly = self._read_words(photo, faces, name)
        except PhotoError as error:
            return AnalysedPhoto(name, skipped=Skipped(name, str(error)))
        except FacefindError:
            raise  # the model itself failed: not this photo's fault
        except Exception as error:  # never let one photo stop the album
            log.error("Unexpected error on %s", name, exc_info=error)  # server log only
            return AnalysedPhoto(name, skipped=Skipped(name, f"could not be processed ({error})"))
        info = PhotoInfo(name, photo.width, photo.height, size)
        return AnalysedPhoto(name, info, thumbnail, faces, photo_input, words, partly=partly)

    def _read_words(
        self, photo: DecodedPhoto, faces: list[DetectedFace], name: str
    ) -> tuple[list[Word], Skipped | None]:
        if self.word_reader is None:
            return [], None
        return read_words_safely(self.word_reader, photo, [face.box for face in faces], name)


def read_words_safely(
    reader: WordReader, photo: DecodedPhoto, faces: Sequence[Box], name: str
) -> tuple[list[Word], Skipped | None]:
    """The photo's words (its faces tell the reader how large its bibs are); where reading
    fails the photo is indexed all the same, and the failure reported with the skipped
    files. Indexing and the reading after the faces (reading.py) both read this way."""
    try:
        return reader.read(photo, faces), None
    except Exception as error:  # never let one photo's words stop the album
        log.error("Reading the words of %s failed", name, exc_info=error)
        return [], Skipped(name, f"indexed without its words: reading failed ({error})")


@dataclass(frozen=True)
class EmbedFaces:
    """Aligned BGR face crops -> unit-length vectors, one batched call of the face model."""

    model_name: str

    def __call__(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return embed_crops(crops, self.model_name)


@dataclass(frozen=True)
class EmbedPhotos:
    """Prepared UForm inputs -> unit-length photo vectors, one batched encoder call."""

    photo_model: PhotoTextModel

    def __call__(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.photo_model.embed_images(np.stack(inputs))
