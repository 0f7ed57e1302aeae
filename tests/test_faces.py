"""The face embedder: offline weights, the FaceNet fallback, filters and unit-length embeddings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.images import decode_photo
from facefind.analysis.runtime import DLIB_WEIGHT_FILES, deepface_weights_folder, link_dlib_weights
from facefind.config import FaceSettings
from facefind.errors import ModelUnavailableError


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
    embedder.load()
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


def test_reading_the_model_name_never_loads_a_model() -> None:
    embedder = FaceEmbedder(FaceSettings(model="Dlib"))
    with pytest.raises(RuntimeError, match="load"):
        embedder.model_name  # noqa: B018
    embedder.load()
    assert embedder.model_name == "Dlib"


def test_unknown_model_or_detector_is_a_clear_error() -> None:
    with pytest.raises(ModelUnavailableError, match="Unknown face model"):
        FaceEmbedder(FaceSettings(model="Nope")).load()
    with pytest.raises(ModelUnavailableError, match="detector 'nope' cannot be loaded"):
        FaceEmbedder(FaceSettings(model="Dlib", detector="nope")).load()


# --- dlib's own face chips for the Dlib model (issue 11) ------------------------------------


def test_dlib_embedding_is_dlibs_own_face_chip_descriptor(all_photos) -> None:
    """What facefind stores for a face is what dlib computes from its 5-point chip (with HOG's
    box, which is the box it reports; test_detectors compares libfacedetection's path)."""
    import dlib

    from facefind.analysis.runtime import dlib_model_file

    embedder = FaceEmbedder(FaceSettings(model="Dlib", detector="dlib"))
    photo = embedder.decode(all_photos["img1.jpg"])
    assert photo.scale == 1.0  # boxes are in these pixels
    predictor = dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))
    network = dlib.face_recognition_model_v1(
        str(dlib_model_file("dlib_face_recognition_resnet_model_v1.dat"))
    )
    faces = embedder.faces(photo)
    assert faces
    for face in faces:
        x, y, width, height = face.box
        shape = predictor(photo.pixels, dlib.rectangle(x, y, x + width, y + height))
        expected = np.asarray(network.compute_face_descriptor(photo.pixels, shape))
        cosine = float(face.embedding @ expected / np.linalg.norm(expected))
        assert cosine >= 0.999


def test_the_same_face_scanned_at_three_sizes_keeps_its_embedding(all_photos) -> None:
    """DeepFace's box crops moved with the detector's box; 5-point chips do not."""
    vectors = []
    for size in (1024, 1280, 1600):
        embedder = FaceEmbedder(FaceSettings(model="Dlib", detect_size=size))
        faces = embedder.faces(embedder.decode(all_photos["img17.jpg"]))
        vectors.append(faces[0].embedding)
    for first in range(3):
        for second in range(first + 1, 3):
            assert float(vectors[first] @ vectors[second]) >= 0.99


class _RecordingModel:
    """Stands in for FaceNet's network (no weights here): records what DeepFace feeds it."""

    model_name = "Facenet"
    input_shape = (160, 160)
    output_shape = 128

    def __init__(self) -> None:
        self.inputs: list[np.ndarray] = []

    def forward(self, batch: np.ndarray):
        self.inputs.append(np.array(batch))
        vectors = np.ones((len(batch), 128)).tolist()
        return vectors[0] if len(vectors) == 1 else vectors


def test_facenet_gets_deepfaces_own_crops_pixel_for_pixel(monkeypatch, all_photos) -> None:
    """Other models are fed exactly what DeepFace's pipeline makes: same detector, same
    eye alignment, same resize and normalisation (compared at the network's input)."""
    import cv2
    from deepface.modules import modeling

    from facefind.analysis.images import DecodedPhoto
    from facefind.analysis.runtime import deepface

    recorder = _RecordingModel()
    deepface().build_model("Dlib", task="facial_recognition")  # DeepFace creates its cache lazily
    monkeypatch.setitem(modeling.cached_models["facial_recognition"], "Facenet", recorder)
    rgb = decode_photo(all_photos["couple.jpg"], 900).pixels
    height, width = rgb.shape[:2]
    # DeepFace adds a black border of half the size before detecting: give facefind the same
    # pixels, so that both detectors see one picture and the comparison is of the crops alone.
    padded = cv2.copyMakeBorder(
        rgb, height // 2, height // 2, width // 2, width // 2, cv2.BORDER_CONSTANT, value=0
    )
    deepface().represent(
        np.ascontiguousarray(rgb[:, :, ::-1]), model_name="Facenet", detector_backend="dlib"
    )
    theirs = recorder.inputs.pop()
    embedder = FaceEmbedder(
        FaceSettings(
            model="Facenet",
            detector="dlib",
            min_face_size=1,
            min_confidence=0.0,
            detect_size=max(padded.shape),
        )
    )
    photo = DecodedPhoto(padded, padded.shape[1], padded.shape[0])
    found = embedder.detect(photo)
    embedder.embed([face.crop for face in found])
    ours = recorder.inputs.pop()
    assert embedder.model_name == "Facenet" and len(found) == len(theirs) == 2
    right_first = sorted(range(2), key=lambda i: -found[i].box[0])  # DeepFace's order here
    assert np.array_equal(ours[right_first], theirs)


