"""Face search: query faces against the album index in one matrix product.

Scores are DeepFace's calibrated confidence (`verification.find_confidence` on the cosine
distance), so the percentage means the same for every model: 51-100 = the model says "same
person", 0-49 = "not", and the default bar of 50% is the model's own verification threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .assignment import distinct_assignment
from .errors import FacefindError, ModelUnavailableError, NoFaceError, PhotoError
from .faces import Box, Face, FaceEmbedder
from .images import decode_photo
from .index import AlbumIndex
from .runtime import deepface
from .semantic import PhotoTextModel
from .vectors import l2_normalize, mean_direction
from .words import Word

MatchMode = Literal["any", "all"]
DEFAULT_MIN_SCORE = 50.0
MAX_PEOPLE = 10
#: Query expansion: album faces scored at least this (far above the 50% bar) join their person's
#: query for a second pass, at most `EXPAND_FACES` of them per person (docs/accuracy.md).
SURE_SCORE = 80.0
EXPAND_FACES = 20


@dataclass(frozen=True)
class FaceHit:
    """The face of a photo that matched query person `person` (0-based), and how well."""

    person: int
    face: int
    box: Box
    score: float


@dataclass(frozen=True)
class PhotoHit:
    """A photo that matched, its score, the matching face of each person found in it, the
    written words that matched, and how it was found: "face", "words", "description", or
    "face" of the person wearing the words searched for (`via`)."""

    photo: int
    name: str
    score: float
    faces: tuple[FaceHit, ...]
    words: tuple[Word, ...] = ()
    via: str = "face"


class ScoreScale:
    """Cosine similarity as a 0-100 percentage that is exactly 50 at the model's threshold.

    Built from DeepFace's calibration for the model (`config.confidence`: a logistic curve of
    the distance, and the lowest value it saw for different people). DeepFace's own
    `find_confidence` maps "same" and "different" to two separate ranges (51-100 and 0-49) and
    jumps at the threshold (Dlib: 51.4% at distance 0.0690, 27.0% at 0.0701), so no score
    between ~27 and 51 ever appears and a slider does nothing there. Here the same curve is
    stretched piecewise-linearly instead: 100% at distance 0, 50% at the threshold, 0% where
    DeepFace's calibration saw its least similar different people. Continuous and monotone.
    """

    def __init__(self, model: str) -> None:
        deepface()  # configure DeepFace before its modules are imported
        from deepface.config.confidence import confidences
        from deepface.modules import verification

        self.model = model
        self.threshold = float(verification.find_threshold(model, "cosine"))
        self._calibration = confidences.get(model, {}).get("cosine")
        self._cuts: dict[float, float] = {}
        if self._calibration is not None:
            self._at_zero = self._logistic(0.0)
            self._at_threshold = self._logistic(self.threshold)
            self._at_floor = min(self._calibration["denorm_min_false"], self._at_threshold - 1e-6)

    def _logistic(self, distance: float) -> float:
        """DeepFace's calibrated curve (find_confidence before it splits into two ranges)."""
        calibration = self._calibration
        assert calibration is not None
        if calibration["normalizer"] > 1:
            distance = distance / calibration["normalizer"]
        z = calibration["w"] * distance + calibration["b"]
        return 100.0 / (1.0 + math.exp(-z))

    def percent_of_distance(self, distance: float) -> float:
        distance = max(float(distance), 0.0)
        if self._calibration is None:  # a model DeepFace has no calibration for: linear
            return float(np.clip(100.0 - 50.0 * distance / self.threshold, 0.0, 100.0))
        value = self._logistic(distance)
        if distance <= self.threshold:
            span = max(self._at_zero - self._at_threshold, 1e-9)
            return float(min(100.0, 50.0 + 50.0 * (value - self._at_threshold) / span))
        span = self._at_threshold - self._at_floor
        return float(max(0.0, 50.0 * (value - self._at_floor) / span))

    def percent(self, similarity: np.ndarray | float) -> np.ndarray:
        """Percentages for cosine similarities (any shape)."""
        distances = 1.0 - np.asarray(similarity, dtype=np.float64)
        return np.vectorize(self.percent_of_distance, otypes=[np.float64])(distances)

    def similarity_at(self, min_score: float) -> float:
        """The lowest cosine similarity whose percentage is at least `min_score`.

        The percentage falls as distance grows, so the bar is found by bisection once and the
        search itself compares raw similarities: no per-face conversion for a million faces.
        """
        if min_score not in self._cuts:
            self._cuts[min_score] = self._similarity_at(min_score)
        return self._cuts[min_score]

    def _similarity_at(self, min_score: float) -> float:
        if min_score <= 0:
            return -np.inf
        if self.percent_of_distance(0.0) < min_score:
            return np.inf
        low, high = 0.0, 2.0  # distance passes at `low`, fails at `high` (or high is max)
        if self.percent_of_distance(high) >= min_score:
            return -1.0
        for _ in range(60):
            middle = (low + high) / 2
            if self.percent_of_distance(middle) >= min_score:
                low = middle
            else:
                high = middle
        return 1.0 - low


