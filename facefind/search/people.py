"""People: the album's faces grouped into the persons they show, without any query.

The faces of the index are linked wherever two of them are closer than the model's "same
person" distance (times `GROUPING_FACTOR`, measured: docs/accuracy.md); two faces of one photo
are never linked (one photo does not show a person twice). The links are found with blocked
matrix products over the index, so memory stays bounded, and dlib's Chinese whispers, a
well-kept graph clustering, groups them. Deterministic for a given index: the same links in the
same order give the same groups. Faces seen in fewer than `min_photos` photos stay "others".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from facefind.analysis.calibration import ScoreScale
from facefind.analysis.quality import recognisable
from facefind.search.results import FaceHit, PhotoHit
from facefind.stores.base import FaceRows, IndexStore, photo_name
from facefind.vectors import l2_normalize, mean_direction

#: Links between faces up to this many times the model's verification distance: the steadiest
#: factor on the labelled albums, whole and with photos left out (docs/accuracy.md, "People");
#: looser links let Chinese whispers chain look-alikes together.
GROUPING_FACTOR = 0.9
BLOCK_ROWS = 4096


@dataclass(frozen=True)
class Person:
    """One group of faces: which faces, in which photos, and the clearest of them."""

    faces: tuple[int, ...]  # rows of the index
    photos: tuple[int, ...]  # photo numbers, in album order
    face: int  # the row of the clearest face (largest among the surest)
    #: The person's number, 1 for the one in the most photos; kept through merges and
    #: corrections, so that "person 3" stays the same person for the whole session.
    id: int = 0


@dataclass(frozen=True)
class People:
    """The people of an album, most photos first, and how many faces were left over."""

    people: tuple[Person, ...]
    others: int  # faces in no person shown (seen in fewer than min_photos photos)


def face_links(
    embeddings: np.ndarray, face_photo: np.ndarray, min_similarity: float, block: int = BLOCK_ROWS
) -> np.ndarray:
    """(k, 2) pairs i < j of faces at least `min_similarity` alike, from different photos,
    computed `block` rows at a time: (block, m) similarities at most, never (m, m)."""
    links = []
    count = len(embeddings)
    for start in range(0, count, block):
        rows = slice(start, min(start + block, count))
        similarity = embeddings[rows] @ embeddings[start:].T  # only j >= i is needed
        first, second = np.nonzero(similarity >= min_similarity)
        first, second = first + start, second + start
        keep = (second > first) & (face_photo[first] != face_photo[second])
        links.append(np.stack([first[keep], second[keep]], axis=1))
    return np.concatenate(links) if links else np.zeros((0, 2), dtype=np.int64)


@dataclass(frozen=True)
class PeopleNotes:
    """The user's work on an album's People: the people as merged and corrected, the names
    given and the people hidden. Kept for the session, and in a saved index only when the user
    saves it (`AlbumIndex.people_notes`, plain JSON)."""

    people: People
    names: dict[int, str]
    hidden: frozenset[int]

    def to_json(self) -> dict:
        return {
            "people": [
                {"id": p.id, "faces": list(p.faces), "photos": list(p.photos), "face": p.face}
                for p in self.people.people
            ],
            "others": self.people.others,
            "names": {str(number): name for number, name in self.names.items()},
            "hidden": sorted(self.hidden),
        }

    @classmethod
    def saved_with(cls, index: IndexStore) -> PeopleNotes | None:
        """The notes saved with an index from the app (the app and the CLI read them alike);
        None where there are none (a database store keeps none), or they do not fit it."""
        saved = getattr(index, "people_notes", None)
        return cls.from_json(saved, index.face_count, len(index.photos)) if saved else None

    @classmethod
    def from_json(cls, data: dict, faces: int, photos: int) -> PeopleNotes | None:
        """The notes saved with an index, or None where they do not fit it (damaged)."""
        try:
            people = tuple(
                Person(
                    tuple(int(f) for f in p["faces"]),
                    tuple(int(n) for n in p["photos"]),
                    int(p["face"]),
                    int(p["id"]),
                )
                for p in data["people"]
            )
            notes = cls(
                People(people, int(data["others"])),
                {int(number): str(name) for number, name in data["names"].items()},
                frozenset(int(number) for number in data["hidden"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        fits = all(
            all(0 <= face < faces for face in person.faces)
            and all(0 <= photo < photos for photo in person.photos)
            for person in people
        )
        return notes if fits else None

    def shown(self, min_photos: int) -> People:
        """The people as the user left them, in the app's order, without those they hid, nor
        those seen in fewer than `min_photos` photos (their faces are counted as others)."""
        kept = [p for p in self.people.people if p.id not in self.hidden]
        shown = _in_wall_order([p for p in kept if len(p.photos) >= min_photos])
        left = sum(len(p.faces) for p in kept if len(p.photos) < min_photos)
        return People(tuple(shown), self.people.others + left)


def partitioned_links(
    embeddings: np.ndarray,
    face_photo: np.ndarray,
    min_similarity: float,
    cells: int,
    probes: int = 3,
    block: int = BLOCK_ROWS,
) -> np.ndarray:
    """The links of `face_links` for albums too big to compare every pair (a million faces):
    faces are put in `cells` groups around k-means centres (each face in its `probes` nearest,
    so two alike faces near a border still meet), and compared within their groups only, with
    exact similarities. Links come out sorted as `face_links` gives them, so Chinese whispers
    sees the same graph wherever the two agree (tests: the shared albums' people are equal)."""
    count = len(embeddings)
    rng = np.random.default_rng(0)
    centres = embeddings[rng.choice(count, size=min(cells, count), replace=False)].copy()
    for _ in range(4):  # a few rounds of Lloyd's k-means on the sphere
        nearest = _nearest_centres(embeddings, centres, 1, block)[:, 0]
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, embeddings)
        filled = np.linalg.norm(sums, axis=1) > 0
        centres[filled] = l2_normalize(sums[filled])
    members = _nearest_centres(embeddings, centres, probes, block)
    cell_of = members.reshape(-1)
    face_of = np.repeat(np.arange(count), members.shape[1])
    order = np.argsort(cell_of, kind="stable")
    cuts = np.flatnonzero(np.diff(cell_of[order])) + 1
    links = []
    for group in np.split(face_of[order], cuts):
        group = np.sort(group)
        similarity = embeddings[group] @ embeddings[group].T
        first, second = np.nonzero(np.triu(similarity >= min_similarity, k=1))
        first, second = group[first], group[second]
        keep = face_photo[first] != face_photo[second]
        links.append(np.stack([first[keep], second[keep]], axis=1))
    if not links:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(links), axis=0)


