"""A served event under load, as runners' browser sessions drive it: many sessions of the real
app (Streamlit's AppTest, one thread each, as the server runs one script thread per browser
session) searching one event by selfie at once, and hostile uploads at once.

    python benchmarks/bench_served.py [--faces 100000] [--sessions 8] [--searches 3]
                                      [--pg] [--hostile 20] [--json]

The event is the shared faces folder (64 real photos, indexed for real) joined with `--faces`
synthetic faces (photos that are not on disk, so they are never served), saved as an index file
(or, with --pg, added to a PostgreSQL + pgvector store started here) and served read-only as
`streamlit run app.py -- --event STORE` serves it. Each session uploads a person's photo (a
different one each search: the faces are found, embedded and searched every time) and waits
for the page with its results. Prints searches/s, the median and p95 of one search as a runner
waits for it, errors, and this process's memory (the server's) before, after and at peak.

`--hostile N`: N sessions at once each upload a 14000x14000 PNG (196 MP from 0.3 MB: refused
before decoding) and a 24 MP PNG (at the bound: decoded, at most two at a time); prints the
server's peak memory over its memory before.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_event import event_arguments, rss_mib  # noqa: E402
from bench_search import synthetic_index  # noqa: E402
from pg_database import database  # noqa: E402
from shared_data import ROOT, shared_faces_folder  # noqa: E402

from facefind.analysis.faces import FaceEmbedder  # noqa: E402
from facefind.config import face_settings  # noqa: E402
from facefind.indexing.builder import IndexBuilder  # noqa: E402
from facefind.sources.folders import open_album  # noqa: E402
from facefind.stores.npz import AlbumIndex  # noqa: E402
from facefind.vectors import l2_normalize  # noqa: E402

#: The query photos runners take turns with (person01's, in the shared faces folder).
SELFIES = ["img5.jpg", "img4.jpg", "img6.jpg", "img10.jpg"]


def event_index(faces: int) -> AlbumIndex:
    """The shared faces folder indexed for real, with `faces` synthetic faces beside it."""
    folder = shared_faces_folder()
    embedder = FaceEmbedder(face_settings("Dlib"))
    real = IndexBuilder(embedder, None).build(open_album([folder]))
    rng = np.random.default_rng(0)
    people = l2_normalize(rng.standard_normal((5, 128), dtype=np.float32))
    crowd = synthetic_index(faces, people, rng)
    crowd = replace(crowd, settings=real.settings, detector=real.detector)
    return replace(AlbumIndex.joined([real, crowd]), sources=(str(folder.resolve()),))


def _one_parse_at_a_time() -> None:
    """AppTest compiles the script on each session's every run (the server compiles it once,
    in its script cache), and CPython 3.11's parser is not safe to run from several threads
    at once ("AST constructor recursion depth mismatch"): here, one parse at a time."""
    import ast

    parse, lock = ast.parse, threading.Lock()

    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            return parse(*args, **kwargs)

    ast.parse = locked  # type: ignore[assignment]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Session:
    """One runner's browser session: the real app, run as the server runs it."""

    def __init__(self) -> None:
        from streamlit.testing.v1 import AppTest

        self.app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        self.app.run()

    def upload(self, name: str, data: bytes) -> list[str]:
        """Upload a query photo; the names of the photos the page then shows."""
        self.app.file_uploader(key="query-photos").set_value((name, data, "image/png"))
        self.app.run()
        if self.app.exception:
            raise RuntimeError(str(self.app.exception[0].value))
        captions = [c for image in self.app.get("image") for c in image.captions]
        return [caption.split(" · ")[1] for caption in captions if " · " in caption]


