"""Face search: query faces against an index store, and the faces of query photos.

Scores are percentages from DeepFace's calibration for the model, made continuous
(analysis.calibration.ScoreScale): 50% is exactly the model's own verification threshold (the
default bar), above it the model says "same person", and a slider works across the whole range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from facefind.analysis.calibration import ScoreScale
from facefind.analysis.faces import Face, FaceEmbedder
from facefind.analysis.images import query_limits, query_turn
from facefind.analysis.quality import recognisable
from facefind.config import EMBEDDING_SIZE
from facefind.errors import FacefindError, NoFaceError, PhotoError
from facefind.search.assignment import distinct_assignment
from facefind.search.evidence import EVIDENCE_FLOOR, won_back
from facefind.search.results import FaceHit, PhotoHit
from facefind.stores.base import FaceMatches, FaceRows, IndexStore, photo_name
from facefind.stores.optout import BLOCK_SCORE, like_opted_out
from facefind.vectors import l2_normalize, mean_direction

__all__ = ["FaceHit", "MatchMode", "PhotoHit", "ScoreScale", "query_faces", "search_faces"]

MatchMode = Literal["any", "all"]
DEFAULT_MIN_SCORE = 50.0
MAX_PEOPLE = 10
#: Query expansion: album faces scored at least this (far above the 50% bar) join their person's
#: query for a second pass, at most `EXPAND_FACES` of them per person (docs/accuracy.md).
SURE_SCORE = 80.0
EXPAND_FACES = 20


def search_faces(
    store: IndexStore,
    queries: np.ndarray,
    mode: MatchMode = "any",
    min_score: float = DEFAULT_MIN_SCORE,
    scale: ScoreScale | None = None,
    expand: bool = True,
    evidence: bool = True,
) -> list[PhotoHit]:
    """Photos with any (or all) of the query people, best first.

    `queries` is `(n, 128)`, one unit-length row per person. In `all` mode each person must be
    matched by a different face of the photo, and the photo scores as its weakest match. With
    `expand`, the album faces it is sure of search again (see `expanded_queries`); with
    `evidence` ("any" mode), faces just under the bar that the album gives to a person are
    added after the rest, scored as they are (search.evidence).

    The store finds the faces above the bar (one matrix product in memory, an index in a
    database); the photos they are in are then scored exactly from all their faces.
    """
    queries = _check_queries(queries)
    if mode not in ("any", "all"):
        raise FacefindError(f"Unknown match mode {mode!r}: use 'any' or 'all'.")
    if store.face_count == 0:
        return []
    # a person who asked not to be found is found by no one's query, at any bar
    hidden = like_opted_out(queries, store.opted_out(), store.model, BLOCK_SCORE)
    if hidden.all() or (mode == "all" and hidden.any()):
        return []
    if hidden.any():
        people = np.flatnonzero(~hidden)
        hits = search_faces(store, queries[people], mode, min_score, scale, expand, evidence)
        return [_renumbered(hit, people) for hit in hits]
    scale = scale or ScoreScale(store.model)
    cut = scale.similarity_at(float(min_score))
    sure = scale.similarity_at(SURE_SCORE)
    # one product per set of vectors: the faces down to the evidence floor come with the rest
    looking = "any" == mode and evidence
    floor = min(cut, scale.similarity_at(EVIDENCE_FLOOR)) if looking else cut
    found = store.faces_above(queries, min(cut, sure, floor))
    centres = expanded_queries(found, queries, sure) if expand else None
    near = [found]
    if centres is not None:
        near.append(store.faces_above(centres, floor))
    photos = np.concatenate([part.photos[part.similarity >= cut] for part in near])
    if not len(photos):
        return []
    faces = store.faces_in(np.unique(photos))
    similarity = faces.vectors @ queries.T  # (faces of those photos, n)
    if centres is not None:
        similarity = np.maximum(similarity, faces.vectors @ centres.T)
    hits = []
    for rows in _by_photo(faces.photos):
        hit = _photo_hit(store, faces, rows, similarity[rows], cut, mode, scale)
        if hit is not None:
            hits.append(hit)
    hits.sort(key=lambda hit: (-hit.score, hit.name))
    if looking and hits:
        below = FaceMatches.joined(near)
        below = below.where((below.similarity >= floor) & (below.similarity < cut))
        hits += won_back(store, queries, below, hits, cut, scale)
    return hits


def _renumbered(hit: PhotoHit, people: np.ndarray) -> PhotoHit:
    """A hit of a search for some of the people, numbered as in the whole query."""
    faces = tuple(replace(face, person=int(people[face.person])) for face in hit.faces)
    return replace(hit, faces=faces)


def expanded_queries(
    found: FaceMatches,
    queries: np.ndarray,
    sure: float,
    most: int = EXPAND_FACES,
) -> np.ndarray:
    """Each person's query moved towards the album faces surely theirs (unit length, (n, 128)).

    A query is one photo of a person; their other photos may show them older, turned or in
    other light. Album faces at least `sure` similar to a person's query (far above the bar)
    are other photos of them: the query plus the mean of those faces (up to `most`) is a
    steadier description of the person, and each face keeps the better of its similarity to
    the query and to that. (Taking each face's best match among the sure faces instead lets
    one odd photo pull in look-alikes: docs/accuracy.md.)
    """
    centres = queries.astype(np.float32, copy=True)
    for person in range(len(queries)):
        positions = found.of_query(person)
        sure_faces = positions[found.similarity[positions] >= sure][:most]
        if len(sure_faces):
            in_face_order = sure_faces[np.argsort(found.faces[sure_faces], kind="stable")]
            centres[person] += found.vectors[in_face_order].mean(axis=0)
    return l2_normalize(centres)


def _check_queries(queries: np.ndarray) -> np.ndarray:
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries[None, :]
    if queries.shape[0] == 0:
        raise NoFaceError("Choose at least one face to search for.")
    if queries.shape[0] > MAX_PEOPLE:
        raise FacefindError(f"Search for at most {MAX_PEOPLE} people at once.")
    if queries.shape[1] != EMBEDDING_SIZE:
        raise FacefindError("The query faces were described by another model than the album.")
    return queries


def _by_photo(photos: np.ndarray) -> list[np.ndarray]:
    """Positions of the faces of each photo, photo by photo (in photo order)."""
    order = np.argsort(photos, kind="stable")
    cuts = np.flatnonzero(np.diff(photos[order])) + 1
    return np.split(order, cuts)


def _photo_hit(
    store: IndexStore,
    faces: FaceRows,
    rows: np.ndarray,
    similarity: np.ndarray,
    cut: float,
    mode: MatchMode,
    scale: ScoreScale,
) -> PhotoHit | None:
    people = range(similarity.shape[1])
    chosen: dict[int, int]
    if mode == "any":
        best = {p: int(np.argmax(similarity[:, p])) for p in people}
        chosen = {p: face for p, face in best.items() if similarity[face, p] >= cut}
        if not chosen:
            return None
    else:
        assignment = distinct_assignment(similarity, cut)
        if assignment is None:
            return None
        chosen = assignment
    hits = tuple(
        FaceHit(
            person=p,
            face=int(faces.ids[rows[face]]),
            box=faces.box(int(rows[face])),
            score=scale.percent_of_distance(1.0 - float(similarity[face, p])),
            unclear=not recognisable(faces.sharpness[rows[face]]).item(),
        )
        for p, face in sorted(chosen.items())  # person 1 first, whatever found them
    )
    scores = [hit.score for hit in hits]
    photo = int(faces.photos[rows[0]])
    name = photo_name(store, photo)
    if name is None:  # removed since its faces were found
        return None
    score = min(scores) if mode == "all" else max(scores)
    return PhotoHit(photo=photo, name=name, score=score, faces=hits)


def query_faces(
    embedder: FaceEmbedder, photo: bytes, name: str = "the query photo", all_faces: bool = False
) -> list[Face]:
    """The faces of a query photo (largest first; only the largest unless `all_faces`).

    A query is one photo, so it gets the most thorough detection before "no face" is said."""
    with query_turn():  # a few at once: hostile uploads cannot exhaust the memory
        try:
            decoded = embedder.decode(photo, query_limits(photo))
        except PhotoError as error:
            raise PhotoError(f"Cannot use {name}: {error}.") from error
        faces = embedder.faces(decoded, thorough=True)
    if not faces:
        raise NoFaceError(
            f"No face found in {name}. Use a photo where the face is clearly visible, "
            "well lit and facing the camera."
        )
    return faces if all_faces else faces[:1]


def stack_embeddings(faces: Sequence[Face], same_person: bool = False) -> np.ndarray:
    """The (n, 128) query matrix of the chosen faces; with `same_person`, the faces are photos
    of one person and become one query, their mean direction (1, 128): several photos of a
    person describe them better than any one of them (docs/accuracy.md, "Near misses")."""
    queries = np.stack([face.embedding for face in faces]).astype(np.float32)
    return mean_direction(queries) if same_person else queries