def _nearest_centres(
    embeddings: np.ndarray, centres: np.ndarray, probes: int, block: int
) -> np.ndarray:
    """Each face's `probes` most similar centres, (m, probes)."""
    found = []
    probes = min(probes, len(centres))
    for start in range(0, len(embeddings), block):
        similarity = embeddings[start : start + block] @ centres.T
        found.append(np.argpartition(-similarity, probes - 1, axis=1)[:, :probes])
    return np.concatenate(found)


#: Up to this many faces every pair is compared (blocked matrix products, exact); above it the
#: links come from `partitioned_links` with about sqrt(faces) cells (docs/performance.md).
EXACT_LINKS_UP_TO = 50_000


def group_people(
    index: IndexStore,
    min_photos: int = 2,
    factor: float = GROUPING_FACTOR,
    cells: int | None = None,
) -> People:
    """The album's people: groups of faces by Chinese whispers over the face links (every pair
    compared, or, above EXACT_LINKS_UP_TO faces or with `cells`, within partitions).

    Faces too blurred or too small to recognise (analysis.quality) are never grouped: they
    look alike to the model, so they would make people who do not exist, or join two."""
    import dlib

    if index.face_count == 0:
        return People((), 0)
    everyone = _all_faces(index)
    everyone = everyone.take(np.flatnonzero(recognisable(everyone.sharpness)))
    count = len(everyone)
    if count == 0:
        return People((), index.face_count)
    threshold = ScoreScale(index.model).threshold
    similar = 1.0 - threshold * factor
    if cells is None and count > EXACT_LINKS_UP_TO:
        cells = int(np.sqrt(count))
    if cells:
        links = partitioned_links(everyone.vectors, everyone.photos, similar, cells)
    else:
        links = face_links(everyone.vectors, everyone.photos, similar)
    links = guarded_links(everyone, links, 1.0 - threshold * UNSURE_FACTOR)
    edges = [(i, i) for i in range(count)] + [(int(i), int(j)) for i, j in links]
    labels = np.asarray(dlib.chinese_whispers(edges))
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    people = []
    for positions in groups:
        if len(positions) < min_photos:  # fewer faces than photos asked for: never shown
            continue
        faces = one_face_per_photo(_rows(everyone, positions))
        photos = tuple(sorted({int(photo) for photo in faces.photos}))
        if len(photos) >= min_photos:
            people.append(Person(tuple(int(f) for f in faces.ids), photos, clearest_face(faces)))
    people.sort(key=lambda person: (-len(person.photos), person.photos))
    numbered = [replace(person, id=number) for number, person in enumerate(people, start=1)]
    shown = sum(len(person.faces) for person in numbered)
    return People(tuple(numbered), index.face_count - shown)


#: A face that is recognisable but not clearly (a chip less sharp than this, or a detector
#: score under UNSURE_SCORE: half hidden, cut by the frame, out of focus) links to another
#: face only when the two are as close as UNSURE_FACTOR times the model's threshold, not
#: GROUPING_FACTOR: such faces look alike to the model and chained strangers into one person
#: on real race photos (docs/accuracy.md, "Faces good enough to recognise").
UNSURE_SHARPNESS = 40.0
UNSURE_SCORE = 0.8
UNSURE_FACTOR = 0.7


