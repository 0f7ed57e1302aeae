"""Photos from where they are: folders read file by file, several zips and folders as one album,
with the same rules as one zip (junk said with its reason, nothing outside the folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from facefind.errors import ArchiveError
from facefind.sources.folders import FolderAlbum, open_album

from .builders import facefind, solid_jpeg, zip_bytes


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "finish line"
    (root / "day 1").mkdir(parents=True)
    (root / "day 1" / "a.jpg").write_bytes(solid_jpeg((200, 0, 0)))
    (root / "b.png").write_bytes(b"\x89PNG not really")
    (root / "notes.txt").write_text("not a photo")
    (root / ".hidden.jpg").write_bytes(solid_jpeg((0, 0, 0)))
    (root / "more.zip").write_bytes(zip_bytes({"c.jpg": solid_jpeg((0, 200, 0))}))
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(solid_jpeg((1, 2, 3)))
    os.symlink(outside, root / "link.jpg")
    return root


def test_a_folder_is_read_file_by_file_with_every_skipped_file_said(folder: Path) -> None:
    album = FolderAlbum(folder)
    assert [entry.name for entry in album] == ["b.png", "day 1/a.jpg"]
    assert album.read(album.entry("day 1/a.jpg")) == (folder / "day 1" / "a.jpg").read_bytes()
    reasons = {item.name: item.reason for item in album.skipped}
    assert reasons == {
        ".hidden.jpg": "hidden file",
        "link.jpg": "a link to a file outside the folder (refused)",
        "more.zip": "a zip in the folder: give it to facefind as a source of its own",
        "notes.txt": "not a photo (.txt)",
    }


def test_several_sources_are_one_album_named_by_source(folder: Path, tmp_path: Path) -> None:
    day2 = tmp_path / "day2.zip"
    day2.write_bytes(zip_bytes({"x.jpg": solid_jpeg((9, 9, 9)), "junk.txt": b"?"}))
    album = open_album([folder, day2, folder])
    names = [entry.name for entry in album]
    assert names == [
        "finish line/b.png",
        "finish line/day 1/a.jpg",
        "day2.zip/x.jpg",
        "finish line (2)/b.png",
        "finish line (2)/day 1/a.jpg",
    ]
    assert album.read(album.entry("day2.zip/x.jpg")) == solid_jpeg((9, 9, 9))
    assert "day2.zip/junk.txt" in {item.name for item in album.skipped}
    with pytest.raises(ArchiveError, match="not a zip archive"):
        open_album([folder / "notes.txt"])
    with pytest.raises(ArchiveError, match="no folder or file there"):
        open_album([tmp_path / "missing"])


def test_the_cli_indexes_a_folder_and_a_zip_as_one_album(
    tmp_path: Path, all_photos: dict[str, bytes]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "img1.jpg").write_bytes(all_photos["img1.jpg"])
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    more = tmp_path / "more.zip"
    more.write_bytes(
        zip_bytes({"img2.jpg": all_photos["img2.jpg"], "x.jpg": all_photos["img16.jpg"]})
    )
    index = tmp_path / "event.facefind"
    args = ["--model", "Dlib", "--no-text", "--no-words"]
    refused = facefind("index", str(photos), str(more), *args)
    assert refused.returncode == 2 and "name the index to write: -o FILE" in refused.stderr
    made = facefind("index", str(photos), str(more), "-o", str(index), *args)
    assert made.returncode == 0, made.stderr
    assert "3 photos" in made.stderr and "1 skipped" in made.stderr
    assert "photos/broken.jpg" in made.stderr
    query = tmp_path / "me.jpg"
    query.write_bytes(all_photos["img5.jpg"])  # person01 again
    found = facefind("search", str(index), "--face", str(query), "--json", "--model", "Dlib")
    assert found.returncode == 0, found.stderr
    names = [hit["photo"] for hit in json.loads(found.stdout)["results"]]
    assert names and set(names) <= {"photos/img1.jpg", "more.zip/img2.jpg"}
    assert "more.zip/x.jpg" not in names
