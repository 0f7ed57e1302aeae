"""Soak: index the same 300-photo album five times in one process; memory must not grow.

Slow (several minutes), so not in the default run: `.venv/bin/python -m pytest -m slow -s`.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from facefind.analysis.faces import FaceEmbedder
from facefind.indexing.builder import IndexBuilder
from facefind.sources.archive import Album

from .builders import zip_bytes
from .conftest import TEST_SETTINGS


def resident_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this system")


def child_processes() -> list[str]:
    """Processes this one started and that are still there (facefind's helper, if it leaked)."""
    tasks = Path("/proc/self/task").glob("*/children")
    return [pid for task in tasks for pid in task.read_text().split()]


@pytest.mark.slow
def test_indexing_again_and_again_does_not_grow_memory(all_photos: dict[str, bytes]) -> None:
    names = sorted(all_photos)
    picks = [names[n % len(names)] for n in range(300)]
    album = zip_bytes({f"{n:03d}-{name}": all_photos[name] for n, name in enumerate(picks)})
    embedder = FaceEmbedder(TEST_SETTINGS)
    after_each = []
    for _ in range(5):
        index = IndexBuilder(embedder).build(Album(album))
        assert len(index.photos) == 300
        del index
        gc.collect()
        after_each.append(resident_mib())
        assert child_processes() == [], "the face model's helper process outlived the album"
    print("resident MiB after each of 5 runs:", [round(value) for value in after_each])
    # The first runs warm up allocators and model caches; after that memory must be flat.
    assert after_each[-1] - after_each[1] < 60
