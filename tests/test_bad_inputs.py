"""A corpus of bad inputs, generated here, run through the library, the CLI and the app.

Expected everywhere: the good photos are indexed and found, each bad entry is reported once
with a reason a person understands, nothing crashes, and bombs are refused by the limits
before they can use up memory.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facefind.errors import ArchiveError, NoFaceError
from facefind.indexing.builder import build_index
from facefind.search.faces import query_faces, search_faces, stack_embeddings

from .builders import legacy_named_zip, png_header_only, set_entry_flags, solid_jpeg, zip_bytes
from .conftest import TEST_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def rotated_with_exif(photo: bytes, orientation: int) -> bytes:
    """The photo stored turned, with the EXIF tag that turns it upright again (as phones do)."""
    upright = Image.open(io.BytesIO(photo)).convert("RGB")
    stored = {
        3: upright.transpose(Image.Transpose.ROTATE_180),
        6: upright.transpose(Image.Transpose.ROTATE_90),
        8: upright.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=92, exif=exif)


def forty_small_faces(all_photos: dict[str, bytes], identities: dict[str, str]) -> bytes:
    """A 1600x1000 mosaic of 40 faces of ~120 px: a class photo."""
    canvas = Image.new("RGB", (1600, 1000), (200, 200, 200))
    names = sorted(identities)
    for cell in range(40):
        image = Image.open(io.BytesIO(all_photos[names[cell % len(names)]])).convert("RGB")
        image.thumbnail((200, 200))
        column, row = cell % 8, cell // 8
        canvas.paste(image, (column * 200, row * 200))
    return encode(canvas, "JPEG", quality=90)


def animated_gif(photo: bytes) -> bytes:
    first = Image.open(io.BytesIO(photo)).convert("RGB")
    first.thumbnail((800, 800))
    second = Image.new("RGB", first.size, (0, 0, 0))
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=200, loop=0)
    return buffer.getvalue()


@dataclass
class Case:
    """An album, and what facefind must do with it."""

    name: str
    album: bytes
    error: str | None = None  # the whole album is refused with this message
    photos: set[str] = field(default_factory=set)  # else: these are indexed...
    skipped: dict[str, str] = field(default_factory=dict)  # ...and these reported, with why


def archive_cases(all_photos: dict[str, bytes]) -> list[Case]:
    good = all_photos["img1.jpg"]
    rng = random.Random(5)
    nested = zip_bytes({"inner/a.jpg": good})
    many = {f"tiny/{n:05d}.txt": b"x" for n in range(20_000)}
    many["good.jpg"] = good
    return [
        Case("jpeg renamed .zip", good, error="not a zip archive"),
        Case(
            "random bytes",
            bytes(rng.randrange(256) for _ in range(5000)),
            error="not a zip archive",
        ),
        Case("empty file", b"", error="not a zip archive"),
        Case(
            "truncated zip", zip_bytes({"a.jpg": good})[: len(good) // 2], error="not a zip archive"
        ),
        Case(
            "encrypted",
            set_entry_flags(zip_bytes({"a.jpg": good}), 0x1),
            error="password-protected",
        ),
        Case(
            "zip bomb",
            zip_bytes({"bomb.png": b"\0" * (200 * 1024**2), "good.jpg": good}),
            photos={"good.jpg"},
            skipped={"bomb.png": "zip bomb"},
        ),
        Case(
            "20k tiny entries",
            zip_bytes(many),
            photos={"good.jpg"},
            skipped={name: "not a photo (.txt)" for name in many if name.endswith(".txt")},
        ),
        Case(
            "zip in the zip",
            zip_bytes({"nested.zip": nested, "good.jpg": good}),
            photos={"good.jpg"},
            skipped={"nested.zip": "a zip inside the zip"},
        ),
        Case(
            "absolute and ../ names",
            zip_bytes({"/abs/a.jpg": good, "../up/b.jpg": good}),
            photos={"/abs/a.jpg", "../up/b.jpg"},
        ),
        Case(
            "same file name in two folders",
            zip_bytes({"day1/a.jpg": good, "day2/a.jpg": all_photos["img2.jpg"]}),
            photos={"day1/a.jpg", "day2/a.jpg"},
        ),
        Case(
            "cp437 and Shift-JIS names",
            legacy_named_zip(
                ["写真/運動会.jpg".encode("shift_jis"), "caf\x82.jpg".encode("latin-1")]
            ),
            skipped={
                "写真/運動会.jpg": "not a photo facefind can read",
                "café.jpg": "not a photo facefind can read",
            },
        ),
        Case("empty zip", zip_bytes({}), error="The album is empty: it holds no files"),
        Case(
            "zip without photos",
            zip_bytes({"notes.txt": b"hello", "__MACOSX/._x.jpg": b"junk"}),
            error="no photos facefind can read",
        ),
    ]


def photo_case(all_photos: dict[str, bytes], identities: dict[str, str]) -> Case:
    me = all_photos["img1.jpg"]
    noise = np.random.default_rng(1).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    truncated = encode(Image.fromarray(noise), "JPEG")
    sixteen_bit = np.asarray(Image.open(io.BytesIO(me)).convert("L"), dtype=np.uint16) * 257
    palette = Image.new("P", (300, 200), 0)
    palette.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    good = {
        "me.jpg": me,
        "rotated-3.jpg": rotated_with_exif(all_photos["img2.jpg"], 3),
        "rotated-6.jpg": rotated_with_exif(all_photos["img5.jpg"], 6),
        "rotated-8.jpg": rotated_with_exif(all_photos["img6.jpg"], 8),
        "cmyk.jpg": encode(Image.open(io.BytesIO(all_photos["img7.jpg"])).convert("CMYK"), "JPEG"),
        "16-bit.png": encode(Image.fromarray(sixteen_bit), "PNG"),
        "palette.png": encode(palette, "PNG", transparency=0),
        "animated.gif": animated_gif(all_photos["img10.jpg"]),
        "photo.webp": encode(Image.open(io.BytesIO(all_photos["img11.jpg"])), "WEBP", quality=90),
        "grey.jpg": encode(Image.open(io.BytesIO(all_photos["img4.jpg"])).convert("L"), "JPEG"),
        "20x20.jpg": solid_jpeg((90, 90, 90), (20, 20)),
        "no-face.jpg": solid_jpeg((40, 120, 200), (1200, 800)),
        "class-photo.jpg": forty_small_faces(all_photos, identities),
    }
    bad = {
        "truncated.jpg": (truncated[: len(truncated) // 3], "incomplete"),
        "zero.jpg": (b"", "empty file"),
        "text.jpg": (b"I am a text file", "not a photo facefind can read"),
        "bomb.png": (png_header_only(30000, 30000), "too many pixels"),
    }
    files = {**good, **{name: data for name, (data, _) in bad.items()}}
    return Case(
        "photos of every kind",
        zip_bytes(files),
        photos=set(good),
        skipped={name: reason for name, (_, reason) in bad.items()},
    )


@pytest.fixture(scope="module")
def cases(all_photos, identities) -> list[Case]:
    return [*archive_cases(all_photos), photo_case(all_photos, identities)]


def check_skipped(case: Case, reported: list[tuple[str, str]]) -> None:
    names = [name for name, _ in reported]
    assert len(names) == len(set(names)), "each bad entry is reported once"
    reasons = dict(reported)
    for name, reason in case.skipped.items():
        assert name in reasons, f"{case.name}: {name} is not reported"
        assert reason in reasons[name], f"{case.name}: {name}: {reasons[name]!r}"


def test_library_indexes_the_good_and_reports_the_bad(cases: list[Case]) -> None:
    for case in cases:
        if case.error:
            with pytest.raises(ArchiveError, match=case.error):
                build_index(case.album, TEST_SETTINGS)
            continue
        index = build_index(case.album, TEST_SETTINGS)
        assert {photo.name for photo in index.photos} == case.photos, case.name
        check_skipped(case, [(item.name, item.reason) for item in index.skipped])


@pytest.fixture(scope="module")
def photo_index(cases: list[Case]):
    return build_index(cases[-1].album, TEST_SETTINGS)


def test_good_photos_of_every_kind_are_found(photo_index, embedder, all_photos) -> None:
    """A rotated, CMYK, GIF or WebP photo of someone is found like any other."""
    me = stack_embeddings(query_faces(embedder, all_photos["img1.jpg"]))
    found = {hit.name for hit in search_faces(photo_index, me)}
    assert {"me.jpg", "rotated-3.jpg", "rotated-6.jpg", "rotated-8.jpg", "cmyk.jpg"} <= found
    assert {"animated.gif", "photo.webp"} <= found
    assert not found & {"no-face.jpg", "20x20.jpg", "palette.png"}
    faces = np.bincount(photo_index.face_photo, minlength=len(photo_index.photos))
    per_photo = {
        info.name: int(count) for info, count in zip(photo_index.photos, faces, strict=True)
    }
    assert per_photo["grey.jpg"] >= 1 and per_photo["16-bit.png"] >= 1
    assert per_photo["class-photo.jpg"] >= 25, "most of the 40 small faces are found"


def test_rotated_selfie_still_matches(photo_index, embedder, all_photos) -> None:
    selfie = rotated_with_exif(all_photos["img4.jpg"], 6)
    hits = search_faces(photo_index, stack_embeddings(query_faces(embedder, selfie)))
    assert "me.jpg" in {hit.name for hit in hits}


@pytest.mark.parametrize(
    "picture, name",
    [
        (solid_jpeg((10, 10, 10), (640, 480)), "a very dark picture"),
        (solid_jpeg((120, 120, 120), (32, 24)), "a tiny picture"),
    ],
)
def test_unusable_queries_say_why(embedder, picture: bytes, name: str) -> None:
    with pytest.raises(NoFaceError, match=f"No face found in {name}"):
        query_faces(embedder, picture, name=name)


def test_cli_on_every_case(cases: list[Case], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for number, case in enumerate(cases):
        album = tmp_path / f"case{number}.zip"
        album.write_bytes(case.album)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "facefind",
                "index",
                str(album),
                "--model",
                "Dlib",
                "--no-text",
                "--quiet",
                "-o",
                str(tmp_path / f"case{number}.facefind"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert "Traceback" not in result.stderr, case.name
        if case.error:
            assert result.returncode == 2, (case.name, result.stderr)
            assert case.error in result.stderr, (case.name, result.stderr)
            continue
        assert result.returncode == 0, (case.name, result.stderr)
        reported = [
            tuple(line.strip().split(": ", 1))
            for line in result.stderr.splitlines()
            if line.startswith("  ")
        ]
        check_skipped(case, reported)


def test_app_on_every_case(cases: list[Case], monkeypatch, tiny_uform) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FACEFIND_UFORM_MODEL", str(tiny_uform))
    for case in cases:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        app.run()
        app.sidebar.selectbox[0].set_value("Dlib")
        app.main.file_uploader[0].set_value(("data.zip", case.album, "application/zip"))
        app.run()
        assert not app.exception, (case.name, app.exception)
        if case.error:
            assert any(case.error in error.value for error in app.error), case.name
            continue
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics["Photos"] == str(len(case.photos)), case.name
        assert int(metrics["Files skipped"]) >= len(case.skipped), case.name
