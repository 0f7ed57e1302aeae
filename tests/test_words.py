"""Words in photos: reading them offline, keeping them in the index, and finding a race photo by
its bib number (numbers exactly, words without case or accents), from the CLI as a user would."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facefind.analysis.images import decode_photo
from facefind.analysis.words import (
    DETECTION_MODEL,
    MAX_SCAN,
    MIN_SCAN,
    Word,
    WordReader,
    joined_numbers,
    matching_words,
    spellings,
    text_model,
    tokens,
)
from facefind.config import FaceSettings
from facefind.indexing.builder import build_index
from facefind.search.words import common_tokens, face_above, word_search
from facefind.stores.npz import AlbumIndex

from .builders import face_index, facefind, printed_jpeg, zip_bytes
from .conftest import missing_test_data


def test_tokens_are_words_and_numbers_without_case_or_accents() -> None:
    assert tokens("No.1234") == ["no", "1234"]
    assert tokens("XDU2013") == ["xdu", "2013"]
    assert tokens("Café ZÜRICH-Marathon") == ["cafe", "zurich", "marathon"]
    assert tokens("  ") == []


def test_a_number_matches_that_number_only() -> None:
    words = [Word("12345", (0, 0, 9, 9), 0.9), Word("No 234", (0, 0, 9, 9), 0.9)]
    assert matching_words("1234", words) == []
    assert matching_words("234", words) == [words[1]]
    assert matching_words("12345", words) == [words[0]]
    bib = [Word("1234", (5, 5, 20, 10), 0.99)]
    assert matching_words("1234", bib) == bib
    assert matching_words("cafe", [Word("CAFÉ", (0, 0, 9, 9), 0.9)]) != []
    assert matching_words("finish line", [Word("FINISH", (0, 0, 9, 9), 0.9)]) == []


def test_the_reader_reads_a_printed_number_with_its_box() -> None:
    photo = decode_photo(printed_jpeg("4711"), 2048)
    words = WordReader().read(photo)
    found = [word for word in words if "4711" in tokens(word.text)]
    assert found, words
    x, y, width, height = found[0].box
    # the text is drawn from (60, 100), 150 px high; boxes are grown by words.UNCLIP_RATIO
    assert 20 <= x <= 120 and 60 <= y <= 200 and 250 <= width <= 520 and 60 <= height <= 260
    assert 0.5 <= found[0].confidence <= 1.0


@pytest.mark.parametrize("engine", ["OpenVINO", "ONNX Runtime"])
def test_both_engines_read_the_number_and_send_nothing(
    engine: str, monkeypatch, tmp_path: Path
) -> None:
    """OpenVINO runs the text models where it is installed, ONNX Runtime otherwise (a platform
    with no OpenVINO wheel): both read the same number; OpenVINO's telemetry, which only its
    model-conversion tool uses, is never started and writes nothing."""
    import sys

    monkeypatch.setenv("HOME", str(tmp_path))  # where its consent file would be written
    if engine == "OpenVINO":
        import openvino_telemetry

        def no_telemetry(*args: object, **kwargs: object) -> None:
            raise AssertionError("OpenVINO's telemetry was started")

        monkeypatch.setattr(openvino_telemetry.Telemetry, "__init__", no_telemetry)
    else:
        monkeypatch.setitem(sys.modules, "openvino", None)  # what a missing package looks like
    text_model.cache_clear()
    try:
        photo = decode_photo(printed_jpeg("4711"), 2048)
        texts = [word.text for word in WordReader().read(photo)]
        model = text_model(DETECTION_MODEL)
    finally:
        text_model.cache_clear()
    assert any("4711" in tokens(text) for text in texts), texts
    wanted = "_OpenVinoModel" if engine == "OpenVINO" else "_OnnxRuntimeModel"
    assert type(model).__name__ == wanted
    assert list(tmp_path.iterdir()) == []


def test_words_are_kept_in_the_index_file(tmp_path: Path) -> None:
    album = zip_bytes({"sign.jpg": printed_jpeg("4711"), "blank.jpg": printed_jpeg("")})
    index = build_index(album, FaceSettings(), word_reader=WordReader())
    assert index.words is not None and index.word_reader
    assert [hit.name for hit in word_search(index, "4711").hits] == ["sign.jpg"]
    index.save(tmp_path / "a.facefind")
    again = AlbumIndex.load(tmp_path / "a.facefind")
    assert again.words == index.words
    assert [hit.name for hit in word_search(again, "4711").hits] == ["sign.jpg"]


def test_an_index_of_format_2_is_read_as_one_without_words(tmp_path: Path) -> None:
    """Migration: a file written before words were read loads, and says what to do."""
    album = zip_bytes({"sign.jpg": printed_jpeg("4711")})
    index = build_index(album, FaceSettings())
    path = tmp_path / "old.facefind"
    index.save(path)
    _rewrite_as_format_2(path)
    old = AlbumIndex.load(path)
    assert old.words is None and len(old.photos) == 1
    result = word_search(old, "4711")
    assert result.hits == [] and "index the album again" in result.notes[0]


def _rewrite_as_format_2(path: Path) -> None:
    """The file as facefind 0.2 wrote it: format 2, no word arrays."""
    with np.load(path, allow_pickle=False) as arrays:
        data = {name: arrays[name] for name in arrays.files if not name.startswith("word_")}
    meta = json.loads(str(data["meta"]))
    meta["format"] = 2
    for key in ("word_reader", "words_read"):
        meta.pop(key)
    data["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        np.savez(handle, **data)


def test_a_photo_whose_words_cannot_be_read_is_indexed_and_reported(monkeypatch) -> None:
    reader = WordReader()
    real_read = reader.read

    def read(photo, faces=()):
        if photo.width == 901:
            raise RuntimeError("the reader broke")
        return real_read(photo, faces)

    monkeypatch.setattr(reader, "read", read)
    album = zip_bytes({"bad.jpg": printed_jpeg("11", (901, 400)), "good.jpg": printed_jpeg("4711")})
    index = build_index(album, FaceSettings(), word_reader=reader)
    assert [photo.name for photo in index.photos] == ["bad.jpg", "good.jpg"]
    assert [(item.name, item.reason) for item in index.skipped] == [
        ("bad.jpg", "indexed without its words: reading failed (the reader broke)")
    ]
    assert [hit.name for hit in word_search(index, "4711").hits] == ["good.jpg"]


def test_the_face_above_a_bib_is_its_wearer() -> None:
    """Two runners side by side: each bib belongs to the face above it."""
    index = face_index(np.eye(128, dtype=np.float32)[:2], [0, 0])
    boxes = np.array([[100, 100, 50, 60], [400, 120, 50, 60]], dtype=np.int32)
    index = AlbumIndex(**{**index.__dict__, "boxes": boxes})
    assert face_above(index, 0, Word("17", (90, 250, 70, 40), 0.9)) == 0
    assert face_above(index, 0, Word("23", (390, 260, 70, 40), 0.9)) == 1
    assert face_above(index, 0, Word("99", (700, 250, 70, 40), 0.9)) is None  # nobody above
    assert face_above(index, 0, Word("99", (100, 10, 70, 40), 0.9)) is None  # above the face


def test_a_number_on_every_photo_is_common_to_the_event() -> None:
    index = face_index(np.eye(128, dtype=np.float32)[:1], [0], photos=10)
    words = [[Word(f"XDU2013 {n}", (0, 0, 9, 9), 0.9)] for n in range(10)]
    index = AlbumIndex(**{**index.__dict__, "words": words, "word_reader": "test"})
    assert common_tokens(index) == {"xdu", "2013"}
    found = word_search(index, "2013")
    assert len(found.hits) == 10 and "100% of the photos" in found.notes[0]
    assert [hit.name for hit in word_search(index, "7").hits] == ["p7.jpg"]
    assert word_search(index, "7").notes == []


@pytest.fixture(scope="module")
def bib_album_folder(faces_dir: Path) -> Path:
    folder = faces_dir.parent / "albums" / "bibs"
    if not (folder / "in14.jpg").is_file():
        missing_test_data(f"the bibs album is not at {folder}")
    return folder


@pytest.fixture(scope="module")
def bib_album(bib_album_folder: Path, tmp_path_factory) -> Path:
    folder = bib_album_folder
    path = tmp_path_factory.mktemp("bibs") / "race.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("in13.jpg", "in16.jpg", "in17.jpg"):
            archive.write(folder / name, name)
    return path


def test_a_runner_finds_their_photos_by_bib_number_offline(bib_album: Path, tmp_path) -> None:
    """The CLI on real 12 MP race photos, stored sideways with an EXIF tag, no UForm model."""
    index = tmp_path / "race.facefind"
    made = facefind("index", str(bib_album), "-o", str(index), "--no-text", "--quiet")
    assert made.returncode == 0, made.stderr
    result = facefind("search", str(index), "--text", "123", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {hit["photo"] for hit in report["results"]} == {"in16.jpg", "in17.jpg"}
    for hit in report["results"]:
        assert hit["via"] == "words"
        assert [word["text"] for word in hit["words"]] == ["123"]
        x, y, width, height = hit["words"][0]["box"]
        assert width > 0 and height > 0 and x + width <= 2832 and y + height <= 4256  # upright
    # 12, 23 and 1234 are not 123
    for other in ("12", "23", "1234"):
        found = json.loads(facefind("search", str(index), "--text", other, "--json").stdout)
        assert "in17.jpg" not in {hit["photo"] for hit in found["results"]}
    nothing = facefind("search", str(index), "--text", "9999")
    assert nothing.returncode == 0 and "No photo matched" in nothing.stderr
    assert "describe" not in result.stderr  # the bib was found: no word of descriptions
    wearer = facefind("search", str(index), "--text", "27", "--wearer", "--json")
    assert wearer.returncode == 0, wearer.stderr
    results = json.loads(wearer.stdout)["results"]
    by_words = [hit for hit in results if hit["via"] == "words"]
    assert [hit["photo"] for hit in by_words] == ["in13.jpg"]
    # the runner of in13 is in neither other photo: said, not left silent
    assert [hit for hit in results if hit["via"] == "face"] == []
    assert "The face above 27 is in no other photo" in wearer.stderr


def test_numbers_a_runner_types_leading_zeros_letters_and_splits() -> None:
    """Bib "007" is runner 7 (and "0123" is 123), but only on a line of digits alone; a
    number with letters attached ("A1234") is found by its digits; a number read in two
    boxes side by side ("1" and "17" of a widely spaced 117) is also read joined."""
    bib = [Word("007", (0, 0, 30, 20), 0.9)]
    assert matching_words("7", bib) == bib and matching_words("0007", bib) == bib
    assert matching_words("70", bib) == []
    assert matching_words("13", [Word("X0U013", (0, 0, 9, 9), 0.9)]) == []  # not a bib
    assert matching_words("1234", [Word("A1234", (0, 0, 9, 9), 0.9)]) != []
    assert matching_words("123", [Word("A1234", (0, 0, 9, 9), 0.9)]) == []
    assert spellings("07") == ["7", "07", "007", "0007"] and spellings("bib") == ["bib"]
    one, seventeen = Word("1", (100, 50, 20, 40), 0.9), Word("17", (150, 52, 45, 40), 0.8)
    assert joined_numbers([seventeen, one]) == [Word("117", (100, 50, 95, 42), 0.8)]
    far = Word("17", (400, 52, 45, 40), 0.8)  # another runner's number, further along
    lower = Word("17", (150, 120, 45, 40), 0.8)  # the line below
    small = Word("17", (125, 60, 20, 12), 0.8)  # another size of print
    assert joined_numbers([one, far]) == joined_numbers([one, lower]) == []
    assert joined_numbers([one, small]) == []
    assert joined_numbers([Word("XDU", (100, 50, 20, 40), 0.9), seventeen]) == []


def test_a_leading_zero_bib_is_found_by_the_number_typed() -> None:
    index = face_index(np.eye(128, dtype=np.float32)[:1], [0], photos=2)
    words = [[Word("0427", (0, 0, 9, 9), 0.9)], [Word("427", (0, 0, 9, 9), 0.9)]]
    index = AlbumIndex(**{**index.__dict__, "words": words, "word_reader": "test"})
    assert [hit.name for hit in word_search(index, "427").hits] == ["p0.jpg", "p1.jpg"]
    assert [hit.name for hit in word_search(index, "0427").hits] == ["p0.jpg", "p1.jpg"]


def test_the_reader_scans_where_the_smallest_face_is_130_px() -> None:
    """The scan follows the people in the photo: a web-sized photo is enlarged, a close-up
    shrunk, a photo without faces scanned at the most."""
    reader = WordReader()
    web = decode_photo(printed_jpeg("1", (800, 533)))
    assert reader.scan_side(web, [(10, 10, 60, 80)]) == 1300  # 800 * 130 / 80
    assert reader.scan_side(web, [(10, 10, 30, 40)]) == MAX_SCAN  # 2600, at most 2000
    assert reader.scan_side(web, [(10, 10, 60, 100), (0, 0, 50, 160)]) == 1040
    assert reader.scan_side(web, []) == MAX_SCAN
    close_up = decode_photo(printed_jpeg("1", (4000, 3000)), 2048)
    assert reader.scan_side(close_up, [(0, 0, 900, 1000)]) == MIN_SCAN  # not below


def test_a_bib_in_a_web_sized_race_photo_is_found(bib_album_folder: Path, tmp_path) -> None:
    """in14.jpg shrunk to 800 px, as a race site serves it: 117's digits are 15 px tall there
    (plain RapidOCR does not read it); indexing enlarges the photo for its runners' size."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(bib_album_folder / "in14.jpg")).convert("RGB")
    image.thumbnail((800, 800), Image.Resampling.LANCZOS)
    photo = tmp_path / "in14-web.jpg"
    image.save(photo, "JPEG", quality=88)
    album = tmp_path / "web.zip"
    with zipfile.ZipFile(album, "w") as archive:
        archive.write(photo, photo.name)
    result = facefind("search", str(album), "--text", "117", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["results"]
    assert [(hit["photo"], hit["via"]) for hit in hits] == [("in14-web.jpg", "words")]
    assert [word["text"] for word in hits[0]["words"]] == ["117"]


def test_words_are_read_later_into_an_index_made_without_them(tmp_path: Path) -> None:
    """`facefind index --no-words`, then `facefind words ALBUM INDEX`: the bib is found, the
    faces and photos are kept, and the progress says what is done."""
    album = tmp_path / "signs.zip"
    album.write_bytes(zip_bytes({"sign.jpg": printed_jpeg("4711"), "other.jpg": printed_jpeg("8")}))
    index = tmp_path / "signs.facefind"
    made = facefind("index", str(album), "-o", str(index), "--no-words", "--no-text", "--quiet")
    assert made.returncode == 0, made.stderr
    before = facefind("search", str(index), "--text", "4711")
    assert before.returncode == 0 and "facefind words" in before.stderr
    read = facefind("words", str(album), str(index))
    assert read.returncode == 0, read.stderr
    assert "read the words of 2/2 photos" in read.stderr
    assert f"words read in 2 photos -> {index}" in read.stderr
    found = json.loads(facefind("search", str(index), "--text", "4711", "--json").stdout)
    assert [hit["photo"] for hit in found["results"]] == ["sign.jpg"]
    assert [photo.name for photo in AlbumIndex.load(index).photos] == ["sign.jpg", "other.jpg"]
    wrong = facefind("words", str(tmp_path / "missing.zip"), str(index))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr


def test_a_found_bib_is_outlined_so_it_shows_on_any_shirt() -> None:
    """The larger view outlines a matched number with a wide yellow band inside a dark edge,
    around its box: visible on a white bib (the edge) and on a dark shirt (the yellow), and
    never over the digits."""
    from PIL import Image

    from facefind.search.results import PhotoHit
    from facefind.ui.gallery import WORD_COLOUR, WORD_EDGE_COLOUR, outlined_photo

    white = Image.new("RGB", (1200, 900), "white")
    buffer = io.BytesIO()
    white.save(buffer, "PNG")
    hit = PhotoHit(0, "bib.png", 90.0, (), (Word("117", (400, 300, 300, 150), 0.99),))
    shown = outlined_photo(buffer.getvalue(), hit)
    width = max(3, round(shown.width / 300))
    yellow = Image.new("RGB", (1, 1), WORD_COLOUR).getpixel((0, 0))
    dark = Image.new("RGB", (1, 1), WORD_EDGE_COLOUR).getpixel((0, 0))
    assert all(shown.getpixel((399 - dx, 375)) == yellow for dx in range(2 * width))
    assert shown.getpixel((400 - 2 * width - width // 2 - 1, 375)) == dark
    inside = [shown.getpixel((x, y)) for x in range(400, 700) for y in (300, 375, 449)]
    assert set(inside) == {(255, 255, 255)}, "the number itself is never covered"
