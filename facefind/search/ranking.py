"""Photos ranked by their UForm embeddings: by a description, like another photo of the album,
or like an uploaded picture. CLIP-like scores mean little on a fixed bar, so they are ranked
within the album (`relative_scores`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from facefind.analysis.images import decode_photo
from facefind.analysis.semantic import PhotoTextModel
from facefind.errors import FacefindError, ModelUnavailableError
from facefind.search.results import PhotoHit
from facefind.stores.base import IndexStore


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


def _photo_embeddings(index: IndexStore, photo_model: PhotoTextModel | None) -> np.ndarray:
    vectors = index.photo_vectors()
    if vectors is None or index.photo_model is None:
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
    return vectors


def rank_photos(
    index: IndexStore,
    query: np.ndarray,
    top: int | None = 20,
    within: Sequence[int] | None = None,
    exclude: Sequence[int] = (),
) -> list[PhotoHit]:
    """Photos ranked by cosine similarity of their UForm embedding to `query` (unit length)."""
    embeddings = _photo_embeddings(index, None)  # rows in photo id order
    photos = index.photos
    similarity = embeddings @ np.asarray(query, dtype=np.float32).reshape(-1)
    scores = relative_scores(similarity)
    rows = np.arange(len(photos)) if within is None else photos.positions(within)
    rows = rows[rows >= 0]  # a photo removed since it was found
    rows = rows[~np.isin(photos.ids[rows], list(exclude))]
    order = rows[np.argsort(-similarity[rows], kind="stable")]
    if top is not None:
        order = order[:top]
    infos = list(photos)
    return [
        PhotoHit(
            photo=int(photos.ids[row]),
            name=infos[row].name,
            score=float(scores[row]),
            faces=(),
            via="description",
        )
        for row in order
    ]


def text_search(
    index: IndexStore,
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


def similar_photos(index: IndexStore, photo: int, top: int | None = 20) -> list[PhotoHit]:
    """ "More like this": the album's photos most like photo `photo`, itself excluded."""
    embeddings = _photo_embeddings(index, None)
    row = int(index.photos.positions([photo])[0])
    if row < 0:  # removed since it was shown
        return []
    return rank_photos(index, embeddings[row], top, exclude=[photo])


def similar_to_picture(
    index: IndexStore, photo_model: PhotoTextModel, picture: bytes, top: int | None = 20
) -> list[PhotoHit]:
    """ "More like this" for an uploaded picture that is not in the album."""
    _photo_embeddings(index, photo_model)
    query = photo_model.embed_photos([decode_photo(picture, 512).pixels])[0]
    return rank_photos(index, query, top)
