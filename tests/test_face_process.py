"""The face model's helper process: same embeddings as in this process, and nothing lost when
it cannot start or dies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facefind.analysis.faces import FaceEmbedder
from facefind.indexing.builder import IndexBuilder
from facefind.indexing.face_process import FaceEmbeddingProcess
from facefind.sources.archive import Album

from .builders import process_exists, zip_bytes

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def crops(embedder: FaceEmbedder, all_photos: dict[str, bytes]) -> list[np.ndarray]:
    """Aligned face crops of three photos (four faces: couple.jpg has two)."""
    found = []
    for name in ("img1.jpg", "couple.jpg", "img16.jpg"):
        found += [face.crop for face in embedder.detect(embedder.decode(all_photos[name]))]
    assert len(found) == 4
    return found


def test_the_helper_embeds_like_this_process(embedder: FaceEmbedder, crops) -> None:
    with FaceEmbeddingProcess(embedder) as helper:
        pid = helper.helper_pid
        assert pid not in (None, os.getpid())
        batches = [helper.submit(crops[:3]), helper.submit(crops[3:])]  # both in flight
        vectors = np.concatenate([helper.result(batch) for batch in batches])
    assert not process_exists(pid), "the helper process outlived its album"
    np.testing.assert_allclose(vectors, embedder.embed(crops), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_helper_that_dies_loses_no_face(embedder: FaceEmbedder, crops, caplog) -> None:
    expected = embedder.embed(crops)
    with FaceEmbeddingProcess(embedder) as helper:
        first = helper.submit(crops[:2])
        np.testing.assert_allclose(helper.result(first), expected[:2], atol=1e-5)
        pending = helper.submit(crops[2:])
        os.kill(helper.helper_pid, 9)  # e.g. killed by the system for memory
        later = helper.submit(crops)
        np.testing.assert_allclose(helper.result(pending), expected[2:], atol=1e-5)
        np.testing.assert_allclose(helper.result(later), expected, atol=1e-5)
        assert helper.helper_pid is None
    assert "embedding here" in caplog.text


def test_without_a_helper_faces_are_embedded_here(embedder, crops, monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with FaceEmbeddingProcess(embedder) as helper:
        assert helper.helper_pid is None
        vectors = helper.result(helper.submit(crops))
    np.testing.assert_allclose(vectors, embedder.embed(crops), atol=1e-5)


def test_index_is_the_same_with_and_without_the_helper(embedder, all_photos) -> None:
    album = Album(zip_bytes({name: all_photos[name] for name in ("img1.jpg", "couple.jpg")}))
    with_helper = IndexBuilder(embedder, helper_process=True).build(album)
    here = IndexBuilder(embedder, helper_process=False).build(album)
    np.testing.assert_array_equal(with_helper.boxes, here.boxes)
    np.testing.assert_array_equal(with_helper.face_photo, here.face_photo)
    np.testing.assert_allclose(with_helper.embeddings, here.embeddings, atol=1e-5)


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path, faces_dir: Path) -> None:
    """Why the helper is not started by multiprocessing: its `spawn` would run this script
    again in the child."""
    script = tmp_path / "find.py"
    script.write_text(
        "import io, zipfile\n"
        "from facefind.indexing.builder import IndexBuilder\n"
        "from facefind.sources.archive import Album\n"
        "from facefind.analysis.faces import FaceEmbedder\n"
        "from facefind.config import FaceSettings\n"
        "buffer = io.BytesIO()\n"
        "with zipfile.ZipFile(buffer, 'w') as archive:\n"
        f"    archive.write({str(faces_dir / 'img1.jpg')!r}, 'img1.jpg')\n"
        "index = IndexBuilder(FaceEmbedder(FaceSettings(model='Dlib')), helper_process=True)"
        ".build(Album(buffer.getvalue()))\n"
        "print('indexed', index.face_count)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["indexed 1"]


def test_the_standard_process_pool_breaks_in_the_same_script(tmp_path: Path) -> None:
    """Why the standard library's ProcessPoolExecutor cannot serve as the helper pool (issue
    26 asked): with `spawn` (the only start method safe beside the threads that decode photos,
    and the default on macOS and Windows) it re-runs a script without a main guard in the
    child, which cannot start a pool of its own there: the pool breaks and the script fails,
    where facefind's helper (above) indexes from such a script."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import multiprocessing\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "print('started', flush=True)\n"
        "context = multiprocessing.get_context('spawn')\n"
        "with ProcessPoolExecutor(1, mp_context=context) as pool:\n"
        "    print(pool.submit(abs, -1).result())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert done.stdout.splitlines() == ["started", "started"], "the child ran the script again"
    assert "BrokenProcessPool" in done.stderr


def test_a_request_stuck_in_the_pipe_does_not_stop_the_replies(embedder, crops) -> None:
    """A batch (~600 KB) is ten times the pipe: while it is being written, the thread that
    reads replies must still get the lock it needs, or helper and indexer wait on each other."""
    import signal
    import threading

    big_batch = crops * 4  # 16 crops, more than a pipe holds
    with FaceEmbeddingProcess(embedder) as helper:
        pid = helper.helper_pid
        os.kill(pid, signal.SIGSTOP)  # the helper reads nothing for now
        try:
            writer = threading.Thread(
                target=lambda: setattr(writer, "batch", helper.submit(big_batch))
            )
            writer.start()
            writer.join(timeout=1.0)
            assert writer.is_alive(), "the request should be stuck in the full pipe"
            lock = helper._helpers[0]._lock  # the lock the reply reader takes
            got_it = lock.acquire(timeout=2.0)
            if got_it:
                lock.release()
        finally:
            os.kill(pid, signal.SIGCONT)
        writer.join(timeout=60)
        assert got_it, "the reply reader was locked out while a request was being written"
        vectors = helper.result(writer.batch)
    np.testing.assert_allclose(vectors, embedder.embed(big_batch), atol=1e-5)
