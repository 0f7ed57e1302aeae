"""One contract for every store: the .npz index, PostgreSQL + pgvector (pgserver, started by the
tests), and the shuffled test store (the same faces in a random order under unrelated ids) are
run through the same assertions, reading and writing. A new store joins the `store` fixture."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facefind.analysis.words import Word
from facefind.search.faces import search_faces
from facefind.stores.base import IndexStore, photo_name
from facefind.stores.npz import AlbumIndex

from .test_store_steps import ShuffledStore, planted_album

#: A reading's confidence as a store keeps it (float32).
SURE = float(np.float32(0.9))
#: "2026" on every bib (the event's), "117" in photo 5 only (a runner's number).
STORES = ["npz", "postgres", "shuffled"]


def the_album() -> AlbumIndex:
    """40 photos, three people planted (see planted_album), words in every photo."""
    index = planted_album()
    words = [[Word("2026", (0, 0, 5, 5), SURE)] for _ in range(40)]
    words[5].append(Word("117", (1, 2, 3, 4), SURE))
    thumbnails = [f"thumbnail {n}".encode() for n in range(40)]
    return replace(index, words=words, word_reader="PP-OCRv4", thumbnails=thumbnails)


@pytest.fixture(params=STORES)
def store(request) -> IndexStore:
    album = the_album()
    if request.param == "npz":
        return album
    if request.param == "shuffled":
        return ShuffledStore(album)  # type: ignore[return-value]
    from facefind.stores.postgres import PostgresStore

    database = PostgresStore(request.getfixturevalue("store_url"))
    database.add(album)
    request.addfinalizer(database.close)
    return database


def names(store: IndexStore, hits) -> list[str]:
    return [hit.name for hit in hits]


def person(number: int) -> np.ndarray:
    """Person `number`'s face in their first photo (photo `number`), as a query."""
    album = the_album()
    return album.faces_in([number]).vectors[:1]


def test_every_store_reads_as_the_album_was_indexed(store: IndexStore) -> None:
    album = the_album()
    assert [info.name for info in store.photos] == [info.name for info in album.photos]
    assert store.face_count == album.face_count and store.model == "Dlib"
    first = int(store.photos.ids[0])
    assert photo_name(store, first) == "p0.jpg" and store.thumbnail(first) == b"thumbnail 0"
    ids = {info.name: photo for photo, info in store.photos.with_id()}

    query = person(0)
    found = store.faces_above(query, 0.5)
    expected = {f"p{p}.jpg" for p in album.face_photo[album.embeddings @ query[0] >= 0.5]}
    assert {store.photos[int(p)].name for p in found.photos} == expected
    np.testing.assert_allclose(found.similarity, found.vectors @ query[0], atol=1e-5)
    rows = store.faces(found.faces)
    assert rows.ids.tolist() == found.faces.tolist()

    group = store.faces_in([ids["p39.jpg"]])
    assert len(group) == 3 + 39 % 3 and set(group.photos.tolist()) == {ids["p39.jpg"]}
    blocks = list(store.face_blocks(7))
    every = np.concatenate([block.ids for block in blocks])
    assert len(every) == len(set(every.tolist())) == album.face_count

    assert store.words_read() and not store.described()
    assert store.photos_with_token("117") == {ids["p5.jpg"]}
    assert store.words_of([ids["p5.jpg"], ids["p6.jpg"]]) == {
        ids["p5.jpg"]: [Word("2026", (0, 0, 5, 5), SURE), Word("117", (1, 2, 3, 4), SURE)],
        ids["p6.jpg"]: [Word("2026", (0, 0, 5, 5), SURE)],
    }
    assert store.common_tokens(10, 0.5) == {"2026"}
    assert store.opted_out().shape == (0, 128)
    assert names(store, search_faces(store, query)) == names(album, search_faces(album, query))


def test_every_store_removes_photos_and_forgets_people_for_good(store: IndexStore) -> None:
    before = names(store, search_faces(store, person(1)))
    assert "p6.jpg" in before
    store = store.remove(["p6.jpg"])
    assert "p6.jpg" not in [info.name for info in store.photos]
    after = names(store, search_faces(store, person(1)))  # (expansion: the order may move)
    assert sorted(after) == sorted(n for n in before if n != "p6.jpg")
    assert "p6.jpg: removed by the organiser" in [f"{s.name}: {s.reason}" for s in store.skipped]

    theirs = store.faces_above(person(0), 0.9).faces
    store = store.forget_faces(theirs.tolist(), person(0))
    assert len(store.opted_out()) == 1
    assert search_faces(store, person(0), min_score=0) == [], "at any bar"
    others = search_faces(store, person(2))
    assert others and all(hit.faces[0].person == 0 for hit in others)
    two = search_faces(store, np.concatenate([person(0), person(2)]))
    assert sorted(names(store, two)) == sorted(names(store, others)), "the others still found"
    assert all(face.person == 1 for hit in two for face in hit.faces)
