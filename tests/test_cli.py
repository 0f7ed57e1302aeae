"""`python -m facefind` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .builders import facefind, zip_bytes

ROOT = Path(__file__).resolve().parent.parent
PERSON01 = ["img1.jpg", "img2.jpg", "img4.jpg", "img11.jpg"]
PERSON06 = ["img16.jpg", "img17.jpg", "img61.jpg"]
OTHERS = ["img20.jpg", "img29.jpg", "img33.jpg"]


@pytest.fixture(scope="module")
def album(tmp_path_factory, all_photos: dict[str, bytes]) -> Path:
    """An album the CLI has never seen: some people, the couple, junk; photos in folders."""
    files = {f"race/{name}": all_photos[name] for name in PERSON01 + PERSON06 + OTHERS}
    files["race/couple.jpg"] = all_photos["couple.jpg"]
    files["race/readme.txt"] = b"photos of the race"
    path = tmp_path_factory.mktemp("cli") / "album.zip"
    path.write_bytes(zip_bytes(files))
    return path


@pytest.fixture(scope="module")
def index_file(album: Path) -> Path:
    output = album.with_suffix(".facefind")
    result = facefind("index", str(album), "-o", str(output), "--model", "Dlib")
    assert result.returncode == 0, result.stderr
    assert "found the faces and read the bib numbers of 11/11 photos" in result.stderr
    assert "race/readme.txt: not a photo (.txt)" in result.stderr
    assert output.is_file()
    return output


def search_json(source: Path, *args: str) -> dict:
    result = facefind("search", str(source), "--json", *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_search_an_index_finds_one_persons_photos(index_file: Path, faces_dir: Path) -> None:
    report = search_json(index_file, "--face", str(faces_dir / "img5.jpg"))
    found = [result["photo"] for result in report["results"]]
    assert set(found) == {f"race/{name}" for name in PERSON01} | {"race/couple.jpg"}
    assert report["model"] == "Dlib" and report["match"] == "any"
    assert report["skipped"] == [{"name": "race/readme.txt", "reason": "not a photo (.txt)"}]
    scores = [result["score"] for result in report["results"]]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 50
    first = report["results"][0]
    assert first["faces"][0]["person"] == 0 and len(first["faces"][0]["box"]) == 4


def test_search_all_needs_every_person(index_file: Path, faces_dir: Path) -> None:
    # couple.jpg is person01 and a man in no other photo: both of its faces, all together, at
    # the default bar, find that photo alone, each person on a different face.
    couple = ["--face", str(faces_dir / "couple.jpg"), "--all-faces"]
    both = search_json(index_file, *couple, "--match", "all")
    assert [result["photo"] for result in both["results"]] == ["race/couple.jpg"]
    assert sorted(face["person"] for face in both["results"][0]["faces"]) == [0, 1]
    assert len({tuple(face["box"]) for face in both["results"][0]["faces"]}) == 2
    # person01 and person06 are never in one photo: together nothing, either of them both sets
    people = ["--face", str(faces_dir / "img1.jpg"), "--face", str(faces_dir / "img59.jpg")]
    assert search_json(index_file, *people, "--match", "all")["results"] == []
    either = search_json(index_file, *people, "--match", "any")
    found = {result["photo"] for result in either["results"]}
    assert found == {f"race/{name}" for name in PERSON01 + PERSON06} | {"race/couple.jpg"}


def test_search_a_zip_directly_with_human_output(album: Path, faces_dir: Path) -> None:
    result = facefind(
        "search", str(album), "--face", str(faces_dir / "img62.jpg"), "--model", "Dlib"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert {line.split()[-1] for line in lines} == {f"race/{name}" for name in PERSON06}
    assert all(line.strip().split()[0].endswith("%") for line in lines)


def test_errors_are_messages_with_exit_code_2(index_file: Path, tmp_path: Path) -> None:
    sky = tmp_path / "sky.jpg"
    from PIL import Image

    Image.new("RGB", (300, 200), (90, 140, 220)).save(sky)
    no_face = facefind("search", str(index_file), "--face", str(sky))
    assert no_face.returncode == 2
    assert (
        no_face.stderr.startswith("facefind: No face found in")
        and "Traceback" not in no_face.stderr
    )
    not_zip = tmp_path / "album.zip"
    not_zip.write_bytes(b"this is not a zip")
    bad_album = facefind("search", str(not_zip), "--face", str(sky), "--model", "Dlib")
    assert bad_album.returncode == 2 and "not a zip archive" in bad_album.stderr
    wrong_model = facefind("search", str(index_file), "--face", str(sky), "--model", "Facenet")
    assert wrong_model.returncode == 2 and "made with the Dlib face model" in wrong_model.stderr
    missing = facefind("search", str(tmp_path / "nope.zip"), "--face", str(sky))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr


def test_no_match_hint_fits_the_search(index_file: Path, faces_dir: Path) -> None:
    result = facefind(
        "search", str(index_file), "--face", str(faces_dir / "img1.jpg"), "--min-score", "100.5"
    )
    assert result.returncode == 0 and result.stdout == ""
    assert "No photo matched. Try a lower --min-score." in result.stderr  # no "other words"


def test_a_face_and_a_description_offline_keep_the_face_matches(
    index_file: Path, faces_dir: Path
) -> None:
    """Offline (no UForm model, so no photo embeddings): --face with --text still gives the
    person's photos, and says once why the words did not narrow them."""
    result = facefind(
        "search",
        str(index_file),
        "--face",
        str(faces_dir / "img5.jpg"),
        "--text",
        "at the finish line",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    found = {hit["photo"] for hit in json.loads(result.stdout)["results"]}
    assert found == {f"race/{name}" for name in PERSON01} | {"race/couple.jpg"}
    assert result.stderr.count("cannot be searched by description") == 1
    assert "not narrowed by the words" in result.stderr and "No photo matched" not in result.stderr
    alone = facefind("search", str(index_file), "--text", "at the finish line")
    assert alone.returncode == 0 and "No photo matched. Try other words." in alone.stderr
