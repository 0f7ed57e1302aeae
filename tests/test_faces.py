"""The face embedder: offline weights, the FaceNet fallback, filters and unit-length embeddings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facefind.config import FaceSettings
from facefind.errors import ModelUnavailableError
from facefind.faces import FaceEmbedder
from facefind.images import decode_photo
from facefind.runtime import DLIB_WEIGHT_FILES, deepface_weights_folder, link_dlib_weights


def test_dlib_weights_are_linked_into_deepface_home(tmp_path: Path) -> None:
    folder = tmp_path / ".deepface" / "weights"
    assert link_dlib_weights(folder) == list(DLIB_WEIGHT_FILES)
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == sorted(
        DLIB_WEIGHT_FILES
    )
    assert (folder / DLIB_WEIGHT_FILES[0]).stat().st_size > 20_000_000


def test_faces_have_unit_length_embeddings_boxes_and_confidence(embedder, all_photos) -> None:
    faces = embedder.faces(decode_photo(all_photos["img1.jpg"], 2048))
    assert len(faces) == 1
    face = faces[0]
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    assert 0.1 <= face.confidence <= 1.0
    x, y, width, height = face.box
    assert 0 <= x and 0 <= y and x + width <= 1382 + 2 and y + height <= 1868 + 2


def test_minimum_size_and_confidence_drop_faces(all_photos) -> None:
    photo = decode_photo(all_photos["couple.jpg"], 2048)
    assert len(FaceEmbedder(FaceSettings(model="Dlib")).detect(photo)) == 2
    assert FaceEmbedder(FaceSettings(model="Dlib", min_face_size=2000)).detect(photo) == []
    assert FaceEmbedder(FaceSettings(model="Dlib", min_confidence=1.01)).detect(photo) == []


def test_opencv_detector_works_offline(all_photos) -> None:
    embedder = FaceEmbedder(FaceSettings(model="Dlib", detector="opencv"))
    faces = embedder.faces(decode_photo(all_photos["img1.jpg"], 2048))
    assert len(faces) >= 1


def facenet_weights_present() -> bool:
    return (deepface_weights_folder() / "facenet_weights.onnx").is_file() or bool(
        os.environ.get("FACEFIND_FACENET_ONLINE")
    )


def test_facenet_falls_back_to_dlib_with_a_notice_when_weights_cannot_be_had(monkeypatch) -> None:
    """Simulates a machine where FaceNet's weights can't be downloaded (as here: no internet)."""
    from deepface.commons import weight_utils
    from deepface.modules import modeling

    def offline(file_name: str, source_url, compress_type=None) -> str:
        target = deepface_weights_folder() / file_name
        if target.is_file():
            return str(target)
        raise ValueError(f"An exception occurred while downloading {file_name}")

    FaceEmbedder(FaceSettings(model="Dlib")).load()  # DeepFace creates its model cache lazily
    monkeypatch.setattr(weight_utils, "download_weights_if_necessary", offline)
    monkeypatch.setitem(modeling.cached_models["facial_recognition"], "Facenet", None)
    notices: list[str] = []
    embedder = FaceEmbedder(FaceSettings(model="Facenet"), notify=notices.append)
    assert embedder.model_name == "Dlib"
    assert len(notices) == 1 and "Facenet face model is not available" in notices[0]
    assert "\n" not in notices[0] and "Traceback" not in notices[0]


@pytest.mark.skipif(
    not facenet_weights_present(),
    reason="FaceNet's weights (facenet_weights.onnx) cannot be downloaded here (no internet); "
    "where they can, this checks that FaceNet is used and finds a face",
)
def test_facenet_is_used_where_its_weights_are_available(all_photos) -> None:
    embedder = FaceEmbedder(FaceSettings(model="Facenet"))
    faces = embedder.faces(decode_photo(all_photos["img1.jpg"], 2048))
    assert embedder.model_name == "Facenet" and len(faces) == 1


def test_unknown_model_or_detector_is_a_clear_error() -> None:
    with pytest.raises(ModelUnavailableError, match="Unknown face model"):
        FaceEmbedder(FaceSettings(model="Nope")).load()
    with pytest.raises(ModelUnavailableError, match="detector 'nope' cannot be loaded"):
        FaceEmbedder(FaceSettings(model="Dlib", detector="nope")).load()
