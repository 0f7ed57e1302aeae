"""People: the album's faces grouped into persons, with no query photo."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from facefind.search.people import (
    face_links,
    group_people,
    merge,
    partitioned_links,
    person_hits,
    without_photo,
)
from facefind.stores.npz import AlbumIndex
from facefind.vectors import l2_normalize

from .builders import face_index, facefind


def test_everyone_with_three_or_more_photos_is_one_person(
    album_index: AlbumIndex, people_in: dict[str, set[str]]
) -> None:
    people = group_people(album_index)
    names = [photo.name for photo in album_index.photos]
    groups = [{names[photo] for photo in person.photos} for person in people.people]
    labelled = {p for found in people_in.values() for p in found}
    for person in sorted(labelled):
        theirs = {name for name, found in people_in.items() if person in found}
        if len(theirs) >= 3:
            assert theirs in groups, person
    sizes = [len(person.photos) for person in people.people]
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 2
    for person in people.people:  # one face per photo: a photo never shows a person twice
        assert len({int(album_index.face_photo[face]) for face in person.faces}) == len(
            person.faces
        )
        assert person.face in person.faces
    shown = sum(len(person.faces) for person in people.people)
    assert people.others == album_index.face_count - shown


def test_grouping_is_deterministic_and_blocks_do_not_change_the_links(
    album_index: AlbumIndex,
) -> None:
    assert group_people(album_index) == group_people(album_index)
    whole = face_links(album_index.embeddings, album_index.face_photo, 0.93, block=10_000)
    blocked = face_links(album_index.embeddings, album_index.face_photo, 0.93, block=7)
    assert np.array_equal(whole, blocked) and len(whole) > 0


def test_merging_two_people_and_their_photos_as_results(album_index: AlbumIndex) -> None:
    people = group_people(album_index)
    assert [person.id for person in people.people] == list(range(1, len(people.people) + 1))
    merged = merge(people, [3, 1])
    assert len(merged.people) == len(people.people) - 1
    by_id = {person.id: person for person in merged.people}
    assert 3 not in by_id, "the merged person keeps the smaller id; no id is reused"
    assert set(by_id[1].photos) == set(people.people[0].photos) | set(people.people[2].photos)
    assert by_id[2] == people.people[1] and by_id[4] == people.people[3]  # ids are stable
    ids = [person.id for person in merged.people]
    assert ids == sorted(ids), "everyone keeps their place; the merged person is the first's"
    assert merge(people, [1]) == people and merge(people, []) == people
    hits = person_hits(album_index, people.people[0])
    assert {hit.photo for hit in hits} == set(people.people[0].photos)
    assert all(len(hit.faces) == 1 and hit.faces[0].face in people.people[0].faces for hit in hits)


def test_faces_seen_once_are_others_not_people() -> None:

    rng = np.random.default_rng(1)
    faces = l2_normalize(rng.standard_normal((6, 128)).astype(np.float32))
    index = face_index(faces, range(6))
    people = group_people(index)
    assert people.people == () and people.others == 6
    assert len(group_people(index, min_photos=1).people) == 6


def test_cli_people_json_and_export(tmp_path: Path, all_photos) -> None:
    from .builders import zip_bytes

    album = tmp_path / "album.zip"
    names = ["img1.jpg", "img2.jpg", "img4.jpg", "img16.jpg", "img17.jpg", "img20.jpg"]
    album.write_bytes(zip_bytes({name: all_photos[name] for name in names}))
    out = tmp_path / "people.zip"
    result = facefind("people", str(album), "--json", "--export", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [entry["photos"] for entry in report["people"]] == [
        ["img1.jpg", "img2.jpg", "img4.jpg"],
        ["img16.jpg", "img17.jpg"],
    ]
    assert [entry["id"] for entry in report["people"]] == [1, 2] and report["others"] == 1
    first = report["people"][0]
    assert (
        first["faces"] == 3
        and first["face"]["photo"] in first["photos"]
        and len(first["face"]["box"]) == 4
    )
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == [
            "person-01/img1.jpg",
            "person-01/img2.jpg",
            "person-01/img4.jpg",
            "person-02/img16.jpg",
            "person-02/img17.jpg",
        ]
        assert archive.read("person-02/img17.jpg") == all_photos["img17.jpg"]
    again = facefind("people", str(album), "--export", str(out), "--quiet")
    assert again.returncode == 2 and "exists already" in again.stderr  # never overwritten


def test_a_person_shows_each_photo_once_with_their_surest_face() -> None:
    """A mirror reflection: two faces of one person in one photo are never linked, but both
    link to the person's other photos; the person keeps the face closest to them."""
    rng = np.random.default_rng(7)
    person = l2_normalize(rng.normal(size=128))

    def near(amount: float) -> np.ndarray:
        return l2_normalize(person + amount * l2_normalize(rng.normal(size=128)))

    faces = [near(0.05), near(0.05), near(0.05), near(0.12)]  # photo 2: face and reflection
    index = face_index(np.stack(faces), [0, 1, 2, 2])
    people = group_people(index)
    assert len(people.people) == 1
    assert people.people[0].faces == (0, 1, 2)  # the reflection (face 3) is left out
    assert people.people[0].photos == (0, 1, 2)
    assert people.others == 1


