"""Faces of photos as embeddings: the face model, and `FaceEmbedder`, the one object the rest
of facefind uses for faces.

`FaceEmbedder` resolves the model and detector once (models.py says what cannot be had),
finds and aligns faces with a `FaceDetector` (detection.py), and embeds the aligned faces of
many photos in one batched model call (`embed_crops`, also run by the helper process). dlib's
model runs as OpenVINO's rebuild of its network where it can (dlib_descriptor.py: the same
vectors, 20 times as fast, without the GIL), otherwise through DeepFace.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facefind.analysis.detection import DetectedFace, FaceDetector
from facefind.analysis.dlib_descriptor import CHIP_SIZE, DescriptorNetwork, descriptor_network
from facefind.analysis.images import DecodedPhoto, decode_photo
from facefind.analysis.models import resolve_settings
from facefind.analysis.runtime import (
    MODEL_WEIGHT_FILES,
    LoadsOnce,
    deepface,
    dlib_model_file,
)
from facefind.config import EMBEDDING_SIZE, FaceSettings, ImageLimits, detect_size_of
from facefind.geometry import Box
from facefind.vectors import l2_normalize

__all__ = ["DetectedFace", "Face", "FaceEmbedder", "decode_for_faces", "embed_crops"]

log = logging.getLogger("facefind")

#: DeepFace keeps one instance of each face model per process; its native code (dlib, ONNX
#: Runtime sessions shared across app sessions) is called by one thread at a time. The OpenVINO
#: rebuild of dlib's network needs no lock: each thread infers on a request of its own.
_MODEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Face:
    """A face found in a photo, described by a unit-length embedding."""

    box: Box
    confidence: float
    embedding: np.ndarray


def embed_crops(crops: Sequence[np.ndarray], model_name: str) -> np.ndarray:
    """Unit-length embeddings of aligned BGR face crops in one batched model call."""
    if not len(crops):
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    network = fast_dlib_network() if model_name == "Dlib" else None
    if network is not None:
        vectors = network.describe(_as_deepface_feeds_dlib(crops))
        return l2_normalize(vectors.astype(np.float32))
    with _MODEL_LOCK:
        return _embed_with_deepface(crops, model_name)


@functools.cache
def fast_dlib_network() -> DescriptorNetwork | None:
    """dlib's network rebuilt in OpenVINO, looked up once per process (None: dlib itself
    embeds, through DeepFace)."""
    weights = dlib_model_file(MODEL_WEIGHT_FILES["Dlib"])
    return descriptor_network(weights) if weights is not None else None


def _as_deepface_feeds_dlib(crops: Sequence[np.ndarray]) -> np.ndarray:
    """The RGB uint8 chips DeepFace gives dlib for BGR crops (its resize to 150x150, its scaling
    to [0, 1] and back, truncated), so that both paths embed the same pixels."""
    deepface()  # configured before its first import
    preprocessing = importlib.import_module("deepface.modules.preprocessing")
    chips = []
    for crop in crops:
        scaled = preprocessing.resize_image(crop, (CHIP_SIZE, CHIP_SIZE))[0][:, :, ::-1]
        if scaled.max() <= 1:
            scaled = scaled * 255
        chips.append(scaled.astype(np.uint8))
    return np.stack(chips)


def _embed_with_deepface(crops: Sequence[np.ndarray], model_name: str) -> np.ndarray:
    results = deepface().represent(list(crops), model_name=model_name, detector_backend="skip")
    if len(crops) == 1:
        results = [results]
    vectors = [result[0]["embedding"] for result in results]
    return l2_normalize(np.asarray(vectors, dtype=np.float32).reshape(len(crops), -1))


def decode_for_faces(
    data: bytes, settings: FaceSettings, limits: ImageLimits | None = None
) -> tuple[DecodedPhoto, DecodedPhoto]:
    """The photo decoded at the size faces are aligned from (at least twice the scan size; a
    JPEG keeps its draft-mode size, up to twice that again: a 12 MP photo decodes in 32 ms and
    its exact shrink would cost 90 ms more), and the shrunk copy the detector scans, which
    also makes the thumbnail and the UForm input. Album and query photos alike."""
    scan = detect_size_of(settings)
    photo = decode_photo(data, 2 * scan, limits, slack=2.0)
    return photo, photo.shrunk(scan)


class FaceEmbedder(LoadsOnce[FaceDetector]):
    """Detects and embeds faces with DeepFace, loading the model once, on first use.

    If the default model's weights are missing and cannot be downloaded (offline), it falls
    back to Dlib, whose weights ship with facefind's requirements, and says so in `notices`.
    """

    def __init__(
        self, settings: FaceSettings | None = None, notify: Callable[[str], None] | None = None
    ) -> None:
        #: What the user asked for; never changed (see `in_effect`).
        self.requested = settings or FaceSettings()
        self.notices: list[str] = []
        self._notify = notify
        self._in_effect: FaceSettings | None = None
        self._fresh_runtime_state()

    #: A copy sent to another process keeps the settings in effect (resolved once, here) and
    #: builds its own detector from them; the notices' callback stays here.
    _runtime_state = (*LoadsOnce._runtime_state, "_notify")

    def _fresh_runtime_state(self) -> None:
        super()._fresh_runtime_state()
        self._notify = getattr(self, "_notify", None)

    @property
    def in_effect(self) -> FaceSettings:
        """The settings actually used: the model and detector after any fallback, resolved once
        by `load()` (models.resolve_settings). The builder records it in the index and the UI
        shows it. Loading is never a side effect of reading this: call `load()` first."""
        if self._in_effect is None:
            raise RuntimeError("FaceEmbedder.load() has not been called yet")
        return self._in_effect

    @property
    def model_name(self) -> str:
        """The face model actually used (after any fallback)."""
        return self.in_effect.model

    @property
    def detector(self) -> str:
        """The detector actually used (after any fallback)."""
        return self.in_effect.detector

    def _load_model(self) -> FaceDetector:
        """The settings in effect (once: a copy in another process keeps them) and the
        detector and aligner for them (DeepFace caches the face model itself)."""
        if self._in_effect is None:
            self._in_effect = resolve_settings(self.requested, self._say)
        return FaceDetector(self._in_effect, self._in_effect.model)

    def detect(
        self, photo: DecodedPhoto, preview: DecodedPhoto | None = None, thorough: bool = False
    ) -> list[DetectedFace]:
        """Faces in the photo that pass the confidence and size bars, largest first, aligned for
        the model (see detection.FaceDetector.detect)."""
        return self.model.detect(photo, preview, thorough)

    def _say(self, message: str) -> None:
        self.notices.append(message)
        if self._notify:
            self._notify(message)
        else:
            log.warning(message)

    def decode(self, data: bytes, limits: ImageLimits | None = None) -> DecodedPhoto:
        """Decode a photo at the size faces are aligned from (see `decode_for_faces`)."""
        self.load()
        return decode_for_faces(data, self.in_effect, limits)[0]

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length embeddings of aligned face crops, in one batched model call."""
        self.load()
        return embed_crops(crops, self.model_name)

    def embeds_without_gil(self) -> bool:
        """Whether embedding leaves Python's other threads running (dlib's network in
        OpenVINO), so that it needs no helper process to overlap the decoding."""
        self.load()
        return self.model_name == "Dlib" and fast_dlib_network() is not None

    def faces(self, photo: DecodedPhoto, thorough: bool = False) -> list[Face]:
        """Detect and embed the faces of one photo (largest first)."""
        detected = self.detect(photo, thorough=thorough)
        vectors = self.embed([face.crop for face in detected])
        return [
            Face(box=face.box, confidence=face.confidence, embedding=vector)
            for face, vector in zip(detected, vectors, strict=True)
        ]