def guarded_links(rows: FaceRows, links: np.ndarray, unsure_similarity: float) -> np.ndarray:
    """The links (pairs of row positions) left once those touching an unclear face are held to
    the stricter similarity."""
    if not len(links):
        return links
    links = np.asarray(links)
    unsure = (rows.confidences < UNSURE_SCORE) | (rows.sharpness < UNSURE_SHARPNESS)
    first, second = links[:, 0], links[:, 1]
    close = np.einsum("ij,ij->i", rows.vectors[first], rows.vectors[second]) >= unsure_similarity
    return links[~(unsure[first] | unsure[second]) | close]


def _all_faces(index: IndexStore) -> FaceRows:
    return FaceRows.joined(list(index.face_blocks(BLOCK_ROWS)))


def _rows(faces: FaceRows, positions: np.ndarray) -> FaceRows:
    """Some of the rows, in id order."""
    return faces.take(positions[np.argsort(faces.ids[positions], kind="stable")])


def one_face_per_photo(rows: FaceRows) -> FaceRows:
    """The group's faces with at most one per photo: the one closest to the group's mean.

    Two faces of one photo are never linked, but Chinese whispers can still join them through
    faces of other photos (a mirror reflection, twins, a poster of the same person); a person's
    page shows a photo once, with the face that is most surely theirs. The others are left out
    of the person (counted with `others`)."""
    if len(np.unique(rows.photos)) == len(rows):
        return rows
    centre = rows.vectors.mean(axis=0)
    closest_first = np.argsort(-(rows.vectors @ centre), kind="stable")
    _, first = np.unique(rows.photos[closest_first], return_index=True)
    return _rows(rows, closest_first[first])


def clearest_face(rows: FaceRows) -> int:
    """The face to show for a person: the largest of those the detector is surest of."""
    sure = rows.confidences >= np.median(rows.confidences)
    areas = rows.boxes[sure, 2].astype(np.int64) * rows.boxes[sure, 3]
    return int(rows.ids[sure][int(np.argmax(areas))])


def merge(people: People, ids: list[int]) -> People:
    """The same people with the chosen ones (by id) made one person, as the user says: the
    merged person keeps the smallest id and the clearest face of that one; the others' ids
    are not reused. Everyone keeps their place (see `_in_wall_order`)."""
    chosen = sorted(set(ids))
    parts = [person for person in people.people if person.id in chosen]
    if len(parts) < 2:
        return people
    parts.sort(key=lambda person: person.id)
    faces = tuple(sorted(face for part in parts for face in part.faces))
    photos = tuple(sorted({photo for part in parts for photo in part.photos}))
    joined = Person(faces, photos, parts[0].face, parts[0].id)
    rest = [person for person in people.people if person.id not in chosen] + [joined]
    return People(_in_wall_order(rest), people.others)


def without_photo(index: IndexStore, people: People, person_id: int, photo: int) -> People:
    """The people with one photo taken from one person ("not this person"): their faces in
    that photo leave them (counted with `others`); a person left with no photo is gone."""
    kept: list[Person] = []
    removed = 0
    for person in people.people:
        if person.id != person_id:
            kept.append(person)
            continue
        rows = index.faces(person.faces)
        faces = tuple(int(face) for face in rows.ids[rows.photos != photo])
        removed = len(person.faces) - len(faces)
        if faces:
            photos = tuple(p for p in person.photos if p != photo)
            face = person.face if person.face in faces else clearest_face(index.faces(faces))
            kept.append(Person(faces, photos, face, person.id))
    return People(_in_wall_order(kept), people.others + removed)


def _in_wall_order(people: list[Person]) -> tuple[Person, ...]:
    """By id: ids are given most photos first, so the wall starts that way, and after a merge
    or a correction everyone stays where they were (a merged Person 20 does not jump between
    Person 9 and Person 10; the numbers keep running in order, as the user left them)."""
    return tuple(sorted(people, key=lambda person: person.id))


def person_hits(
    index: IndexStore, person: Person, scale: ScoreScale | None = None
) -> list[PhotoHit]:
    """The person's photos as results, their face outlined, each scored by how like the
    person as a whole (`person_query`) that face is; best first."""
    scale = scale or ScoreScale(index.model)
    query = person_query(index, person)
    rows = index.faces(person.faces)
    scores = scale.percent(rows.vectors @ query)
    best: dict[int, FaceHit] = {}
    for row, face in enumerate(rows.ids):
        photo, score = int(rows.photos[row]), float(scores[row])
        if photo not in best or score > best[photo].score:
            best[photo] = FaceHit(person=0, face=int(face), box=rows.box(row), score=score)
    names = {photo: photo_name(index, photo) for photo in best}
    hits = [
        PhotoHit(photo=photo, name=name, score=best[photo].score, faces=(best[photo],))
        for photo, name in names.items()
        if name is not None
    ]
    return sorted(hits, key=lambda hit: (-hit.score, hit.name))


def person_query(index: IndexStore, person: Person) -> np.ndarray:
    """One query for "find more like this person": the unit mean of all of their faces."""
    return mean_direction(index.faces(person.faces).vectors)[0]