def test_not_this_person_takes_one_photo_from_them(album_index: AlbumIndex) -> None:
    people = group_people(album_index)
    person = people.people[0]
    photo = person.photos[-1]
    corrected = without_photo(album_index, people, person.id, photo)
    again = next(p for p in corrected.people if p.id == person.id)
    assert photo not in again.photos and set(again.photos) == set(person.photos) - {photo}
    assert corrected.others == people.others + 1
    assert [p for p in corrected.people if p.id != person.id] == list(people.people[1:])


def test_people_from_partitioned_links_equal_every_pair_compared(
    album_index: AlbumIndex, faces_dir
) -> None:
    """The links of a million-face event come from comparisons within k-means partitions; on
    the shared albums they give exactly the people every pair gives."""
    from facefind.indexing.builder import build_index
    from facefind.sources.folders import open_album

    from .conftest import TEST_SETTINGS

    people2 = build_index(open_album([faces_dir.parent / "albums" / "people2"]), TEST_SETTINGS)
    for index in (album_index, people2):
        exact = group_people(index)
        assert len(exact.people) >= 9
        for cells in (4, 10):
            assert group_people(index, cells=cells) == exact, cells
    whole = face_links(album_index.embeddings, album_index.face_photo, 0.93)
    parted = partitioned_links(album_index.embeddings, album_index.face_photo, 0.93, cells=6)
    assert parted.tolist() == whole.tolist()


def test_names_given_in_the_app_travel_to_the_cli(tmp_path: Path, all_photos) -> None:
    """An index saved from the app with a name and a hidden person: `facefind people` shows
    the name (JSON and text) and leaves the hidden person out."""
    from facefind.config import face_settings
    from facefind.indexing.builder import build_index
    from facefind.search.people import PeopleNotes

    from .builders import zip_bytes

    names = ["img1.jpg", "img2.jpg", "img4.jpg", "img16.jpg", "img17.jpg", "img20.jpg"]
    album = zip_bytes({name: all_photos[name] for name in names})
    index = build_index(album, face_settings("Dlib"))
    people = group_people(index, min_photos=1)  # as the app groups them
    first, second = people.people[0], people.people[1]
    notes = PeopleNotes(people, {first.id: "Kofi Annan"}, frozenset({second.id}))
    path = tmp_path / "album.facefind"
    replace(index, people_notes=notes.to_json()).save(path)
    report = json.loads(facefind("people", str(path), "--json").stdout)
    shown = [(entry["id"], entry["name"]) for entry in report["people"]]
    assert shown == [(first.id, "Kofi Annan")]
    assert report["people"][0]["photos"] == ["img1.jpg", "img2.jpg", "img4.jpg"]
    assert report["others"] == 1  # img20's face, seen once; the hidden person is left out
    text = facefind("people", str(path))
    assert text.returncode == 0 and f"Kofi Annan (person {first.id}): 3 photos" in text.stdout


def _unit(rng: np.random.Generator, around: np.ndarray | None = None, spread: float = 0.0):
    vector = rng.normal(size=128) if around is None else around + spread * rng.normal(size=128)
    return vector / np.linalg.norm(vector)


def test_faces_too_blurred_to_recognise_are_never_a_person() -> None:
    """Three photos of one sharp face and three of one blurred face (alike to the model, as
    out-of-focus spectators are): People shows the first, never the second, and says the
    blurred faces were left over."""
    rng = np.random.default_rng(7)
    sharp, blurred = _unit(rng), _unit(rng)
    vectors = [_unit(rng, sharp, 0.01) for _ in range(3)] + [
        _unit(rng, blurred, 0.01) for _ in range(3)
    ]
    index = replace(
        face_index(vectors, [0, 1, 2, 3, 4, 5]),
        sharpness=np.array([200, 150, 90, 3, 5, 4], dtype=np.float32),
    )
    people = group_people(index)
    assert [person.photos for person in people.people] == [(0, 1, 2)]
    assert people.others == 3
    # an index from before sharpness was measured groups every face, as it did
    assert len(group_people(replace(index, sharpness=None)).people) == 2


def test_an_unclear_face_joins_a_person_only_when_it_is_close() -> None:
    """A half-hidden face (low detector score) between two people, within the loose grouping
    bar of both, does not chain them into one; the same face clearly seen links as before."""
    from facefind.search.people import GROUPING_FACTOR, UNSURE_FACTOR, guarded_links

    half_angle = np.arccos(0.944)  # the bridge's similarity to each: between the two bars
    first, second = np.zeros(128), np.zeros(128)
    first[0] = 1.0
    second[0], second[1] = np.cos(2 * half_angle), np.sin(2 * half_angle)
    bridge = (first + second) / np.linalg.norm(first + second)
    index = face_index([first, first, second, second, bridge], [0, 1, 2, 3, 4])
    links = face_links(index.embeddings, index.face_photo, 1.0 - 0.07 * GROUPING_FACTOR)
    through_bridge = {tuple(link) for link in links if 4 in link}
    assert through_bridge == {(0, 4), (1, 4), (2, 4), (3, 4)}, "the loose bar links it to both"
    strict = 1.0 - 0.07 * UNSURE_FACTOR
    unclear = replace(index, confidences=np.array([0.9, 0.9, 0.9, 0.9, 0.6], np.float32))
    kept = {tuple(link) for link in guarded_links(unclear.faces(range(5)), links, strict)}
    assert kept == {tuple(link) for link in links} - through_bridge
    people = group_people(unclear, min_photos=2)
    assert sorted(person.photos for person in people.people) == [(0, 1), (2, 3)]
    clear = guarded_links(index.faces(range(5)), links, strict)
    assert len(clear) == len(links), "a clearly seen face links as before"
