"""The album's own evidence for a near miss.

A face scored just under the bar (a blurred, hidden or turned face is less like every face,
its own person's too) is the person's when the album says so twice over: it is as like at
least `EVIDENCE_PHOTOS` of the photos already found of them as the bar asks of the query, and
its closest face in any other photo of the album is one of theirs (a look-alike's closest face
is usually their own other photo). Measured on every suite: docs/accuracy.md, "The album's
own evidence".
"""

from __future__ import annotations

import numpy as np

from facefind.analysis.calibration import ScoreScale
from facefind.analysis.quality import recognisable
from facefind.search.results import FaceHit, PhotoHit
from facefind.stores.base import FaceMatches, IndexStore, photo_name

#: Faces down to this score are looked at again (from 30% or 35% the degraded suite won back
#: the same true photos as from 40%, and more false ones: docs/accuracy.md).
EVIDENCE_FLOOR = 40.0
#: ... and are the person's when at least this many of their photos found at the bar are as
#: like them as the bar asks.
EVIDENCE_PHOTOS = 2
#: Only photos found this surely (%) speak for a face under the bar: a look-alike found just
#: over the bar would otherwise bring its own person's photos with it.
SUPPORT_SCORE = 55.0
#: A face this similar to the query is the query photo itself (or a copy): not a photo "found
#: of them" (different photos of one person score 0.93-0.98 with Dlib).
COPY_SIMILARITY = 0.99


def won_back(
    store: IndexStore,
    queries: np.ndarray,
    found: FaceMatches,
    hits: list[PhotoHit],
    cut: float,
    scale: ScoreScale,
) -> list[PhotoHit]:
    """Photos not among `hits` that the album's evidence gives to a person: one face each,
    scored as it is (under the bar), found `via` "album". `found` holds the faces down to the
    evidence floor for each person's query (a row of `queries`) or expanded query."""
    taken = {hit.photo for hit in hits}
    won: dict[int, tuple[int, int]] = {}  # photo -> (person, position in `found`)
    for person in range(len(queries)):
        mine = [face for hit in hits for face in hit.faces if face.person == person]
        accepted = [face.face for face in mine]
        theirs = store.faces([face.face for face in mine if face.score >= SUPPORT_SCORE]).vectors
        # the query photo itself, or a copy of it, in the album is no second opinion
        theirs = theirs[theirs @ queries[person] < COPY_SIMILARITY]
        if len(theirs) < EVIDENCE_PHOTOS:
            continue
        candidates = []
        for position in _best_face_per_photo(found, person, taken | set(won)):
            alike = theirs @ found.vectors[position]
            if np.sort(alike)[-EVIDENCE_PHOTOS] >= cut:  # like enough of their photos
                candidates.append((position, float(alike.max())))
        for position in _closest_are_theirs(store, candidates, accepted, found):
            won[int(found.photos[position])] = (person, position)
    return _hits_of(store, found, won, scale)


def _hits_of(
    store: IndexStore, found: FaceMatches, won: dict[int, tuple[int, int]], scale: ScoreScale
) -> list[PhotoHit]:
    """The photos won, each with its face (boxes and sharpness asked of the store at once)."""
    if not won:
        return []
    photos = sorted(won)
    rows = store.faces([int(found.faces[won[photo][1]]) for photo in photos])
    clear = recognisable(rows.sharpness)
    hits = []
    for row, photo in enumerate(photos):
        person, position = won[photo]
        name = photo_name(store, photo)
        if name is None:  # removed since its faces were found
            continue
        face = FaceHit(
            person=person,
            face=int(rows.ids[row]),
            box=rows.box(row),
            score=scale.percent_of_distance(1.0 - float(found.similarity[position])),
            unclear=not bool(clear[row]),
        )
        hits.append(PhotoHit(photo=photo, name=name, score=face.score, faces=(face,), via="album"))
    return hits


def _best_face_per_photo(found: FaceMatches, person: int, taken: set[int]) -> list[int]:
    """Positions in `found` of the person's most similar face in each photo not yet taken."""
    best: dict[int, int] = {}
    for position in found.of_query(person):  # most similar first
        photo = int(found.photos[position])
        if photo not in taken:
            best.setdefault(photo, int(position))
    return list(best.values())


def _closest_are_theirs(
    store: IndexStore, candidates: list[tuple[int, float]], accepted: list[int], found: FaceMatches
) -> list[int]:
    """The candidates (position in `found`, similarity to the closest of the person's faces)
    that no face of another photo, not one of the person's, is closer to: a look-alike's
    closest face is usually their own other photo. One similarity query for all of them."""
    if not candidates:
        return []
    positions = [position for position, _ in candidates]
    closest = np.array([similarity for _, similarity in candidates], dtype=np.float32)
    rivals = store.faces_above(found.vectors[positions], float(closest.min()) + 1e-6)
    rivals = rivals.where(~np.isin(rivals.faces, accepted))
    kept = []
    for number, position in enumerate(positions):
        mine = rivals.queries == number
        closer = mine & (rivals.similarity > closest[number] + 1e-6)
        if not np.any(closer & (rivals.photos != found.photos[position])):
            kept.append(position)
    return kept
