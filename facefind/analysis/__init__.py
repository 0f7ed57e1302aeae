"""Analysis: what is learnt from one photo, step by step (steps.py): decoded upright
(images.py), its faces found (detectors.py behind detection.py) and embedded (faces.py, the face
models of models.py and dlib_descriptor.py), its words read (words.py), the whole photo
embedded for descriptions (semantic.py). Model runtimes (DeepFace's, OpenVINO's) are set up in
runtime.py and openvino_models.py; percentages come from calibration.py.

A new detector is a `Detector` in detectors.py, named in config.DETECTORS; a new word reader a
`WordReader`; a new face model one DeepFace knows, named in config.FACE_MODELS.
"""

from facefind.analysis.calibration import ScoreScale
from facefind.analysis.faces import Face, FaceEmbedder
from facefind.analysis.images import DecodedPhoto, decode_photo
from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.steps import AnalysedPhoto, AnalysePhoto
from facefind.analysis.words import Word, WordReader

__all__ = [
    "AnalysePhoto",
    "AnalysedPhoto",
    "DecodedPhoto",
    "Face",
    "FaceEmbedder",
    "PhotoTextModel",
    "ScoreScale",
    "Word",
    "WordReader",
    "decode_photo",
]
