"""Indexing on Ray against the local builder, at equal cores, and how Ray scales with workers.

    python benchmarks/bench_cluster.py [--album FOLDER_OR_ZIP ...] [--workers 1 2] [--json]

The album defaults to the 155 shared labelled photos (../shared/data/faces, albums/people2).
For each worker count a local Ray cluster of that many CPUs indexes the album (models load
once per worker: the first chunk of each worker pays it, as on a real cluster); the local
builder indexes it with as many cores (threads and helper processes), its models loaded before
the clock starts. Words are not read and UForm is not run (the face steps only), so the figures
compare the runners, not the models. Prints photos/s for each, Ray's speed-up from 1 to 2
workers, and Ray's cost against the local builder at equal cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from facefind.analysis.faces import FaceEmbedder  # noqa: E402
from facefind.config import IndexingSettings, face_settings  # noqa: E402
from facefind.indexing.builder import IndexBuilder  # noqa: E402
from facefind.indexing.cluster import JoinedParts, index_on_ray  # noqa: E402
from facefind.sources.folders import open_album  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def local_rate(albums: list[str], cores: int) -> float:
    settings = IndexingSettings(workers=cores, embedding_processes=cores if cores > 1 else 0)
    embedder = FaceEmbedder(face_settings())
    embedder.load()
    builder = IndexBuilder(embedder, settings=settings, helper_process=cores > 1)
    album = open_album(albums)
    started = time.perf_counter()
    index = builder.build(album)
    return len(index.photos) / (time.perf_counter() - started)


def ray_rate(albums: list[str], workers: int) -> float:
    import ray

    temp = tempfile.mkdtemp(prefix="ffray")
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    try:
        builder = IndexBuilder(FaceEmbedder(face_settings()), helper_process=False)
        album = open_album(albums)
        parts = JoinedParts([])
        started = time.perf_counter()
        added, _ = index_on_ray(ray, album, builder, parts, workers)
        return added / (time.perf_counter() - started)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--album", nargs="+", default=[str(SHARED / "faces"), str(SHARED / "albums" / "people2")]
    )
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for count in args.workers:
        if count > (os.cpu_count() or 1):
            continue
        rows.append(
            {
                "cores": count,
                "ray_photos_per_s": round(ray_rate(args.album, count), 2),
                "local_photos_per_s": round(local_rate(args.album, count), 2),
            }
        )
    for row in rows:
        row["ray_vs_local"] = round(row["ray_photos_per_s"] / row["local_photos_per_s"], 2)
    report: dict = {"album": args.album, "rows": rows}
    if len(rows) > 1:
        report["ray_speedup"] = round(rows[-1]["ray_photos_per_s"] / rows[0]["ray_photos_per_s"], 2)
    if args.json:
        print(json.dumps(report))
        return 0
    print("| cores | Ray photos/s | local photos/s | Ray / local |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['cores']} | {row['ray_photos_per_s']} | {row['local_photos_per_s']} | "
            f"{row['ray_vs_local']} |"
        )
    if "ray_speedup" in report:
        print(f"Ray {rows[0]['cores']} -> {rows[-1]['cores']} workers: {report['ray_speedup']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
