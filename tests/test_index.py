"""Building, saving and loading album indexes: nothing good is lost, nothing bad is half-read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facefind.errors import IndexFileError
from facefind.indexing.builder import build_index
from facefind.search.faces import search_faces
from facefind.sources.archive import Album
from facefind.stores.npz import AlbumIndex, is_index_file

from .builders import zip_bytes
from .conftest import TEST_SETTINGS


@pytest.fixture(scope="module")
def mixed_album(all_photos: dict[str, bytes]) -> dict[str, bytes]:
    """Good photos (one under a non-ASCII name, one in a folder) mixed with junk."""
    broken = all_photos["img2.jpg"][:5000]
    no_face = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 90, 160)).save(no_face, format="PNG")
    return {
        "Zoë/café-img1.jpg": all_photos["img1.jpg"],
        "day2/img16.jpg": all_photos["img16.jpg"],
        "couple.jpg": all_photos["couple.jpg"],
        "sky.png": no_face.getvalue(),
        "broken.jpg": broken,
        "notes.txt": b"not a photo",
        "__MACOSX/._couple.jpg": b"\0\5\26\7",
        "empty.jpg": b"",
    }


@pytest.fixture(scope="module")
def mixed_index(mixed_album: dict[str, bytes]) -> AlbumIndex:
    return build_index(zip_bytes(mixed_album), TEST_SETTINGS)


def test_every_good_photo_is_indexed_and_every_bad_one_reported(mixed_index: AlbumIndex) -> None:
    assert [photo.name for photo in mixed_index.photos] == [
        "Zoë/café-img1.jpg",
        "day2/img16.jpg",
        "couple.jpg",
        "sky.png",
    ]
    reasons = {item.name: item.reason for item in mixed_index.skipped}
    assert set(reasons) == {"broken.jpg", "notes.txt", "__MACOSX/._couple.jpg", "empty.jpg"}
    assert reasons["broken.jpg"].startswith("damaged image")
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    faces_per_photo = np.bincount(mixed_index.face_photo, minlength=4).tolist()
    assert faces_per_photo == [1, 1, 2, 0]
    assert mixed_index.model == "Dlib" and mixed_index.detector == "yuface"
    assert all(thumb[:2] == b"\xff\xd8" for thumb in mixed_index.thumbnails)


def test_boxes_are_in_original_photo_pixels(mixed_index: AlbumIndex) -> None:
    couple = mixed_index.photos.id_of("couple.jpg")
    info = mixed_index.photos[couple]
    assert (info.width, info.height) == (2280, 1588)
    boxes = sorted(mixed_index.faces_in([couple]).boxes.tolist())
    # Faces of the couple measured by hand on the full-size photo: left ~380 px, right ~1400 px,
    # each ~600 px wide from the forehead down (~500 and ~300 px; detection ran on a 1024 px
    # copy).
    (left_x, left_y, left_w, _), (right_x, right_y, right_w, _) = boxes
    assert 300 < left_x < 450 and 420 < left_y < 620 and 500 < left_w < 700
    assert 1350 < right_x < 1500 and 220 < right_y < 420 and 500 < right_w < 700


def test_progress_is_reported_for_every_photo(mixed_album: dict[str, bytes]) -> None:
    calls: list[tuple[int, int]] = []
    small = {name: mixed_album[name] for name in ("sky.png", "broken.jpg", "notes.txt")}
    build_index(
        zip_bytes(small), TEST_SETTINGS, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(1, 2), (2, 2)]


def test_save_and_load_round_trip(mixed_index: AlbumIndex, tmp_path: Path) -> None:
    path = tmp_path / "album.facefind"
    mixed_index.save(path)
    assert path.exists() and is_index_file(path)
    loaded = AlbumIndex.load(path)
    assert loaded.photos == mixed_index.photos
    assert loaded.skipped == mixed_index.skipped
    assert loaded.thumbnails == mixed_index.thumbnails
    assert loaded.settings == mixed_index.settings
    np.testing.assert_array_equal(loaded.embeddings, mixed_index.embeddings)
    np.testing.assert_array_equal(loaded.boxes, mixed_index.boxes)
    query = mixed_index.embeddings[0]
    assert search_faces(loaded, query) == search_faces(mixed_index, query)


def test_index_of_another_model_is_refused(mixed_index: AlbumIndex, tmp_path: Path) -> None:
    path = tmp_path / "album.facefind"
    mixed_index.save(path)
    with pytest.raises(IndexFileError, match="made with the Dlib face model, not Facenet"):
        AlbumIndex.load(path, model="Facenet")


def test_damaged_or_foreign_files_are_refused(mixed_index: AlbumIndex, tmp_path: Path) -> None:
    path = tmp_path / "album.facefind"
    mixed_index.save(path)
    truncated = tmp_path / "truncated.facefind"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    album = tmp_path / "album.zip"
    album.write_bytes(zip_bytes({"a.jpg": b"x"}))
    for bad in (truncated, album, tmp_path / "missing.facefind"):
        with pytest.raises(IndexFileError):
            AlbumIndex.load(bad)
    assert not is_index_file(album) and not is_index_file(truncated)


def test_an_index_file_is_replaced_whole_or_not_at_all(
    album_index, tmp_path: Path, monkeypatch
) -> None:
    """`describe` rewrites the user's only index: a failed write must leave the old one."""
    path = tmp_path / "album.facefind"
    album_index.save(path)
    before = path.read_bytes()

    def failing_savez(handle, **arrays):
        handle.write(b"half an index")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError):
        album_index.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["album.facefind"], "no partial file left"
    monkeypatch.undo()
    assert AlbumIndex.load(path).face_count == album_index.face_count


