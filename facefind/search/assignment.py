"""Each person on a different face: the "all of us together" match of one photo.

The assignment maximises the weakest match (a bottleneck assignment), then the total above it.
Trying every tuple of faces costs faces^people per photo (54 s for 8 people on a 40-face photo);
here the largest bar that still gives every person a face is found by bisection over the
similarities with augmenting paths (Kuhn's matching), and the best total above it by the
Hungarian method: polynomial, milliseconds for 10 people on 40 faces.
"""

from __future__ import annotations

import numpy as np


def distinct_assignment(similarity: np.ndarray, cut: float) -> dict[int, int] | None:
    """person -> face for `similarity` of shape (faces, people), each person on a different
    face at or above `cut`, maximising the weakest match, then the total; None if impossible."""
    faces, people = similarity.shape
    if people == 0 or faces < people:
        return None
    values = np.unique(similarity[similarity >= cut])
    if values.size == 0 or not _has_matching(similarity >= values[0]):
        return None
    low, high = 0, values.size - 1  # a full matching exists at values[low]
    while low < high:
        middle = (low + high + 1) // 2
        if _has_matching(similarity >= values[middle]):
            low = middle
        else:
            high = middle - 1
    allowed = similarity >= values[low]
    return _best_total(np.where(allowed, similarity, -np.inf))


def _has_matching(allowed: np.ndarray) -> bool:
    """Whether every person (column) can have a face (row) of their own among `allowed`."""
    faces, people = allowed.shape
    owner = [-1] * faces  # the person holding each face

    def claim(person: int, seen: list[bool]) -> bool:
        for face in np.flatnonzero(allowed[:, person]):
            if not seen[face]:
                seen[face] = True
                if owner[face] < 0 or claim(owner[face], seen):
                    owner[face] = person
                    return True
        return False

    return all(claim(person, [False] * faces) for person in range(people))


def _best_total(weights: np.ndarray) -> dict[int, int]:
    """The assignment of people (columns) to distinct faces (rows) with the largest total
    weight (-inf = not allowed; a full assignment must exist): the Hungarian method on
    costs = -weights, O(people^2 x faces)."""
    faces, people = weights.shape
    finite = weights[np.isfinite(weights)]
    forbidden = float(np.abs(finite).sum() + 1.0) * (people + 1)  # worse than any allowed total
    cost = np.where(np.isfinite(weights), -weights, forbidden).T  # (people, faces)
    # Potentials u (people), v (faces); way[j]: previous face on the augmenting path to j.
    u, v = np.zeros(people + 1), np.zeros(faces + 1)
    match = np.zeros(faces + 1, dtype=int)  # person (1-based) holding face j; 0 = none
    way = np.zeros(faces + 1, dtype=int)
    for person in range(1, people + 1):
        match[0] = person
        face = 0
        least = np.full(faces + 1, np.inf)
        used = np.zeros(faces + 1, dtype=bool)
        while True:
            used[face] = True
            current = match[face]
            reduced = cost[current - 1] - u[current] - v[1:]
            better = ~used[1:] & (reduced < least[1:])
            least[1:][better] = reduced[better]
            way[1:][better] = face
            free = np.flatnonzero(~used[1:]) + 1
            step_face = free[np.argmin(least[free])]
            delta = least[step_face]
            u[match[used]] += delta
            v[used] -= delta
            least[~used] -= delta
            face = step_face
            if match[face] == 0:
                break
        while face:
            previous = way[face]
            match[face] = match[previous]
            face = previous
    return {int(match[face]) - 1: face - 1 for face in range(1, faces + 1) if match[face]}
