"""Nothing is written to disk unless the user asks, and broken model files say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .builders import zip_bytes

ROOT = Path(__file__).resolve().parent.parent


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file() or path.is_symlink()}


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "facefind", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_searching_a_zip_writes_nothing(tmp_path: Path, all_photos, faces_dir: Path) -> None:
    inputs, work, temporary = tmp_path / "in", tmp_path / "work", tmp_path / "tmp"
    for folder in (inputs, work, temporary):
        folder.mkdir()
    album = inputs / "album.zip"
    album.write_bytes(
        zip_bytes({name: all_photos[name] for name in ("img1.jpg", "img2.jpg", "img16.jpg")})
    )
    weights = Path(os.environ["DEEPFACE_HOME"])
    weights_before = files_under(weights)
    result = run_cli(
        ["search", str(album), "--face", str(faces_dir / "img4.jpg"), "--model", "Dlib", "--json"],
        cwd=work,
        env={"TMPDIR": str(temporary), "HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 0, result.stderr
    assert '"img1.jpg"' in result.stdout
    assert files_under(work) == set() and files_under(temporary) == set()
    assert files_under(inputs) == {album}
    new_weights = files_under(weights) - weights_before
    assert all(".deepface/weights" in str(path) for path in new_weights)


def test_an_app_session_writes_nothing(
    all_photos, tiny_uform: Path, monkeypatch, tmp_path: Path
) -> None:
    """An album indexed, searched and zipped in the app writes no file: not in a temporary
    folder of this process's own (TMPDIR and Python's tempfile point there, so another program
    on the machine cannot make it fail), not in the project."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FACEFIND_UFORM_MODEL", str(tiny_uform))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))

    def temporary_files() -> set[Path]:
        return files_under(temporary)

    before_tmp, before_root = temporary_files(), files_under(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.run()
    app.sidebar.selectbox[0].set_value("Dlib")
    album = zip_bytes({name: all_photos[name] for name in ("img1.jpg", "img2.jpg", "img16.jpg")})
    app.main.file_uploader[0].set_value(("data.zip", album, "application/zip"))
    app.run()
    app.file_uploader(key="query-photos").set_value(
        ("me.jpg", all_photos["img4.jpg"], "image/jpeg")
    )
    app.run()
    app.button(key="faces-prepare").click().run()
    assert not app.exception
    assert app.session_state["session"].album.download[1].data[:2] == b"PK"
    assert temporary_files() == before_tmp
    new_in_project = {
        path
        for path in files_under(ROOT) - before_root
        if "__pycache__" not in path.parts and ".pytest_cache" not in path.parts
    }
    assert new_in_project == set()


def test_damaged_face_model_weights_are_explained(tmp_path: Path, all_photos) -> None:
    home = tmp_path / "home"
    weights = home / ".deepface" / "weights"
    weights.mkdir(parents=True)
    (weights / "dlib_face_recognition_resnet_model_v1.dat").write_bytes(b"not a model")
    album = tmp_path / "album.zip"
    album.write_bytes(zip_bytes({"a.jpg": all_photos["img1.jpg"]}))
    result = run_cli(
        ["index", str(album), "--model", "Dlib", "--no-text"],
        tmp_path,
        {"DEEPFACE_HOME": str(home)},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "dlib_face_recognition_resnet_model_v1.dat is damaged; delete it" in result.stderr
    other = tmp_path / "other-home"
    (other / ".deepface" / "weights").mkdir(parents=True)
    (other / ".deepface" / "weights" / "facenet_weights.onnx").write_bytes(b"cut short")
    damaged_facenet = run_cli(
        [
            "index",
            str(album),
            "--model",
            "Facenet",
            "--no-text",
            "-o",
            str(tmp_path / "a.facefind"),
        ],
        tmp_path,
        {"DEEPFACE_HOME": str(other)},
    )
    assert damaged_facenet.returncode == 0, damaged_facenet.stderr
    assert "facenet_weights.onnx is damaged; delete it" in damaged_facenet.stderr
    assert "using Dlib instead" in damaged_facenet.stderr
    # FaceNet's detector (yunet) cannot be downloaded either: said once, libfacedetection used
    assert "yunet face detector is not available" in damaged_facenet.stderr
    assert "Traceback" not in damaged_facenet.stderr
    assert "(Dlib, libfacedetection detector)" in damaged_facenet.stderr
