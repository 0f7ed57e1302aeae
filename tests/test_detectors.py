"""Face detectors behind facefind's own seam: libfacedetection by default, dlib's HOG where it
cannot be installed, and alignment into dlib's 5-point chips from either."""

from __future__ import annotations

import numpy as np
import pytest

from facefind.analysis.detectors import (
    FoundFace,
    HogDetector,
    YuFaceDetector,
    hog_like,
    make_detector,
)
from facefind.analysis.faces import FaceEmbedder
from facefind.config import FaceSettings
from facefind.errors import ModelUnavailableError
from facefind.search.faces import query_faces

from .builders import facefind, zip_bytes

yuface = pytest.importorskip(
    "yuface", reason="libfacedetection has wheels for Linux and Windows on CPython 3.10-3.11 only"
)


def test_a_found_face_scales_with_its_landmarks() -> None:
    face = FoundFace((10, 20, 30, 40), 0.9, ((12.0, 24.0), (30.0, 26.0)))
    assert face.scaled(1.0) is face
    bigger = face.scaled(2.5)
    assert bigger.box == (25, 50, 75, 100)
    assert bigger.landmarks == ((30.0, 60.0), (75.0, 65.0))
    assert bigger.score == 0.9


def test_the_shape_box_of_libfacedetection_is_where_hog_would_put_it() -> None:
    face = FoundFace((100, 100, 100, 120), 0.9)
    assert face.shape_box() == face.box  # HOG's own box, say
    found = FoundFace((100, 100, 100, 120), 0.9, predictor_box=hog_like((100, 100, 100, 120)))
    assert found.scaled(2.0).shape_box() == tuple(2 * side for side in found.shape_box())
    x, y, width, height = found.shape_box()
    assert (width, height) == (110, 100)  # wider and shorter: no forehead, no chin
    assert x + width / 2 == pytest.approx(150, abs=1)  # same centre across
    assert y + height / 2 > 160  # lower: HOG's box starts at the eyebrows


def test_the_registry_names_facefinds_own_detectors_and_deepfaces() -> None:
    assert isinstance(make_detector("yuface"), YuFaceDetector)
    assert isinstance(make_detector("dlib"), HogDetector)
    assert make_detector("opencv").find(np.zeros((120, 160, 3), np.uint8)) == []
    with pytest.raises(ModelUnavailableError, match="detector 'nope' cannot be loaded"):
        FaceEmbedder(FaceSettings(model="Dlib", detector="nope")).load()


def test_libfacedetection_reports_boxes_landmarks_and_scores(all_photos) -> None:
    from facefind.analysis.images import decode_photo

    pixels = decode_photo(all_photos["couple.jpg"], 1280).pixels
    faces = make_detector("yuface").find(pixels)
    assert len([face for face in faces if face.score >= 0.5]) == 2
    for face in faces:
        x, y, width, height = face.box
        assert 0 <= x < x + width <= pixels.shape[1] and 0 <= y < y + height <= pixels.shape[0]
        assert len(face.landmarks) == 5
        (left_x, _), (right_x, _) = face.landmarks[:2]
        assert x <= left_x < right_x <= x + width  # the eyes inside the box, in image order
    # tiny pictures are never scanned
    assert make_detector("yuface").find(np.zeros((8, 16, 3), np.uint8)) == []


def test_chips_from_libfacedetection_embed_like_chips_from_hog(all_photos) -> None:
    """On faces both detectors find, the new path's embedding is the HOG path's (cosine)."""
    yu = FaceEmbedder(FaceSettings(model="Dlib", detector="yuface"))
    hog = FaceEmbedder(FaceSettings(model="Dlib", detector="dlib"))
    compared = []
    for name in ("img1.jpg", "img2.jpg", "img5.jpg", "img17.jpg", "img30.jpg", "couple.jpg"):
        photo = yu.decode(all_photos[name])
        ours, theirs = yu.faces(photo), hog.faces(photo)
        for face in theirs:
            same = [f for f in ours if _overlap(f.box, face.box) > 0.4]
            assert same, f"libfacedetection missed a face HOG found in {name}"
            compared.append(float(same[0].embedding @ face.embedding))
    assert len(compared) >= 7
    assert min(compared) >= 0.99, compared


def _overlap(a, b) -> float:
    """Intersection over the smaller box."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])


def test_libfacedetection_finds_the_face_hog_never_sees(dark_turned_face: bytes) -> None:
    """dlib's HOG finds no face in it; the default detector finds it, for the album as for a
    query."""
    data = dark_turned_face
    hog = FaceEmbedder(FaceSettings(model="Dlib", detector="dlib"))
    assert hog.detect(hog.decode(data)) == []
    default = FaceEmbedder()
    assert len(default.detect(default.decode(data))) == 1
    assert len(query_faces(default, data, "p049.jpg")) == 1


def test_without_libfacedetection_hog_is_used_and_said_once(monkeypatch, all_photos) -> None:
    """Another OS or Python: the index records dlib, and the CLI says why in one line."""
    import facefind.analysis.models

    monkeypatch.setattr(facefind.analysis.models, "yuface_installed", lambda: False)
    notices: list[str] = []
    embedder = FaceEmbedder(notify=notices.append)
    embedder.load()
    assert embedder.detector == "dlib"
    assert len(notices) == 1 and "libfacedetection" in notices[0] and "HOG" in notices[0]


def test_the_cli_says_which_detector_indexed_the_album(tmp_path, all_photos) -> None:
    album = tmp_path / "album.zip"
    album.write_bytes(zip_bytes({"img1.jpg": all_photos["img1.jpg"]}))
    result = facefind("index", str(album), "-o", str(tmp_path / "album.npz"))
    assert result.returncode == 0, result.stderr
    assert "libfacedetection" in result.stderr


def test_the_helper_processes_share_the_batches_and_lose_nothing(all_photos) -> None:
    import os

    from facefind.indexing.face_process import FaceEmbeddingProcess

    embedder = FaceEmbedder()
    photo = embedder.decode(all_photos["couple.jpg"])
    crops = [face.crop for face in embedder.detect(photo)] * 3
    expected = embedder.embed(crops)
    with FaceEmbeddingProcess(embedder, helpers=2) as helpers:
        assert len(set(helpers.helper_pids)) == 2
        batches = [helpers.submit(crops[:2]), helpers.submit(crops[2:4])]
        os.kill(helpers.helper_pids[1], 9)  # the second batch's helper dies
        later = helpers.submit(crops[4:])
        vectors = np.concatenate([helpers.result(batch) for batch in [*batches, later]])
        assert len(helpers.helper_pids) == 1
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
