"""Text search with UForm, offline: a tiny model in UForm's own format, loaded like the real one."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facefind.analysis.semantic import ImagePreprocessor, PhotoTextModel, locate_model
from facefind.errors import FacefindError, ModelUnavailableError
from facefind.indexing.builder import IndexBuilder, add_photo_embeddings, build_index
from facefind.search.faces import search_faces
from facefind.search.ranking import relative_scores, similar_photos, similar_to_picture, text_search
from facefind.sources.archive import Album
from facefind.stores.npz import AlbumIndex

from .builders import facefind, solid_jpeg, zip_bytes
from .conftest import TEST_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 40), (30, 40, 220), (230, 220, 30)


@pytest.fixture(scope="module")
def colour_album() -> bytes:
    return zip_bytes(
        {
            "blue-sky.jpg": solid_jpeg(BLUE),
            "red-shirt.jpg": solid_jpeg(RED),
            "lawn.jpg": solid_jpeg(GREEN),
            "red-portrait.jpg": solid_jpeg(RED, (200, 400)),
            "sun.jpg": solid_jpeg(YELLOW),
        }
    )


@pytest.fixture(scope="module")
def colour_index(colour_album: bytes, tiny_uform: Path) -> AlbumIndex:
    return build_index(colour_album, TEST_SETTINGS, photo_model=PhotoTextModel(str(tiny_uform)))


def test_red_ranks_red_photos_first(colour_index: AlbumIndex, tiny_uform: Path) -> None:
    model = PhotoTextModel(str(tiny_uform))
    hits = text_search(colour_index, model, "a photo of red", top=3)
    assert {hit.name for hit in hits[:2]} == {"red-shirt.jpg", "red-portrait.jpg"}
    assert hits[0].score == 100.0 and hits[0].faces == ()
    assert [hit.name for hit in text_search(colour_index, model, "blue", top=1)] == ["blue-sky.jpg"]
    assert len(text_search(colour_index, model, "green", top=None)) == 5


def test_photo_embeddings_are_stored_with_the_model_name(
    colour_index: AlbumIndex, tiny_uform: Path, tmp_path: Path
) -> None:
    assert colour_index.photo_model == str(tiny_uform)
    assert colour_index.photo_embeddings.shape == (5, 4)
    path = tmp_path / "colours.facefind"
    colour_index.save(path)
    loaded = AlbumIndex.load(path)
    assert loaded.photo_model == colour_index.photo_model
    np.testing.assert_array_equal(loaded.photo_embeddings, colour_index.photo_embeddings)


def test_embeddings_are_normalised_though_uforms_are_not(tiny_uform: Path) -> None:
    from uform.numpy_processors import TextProcessor
    from uform.onnx_encoders import TextEncoder

    tokens = TextProcessor(str(tiny_uform / "config.json"), str(tiny_uform / "tokenizer.json"))
    raw = TextEncoder(str(tiny_uform / "text_encoder.onnx")).encode(
        tokens(["red red"]), return_features=False
    )
    model = PhotoTextModel(str(tiny_uform))
    assert np.linalg.norm(raw[0]) > 1.5  # UForm's own output is not unit length
    texts = model.embed_texts(["red", "a photo of blue", "yellow"])
    photos = model.embed_photos(
        [np.full((50, 80, 3), 200, np.uint8), np.zeros((90, 40, 3), np.uint8)]
    )
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(photos, axis=1), 1.0, rtol=1e-5)


def portrait_with_a_circle() -> np.ndarray:
    """A 120x360 white portrait with a red disc as wide as the photo in its middle."""
    rows, columns = np.mgrid[0:360, 0:120]
    disc = (rows - 180) ** 2 + (columns - 60) ** 2 <= 60**2
    pixels = np.full((360, 120, 3), 255, dtype=np.uint8)
    pixels[disc] = RED
    return pixels


def red_share(prepared: np.ndarray) -> float:
    """Share of the prepared square that is red (the model normalises with mean = std = 0.5)."""
    colours = (prepared * 0.5 + 0.5) * 255
    return float(np.mean((colours[0] > 150) & (colours[1] < 120)))


def test_portrait_photos_are_cropped_not_squashed(tiny_uform: Path) -> None:
    from uform.numpy_processors import ImageProcessor

    prepared = ImagePreprocessor(32, [0.5] * 3, [0.5] * 3)(portrait_with_a_circle())
    assert prepared.shape == (3, 32, 32)
    # Short side to 32 px, centre crop: the disc fills the square as a disc (pi/4 of it) and
    # the corners stay white.
    assert red_share(prepared) == pytest.approx(np.pi / 4, abs=0.05)
    assert (prepared[:, 0, 0] * 0.5 + 0.5).min() > 0.8
    # UForm's own processor squashes the width but keeps the full height, so the disc becomes
    # a tall ellipse that covers almost the whole square: the distortion facefind avoids.
    processor = ImageProcessor(str(tiny_uform / "config.json"))
    squashed = processor(Image.fromarray(portrait_with_a_circle()))[0]
    assert red_share(squashed) > 0.9


def test_more_like_this(colour_index: AlbumIndex, tiny_uform: Path) -> None:
    red = colour_index.photos.id_of("red-shirt.jpg")
    hits = similar_photos(colour_index, red, top=2)
    assert [hit.name for hit in hits][0] == "red-portrait.jpg"
    assert all(hit.photo != red for hit in hits)
    uploaded = similar_to_picture(
        colour_index, PhotoTextModel(str(tiny_uform)), solid_jpeg(BLUE), 1
    )
    assert [hit.name for hit in uploaded] == ["blue-sky.jpg"]


def tinted(photo: bytes, colour: tuple[int, int, int]) -> bytes:
    """The photo with a strong colour cast, as under coloured stage lights."""
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", image.size, colour), 0.45)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_combined_face_and_text_search_narrows(all_photos, tiny_uform: Path, embedder) -> None:
    album = zip_bytes(
        {
            "me-red-light.jpg": tinted(all_photos["img1.jpg"], RED),
            "me-blue-light.jpg": tinted(all_photos["img2.jpg"], BLUE),
            "me.jpg": all_photos["img4.jpg"],
            "someone-else-red-light.jpg": tinted(all_photos["img20.jpg"], RED),
        }
    )
    model = PhotoTextModel(str(tiny_uform))
    index = build_index(album, TEST_SETTINGS, photo_model=model)
    me = index.faces_in([index.photos.id_of("me.jpg")]).vectors[0]
    mine = search_faces(index, me)
    assert {hit.name for hit in mine} == {"me-red-light.jpg", "me-blue-light.jpg", "me.jpg"}
    combined = text_search(index, model, "red", within=mine)
    assert [hit.name for hit in combined][0] == "me-red-light.jpg"
    assert "someone-else-red-light.jpg" not in {hit.name for hit in combined}
    assert all(hit.faces for hit in combined), "the face boxes stay with the results"


def test_index_without_uform_gains_photo_embeddings_later(
    colour_album: bytes, tiny_uform: Path
) -> None:
    notices: list[str] = []
    missing = PhotoTextModel(str(tiny_uform / "not-here"))
    from facefind.analysis.faces import FaceEmbedder

    builder = IndexBuilder(FaceEmbedder(TEST_SETTINGS), missing, notify=notices.append)
    index = builder.build(Album(colour_album))
    assert index.photo_embeddings is None and len(index.photos) == 5
    assert len(notices) == 1 and "Face search and bib numbers work without it" in notices[0]
    model = PhotoTextModel(str(tiny_uform))
    with pytest.raises(ModelUnavailableError, match="indexed without photo embeddings"):
        text_search(index, model, "red")
    faces_before = index.embeddings.copy()
    described = add_photo_embeddings(index, Album(colour_album), model)
    assert index.photo_embeddings is None, "the index itself is not changed"
    index = described
    np.testing.assert_array_equal(index.embeddings, faces_before)
    assert text_search(index, model, "red")[0].name in {"red-shirt.jpg", "red-portrait.jpg"}


def test_text_search_refuses_another_model_and_empty_text(
    colour_index: AlbumIndex, tiny_uform
) -> None:
    other = tiny_uform.parent / "other-model"
    shutil.copytree(tiny_uform, other, dirs_exist_ok=True)
    with pytest.raises(FacefindError, match="index the album again"):
        text_search(colour_index, PhotoTextModel(str(other)), "red")
    with pytest.raises(FacefindError, match="Describe the photo"):
        text_search(colour_index, PhotoTextModel(str(tiny_uform)), "  ")


def test_relative_scores_are_honest_about_being_relative() -> None:
    scores = relative_scores(np.array([0.10, 0.20, 0.25, 0.30, 0.31]))
    assert scores.max() == 100.0 and scores[np.argsort(scores)][2] == 0.0
    assert np.all(np.diff(scores) >= 0)


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_model_is_found_in_the_hub_cache_offline(tiny_uform: Path, tmp_path: Path) -> None:
    """The hub path (uform.get_checkpoint) with the tiny model laid out as a hub cache."""
    snapshot = tmp_path / "hub" / "models--unum-cloud--tiny-colours" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_uform, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    code = (
        "from facefind.analysis.semantic import PhotoTextModel\n"
        "m = PhotoTextModel('unum-cloud/tiny-colours')\n"
        "print([round(float(v), 3) for v in m.embed_texts(['red'])[0]])\n"
    )
    result = run_python(code, {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [0.577, -0.577, -0.577, 0.0]


def test_unavailable_model_is_explained_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="lacks config.json"):
        locate_model(str(tmp_path))
    code = "from facefind.analysis.semantic import PhotoTextModel\nPhotoTextModel().load()\n"
    result = run_python(code, {"HF_HUB_CACHE": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"})
    assert "ModelUnavailableError" in result.stderr
    message = result.stderr.strip().splitlines()[-1].split(": ", 1)[1]
    assert "Face search and bib numbers work without it" in message
    assert "Error" not in message and "NotFound" not in message, "no exception class names"


@pytest.mark.skipif(
    not os.environ.get("FACEFIND_UFORM_MODEL"),
    reason="the real UForm model is not available offline; set FACEFIND_UFORM_MODEL to a "
    "hub name (with internet) or a folder to run this",
)
def test_real_model_ranks_a_matching_photo_first(all_photos) -> None:
    model = PhotoTextModel()
    names = ["selfie-many-people.jpg", "img1.jpg", "img20.jpg", "img33.jpg", "img49.jpg"]
    index = build_index(
        zip_bytes({name: all_photos[name] for name in names}), TEST_SETTINGS, photo_model=model
    )
    hits = text_search(index, model, "a group selfie of many smiling people")
    assert hits[0].name == "selfie-many-people.jpg"


def test_cli_text_combined_and_describe_later(tmp_path: Path, all_photos, tiny_uform: Path) -> None:
    album = tmp_path / "album.zip"
    album.write_bytes(
        zip_bytes(
            {
                "me-red-light.jpg": tinted(all_photos["img1.jpg"], RED),
                "me.jpg": all_photos["img4.jpg"],
                "red-flag.jpg": solid_jpeg(RED),
                "sea.jpg": solid_jpeg(BLUE),
            }
        )
    )
    index = tmp_path / "album.facefind"
    # Indexed where the UForm model cannot be had: faces only, and a notice.
    offline = facefind(
        "index",
        str(album),
        "-o",
        str(index),
        "--model",
        "Dlib",
        "--uform-model",
        str(tmp_path / "no-model"),
        "--quiet",
    )
    assert offline.returncode == 0, offline.stderr
    assert "Face search and bib numbers work without it" in offline.stderr
    # words written in the photos are searched all the same; descriptions wait for `describe`
    unread = facefind("search", str(index), "--text", "red")
    assert unread.returncode == 0 and "No photo matched" in unread.stderr
    assert "indexed without photo embeddings" in unread.stderr
    assert "facefind describe" in unread.stderr  # says how to add them
    # a zip searched by words where the model cannot be had: said before any indexing, and
    # the words written in the photos are searched
    unindexed = facefind(
        "search", str(album), "--text", "red", "--uform-model", str(tmp_path / "no-model")
    )
    assert unindexed.returncode == 0, unindexed.stderr
    said = unindexed.stderr.index("Descriptions need the UForm model")
    assert "Searching the words written in the photos only" in unindexed.stderr
    assert "indexed" not in unindexed.stderr[:said]  # said before any indexing
    described = facefind(
        "describe", str(album), str(index), "--uform-model", str(tiny_uform), "--quiet"
    )
    assert described.returncode == 0, described.stderr

    words = facefind("search", str(index), "--text", "red", "--top", "2", "--json")
    assert words.returncode == 0, words.stderr
    report = json.loads(words.stdout)
    assert {result["photo"] for result in report["results"]} == {"me-red-light.jpg", "red-flag.jpg"}
    assert report["results"][0]["score"] == 100.0 and report["photo_model"] == str(tiny_uform)

    face = tmp_path / "me.jpg"
    face.write_bytes(all_photos["img2.jpg"])
    combined = facefind("search", str(index), "--face", str(face), "--text", "red", "--json")
    assert combined.returncode == 0, combined.stderr
    results = json.loads(combined.stdout)["results"]
    assert [result["photo"] for result in results][0] == "me-red-light.jpg"
    assert "red-flag.jpg" not in {result["photo"] for result in results}
    assert all(result["faces"] for result in results)
