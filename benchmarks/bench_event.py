"""Event mode under load: many runners searching one shared store at once.

    python benchmarks/bench_event.py [--faces 100000] [--runners 20] [--searches 10] [--url URL]

Each runner is a thread (as each browser session of a Streamlit server is) searching the one
shared store with its own query face (selfie detection excluded: it runs on the runner's own
photo, before the search), `--searches` times. Prints the median and p95 latency of one search,
errors, and the server's memory before and after (it must not grow per runner beyond the
query). With --url (or --pg) the store is PostgreSQL + pgvector (pgserver started here without
--url); otherwise the .npz store in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_search import synthetic_index  # noqa: E402
from pg_database import database  # noqa: E402

from facefind.analysis.calibration import ScoreScale  # noqa: E402
from facefind.search.faces import search_faces  # noqa: E402
from facefind.vectors import l2_normalize  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_runners(store, kind: str, people: np.ndarray, args, rng) -> dict:
    """`args.runners` threads searching the one store at once, `args.searches` times each."""
    scale = ScoreScale("Dlib")
    queries = [
        l2_normalize(people[n % 5] + 0.02 * rng.standard_normal(128, dtype=np.float32))
        for n in range(args.runners)
    ]

    def one_runner(query: np.ndarray) -> list[float]:
        times = []
        for _ in range(args.searches):
            started = time.perf_counter()
            hits = search_faces(store, query, scale=scale)
            times.append((time.perf_counter() - started) * 1000)
            assert len(hits) >= 80, "every runner finds their planted photos"
        return times

    one_runner(queries[0])  # warm up (connections, caches)
    before = rss_mib()
    errors = 0
    times: list[float] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(args.runners) as pool:
        for future in [pool.submit(one_runner, query) for query in queries]:
            try:
                times += future.result()
            except Exception:
                errors += 1
    wall = time.perf_counter() - started
    report = {
        "store": kind,
        "faces": args.faces,
        "runners": args.runners,
        "searches": len(times),
        "errors": errors,
        "median_ms": round(float(np.median(times)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "searches_per_s": round(len(times) / wall, 1),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(rss_mib(), 1),
    }
    return report


def event_arguments(doc: str, searches: int) -> argparse.ArgumentParser:
    """The options every event benchmark takes: the store's size and kind, searches each."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=searches)
    parser.add_argument("--pg", action="store_true", help="a PostgreSQL (pgserver) store")
    parser.add_argument("--json", action="store_true")
    return parser


def main() -> int:
    parser = event_arguments(__doc__, searches=10)
    parser.add_argument("--runners", type=int, default=20)
    parser.add_argument("--url", help="an existing PostgreSQL database")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    people = l2_normalize(rng.standard_normal((5, 128), dtype=np.float32))
    index = synthetic_index(args.faces, people, rng)
    with ExitStack() as stack:
        store, kind = index, "npz in memory"
        if args.pg or args.url:
            from facefind.stores.postgres import PostgresStore

            store = PostgresStore(stack.enter_context(database(args.url)))
            stack.callback(store.close)
            store.add(index)
            kind = "PostgreSQL + pgvector"
        report = run_runners(store, kind, people, args, rng)
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{report['runners']} runners at once on {report['faces']:,} faces ({kind}): "
            f"{report['searches']} searches, {report['errors']} errors, median "
            f"{report['median_ms']} ms, p95 {report['p95_ms']} ms, "
            f"{report['searches_per_s']} searches/s; memory {report['rss_before_mib']} -> "
            f"{report['rss_after_mib']} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
