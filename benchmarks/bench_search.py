"""Search latency of facefind against synthetic albums of 10k, 100k and 1M faces.

    python benchmarks/bench_search.py [--sizes 10000 100000 1000000] [--runs 30] [--json]

Faces are random unit-length 128-D vectors, five per photo; each query person is planted (with
noise) alone in 40 photos, and all five together in 40 more, so that searches in both modes
return results as real ones do. Prints the median
and p95 latency of `search_faces` for 1, 3 and 5 query people in `any` and `all` modes, and
the memory of the index's face arrays, and the time of "all together" for 10 people on one
photo of 40 faces at a bar of 0%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from facefind.config import FaceSettings  # noqa: E402
from facefind.search.faces import ScoreScale, search_faces  # noqa: E402
from facefind.search.people import group_people  # noqa: E402
from facefind.stores.npz import AlbumIndex, PhotoInfo  # noqa: E402
from facefind.vectors import l2_normalize  # noqa: E402

FACES_PER_PHOTO = 5
PLANTED_PHOTOS = 40


def synthetic_index(faces: int, people: np.ndarray, rng: np.random.Generator) -> AlbumIndex:
    embeddings = l2_normalize(rng.standard_normal((faces, 128), dtype=np.float32))
    photos = faces // FACES_PER_PHOTO
    chosen = rng.choice(photos, PLANTED_PHOTOS * (len(people) + 1), replace=False)
    groups, alone = chosen[:PLANTED_PHOTOS], chosen[PLANTED_PHOTOS:].reshape(len(people), -1)
    for number, person in enumerate(people):  # slightly changed, as in another photo
        rows = np.concatenate([groups * FACES_PER_PHOTO + number, alone[number] * FACES_PER_PHOTO])
        noise = rng.standard_normal((len(rows), 128), dtype=np.float32) * 0.02
        embeddings[rows] = l2_normalize(person + noise)
    return AlbumIndex(
        model="Dlib",
        detector="dlib",
        settings=FaceSettings(model="Dlib"),
        photos=[PhotoInfo(f"photo{n:07d}.jpg", 4000, 3000, 0) for n in range(photos)],
        thumbnails=[b""] * photos,
        embeddings=embeddings,
        face_photo=np.repeat(np.arange(photos, dtype=np.int32), FACES_PER_PHOTO)[:faces],
        boxes=np.zeros((faces, 4), dtype=np.int32),
        confidences=np.ones(faces, dtype=np.float32),
    )


def measure(index: AlbumIndex, queries: np.ndarray, mode: str, runs: int, scale) -> dict:
    search_faces(index, queries, mode, scale=scale)  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        hits = search_faces(index, queries, mode, scale=scale)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(float(np.median(times)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "results": len(hits),
    }


def crowd_case(rng: np.random.Generator, scale) -> dict:
    """10 people "all together" on one photo of 40 faces at a bar of 0%: every face is a
    candidate for every person (trying every tuple of faces never answered: 40^10)."""
    faces = l2_normalize(rng.standard_normal((40, 128), dtype=np.float32))
    people = l2_normalize(faces[:10] + 0.02 * rng.standard_normal((10, 128), dtype=np.float32))
    index = AlbumIndex(
        model="Dlib",
        detector="dlib",
        settings=FaceSettings(model="Dlib"),
        photos=[PhotoInfo("class.jpg", 4000, 3000, 0)],
        thumbnails=[b""],
        embeddings=faces,
        face_photo=np.zeros(40, dtype=np.int32),
        boxes=np.zeros((40, 4), dtype=np.int32),
        confidences=np.ones(40, dtype=np.float32),
    )
    started = time.perf_counter()
    hits = search_faces(index, people, "all", min_score=0, scale=scale)
    return {
        "faces": 40,
        "people": 10,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "matched": len(hits[0].faces) if hits else 0,
    }


def grouping_case(index: AlbumIndex) -> dict:
    """People of the album without a query: blocked links + Chinese whispers, timed."""
    started = time.perf_counter()
    people = group_people(index)
    return {
        "faces": index.face_count,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "people": len(people.people),
        "others": people.others,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--group-up-to",
        type=int,
        default=100_000,
        help="time grouping into people on albums of at most this many faces",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    people = l2_normalize(rng.standard_normal((5, 128), dtype=np.float32))
    scale = ScoreScale("Dlib")
    rows, grouping = [], []
    for size in args.sizes:
        index = synthetic_index(size, people, rng)
        memory = index.embeddings.nbytes + index.face_photo.nbytes + index.boxes.nbytes
        memory += index.confidences.nbytes
        for count in (1, 3, 5):
            for mode in ("any", "all"):
                runs = args.runs if size <= 100_000 else max(5, args.runs // 3)
                figures = measure(index, people[:count], mode, runs, scale)
                rows.append(
                    {
                        "faces": size,
                        "people": count,
                        "mode": mode,
                        "index_mib": round(memory / 1024**2, 1),
                        **figures,
                    }
                )
        if size <= args.group_up_to:
            grouping.append(grouping_case(index))
    crowd = crowd_case(rng, scale)
    if args.json:
        print(
            json.dumps(
                {"cpu_count": os.cpu_count(), "rows": rows, "crowd": crowd, "grouping": grouping},
                indent=1,
            )
        )
        return
    print("| faces | people | mode | median ms | p95 ms | results | face arrays MiB |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['faces']:,} | {row['people']} | {row['mode']} | {row['median_ms']} | "
            f"{row['p95_ms']} | {row['results']} | {row['index_mib']} |"
        )
    print(
        f"all together, {crowd['people']} people on one photo of {crowd['faces']} faces at 0%: "
        f"{crowd['ms']} ms, {crowd['matched']} people placed"
    )
    for row in grouping:
        print(
            f"people of {row['faces']:,} faces: {row['ms']} ms, {row['people']} people "
            f"(5 planted in 80 photos each), {row['others']} faces left over"
        )


if __name__ == "__main__":
    main()
