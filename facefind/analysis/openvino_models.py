"""One way to run a model with OpenVINO: compiled once, shared by the threads of a process.

Used by the word reader's two RapidOCR models (words.text_model) and dlib's face network
(dlib_descriptor.py). A model is compiled with one stream per core, each stream using one
thread. Every calling thread infers on a request of its own, so the indexing threads run in
parallel: with a single stream, two threads waited for each other (8 detections took 0.98 s
against 0.53 s). None of them spreads over the cores the other steps are using.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np


def openvino_installed() -> bool:
    """Whether OpenVINO can be imported (a platform with no wheel falls back elsewhere)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


class OpenVinoModel:
    """A model (an ONNX file's path, or an `openvino.Model`) compiled for the CPU; `infer`
    returns the first output of an input batch. `precision` pins the inference precision (say
    "f32"); None leaves it to OpenVINO, which uses bfloat16 where the CPU has it."""

    def __init__(self, model: Any, precision: str | None = None):
        import openvino

        cores = os.cpu_count() or 1
        config: dict[str, Any] = {
            "NUM_STREAMS": cores,
            "INFERENCE_NUM_THREADS": cores,
            "ENABLE_CPU_PINNING": False,
        }
        if precision is not None:
            config["INFERENCE_PRECISION_HINT"] = precision
        self._compiled = openvino.Core().compile_model(model, "CPU", config)
        self._local = threading.local()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        request.infer([batch])
        return request.get_output_tensor(0).data.copy()
