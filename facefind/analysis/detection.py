"""Faces in a photo: found by a detector (detectors.py), filtered, and aligned as the face model
wants them.

The detector runs on a copy of the photo shrunk to `detect_size` (faces too small to recognise
are dropped anyway), with one detector instance per thread; a query photo (or the thorough
setting) gets dlib's CNN detector where it finds none. Boxes are mapped back to the original
photo's pixels, and each face is cut from the sharper full decode: dlib's 5-point chip for Dlib,
DeepFace's own crop for other models.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np

from facefind.analysis.chips import DlibTools
from facefind.analysis.detectors import CnnDetector, Detector, FoundFace, make_detector
from facefind.analysis.images import DecodedPhoto
from facefind.config import CHIP_MODELS, FaceSettings, detect_size_of, min_confidence_of
from facefind.geometry import Box

T = TypeVar("T")


@dataclass(frozen=True)
class DetectedFace:
    """A face found in a photo, before embedding: its aligned crop (BGR) and where it is."""

    crop: np.ndarray
    box: Box
    confidence: float

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


#: dlib CNN detectors kept between uses (the thorough pass: a query photo, or a photo where
#: the fast detector found nobody); more run at once when needed and are then let go.
CNN_KEPT = 2


class Lent(Generic[T]):
    """Instances that must not be used by two threads at once, each lent to one thread at a
    time and kept for the next (at most `kept` of them), rather than one per thread: a
    network keeps its last photo's activations (hundreds of MB), and a server runs each
    session's page on a thread of its own."""

    def __init__(self, make: Callable[[], T], kept: int) -> None:
        self._make, self._kept = make, kept
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()

    @contextmanager
    def lent(self) -> Iterator[T]:
        try:
            instance = self._idle.get_nowait()
        except queue.Empty:
            instance = self._make()
        try:
            yield instance
        finally:
            if self._idle.qsize() < self._kept:
                self._idle.put(instance)


class FaceDetector:
    """Finds and aligns the faces of photos for one face model, safely from several threads."""

    def __init__(self, settings: FaceSettings, model_name: str) -> None:
        self.settings = settings
        self.model_name = model_name
        self._per_thread = threading.local()
        self._dlib_tools = DlibTools()
        self._cnns: Lent[CnnDetector] = Lent(lambda: CnnDetector(self._dlib_tools), CNN_KEPT)

    def detect(
        self, photo: DecodedPhoto, preview: DecodedPhoto | None = None, thorough: bool = False
    ) -> list[DetectedFace]:
        """Faces in the photo that pass the confidence and size bars, largest first.

        The detector runs on `preview`, a copy shrunk to `detect_size` (made here if not
        given); each face is then aligned from the sharper `photo.pixels`. Where it finds no
        face and `thorough` is asked (a query photo, or the thorough setting), dlib's CNN
        detector looks again.
        """
        preview = preview or photo.shrunk(detect_size_of(self.settings))
        detector = self.settings.detector
        kept = self._kept(self._detector_model().find(preview.pixels), preview, detector)
        if not kept and (thorough or self.settings.thorough):
            detector = "dlib-cnn"
            kept = self._kept(self._find_with_cnn(preview.pixels), preview, detector)
        to_photo = photo.scale / preview.scale
        faces = [self._aligned(found.scaled(to_photo), photo, detector) for found in kept]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    def _kept(self, found: list[FoundFace], preview: DecodedPhoto, detector: str) -> list:
        """The faces that pass the detector's confidence bar and the minimum face size."""
        bar = min_confidence_of(self.settings, detector)
        return [
            face
            for face in found
            if face.score >= bar
            and min(face.box[2], face.box[3]) / preview.scale >= self.settings.min_face_size
        ]

    def _find_with_cnn(self, pixels: np.ndarray) -> list[FoundFace]:
        with self._cnns.lent() as cnn:
            return cnn.find(pixels)

    def _detector_model(self) -> Detector:
        """This thread's own detector: dlib's detectors and OpenCV's cascades are not safe to
        share between threads (a shared dlib detector corrupts memory), and indexing detects
        in several threads at once."""
        detector = getattr(self._per_thread, "detector", None)
        if detector is None:
            detector = self._per_thread.detector = make_detector(self.settings.detector)
        return detector

    def _aligned(self, found: FoundFace, photo: DecodedPhoto, detector: str) -> DetectedFace:
        """The face as its model wants it, BGR: dlib's 5-point chip for Dlib (uint8), else the
        crop DeepFace's own pipeline makes (turned upright by the eyes, scaled to 0..1 before
        DeepFace resizes it, as `DeepFace.extract_faces` hands it to `represent`)."""
        box = tuple(round(side / photo.scale) for side in found.box)
        if self.model_name in CHIP_MODELS:
            crop = self._dlib_tools.chip(photo.pixels, found.shape_box())
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        else:
            crop = self._deepface_crop(found, photo)[:, :, ::-1] / 255
        return DetectedFace(crop=crop, box=box, confidence=found.score)  # type: ignore[arg-type]

    def _deepface_crop(self, found: FoundFace, photo: DecodedPhoto) -> np.ndarray:
        """What `DeepFace.extract_faces` cuts out for this face (RGB, not yet resized)."""
        from deepface.models.Detector import FacialAreaRegion
        from deepface.modules.detection import extract_face

        def point(index: int) -> tuple[int, int] | None:
            if len(found.landmarks) <= index:
                return None
            return (round(found.landmarks[index][0]), round(found.landmarks[index][1]))

        x, y, width, height = found.box
        region = FacialAreaRegion(
            x=x,
            y=y,
            w=width,
            h=height,
            left_eye=point(0),
            right_eye=point(1),
            confidence=found.score,
        )
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
