"""What an organiser takes out of a store: photos (`facefind remove`), and people who ask to be
forgotten or opted out at registration (`facefind forget`).

Both work on either store through its writing methods (`IndexStore.remove`, `forget_faces`,
`keep`), so the command line never asks which store it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facefind.search.faces import search_faces
from facefind.stores.base import IndexStore
from facefind.stores.optout import FORGET_SCORE


@dataclass(frozen=True)
class Forgotten:
    """What forgetting people removed: their faces, the photos that showed only them (removed
    whole), and how many photos of them stay because other people are in them too."""

    faces: int
    photos_removed: tuple[str, ...]
    photos_kept: int


def remove_photos(store: IndexStore, names: Sequence[str]) -> tuple[IndexStore, list[str]]:
    """The store without these photos, and which of the names it held (the others are said)."""
    found = [name for name in dict.fromkeys(names) if store.photos.id_of(name) is not None]
    return (store.remove(found) if found else store), found


def forget_people(
    store: IndexStore, queries: np.ndarray, score: float = FORGET_SCORE
) -> tuple[IndexStore, Forgotten]:
    """The store without the faces of these people (one unit-length row each), found as a
    search finds them (with query expansion) at the forgiving `score`; photos in which they
    were the only people are removed whole. The query faces are kept as the opt-out list."""
    queries = np.asarray(queries, dtype=np.float32).reshape(-1, queries.shape[-1])
    faces: set[int] = set()
    for query in queries:  # one person at a time: at most MAX_PEOPLE per search
        hits = search_faces(store, query[None, :], "any", score, expand=True)
        faces |= {face.face for hit in hits for face in hit.faces}
    photos = sorted({int(photo) for photo in store.faces(sorted(faces)).photos})
    rest = store.faces_in(photos)
    with_others = {
        int(photo) for photo, face in zip(rest.photos, rest.ids, strict=True) if face not in faces
    }
    alone = [store.photos[photo].name for photo in photos if photo not in with_others]
    store = store.forget_faces(sorted(faces), queries)
    if alone:
        store = store.remove(alone)
    return store, Forgotten(len(faces), tuple(alone), len(photos) - len(alone))
