"""Vector helpers shared by the face and the photo models (neither imports the other)."""

from __future__ import annotations

import numpy as np


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so that a dot product is a cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def mean_direction(vectors: np.ndarray) -> np.ndarray:
    """One unit-length row for several unit vectors of one thing (a person's faces): their
    mean, normalised. Shape (1, d)."""
    return l2_normalize(np.asarray(vectors, dtype=np.float32).mean(axis=0, keepdims=True))
