"""The seams, fast: the index store interface and the pipeline steps, with hand-made vectors,
generated pictures and fake models (no shared photos, no weights; in the style of rclip's fake
sessions). The end-to-end tests on real photos are beside them (test_index, test_search)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pytest

from facefind.analysis.detection import DetectedFace
from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.steps import AnalysePhoto, EmbedFaces
from facefind.analysis.words import Word, WordReader
from facefind.config import EMBEDDING_SIZE, FaceSettings
from facefind.errors import IndexFileError
from facefind.search.faces import search_faces
from facefind.search.people import group_people
from facefind.sources.archive import Skipped
from facefind.stores.base import FaceMatches, FaceRows, IndexStore, PhotoInfo
from facefind.stores.npz import AlbumIndex
from facefind.vectors import l2_normalize

from .builders import face_index, solid_jpeg


def planted_album(seed: int = 7) -> AlbumIndex:
    """40 photos: three people planted in 8 photos each (near their own direction), one group
    photo of all three, and random strangers everywhere."""
    rng = np.random.default_rng(seed)
    people = l2_normalize(rng.normal(size=(3, EMBEDDING_SIZE)).astype(np.float32))
    faces, photos = [], []
    for photo in range(40):
        present = [photo % 5] if photo % 5 < 3 else [0, 1, 2] if photo == 39 else []
        for person in present:
            faces.append(people[person] + 0.15 * rng.normal(size=EMBEDDING_SIZE) / 11)
            photos.append(photo)
        for _ in range(photo % 3):
            faces.append(rng.normal(size=EMBEDDING_SIZE))
            photos.append(photo)
    return face_index(l2_normalize(np.array(faces, dtype=np.float32)), photos, 40)


@dataclass
class ShuffledStore:
    """Another store: the same faces kept in a random order under unrelated ids (as a database
    would), so a caller that reached for rows or assumed a photo's faces sit together fails."""

    base: AlbumIndex
    seed: int = 3

    def __post_init__(self) -> None:
        order = np.random.default_rng(self.seed).permutation(self.base.face_count)
        self.rows = order  # position -> the base's row
        self.ids = 5000 + 7 * np.arange(len(order))  # position -> id
        self.by_id = {int(i): int(row) for i, row in zip(self.ids, order, strict=True)}
        self.id_of = {int(row): int(i) for i, row in zip(self.ids, order, strict=True)}

    def __getattr__(self, name: str):  # model, detector, settings, photos, words...
        return getattr(self.base, name)

    def _rows(self, base_rows: np.ndarray) -> FaceRows:
        found = self.base.faces(base_rows)
        ids = np.array([self.id_of[int(row)] for row in base_rows], dtype=np.int64)
        order = np.argsort(ids)
        return replace(found, ids=ids).take(order)

    def faces_above(self, queries: np.ndarray, min_similarity: float) -> FaceMatches:
        found = self.base.faces_above(queries, min_similarity)
        ids = np.array([self.id_of[int(row)] for row in found.faces], dtype=np.int64)
        order = np.random.default_rng(1).permutation(len(ids))  # in no particular order
        return FaceMatches(
            ids[order],
            found.queries[order],
            found.similarity[order],
            found.photos[order],
            found.vectors[order],
        )

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        found = self.base.faces(np.array([self.by_id[int(i)] for i in ids], dtype=np.int64))
        return replace(found, ids=np.asarray(ids, dtype=np.int64))  # in the order asked

    def faces_in(self, photos: Sequence[int] | np.ndarray) -> FaceRows:
        return self._rows(self.base.faces_in(photos).ids)

    def face_blocks(self, size: int) -> Iterator[FaceRows]:
        for start in range(0, len(self.ids), size):
            yield self.faces(self.ids[start : start + size])


def test_an_index_file_is_one_store_and_answers_as_the_interface_says() -> None:
    index = planted_album()
    store: IndexStore = index
    query = index.faces([0]).vectors
    found = store.faces_above(query, 0.5)
    exact = np.flatnonzero(index.embeddings @ query[0] >= 0.5)
    assert sorted(found.faces.tolist()) == exact.tolist()
    np.testing.assert_allclose(found.similarity, (index.embeddings[found.faces] @ query[0]))
    group = store.faces_in([39])
    assert set(group.photos.tolist()) == {39} and len(group) == 3 + 39 % 3
    blocks = list(store.face_blocks(10))
    assert sum(len(block) for block in blocks) == index.face_count
    assert np.concatenate([block.ids for block in blocks]).tolist() == list(range(index.face_count))


