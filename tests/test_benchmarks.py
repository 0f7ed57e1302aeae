"""The benchmark scripts stay runnable (tests never time anything: they check the output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import missing_test_data

ROOT = Path(__file__).resolve().parent.parent


def accuracy_report(*options: str) -> dict:
    """bench_accuracy.py run as a user runs it, with --json: its report."""
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_accuracy.py", *options, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_search_benchmark_runs_on_a_tiny_album() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_search.py", "--sizes", "2000", "--runs", "2", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [(row["people"], row["mode"]) for row in rows] == [
        (1, "any"),
        (1, "all"),
        (3, "any"),
        (3, "all"),
        (5, "any"),
        (5, "all"),
    ]
    # Each person is planted alone in 40 photos and all together in 40 more.
    assert [row["results"] for row in rows] == [80, 80, 160, 40, 240, 40]
    assert all(row["p95_ms"] >= row["median_ms"] > 0 for row in rows)  # a latency, not a count
    crowd = json.loads(result.stdout)["crowd"]
    assert (crowd["people"], crowd["faces"], crowd["matched"]) == (10, 40, 10)
    grouping = json.loads(result.stdout)["grouping"]
    # the five planted people (80 photos each) are found; random faces stay "others"
    assert [(row["faces"], row["people"]) for row in grouping] == [(2000, 5)]


def test_index_benchmark_runs_on_a_tiny_album(faces_dir, tiny_uform) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_index.py",
            "--photos",
            "2",
            "--baseline-photos",
            "1",
            "--detector",
            "opencv",
            "--faces",
            str(faces_dir),
            "--with-images",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "FACEFIND_UFORM_MODEL": str(tiny_uform)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["photos"] == 2 and report["compared_photos"] == 1
    assert report["facefind"]["photos"] == 2 and report["baseline"]["photos"] == 1
    for pipeline in ("baseline", "facefind"):
        figures = report[pipeline]
        # the rate is the photos over the time it printed (seconds are rounded to 0.1: a fast
        # run of 0.3 s can be 0.25-0.35 s)
        slowest = figures["photos"] / (figures["seconds"] + 0.05)
        fastest = figures["photos"] / max(figures["seconds"] - 0.05, 1e-9)
        assert slowest * 0.99 <= figures["photos_per_s"] <= fastest * 1.01
        assert figures["peak_rss_mib"] > 100, "the models alone take more than 100 MiB"
        assert figures["with_images"], "UForm photo embeddings were computed too"
    # both photos' people found by one query each, and nothing else
    assert (report["facefind"]["precision"], report["facefind"]["recall"]) == (1.0, 1.0)
    speedup = report["facefind"]["photos_per_s"] / report["baseline"]["photos_per_s"]
    assert report["speedup"] == pytest.approx(speedup, abs=0.01)


def test_accuracy_benchmark_runs_on_a_tiny_labelled_album(faces_dir, tmp_path: Path) -> None:
    """A user's labelled album: one photo per person held out as the query, the rest searched."""
    album = tmp_path / "album"
    album.mkdir()
    truth = {
        "img1.jpg": "person01",
        "img2.jpg": "person01",
        "img4.jpg": "person01",
        "img16.jpg": "person06",
        "img17.jpg": "person06",
        "img59.jpg": "person06",
    }
    for name in [*truth, "img20.jpg"]:  # img20: someone else, unlabelled (a distractor)
        (album / name).write_bytes((faces_dir / name).read_bytes())
    csv_file = tmp_path / "truth.csv"
    csv_file.write_text("file,person\n" + "".join(f"{n},{p}\n" for n, p in truth.items()))
    report = accuracy_report("--suite", "", "--album", str(album), "--truth", str(csv_file))
    figures = report["suites"]["album"]
    assert report["model"] == "Dlib"
    assert figures["photos"] == 5 and figures["people"] == 2 and figures["true_pairs"] == 4
    assert (figures["precision"], figures["recall"]) == (1.0, 1.0)
    assert figures["misses"] == [] and figures["false_hits"] == []


