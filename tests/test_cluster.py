"""Indexing on a real Ray cluster (started by the tests: `ray.init(num_cpus=2)`, and two nodes
with `ray.cluster_utils.Cluster`): the same index as the local builder, written to the store as
chunks arrive, resumable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from facefind.analysis.faces import FaceEmbedder
from facefind.config import face_settings
from facefind.indexing.builder import IndexBuilder
from facefind.sources.folders import open_album
from facefind.stores.npz import AlbumIndex

from .builders import ROOT

ray = pytest.importorskip(
    "ray", reason="cluster indexing needs Ray: pip install 'facefind[cluster]'"
)

NAMES = ["img1.jpg", "img2.jpg", "img5.jpg", "img16.jpg", "couple.jpg", "img20.jpg"]


@pytest.fixture(scope="module")
def event(tmp_path_factory, all_photos: dict[str, bytes]) -> Path:
    folder = tmp_path_factory.mktemp("event")
    for name in NAMES:
        (folder / name).write_bytes(all_photos[name])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    (folder / "notes.txt").write_text("not a photo")
    return folder


@pytest.fixture(scope="module")
def local_index(event: Path) -> AlbumIndex:
    builder = IndexBuilder(FaceEmbedder(face_settings("Dlib")), helper_process=False)
    return builder.build(open_album([event]))


@pytest.fixture(scope="module")
def ray_temp():
    """Ray's session files in a short folder of their own (socket paths must stay short),
    removed with the cluster."""
    folder = tempfile.mkdtemp(prefix="ffray")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def assert_same_index(mine: AlbumIndex, theirs: AlbumIndex) -> None:
    """Same photos, faces and skipped files; embeddings equal within 1e-5 (photos may be in
    another order: chunks finish in any order)."""
    assert sorted(p.name for p in mine.photos) == sorted(p.name for p in theirs.photos)
    assert sorted((s.name, s.reason) for s in mine.skipped) == sorted(
        (s.name, s.reason) for s in theirs.skipped
    )
    assert mine.face_count == theirs.face_count
    for photo in theirs.photos:
        a = mine.faces_in([mine.photos.id_of(photo.name)])
        b = theirs.faces_in([theirs.photos.id_of(photo.name)])
        assert a.boxes.tolist() == b.boxes.tolist()
        np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)


def test_two_workers_give_the_local_builders_index_and_a_resumed_run_adds_only_the_rest(
    event: Path, local_index: AlbumIndex, ray_temp: str
) -> None:
    from facefind.indexing.cluster import JoinedParts, index_on_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=ray_temp)
    try:
        builder = IndexBuilder(FaceEmbedder(face_settings("Dlib")), helper_process=False)
        seen: list[tuple[int, int]] = []
        parts = JoinedParts([])
        added, before = index_on_ray(
            ray, open_album([event]), builder, parts, 2, lambda *p: seen.append(p), chunk=2
        )
        assert (added, before) == (7, 0) and seen[-1] == (7, 7)
        assert len(parts.parts) >= 4, "written chunk by chunk as they arrived"
        assert_same_index(AlbumIndex.joined(parts.parts), local_index)

        class HalfDone(JoinedParts):
            def done_photos(self) -> set[str]:
                return {"broken.jpg", "couple.jpg", "img1.jpg", "notes.txt"}

        rest = HalfDone([])
        assert index_on_ray(ray, open_album([event]), builder, rest, 2, chunk=2) == (4, 3)
        assert sorted(p.name for part in rest.parts for p in part.photos) == [
            "img16.jpg",
            "img2.jpg",
            "img20.jpg",
            "img5.jpg",
        ]
    finally:
        ray.shutdown()


def test_a_two_node_cluster_indexes_the_same_album(
    event: Path, local_index: AlbumIndex, ray_temp: str
) -> None:
    from ray.cluster_utils import Cluster

    from facefind.indexing.cluster import JoinedParts, index_on_ray

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": ray_temp},
    )
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        assert len(ray.nodes()) == 2
        builder = IndexBuilder(FaceEmbedder(face_settings("Dlib")), helper_process=False)
        parts = JoinedParts([])
        assert index_on_ray(ray, open_album([event]), builder, parts, chunk=2) == (7, 0)
        assert_same_index(AlbumIndex.joined(parts.parts), local_index)
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_the_cli_indexes_on_a_local_cluster(event: Path, tmp_path: Path, ray_temp: str) -> None:
    """Run by the `facefind` command from the folder above a clone named "facefind" (the
    workers import the package, not that folder), with no UForm model to be had (said once)."""
    command = Path(sys.executable).with_name("facefind")
    if not command.exists():
        pytest.skip("the facefind command is not installed (pip install -e .)")
    above = tmp_path / "above"
    above.mkdir()
    (above / "facefind").symlink_to(ROOT, target_is_directory=True)
    out = tmp_path / "event.facefind"
    made = subprocess.run(
        [str(command), "index", str(event), "-o", str(out), "--ray", "local", "--workers", "2"]
        + ["--model", "Dlib", "--no-words"],
        capture_output=True,
        text=True,
        cwd=above,
        env={**os.environ, "FACEFIND_UFORM_MODEL": str(tmp_path / "no-uform-here")},
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    assert "7 photos indexed now, 0 there already: 6 photos" in made.stderr
    assert "broken.jpg" in made.stderr and "notes.txt" in made.stderr
    assert made.stderr.count("UForm") == 1, made.stderr  # not described: said, once
    assert len(AlbumIndex.load(out).photos) == 6