def test_search_and_people_give_the_same_answers_from_another_store() -> None:
    index = planted_album()
    other = ShuffledStore(index)
    person = index.faces_in([0]).vectors[:1]  # person 0's face in photo 0
    both = np.concatenate([person, index.faces_in([1]).vectors[:1]])
    for queries, mode in ((person, "any"), (both, "any"), (both, "all")):
        here = search_faces(index, queries, mode)  # type: ignore[arg-type]
        there = search_faces(other, queries, mode)  # type: ignore[arg-type]
        assert [hit.name for hit in here] == [hit.name for hit in there]
        # the same vectors multiplied in another order: equal to float32 rounding
        np.testing.assert_allclose([h.score for h in here], [h.score for h in there], atol=1e-3)
        assert [[face.box for face in hit.faces] for hit in here] == [
            [face.box for face in hit.faces] for hit in there
        ]
    found = {hit.name for hit in search_faces(other, person)}
    assert found == {f"p{n}.jpg" for n in range(0, 40, 5)} | {"p39.jpg"}
    mine = group_people(index)
    theirs = group_people(other)  # type: ignore[arg-type]
    assert [person.photos for person in mine.people] == [person.photos for person in theirs.people]
    assert len(mine.people) == 3


def _saved(index: AlbumIndex) -> tuple[dict, dict]:
    buffer = io.BytesIO()
    index.save(buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as arrays:
        return json.loads(str(arrays["meta"])), {n: arrays[n] for n in arrays.files}


def _written(meta: dict, arrays: dict) -> io.BytesIO:
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, "meta": np.array(json.dumps(meta))})
    buffer.seek(0)
    return buffer


def test_a_format_2_file_is_migrated_and_a_format_1_file_refused_with_what_to_do() -> None:
    index = planted_album()
    meta, arrays = _saved(index)
    old = {k: v for k, v in meta.items() if k not in ("words_read", "word_reader")}
    old["format"] = 2
    arrays = {n: array for n, array in arrays.items() if n not in ("opted_out", "sharpness")}
    migrated = AlbumIndex.load(_written(old, arrays))
    assert not migrated.words_read() and migrated.words_in(0) == []
    np.testing.assert_array_equal(migrated.embeddings, index.embeddings)
    again = io.BytesIO()
    migrated.save(again)
    assert json.loads(str(np.load(io.BytesIO(again.getvalue()))["meta"]))["format"] == 5
    assert migrated.opted_out().shape == (0, 128)  # format 3 -> 4: nobody had opted out
    # format 4 -> 5: sharpness not measured, so every face is grouped and shown as before
    assert np.isnan(migrated.face_sharpness).all()
    assert len(migrated.face_sharpness) == migrated.face_count
    for refused in (1, 99):
        with pytest.raises(IndexFileError, match="Index the album again"):
            AlbumIndex.load(_written({**meta, "format": refused}, arrays))


#: What the photo step says of bytes that are no picture (images.decode_photo's words).
BAD_PHOTO_REASON = (
    "not a photo facefind can read (damaged, or not JPEG, PNG, WebP, HEIC, BMP, TIFF or GIF)"
)


class FakeEmbedder(FaceEmbedder):
    """A face 'model' that finds one face in the middle of every photo: no weights."""

    def load(self) -> None:
        self._in_effect = self.requested

    def detect(self, photo, preview=None, thorough=False) -> list[DetectedFace]:
        side = min(photo.width, photo.height) // 2
        crop = np.zeros((150, 150, 3), dtype=np.uint8)
        return [DetectedFace(crop, (side // 2, side // 2, side, side), 0.9)]


class BrokenReader(WordReader):
    def read(self, photo, faces=()) -> list[Word]:
        raise RuntimeError("the reader broke")


def test_the_photo_step_turns_bytes_into_a_record_and_never_raises_for_a_bad_photo() -> None:
    step = AnalysePhoto(FakeEmbedder(FaceSettings(detector="dlib")), word_reader=BrokenReader())
    step.embedder.load()
    made = step("a/red.jpg", 1234, solid_jpeg((200, 20, 20), size=(400, 300)))
    assert made.info == PhotoInfo("a/red.jpg", 400, 300, 1234)
    assert made.thumbnail[:2] == b"\xff\xd8" and made.faces[0].box == (75, 75, 150, 150)
    assert made.partly == Skipped(
        "a/red.jpg", "indexed without its words: reading failed (the reader broke)"
    )
    broken = step("b.jpg", 9, b"not a photo at all")
    assert broken.info is None and broken.skipped is not None
    assert broken.skipped == Skipped("b.jpg", BAD_PHOTO_REASON)


def test_steps_travel_to_another_process_without_their_models() -> None:
    embedder = FaceEmbedder(FaceSettings(model="Dlib"), notify=lambda message: None)
    embedder.load()
    step = AnalysePhoto(embedder, PhotoTextModel("some/uform"), WordReader(read_size=999))
    copy = pickle.loads(pickle.dumps(step))
    assert copy.embedder.requested == embedder.requested
    assert copy.embedder.in_effect == embedder.in_effect, "the settings in effect travel"
    assert embedder.loaded and not copy.embedder.loaded, "the model does not: loaded there"
    assert copy.embedder._notify is None
    assert copy.word_reader is not None and copy.word_reader.read_size == 999
    assert copy.photo_model is not None and copy.photo_model.name == "some/uform"
    assert pickle.loads(pickle.dumps(EmbedFaces("Dlib"))) == EmbedFaces("Dlib")


def test_a_zip_of_an_index_is_not_mistaken_for_the_store() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meta.npy", b"x")
    with pytest.raises(IndexFileError):
        AlbumIndex.load(io.BytesIO(buffer.getvalue()))
