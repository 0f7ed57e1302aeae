"""Shared fixtures: the real face photos, albums zipped in memory, one index built once.

Helpers that build inputs are in builders.py.

The photos live outside the repository (`FACEFIND_TEST_FACES`, else `../shared/data/faces`);
they are never copied into it. Tests use the offline Dlib model; DeepFace's weights folder is a
temporary one, so the tests also prove that facefind sets up the offline weights from nothing.
"""

from __future__ import annotations

import csv
import os
import tempfile
import uuid
from pathlib import Path

import pytest

# Before facefind imports DeepFace: a private, empty weights home for this test session.
os.environ["DEEPFACE_HOME"] = tempfile.mkdtemp(prefix="facefind-deepface-home-")
os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")

from facefind.config import FaceSettings  # noqa: E402

from .builders import zip_bytes  # noqa: E402

#: People that appear in photos beyond identities.csv (shared/README.md says who is where).
EXTRA_APPEARANCES = {
    "couple.jpg": {"person01"},  # and a man who is in no other photo
    "selfie-many-people.jpg": {"person01"},
    "img11_reflection.jpg": {"person01"},
}
TEST_SETTINGS = FaceSettings(model="Dlib")


def missing_test_data(reason: str) -> None:
    """Skip where test photos are missing on a developer's machine, but fail under CI (CI=true):
    a green run that tested nothing must not happen there. README says where to get them."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI needs them", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    root = Path(__file__).resolve().parent.parent
    default = root.parent / "shared" / "data" / "faces"
    folder = Path(os.environ.get("FACEFIND_TEST_FACES") or default).resolve()
    if not (folder / "identities.csv").is_file():
        missing_test_data(f"the shared face photos are not at {folder} (set FACEFIND_TEST_FACES)")
    return folder


@pytest.fixture(scope="session")
def identities(faces_dir: Path) -> dict[str, str]:
    """file -> person, for the labelled single-person photos."""
    with open(faces_dir / "identities.csv", newline="") as handle:
        return {row["file"]: row["person"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="session")
def people_in(identities: dict[str, str]) -> dict[str, set[str]]:
    """file -> every person known to be in it (labelled photos, the couple, the selfie)."""
    result = {name: {person} for name, person in identities.items()}
    for name, people in EXTRA_APPEARANCES.items():
        result.setdefault(name, set()).update(people)
    return result


@pytest.fixture(scope="session")
def all_photos(faces_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(faces_dir.glob("*.jpg"))}


@pytest.fixture(scope="session")
def album_zip(all_photos: dict[str, bytes]) -> bytes:
    """All 64 shared photos in one zip."""
    return zip_bytes(all_photos)


@pytest.fixture(scope="session")
def album_index(album_zip: bytes):
    """The 64-photo album indexed once with the default detector and the offline Dlib model."""
    from facefind.indexing.builder import build_index

    return build_index(album_zip, TEST_SETTINGS)


@pytest.fixture(scope="session")
def dark_turned_face(faces_dir: Path) -> bytes:
    """people2/p049.jpg: a dark face turned under a helmet, which dlib's HOG never finds."""
    picture = faces_dir.parent / "albums" / "people2" / "p049.jpg"
    if not picture.is_file():
        missing_test_data(f"the people2 album is not at {picture.parent}")
    return picture.read_bytes()


@pytest.fixture(scope="session")
def embedder():
    from facefind.analysis.faces import FaceEmbedder

    return FaceEmbedder(TEST_SETTINGS)


@pytest.fixture(scope="session")
def tiny_uform(tmp_path_factory) -> Path:
    """A tiny UForm-format model folder whose embeddings match colour words to colours."""
    from .tiny_uform import build_tiny_uform

    return build_tiny_uform(tmp_path_factory.mktemp("tiny-uform"))


@pytest.fixture(scope="session")
def event_index(tmp_path_factory, all_photos: dict[str, bytes]) -> Path:
    """A race folder indexed from the command line (faces and words), as an organiser does:
    person01 in img1 and img2, two other people, a bib reading 4711."""
    from .builders import facefind, printed_jpeg

    root = tmp_path_factory.mktemp("race")
    photos = root / "photos"
    photos.mkdir()
    for name in ("img1.jpg", "img2.jpg", "img16.jpg", "img20.jpg"):
        (photos / name).write_bytes(all_photos[name])
    (photos / "bib.jpg").write_bytes(printed_jpeg("4711"))
    index = root / "race.facefind"
    made = facefind("index", str(photos), "-o", str(index), "--model", "Dlib", "--no-text")
    assert made.returncode == 0, made.stderr
    return index


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """One PostgreSQL 16 + pgvector server (the `pgserver` wheel) for the whole run, stopped at
    the end."""
    pgserver = pytest.importorskip(
        "pgserver",
        reason="the store tests need PostgreSQL: pip install 'facefind[cluster]' pgserver",
    )
    pytest.importorskip(
        "psycopg", reason="the store needs psycopg: pip install 'facefind[cluster]'"
    )
    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def store_url(postgres) -> str:
    """A new, empty database for each test."""
    name = f"facefind_{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE DATABASE {name};")
    return postgres.get_uri(name)
