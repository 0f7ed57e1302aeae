"""Search in PostgreSQL + pgvector against the in-memory .npz store, on synthetic albums.

    python benchmarks/bench_pgstore.py [--faces 1000000] [--queries 100] [--url postgresql://...]

The album is bench_search's: random unit 128-D faces, five per photo, five people planted in 40
photos alone and 40 together. Without --url a PostgreSQL 16 with pgvector 0.6.2 is started from
the `pgserver` wheel in a temporary folder. Prints the time to load and build the HNSW index,
the median and p95 latency of a search for 3 query faces (HNSW candidates re-checked exactly;
the exact sequential scan; the .npz store in memory), and whether the photos found through
HNSW equal the exact search's over `--queries` random queries at the default bar (half of them
near a planted person, half near random album faces).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_search import synthetic_index  # noqa: E402
from pg_database import database  # noqa: E402

from facefind.analysis.calibration import ScoreScale  # noqa: E402
from facefind.search.faces import search_faces  # noqa: E402
from facefind.vectors import l2_normalize  # noqa: E402


def timed(search, runs: int) -> dict:
    search()  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        search()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(float(np.median(times)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--url", help="an existing database (default: start pgserver)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from facefind.stores.postgres import PostgresStore

    rng = np.random.default_rng(0)
    people = l2_normalize(rng.standard_normal((5, 128), dtype=np.float32))
    index = synthetic_index(args.faces, people, rng)
    with database(args.url) as url:
        started = time.perf_counter()
        store = PostgresStore(url)
        store.add(index)
        load_s = time.perf_counter() - started
        exact = PostgresStore(url, exact=True)
        scale = ScoreScale("Dlib")
        three = l2_normalize(people[:3] + 0.02 * rng.standard_normal((3, 128), dtype=np.float32))
        report = {
            "faces": args.faces,
            "load_and_hnsw_build_s": round(load_s, 1),
            "hnsw": timed(lambda: search_faces(store, three, scale=scale), args.runs),
            "exact_scan": timed(lambda: search_faces(exact, three, scale=scale), 5),
            "npz_in_memory": timed(lambda: search_faces(index, three, scale=scale), args.runs),
        }
        equal = 0
        for number in range(args.queries):
            if number % 2:
                centre = people[number % len(people)]
            else:
                centre = index.embeddings[rng.integers(0, args.faces)]
            query = l2_normalize(centre + 0.02 * rng.standard_normal(128, dtype=np.float32))
            fast = {hit.name for hit in search_faces(store, query, scale=scale)}
            slow = {hit.name for hit in search_faces(index, query, scale=scale)}
            equal += fast == slow
        report["same_photos_as_exact"] = f"{equal}/{args.queries}"
        store.close()
        exact.close()
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.faces:,} faces: loaded and HNSW built in {report['load_and_hnsw_build_s']} s")
        print("| search (3 query faces) | median ms | p95 ms |")
        print("|---|---:|---:|")
        for key in ("hnsw", "exact_scan", "npz_in_memory"):
            print(f"| {key} | {report[key]['median_ms']} | {report[key]['p95_ms']} |")
        print(f"photos found equal the exact search's: {report['same_photos_as_exact']} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
