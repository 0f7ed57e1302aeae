"""Faces in a photo: found by the detector, filtered, and aligned as the face model wants them.

DeepFace's detector runs on a copy of the photo shrunk to `detect_size` (faces too small to
recognise are dropped anyway), with one detector instance per thread; a query photo (or the
thorough setting) gets dlib's CNN detector where it finds none. Boxes are mapped back to the
original photo's pixels, and each face is cut from the sharper full decode: dlib's 5-point chip
for Dlib, DeepFace's own crop for other models.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from .chips import Box, DlibTools
from .config import CHIP_MODELS, FaceSettings
from .images import DecodedPhoto

#: dlib's CNN detector scans a copy of at most this long side; its cost grows fast with the
#: size (docs/accuracy.md, "Detection"). It finds faces from ~80 px of this copy.
CNN_SCAN_SIZE = 800


@dataclass(frozen=True)
class DetectedFace:
    """A face found in a photo, before embedding: its aligned crop (BGR) and where it is."""

    crop: np.ndarray
    box: Box
    confidence: float

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


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


def _midpoint(first, second) -> tuple[int, int]:
    return ((first.x + second.x) // 2, (first.y + second.y) // 2)


class FaceDetector:
    """Finds and aligns the faces of photos for one face model, safely from several threads."""

    def __init__(self, settings: FaceSettings, model_name: str) -> None:
        self.settings = settings
        self.model_name = model_name
        self._per_thread = threading.local()
        self._dlib_tools = DlibTools()

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
        preview = preview or photo.shrunk(self.settings.detect_size)
        regions = self._detector_model().detect_faces(
            cv2.cvtColor(preview.pixels, cv2.COLOR_RGB2BGR)
        )
        kept = self._kept(regions, preview)
        if not kept and (thorough or self.settings.thorough):
            kept = self._kept(self._cnn_regions(preview), preview)
        to_photo = photo.scale / preview.scale
        faces = [self._aligned(scale_region(region, to_photo), photo) for region in kept]
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
        """Faces dlib's CNN detector finds on a copy of at most `CNN_SCAN_SIZE`, as DeepFace
        regions in `preview`'s pixels, with eyes from the 5 landmarks (what DeepFace's dlib
        detector reports), so that any model can align them."""
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