def load(args: argparse.Namespace) -> dict:
    selfies = [(shared_faces_folder() / name).read_bytes() for name in SELFIES]
    sessions = [Session() for _ in range(args.sessions)]
    sessions[0].upload(SELFIES[0], selfies[0])  # warm up: models, the event, caches
    before = rss_mib()
    times: list[float] = []
    errors = 0
    lock = threading.Lock()

    def runner(number: int) -> None:
        nonlocal errors
        for turn in range(args.searches):
            pick = (number + turn + 1) % len(selfies)
            started = time.perf_counter()
            try:
                found = sessions[number].upload(SELFIES[pick], selfies[pick])
                ok = bool(found)
            except Exception:
                ok = False
            with lock:
                times.append((time.perf_counter() - started) * 1000)
                errors += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(args.sessions) as pool:
        list(pool.map(runner, range(args.sessions)))
    wall = time.perf_counter() - started
    return {
        "sessions": args.sessions,
        "searches": len(times),
        "errors": errors,
        "searches_per_s": round(len(times) / wall, 2),
        "median_ms": round(float(np.median(times)), 0),
        "p95_ms": round(float(np.percentile(times, 95)), 0),
        "rss_before_mib": round(before, 0),
        "rss_after_mib": round(rss_mib(), 0),
        "rss_peak_mib": round(peak_rss_mib(), 0),
    }


def hostile(args: argparse.Namespace) -> dict:
    from PIL import Image

    bomb, big = io.BytesIO(), io.BytesIO()
    Image.new("1", (14000, 14000)).save(bomb, format="PNG")
    gradient = np.linspace(0, 255, 6000, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(gradient, (4000, 1))] * 3, axis=-1)).save(big, "PNG")
    sessions = [Session() for _ in range(args.hostile)]
    before = rss_mib()
    refused = 0

    def attack(session: Session) -> None:
        nonlocal refused
        session.upload("bomb.png", bomb.getvalue())
        if any("too many pixels" in w.value for w in session.app.warning):
            refused += 1
        session.upload("big.png", big.getvalue())

    with ThreadPoolExecutor(args.hostile) as pool:
        list(pool.map(attack, sessions))
    return {
        "hostile_sessions": args.hostile,
        "bomb_bytes": len(bomb.getvalue()),
        "big_png_bytes": len(big.getvalue()),
        "bombs_refused": refused,
        "rss_before_mib": round(before, 0),
        "rss_peak_mib": round(peak_rss_mib(), 0),
        "rss_after_mib": round(rss_mib(), 0),
    }


def main() -> int:
    parser = event_arguments(__doc__, searches=3)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--hostile", type=int, default=0, help="hostile upload sessions")
    args = parser.parse_args()
    _one_parse_at_a_time()
    index = event_index(args.faces)
    with ExitStack() as stack:
        if args.pg:
            from facefind.stores.postgres import PostgresStore

            url = stack.enter_context(database())
            writer = PostgresStore(url)
            writer.add(index)
            writer.add_sources(index.sources)
            writer.close()
            where, kind = url, "PostgreSQL + pgvector"
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="ffserved"))
            where, kind = str(Path(folder) / "event.facefind"), "index file"
            index.save(where)
        os.environ["FACEFIND_EVENT"] = where
        report = {"store": kind, "faces": index.face_count, "photos": len(index.photos)}
        report |= hostile(args) if args.hostile else load(args)
    if args.json:
        print(json.dumps(report))
    elif args.hostile:
        print(
            f"{report['hostile_sessions']} hostile sessions at once ({kind}, "
            f"{report['faces']:,} faces): {report['bombs_refused']} of them refused a "
            f"{report['bomb_bytes'] / 1e6:.1f} MB 14000x14000 PNG; each then sent a 24 MP PNG "
            f"of {report['big_png_bytes'] / 1e6:.1f} MB. Memory {report['rss_before_mib']} -> "
            f"peak {report['rss_peak_mib']} -> {report['rss_after_mib']} MiB"
        )
    else:
        print(
            f"{report['sessions']} sessions at once ({kind}, {report['faces']:,} faces): "
            f"{report['searches']} selfie searches, {report['errors']} errors, "
            f"{report['searches_per_s']} searches/s, median {report['median_ms']:.0f} ms, "
            f"p95 {report['p95_ms']:.0f} ms; memory {report['rss_before_mib']} -> "
            f"{report['rss_after_mib']} MiB (peak {report['rss_peak_mib']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
