"""People who asked not to be found (a runner's request to be forgotten, or an opt-out given
at registration): their faces are kept out of every store and every search.

A store keeps the query faces of each such person (`IndexStore.opted_out`). A face at least
`FORGET_SCORE` alike to one of them is that person's: it is removed when they ask, it is
dropped from photos indexed later, and a query like them finds nothing.
"""

from __future__ import annotations

import numpy as np

from facefind.analysis.calibration import ScoreScale
from facefind.stores.npz import AlbumIndex

#: The bar for "this face in a photo is the person who opted out", below the search's 50%:
#: forgetting errs towards removing too much. Faces of a person that search misses score
#: 32-48% against their selfie; at 40% recall is 1.0 on both shared albums, and precision
#: 0.836 / 0.737 (shared / people2; 1.0 / 0.982 at 50%): a look-alike's face may go too,
#: never a photo in which anyone else is left.
FORGET_SCORE = 40.0
#: The bar for "this query is the person who opted out" (a selfie against their own query
#: photo, both clear faces): the model's own threshold, so a look-alike runner still finds
#: their photos.
BLOCK_SCORE = 50.0


def like_opted_out(
    vectors: np.ndarray, opted_out: np.ndarray, model: str, score: float = FORGET_SCORE
) -> np.ndarray:
    """For each row of `vectors` (unit length), whether it is one of the opted-out people."""
    if not len(opted_out) or not len(vectors):
        return np.zeros(len(vectors), dtype=bool)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    cut = ScoreScale(model).similarity_at(score)
    return np.asarray((vectors @ np.asarray(opted_out, np.float32).T).max(axis=1) >= cut)


def without_opted_out(part: AlbumIndex, opted_out: np.ndarray) -> AlbumIndex:
    """A newly indexed part without the faces of people who opted out (before it is stored)."""
    gone = like_opted_out(part.embeddings, opted_out, part.model)
    if not gone.any():
        return part
    return part.without_faces({int(face) for face in np.flatnonzero(gone)}, opted_out[:0])
