"""Reading album zips in memory: junk, odd names, broken archives and zip bombs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from facefind.config import ArchiveLimits
from facefind.errors import ArchiveError, PhotoError
from facefind.sources.archive import Album

from .builders import JPEG_MAGIC, legacy_named_zip, set_entry_flags, zip_bytes


def test_walks_nested_folders_and_reports_every_skipped_entry() -> None:
    album = Album(
        zip_bytes(
            {
                "race/finish/a.jpg": JPEG_MAGIC,
                "race/B.JPEG": JPEG_MAGIC,
                "c.png": JPEG_MAGIC,
                "notes.txt": b"hello",
                "__MACOSX/race/._a.jpg": b"junk",
                "race/._b.jpg": b"junk",
                ".DS_Store": b"junk",
                "inner.zip": b"PK",
            }
        )
    )
    assert [photo.name for photo in album.photos] == ["race/finish/a.jpg", "race/B.JPEG", "c.png"]
    reasons = {item.name: item.reason for item in album.skipped}
    assert reasons == {
        "notes.txt": "not a photo (.txt)",
        "__MACOSX/race/._a.jpg": "macOS metadata, not a photo",
        "race/._b.jpg": "macOS metadata, not a photo",
        ".DS_Store": "hidden file",
        "inner.zip": "a zip inside the zip: unpack it and upload its photos",
    }


def test_reads_from_bytes_and_file_objects_without_extracting() -> None:
    data = zip_bytes({"a.jpg": JPEG_MAGIC})
    for source in (data, io.BytesIO(data)):
        album = Album(source)
        assert album.read(album.photos[0]) == JPEG_MAGIC


def test_non_ascii_names_utf8_flagged_and_legacy_encodings() -> None:
    flagged = Album(zip_bytes({"Zoë/café 写真.jpg": JPEG_MAGIC}))  # zipfile sets the UTF-8 flag
    assert [photo.name for photo in flagged.photos] == ["Zoë/café 写真.jpg"]
    legacy = Album(
        legacy_named_zip(
            [
                "写真/運動会.jpg".encode("shift_jis"),  # Windows, Japanese
                "München.jpg".encode(),  # macOS/Linux tools without the flag
                "caf\x82.jpg".encode("latin-1"),  # real cp437: é
            ]
        )
    )
    assert [photo.name for photo in legacy.photos] == ["写真/運動会.jpg", "München.jpg", "café.jpg"]


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", JPEG_MAGIC * 10, zip_bytes({"a.jpg": JPEG_MAGIC})[:40]],
    ids=["empty", "text", "jpeg-renamed", "truncated"],
)
def test_not_a_zip_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(ArchiveError, match="not a zip archive"):
        Album(data)


def test_encrypted_zip_is_refused_clearly() -> None:
    with pytest.raises(ArchiveError, match="password-protected"):
        Album(set_entry_flags(zip_bytes({"secret.jpg": JPEG_MAGIC}), 0x1))


def test_zip_bomb_entry_is_refused_without_inflating_it() -> None:
    bomb = zip_bytes({"bomb.png": b"\0" * (64 * 1024**2), "ok.jpg": JPEG_MAGIC})
    assert len(bomb) < 1024**2
    album = Album(bomb)
    assert [photo.name for photo in album.photos] == ["ok.jpg"]
    assert "zip bomb" in album.skipped[0].reason


def test_archive_limits_entries_and_total_size() -> None:
    many = zip_bytes({f"{n}.jpg": JPEG_MAGIC for n in range(30)})
    with pytest.raises(ArchiveError, match="30 entries"):
        Album(many, ArchiveLimits(max_entries=20))
    with pytest.raises(ArchiveError, match="add up to"):
        Album(many, ArchiveLimits(max_total_bytes=1000))
    big = Album(zip_bytes({"big.jpg": JPEG_MAGIC * 20}), ArchiveLimits(max_file_bytes=1000))
    assert not big.photos and big.skipped[0].reason.startswith("too large")


def test_damaged_entry_raises_photo_error_for_that_photo_only() -> None:
    data = bytearray(zip_bytes({"a.jpg": JPEG_MAGIC * 50, "b.jpg": JPEG_MAGIC}))
    album = Album(bytes(data))
    offset = data.find(b"a.jpg") + len("a.jpg") + 5  # inside a.jpg's compressed data
    data[offset : offset + 8] = b"\xff" * 8
    damaged = Album(bytes(data))
    with pytest.raises(PhotoError, match="damaged in the zip"):
        damaged.read(damaged.photos[0])
    assert damaged.read(damaged.photos[1]) == album.read(album.photos[1])


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_names_keep_the_first_and_report_the_second() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("day1/a.jpg", JPEG_MAGIC)
        archive.writestr("day2/a.jpg", JPEG_MAGIC + b"2")
        archive.writestr("day1/a.jpg", JPEG_MAGIC + b"again")
    album = Album(buffer.getvalue())
    assert [photo.name for photo in album.photos] == ["day1/a.jpg", "day2/a.jpg"]
    assert album.skipped[0].reason == "a second file of the same name in the zip"
    assert album.read(album.photos[0]) == JPEG_MAGIC


def test_results_zip_holds_the_original_bytes_and_names() -> None:
    files = {
        "race/Zoë.jpg": JPEG_MAGIC + b"z",
        "race/b.jpg": JPEG_MAGIC + b"b",
        "c.jpg": JPEG_MAGIC,
    }
    album = Album(zip_bytes(files))
    chosen = Album(album.zip_of(["race/b.jpg", "race/Zoë.jpg"]).data)
    assert [photo.name for photo in chosen.photos] == ["race/b.jpg", "race/Zoë.jpg"]
    assert [chosen.read(photo) for photo in chosen.photos] == [
        files["race/b.jpg"],
        files["race/Zoë.jpg"],
    ]


def test_a_download_zip_holds_the_readable_photos_and_says_which_it_left_out(
    tmp_path: Path,
) -> None:
    from facefind.sources.archive import LEFT_OUT_NOTE
    from facefind.sources.folders import FolderAlbum

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"first photo")
    (folder / "b.jpg").write_bytes(b"second photo")
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"someone else's photo")
    album = FolderAlbum(folder)
    (folder / "b.jpg").unlink()
    (folder / "b.jpg").symlink_to(outside)  # replaced, after the scan, by a link out
    made = album.zip_of(["a.jpg", "b.jpg", "gone.jpg"])
    with zipfile.ZipFile(io.BytesIO(made.data)) as archive:
        assert sorted(archive.namelist()) == ["LEFT-OUT.txt", "a.jpg"]
        assert archive.read("a.jpg") == b"first photo"
        note = archive.read(LEFT_OUT_NOTE).decode()
    assert "b.jpg: now a link to a file outside the folder (refused)" in note
    assert "gone.jpg: no longer in the album" in note
    assert [item.name for item in made.left_out] == ["b.jpg", "gone.jpg"]