def test_query_photos_get_the_thorough_detector_when_hog_finds_no_face(
    dark_turned_face: bytes,
) -> None:
    """A dark, turned face: dlib's HOG detector finds none, its CNN does."""
    from facefind.search.faces import query_faces

    data = dark_turned_face
    hog = FaceEmbedder(FaceSettings(model="Dlib", detector="dlib"))
    assert hog.detect(hog.decode(data)) == []
    faces = query_faces(hog, data, "p049.jpg")
    assert len(faces) == 1 and np.linalg.norm(faces[0].embedding) == pytest.approx(1.0, abs=1e-5)
    thorough = FaceEmbedder(FaceSettings(model="Dlib", detector="dlib", thorough=True))
    assert len(thorough.detect(thorough.decode(data))) == 1  # the album's thorough mode


def test_the_cnn_detector_never_sees_a_picture_too_small_for_it() -> None:
    """dlib's CNN reads outside its tensors on a few pixels and kills the process."""
    from facefind.analysis.detectors import CnnDetector

    cnn = CnnDetector()
    assert cnn.find(np.full((8, 16, 3), 100, np.uint8)) == []
    assert cnn.find(np.full((48, 96, 3), 100, np.uint8)) == []


def test_a_model_that_fails_for_another_reason_is_not_called_damaged(monkeypatch, caplog) -> None:
    """Only a missing or unreadable weights file is a weights problem; anything else is said
    as it is, and its traceback goes to the server's log."""
    from deepface.modules import modeling

    from facefind.analysis.runtime import deepface

    deepface().build_model("Dlib", task="facial_recognition")
    real_build = modeling.build_model

    def failing(task: str, model_name: str):
        if model_name == "Facenet":
            raise MemoryError("not enough memory to create the session")
        return real_build(task=task, model_name=model_name)

    monkeypatch.setattr(modeling, "build_model", failing)
    monkeypatch.setitem(modeling.cached_models["facial_recognition"], "Facenet", None)
    notices: list[str] = []
    embedder = FaceEmbedder(FaceSettings(model="Facenet", detector="dlib"), notify=notices.append)
    embedder.load()
    assert embedder.model_name == "Dlib"
    assert notices == [
        "The Facenet face model is not available (it failed to load: not enough memory to "
        "create the session): using Dlib instead."
    ]
    assert any(record.exc_info for record in caplog.records), "traceback in the server log"


def test_one_photos_unexpected_error_is_logged_with_its_traceback(
    monkeypatch, caplog, all_photos
) -> None:
    from facefind.indexing.builder import build_index

    from .builders import zip_bytes

    embedder = FaceEmbedder(FaceSettings(model="Dlib"))
    real_detect = embedder.detect

    def detect(photo, preview=None, thorough=False):
        if photo.width == 1382:  # img1.jpg
            raise ZeroDivisionError("a bug")
        return real_detect(photo, preview, thorough)

    monkeypatch.setattr(embedder, "detect", detect)
    album = zip_bytes({"img1.jpg": all_photos["img1.jpg"], "img17.jpg": all_photos["img17.jpg"]})
    index = build_index(album, embedder=embedder)
    assert [photo.name for photo in index.photos] == ["img17.jpg"]
    assert [(item.name, item.reason) for item in index.skipped] == [
        ("img1.jpg", "could not be processed (a bug)")
    ]
    logged = [record for record in caplog.records if "img1.jpg" in record.getMessage()]
    assert logged and logged[0].exc_info is not None
