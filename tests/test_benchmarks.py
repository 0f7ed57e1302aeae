"""The benchmark scripts stay runnable (tests never time anything: they check the output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_search_benchmark_runs_on_a_tiny_album() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_search.py", "--sizes", "2000", "--runs", "2", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [(row["people"], row["mode"]) for row in rows] == [
        (1, "any"), (1, "all"), (3, "any"), (3, "all"), (5, "any"), (5, "all"),
    ]
    # Each person is planted alone in 40 photos and all together in 40 more.
    assert [row["results"] for row in rows] == [80, 80, 160, 40, 240, 40]
    assert all(row["p95_ms"] >= row["median_ms"] > 0 for row in rows)