def search_faces(
    index: AlbumIndex,
    queries: np.ndarray,
    mode: MatchMode = "any",
    min_score: float = DEFAULT_MIN_SCORE,
    scale: ScoreScale | None = None,
    expand: bool = True,
) -> list[PhotoHit]:
    """Photos with any (or all) of the query people, best first.

    `queries` is `(n, 128)`, one unit-length row per person. In `all` mode each person must be
    matched by a different face of the photo, and the photo scores as its weakest match. With
    `expand`, the album faces it is sure of search again (see `expanded_similarity`).
    """
    queries = _check_queries(queries, index)
    if mode not in ("any", "all"):
        raise FacefindError(f"Unknown match mode {mode!r}: use 'any' or 'all'.")
    if index.face_count == 0:
        return []
    scale = scale or ScoreScale(index.model)
    cut = scale.similarity_at(float(min_score))
    similarity = index.embeddings @ queries.T  # (m, n): the one matrix product
    if expand:
        similarity = expanded_similarity(
            index.embeddings, queries, similarity, scale.similarity_at(SURE_SCORE)
        )
    starts = _photo_starts(index.face_photo)
    best = np.maximum.reduceat(similarity, starts, axis=0)  # (photos with faces, n)
    passing = best >= cut
    keep = passing.all(axis=1) if mode == "all" else passing.any(axis=1)
    hits = []
    for group in np.flatnonzero(keep):
        rows = np.arange(starts[group], _group_end(starts, int(group), index.face_count))
        hit = _photo_hit(index, rows, similarity[rows], cut, mode, scale)
        if hit is not None:
            hits.append(hit)
    hits.sort(key=lambda hit: (-hit.score, hit.name))
    return hits


def expanded_similarity(
    embeddings: np.ndarray,
    queries: np.ndarray,
    similarity: np.ndarray,
    sure: float,
    most: int = EXPAND_FACES,
) -> np.ndarray:
    """Each person's similarity to each album face, also through the album faces surely theirs.

    A query is one photo of a person; their other photos may show them older, turned or in
    other light. Album faces at least `sure` similar to a person's query (far above the bar)
    are other photos of them: the query plus the mean of those faces (up to `most`) is a
    steadier description of the person, and each face keeps the better of its similarity to
    the query and to that. One more matrix product. (Taking each face's best match among the
    sure faces instead lets one odd photo pull in look-alikes: docs/accuracy.md.)
    """
    centres = queries.astype(np.float32, copy=True)
    for person in range(similarity.shape[1]):
        column = similarity[:, person]
        sure_faces = np.flatnonzero(column >= sure)
        sure_faces = sure_faces[np.argsort(-column[sure_faces], kind="stable")][:most]
        if len(sure_faces):
            centres[person] += embeddings[sure_faces].mean(axis=0)
    return np.maximum(similarity, embeddings @ l2_normalize(centres).T)


def _check_queries(queries: np.ndarray, index: AlbumIndex) -> np.ndarray:
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries[None, :]
    if queries.shape[0] == 0:
        raise NoFaceError("Choose at least one face to search for.")
    if queries.shape[0] > MAX_PEOPLE:
        raise FacefindError(f"Search for at most {MAX_PEOPLE} people at once.")
    if queries.shape[1] != index.embeddings.shape[1]:
        raise FacefindError("The query faces were described by another model than the album.")
    return queries


def _photo_starts(face_photo: np.ndarray) -> np.ndarray:
    """First row of each photo's faces (faces of a photo are contiguous in the index)."""
    changes = np.flatnonzero(np.diff(face_photo)) + 1
    return np.concatenate(([0], changes)).astype(np.int64)


def _group_end(starts: np.ndarray, group: int, total: int) -> int:
    return int(starts[group + 1]) if group + 1 < len(starts) else total


