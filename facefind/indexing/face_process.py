"""The face model in helper processes, so that embedding overlaps decoding and detecting and
runs on every core, where the model holds the GIL: dlib itself (when OpenVINO cannot run its
network: dlib_descriptor.py) and models run through DeepFace.

dlib's `compute_face_descriptor` holds Python's GIL for the whole call (about 100 ms a face on
this project's 2-core machine), so in one process the threads that decode and detect the next
photos stall while faces are embedded. A helper process has a GIL of its own: it loads the
model once (~0.5 s, ~100 MiB), reads batches of aligned face crops from a pipe and writes their
embeddings back. Nothing is written to disk.

It is started as `python -m facefind.indexing.face_process` rather than through
`multiprocessing`, whose `spawn` re-imports the caller's main module in the child: a script
without an `if __name__ == "__main__"` guard would run again there. If the helper cannot start
or dies, faces are embedded in this process instead; the index is the same either way.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import BinaryIO

import numpy as np

from facefind.analysis.faces import FaceEmbedder
from facefind.config import Environment

log = logging.getLogger("facefind")


class HelperStopped(RuntimeError):
    """The helper process is gone; the batch has to be embedded here."""


class Embedding:
    """One batch of crops on its way to embeddings (already done when embedded here)."""

    def __init__(
        self, future: Future, crops: list[np.ndarray] | None = None, helper: _Helper | None = None
    ) -> None:
        self.future = future
        self.crops = crops  # kept while a helper works on them, in case it dies
        self.helper = helper


class FaceEmbeddingProcess:
    """Embeds batches of face crops in helper processes (or here, when `helpers` is 0).

    Batches go to the helpers in turn, so that embedding, the slowest step of indexing once
    detection is cheap, runs on as many cores as there are helpers. `submit` returns at once;
    `result` waits for that batch. The embeddings are those of `FaceEmbedder.embed`: same model,
    same DeepFace call.
    """

    def __init__(self, embedder: FaceEmbedder, helpers: int | bool = 1) -> None:
        embedder.load()
        self.embedder = embedder
        self._helpers: list[_Helper] = []
        self._turn = 0
        for _ in range(int(helpers)):
            try:
                self._helpers.append(_Helper(embedder.model_name))
            except OSError as error:
                log.warning("No helper process for the face model (%s); embedding here.", error)
                break

    @property
    def helper_pids(self) -> list[int]:
        """The helper processes' ids (none when faces are embedded in this process)."""
        return [helper.process.pid for helper in self._helpers]

    @property
    def helper_pid(self) -> int | None:
        """The first helper process's id, or None when faces are embedded in this process."""
        return self._helpers[0].process.pid if self._helpers else None

    def submit(self, crops: Sequence[np.ndarray]) -> Embedding:
        crops = list(crops)
        while self._helpers:
            helper = self._helpers[self._turn % len(self._helpers)]
            self._turn += 1
            try:
                return Embedding(helper.submit(crops), crops, helper)
            except HelperStopped as error:
                self._stop_helper(helper, error)
        done: Future = Future()
        done.set_result(self.embedder.embed(crops))
        return Embedding(done)

    def result(self, embedding: Embedding) -> np.ndarray:
        try:
            return embedding.future.result()
        except HelperStopped as error:
            if embedding.helper is not None:
                self._stop_helper(embedding.helper, error)
            assert embedding.crops is not None
            return self.embedder.embed(embedding.crops)

    def close(self) -> None:
        """Stop the helper processes; batches they have not embedded yet are dropped."""
        helpers, self._helpers = self._helpers, []
        for helper in helpers:
            helper.close()

    def __enter__(self) -> FaceEmbeddingProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_helper(self, helper: _Helper, error: BaseException) -> None:
        if helper not in self._helpers:
            return
        self._helpers.remove(helper)
        helper.close()
        left = len(self._helpers)
        where = f"embedding in the other {left}" if left else "embedding here"
        log.warning("A helper process of the face model stopped (%s); %s.", error, where)


class _Helper:
    """The child process and its two pipes; replies come back in the order of the requests."""

    def __init__(self, model_name: str) -> None:
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, model_name, str(requests_in), str(replies_out)],
                pass_fds=(requests_in, replies_out),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if Environment.now().debug else subprocess.DEVNULL,
                env=_child_environment(),
            )
        except OSError:
            os.close(requests_out)
            os.close(replies_in)
            raise
        finally:  # the child's ends: only the child keeps them open
            os.close(requests_in)
            os.close(replies_out)
        self._requests = os.fdopen(requests_out, "wb")
        self._replies = os.fdopen(replies_in, "rb")
        self._pending: deque[Future] = deque()
        self._ended: str | None = None  # why no more replies will come
        self._lock = threading.Lock()  # guards _pending and _ended (the reader takes it)
        self._writing = threading.Lock()  # one request written at a time, in _pending's order
        self._reader = threading.Thread(target=self._read_replies, daemon=True)
        self._reader.start()

    def submit(self, crops: list[np.ndarray]) -> Future:
        """Queue a batch. The pending reply is registered under the lock the reader takes, and
        the request (~600 KB, ten times the pipe) is written outside it: holding that lock while
        the pipe is full would stop the reader, then the helper (its replies unread), then us."""
        future: Future = Future()
        with self._writing:
            with self._lock:
                if self._ended is not None:
                    raise HelperStopped(self._ended)
                self._pending.append(future)
            try:
                pickle.dump(crops, self._requests, protocol=pickle.HIGHEST_PROTOCOL)
                self._requests.flush()
            except (OSError, ValueError) as error:  # broken pipe, or closed
                with self._lock:
                    if future in self._pending:
                        self._pending.remove(future)
                raise HelperStopped(str(error)) from error
        return future

    def _read_replies(self) -> None:
        while True:
            try:
                ok, value = pickle.load(self._replies)
            except Exception as error:  # EOF: the helper exited or was stopped
                self._fail_pending(error)
                return
            with self._lock:
                future = self._pending.popleft()
            if ok:
                future.set_result(value)
            else:
                future.set_exception(HelperStopped(value))

    def _fail_pending(self, error: BaseException) -> None:
        with self._lock:
            self._ended = f"the helper process ended ({type(error).__name__})"
            pending, self._pending = list(self._pending), deque()
        for future in pending:
            future.set_exception(HelperStopped(self._ended))

    def close(self) -> None:
        _close_quietly(self._requests)  # the helper reads EOF and exits
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # still embedding a batch nobody waits for
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=2)
        _close_quietly(self._replies)


def _child_environment() -> dict[str, str]:
    """This environment, with facefind importable however this process found it."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def _close_quietly(stream: BinaryIO) -> None:
    try:
        stream.close()
    except OSError:  # a broken pipe while flushing
        pass


def serve(model_name: str, requests: BinaryIO, replies: BinaryIO) -> None:
    """The helper's loop: a list of crops in, (True, embeddings) or (False, why) out."""
    from facefind.analysis.runtime import deepface
    from facefind.analysis.steps import EmbedFaces

    deepface().build_model(model_name, task="facial_recognition")
    embed = EmbedFaces(model_name)
    while True:
        try:
            crops = pickle.load(requests)
        except EOFError:
            return
        reply: tuple[bool, object]
        try:
            reply = (True, embed(crops))
        except Exception as error:
            reply = (False, f"{type(error).__name__}: {error}")
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


if __name__ == "__main__":
    model, requests_fd, replies_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb") as replies:
        serve(model, requests, replies)
