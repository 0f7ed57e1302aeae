"""facefind as a package: pip-installable, a `facefind` command, dependencies in step."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {
        line.strip()
        for line in lines
        if line.strip() and not line.startswith(("#", "-e", "./"))  # "./": local stand-ins
    }


def test_pyproject_lists_the_same_pins_as_requirements() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= set(extra)
    assert declared == requirement_lines()


def test_the_facefind_command_runs_from_any_folder(tmp_path: Path) -> None:
    command = shutil.which("facefind", path=os.path.dirname(sys.executable))
    if command is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("requirements.txt installs facefind itself (-e .): the command is missing")
        pytest.skip("facefind is not installed in this environment (pip install -e .)")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [command, "--version"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"facefind \d+\.\d+\.\d+\n", result.stdout)
    usage = subprocess.run(
        [command, "search"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert usage.returncode == 2 and usage.stderr.startswith("usage: facefind search")


def test_the_fetch_script_derives_the_shared_identities(faces_dir: Path) -> None:
    """tests/fetch_faces.py rebuilds identities.csv from DeepFace's pair lists, as shared has it."""
    import csv

    from .fetch_faces import FILES, PAIR_LISTS, identities

    derived = identities([(faces_dir / name).read_text() for name in PAIR_LISTS])
    with open(faces_dir / "identities.csv", newline="") as handle:
        assert derived == {row["file"]: row["person"] for row in csv.DictReader(handle)}
    assert {path.name for path in faces_dir.iterdir()} - set(FILES) == {"identities.csv"}


def test_the_laptop_path_imports_no_database_driver_and_no_cluster() -> None:
    """Ray, psycopg and pgvector are for an event (facefind[cluster]): indexing and searching
    an album zip, and the app's modules, never import them."""
    code = (
        "import sys, facefind.ui.cli, facefind.indexing.builder, facefind.search.faces, "
        "facefind.search.people, facefind.ui.event, facefind.sources.folders, "
        "facefind.stores.base\n"
        "print(sorted(m for m in ('ray', 'psycopg', 'pgvector', 'pgserver') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
