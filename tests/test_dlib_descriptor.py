"""dlib's face model rebuilt in OpenVINO from its own weights file gives dlib's vectors, from
several threads at once, and a file it cannot rebuild leaves dlib itself embedding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from facefind.analysis.dlib_descriptor import (
    NotTheDescriptorNetwork,
    descriptor_network,
    read_network,
)
from facefind.analysis.faces import (
    FaceEmbedder,
    _embed_with_deepface,
    embed_crops,
    fast_dlib_network,
)
from facefind.analysis.runtime import MODEL_WEIGHT_FILES, dlib_model_file

from .conftest import TEST_SETTINGS


@pytest.fixture(scope="module")
def crops(all_photos: dict[str, bytes]) -> list[np.ndarray]:
    embedder = FaceEmbedder(TEST_SETTINGS)
    found = []
    for name in ("couple.jpg", "img1.jpg", "img16.jpg", "selfie-many-people.jpg"):
        found += [face.crop for face in embedder.detect(embedder.decode(all_photos[name]))]
    assert len(found) >= 5
    return found


def test_the_rebuilt_network_gives_dlibs_vectors(crops: list[np.ndarray]) -> None:
    assert fast_dlib_network() is not None, "OpenVINO is in the requirements"
    assert FaceEmbedder(TEST_SETTINGS).embeds_without_gil()
    rebuilt = embed_crops(crops, "Dlib")
    by_dlib = _embed_with_deepface(crops, "Dlib")
    assert rebuilt.shape == by_dlib.shape == (len(crops), 128)
    assert np.abs(rebuilt - by_dlib).max() < 1e-5


def test_threads_embed_at_once_and_each_gets_its_own_faces(crops: list[np.ndarray]) -> None:
    alone = [embed_crops([crop], "Dlib")[0] for crop in crops]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda crop: embed_crops([crop], "Dlib")[0], crops * 3))
    for index, vector in enumerate(together):
        assert np.allclose(vector, alone[index % len(crops)], atol=1e-6)


def test_a_file_that_is_not_the_network_leaves_dlib_embedding(tmp_path: Path) -> None:
    weights = dlib_model_file(MODEL_WEIGHT_FILES["Dlib"])
    assert weights is not None
    data = weights.read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2])  # an interrupted download
    with pytest.raises((NotTheDescriptorNetwork, ValueError)):
        read_network(cut.read_bytes())
    assert descriptor_network(cut) is None
    other = tmp_path / "other.dat"
    other.write_bytes(b"\x01\x01\x01\rloss_metric_2" + bytes(64))  # no network in it
    assert descriptor_network(other) is None