def _photo_hit(
    index: AlbumIndex,
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
    else:
        assignment = distinct_assignment(similarity, cut)
        if assignment is None:
            return None
        chosen = assignment
    faces = tuple(
        FaceHit(
            person=p,
            face=int(rows[face]),
            box=tuple(int(v) for v in index.boxes[rows[face]]),  # type: ignore[arg-type]
            score=scale.percent_of_distance(1.0 - float(similarity[face, p])),
        )
        for p, face in chosen.items()
    )
    scores = [hit.score for hit in faces]
    photo = int(index.face_photo[rows[0]])
    score = min(scores) if mode == "all" else max(scores)
    return PhotoHit(photo=photo, name=index.photos[photo].name, score=score, faces=faces)


def query_faces(
    embedder: FaceEmbedder, photo: bytes, name: str = "the query photo", all_faces: bool = False
) -> list[Face]:
    """The faces of a query photo (largest first; only the largest unless `all_faces`).

    A query is one photo, so it gets the most thorough detection before "no face" is said."""
    try:
        decoded = embedder.decode(photo)
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


# --- search by description and by example (UForm photo embeddings) --------------------------


def relative_scores(similarity: np.ndarray) -> np.ndarray:
    """Cosine similarities of CLIP-like models as 0-100 *within this album*.

    A fixed cosine bar means little for such models (a good match may score 0.3), so the
    percentage says where a photo stands in the album: 100 = the best match in the album,
    0 = no better than the album's median photo.
    """
    if similarity.size == 0:
        return similarity.astype(np.float64)
    median, best = float(np.median(similarity)), float(similarity.max())
    spread = max(best - median, 1e-6)
    return np.clip((similarity - median) / spread * 100.0, 0.0, 100.0)


def _photo_embeddings(index: AlbumIndex, photo_model: PhotoTextModel | None) -> np.ndarray:
    if index.photo_embeddings is None or index.photo_model is None:
        raise ModelUnavailableError(
            "This album was indexed without photo embeddings (the UForm model was not "
            "available), so it cannot be searched by description yet: add them, without "
            "indexing the faces again, with `facefind describe ALBUM.zip INDEX` where "
            "the UForm model can be had."
        )
    if photo_model is not None and photo_model.name != index.photo_model:
        raise FacefindError(
            f"The album's photos were described by {index.photo_model}, not "
            f"{photo_model.name}: index the album again with {photo_model.name}."
        )
    return index.photo_embeddings


def rank_photos(
    index: AlbumIndex,
    query: np.ndarray,
    top: int | None = 20,
    within: Sequence[int] | None = None,
    exclude: Sequence[int] = (),
) -> list[PhotoHit]:
    """Photos ranked by cosine similarity of their UForm embedding to `query` (unit length)."""
    embeddings = _photo_embeddings(index, None)
    similarity = embeddings @ np.asarray(query, dtype=np.float32).reshape(-1)
    scores = relative_scores(similarity)
    candidates = np.arange(len(index.photos)) if within is None else np.asarray(within, dtype=int)
    candidates = candidates[~np.isin(candidates, list(exclude))]
    order = candidates[np.argsort(-similarity[candidates], kind="stable")]
    if top is not None:
        order = order[:top]
    return [
        PhotoHit(
            photo=int(number),
            name=index.photos[number].name,
            score=float(scores[number]),
            faces=(),
            via="description",
        )
        for number in order
    ]


def text_search(
    index: AlbumIndex,
    photo_model: PhotoTextModel,
    text: str,
    top: int | None = 20,
    within: Sequence[PhotoHit] | None = None,
) -> list[PhotoHit]:
    """Photos best matching a description; `within` (face-search hits) narrows and keeps faces."""
    if not text.strip():
        raise FacefindError("Describe the photo you are looking for.")
    _photo_embeddings(index, photo_model)
    query = photo_model.embed_texts([text])[0]
    if within is None:
        return rank_photos(index, query, top)
    faces = {hit.photo: hit.faces for hit in within}
    ranked = rank_photos(index, query, top, within=list(faces))
    return [replace(hit, faces=faces[hit.photo], via="face") for hit in ranked]


def similar_photos(index: AlbumIndex, photo: int, top: int | None = 20) -> list[PhotoHit]:
    """ "More like this": the album's photos most like photo number `photo`, itself excluded."""
    embeddings = _photo_embeddings(index, None)
    return rank_photos(index, embeddings[photo], top, exclude=[photo])


def similar_to_picture(
    index: AlbumIndex, photo_model: PhotoTextModel, picture: bytes, top: int | None = 20
) -> list[PhotoHit]:
    """ "More like this" for an uploaded picture that is not in the album."""
    _photo_embeddings(index, photo_model)
    query = photo_model.embed_photos([decode_photo(picture, 512).pixels])[0]
    return rank_photos(index, query, top)