def test_an_index_of_the_old_format_is_refused_with_index_again(
    album_index, tmp_path: Path
) -> None:
    """Format 1 held Dlib embeddings of box crops, which do not mix with chip-embedded queries."""
    import json
    import zipfile

    path = tmp_path / "old.facefind"
    album_index.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)))
    meta["format"], meta["facefind"] = 1, "0.1.0"
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(meta)))
    members["meta.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(
        IndexFileError,
        match="facefind 0.1.0 in a format this version .* does not read. Index the album again",
    ):
        AlbumIndex.load(path)


def test_indexing_settings_change_the_work_not_the_index(all_photos) -> None:
    from facefind.analysis.faces import FaceEmbedder
    from facefind.config import IndexingSettings
    from facefind.indexing.builder import IndexBuilder

    names = ["img1.jpg", "couple.jpg", "img17.jpg", "img20.jpg"]
    album = Album(zip_bytes({name: all_photos[name] for name in names}))
    embedder = FaceEmbedder(TEST_SETTINGS)
    default = IndexBuilder(embedder).build(album)
    small = IndexingSettings(workers=1, look_ahead=1, face_batch=1, pending_batches=1)
    one_by_one = IndexBuilder(embedder, settings=small, helper_process=False).build(album)
    assert [p.name for p in one_by_one.photos] == [p.name for p in default.photos]
    assert np.array_equal(one_by_one.face_photo, default.face_photo)
    np.testing.assert_allclose(one_by_one.embeddings, default.embeddings, atol=1e-5)


def test_an_index_whose_faces_are_not_grouped_by_photo_is_refused(album_index, tmp_path) -> None:
    """Search takes each photo's faces as one contiguous run: an index that breaks this is
    damaged, however it was made."""
    from dataclasses import replace

    shuffled = replace(album_index, face_photo=album_index.face_photo[::-1].copy())
    assert album_index.is_consistent() and not shuffled.is_consistent()
    path = tmp_path / "shuffled.facefind"
    shuffled.save(path)
    with pytest.raises(IndexFileError, match="do not fit together"):
        AlbumIndex.load(path)