def test_bib_benchmark_counts_found_and_missed_bibs(faces_dir, tmp_path: Path) -> None:
    """Two real race photos and their bibs, plus one bib no photo shows: it is a miss, with
    what was read in that photo instead."""
    source = faces_dir.parent / "albums" / "bibs"
    if not (source / "in13.jpg").is_file():
        missing_test_data(f"the bibs album is not at {source}")
    album = tmp_path / "album"
    album.mkdir()
    for name in ("in13.jpg", "in17.jpg"):
        (album / name).write_bytes((source / name).read_bytes())
    bibs = tmp_path / "bibs.csv"
    bibs.write_text("file,bib\nin13.jpg,27\nin13.jpg,62\nin17.jpg,123\nin17.jpg,4040\n")
    options = ["--album", str(album), "--bibs", str(bibs), "--suite", "", "--bib-sizes", "full,800"]
    report = accuracy_report(*options)["suites"]["bibs"]
    assert (report["photos"], report["bibs"], list(report["sizes"])) == (2, 4, ["full", "800"])
    for size, figures in report["sizes"].items():
        for who in (figures, figures["plain"]):  # facefind, and plain RapidOCR beside it
            assert who["found"] == 3, (size, who)
            assert (who["precision"], who["recall"]) == (1.0, 0.75)
            assert [(m["bib"], m["photo"]) for m in who["misses"]] == [("4040", "in17.jpg")]
            assert "123" in who["misses"][0]["read"]
            assert who["read_ms_per_photo"] > 0


def test_served_event_benchmark_runs_runners_and_hostile_sessions(faces_dir) -> None:
    """bench_served.py: real sessions of the app on an event; every selfie search finds the
    person's photos, and every 196 MP PNG is refused."""
    env = {**os.environ, "FACEFIND_TEST_FACES": str(faces_dir)}
    common = [sys.executable, "benchmarks/bench_served.py", "--faces", "2000", "--json"]
    runs = [["--sessions", "2", "--searches", "1"], ["--hostile", "2"]]
    reports = []
    for extra in runs:
        result = subprocess.run(
            common + extra, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
        )
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(result.stdout.strip().splitlines()[-1]))
    load, hostile = reports
    assert (load["sessions"], load["searches"], load["errors"]) == (2, 2, 0)
    assert load["p95_ms"] >= load["median_ms"] > 0
    assert hostile["bombs_refused"] == hostile["hostile_sessions"] == 2
    assert hostile["rss_peak_mib"] >= hostile["rss_before_mib"] > 0


def test_people_on_real_race_photos_is_made_of_runners_only(faces_dir) -> None:
    """People on the 21 real race photos: no person made of spectators, slivers at the frame's
    edge or out-of-focus faces, and none mixing two of the runners labelled by eye
    (benchmarks/bibs_runners.csv); the runner seen in two photos is one person."""
    source = faces_dir.parent / "albums" / "bibs"
    if not (source / "in16.jpg").is_file():
        missing_test_data(f"the bibs album is not at {source}")
    runners = accuracy_report("--suite", "runners", "--faces", str(faces_dir))["suites"]["runners"]
    assert runners["mixed"] == 0 and runners["with_unrecognisable"] == 0, runners["groups"]
    assert {"photos": ["in16.jpg", "in17.jpg"], "runners": ["r17"], "unlabelled_faces": 0} in (
        runners["groups"]
    )


def test_the_degraded_suite_is_the_same_every_run(faces_dir) -> None:
    """benchmarks/degrade.py: each kind changes the photo, and the same photo, kind and seed
    always give the same bytes (the suite's figures can be compared run to run)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from degrade import KINDS, degraded

    data = (faces_dir / "couple.jpg").read_bytes()
    faces = [(1380, 281, 610, 859), (352, 481, 590, 879)]
    for kind in KINDS:
        once = degraded(data, kind, faces, seed="couple.jpg")
        assert once == degraded(data, kind, faces, seed="couple.jpg"), kind
        assert once != degraded(data, kind, faces, seed="another.jpg") or kind == "occluded"
        assert once[:2] == b"\xff\xd8" and once != data
