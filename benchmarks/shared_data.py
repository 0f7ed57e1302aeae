"""Where the benchmarks find the shared labelled photos (never part of facefind itself)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared_faces_folder() -> Path:
    """`FACEFIND_TEST_FACES`, else ../shared/data/faces beside the project."""
    return Path(os.environ.get("FACEFIND_TEST_FACES") or ROOT.parent / "shared" / "data" / "faces")
