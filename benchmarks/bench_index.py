"""Indexing speed: facefind's indexer against the usual per-photo DeepFace loop, same process.

    python benchmarks/bench_index.py [--photos 120] [--baseline-photos 20] [--model Dlib]
                                     [--detector dlib] [--json]

Builds a race-like album in memory from the shared face photos: each photo a 4000x3000 JPEG
(quality 90) holding one to four of them, scaled so faces are at race-photo sizes. Then indexes
it (a) with the baseline, one `DeepFace.represent` call per full-size decoded photo, in a
sequential loop, and (b) with facefind's IndexBuilder. The baseline runs on the first
`--baseline-photos` photos only (dlib takes ~24 s per 12 MP photo); speed is photos/s on what
each indexed, and precision/recall are computed for both on the baseline's photos, from the
known placement of the people, so speed is never bought with misses. `--baseline-photos 0`
skips the baseline (a memory run on a large album); `--with-images` adds UForm photo
embeddings to both (batched in facefind, one encoder call per photo in the baseline).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared_data import shared_faces_folder  # noqa: E402

from facefind.analysis.detectors import OWN_DETECTORS  # noqa: E402
from facefind.analysis.faces import FaceEmbedder  # noqa: E402
from facefind.analysis.images import decode_photo  # noqa: E402
from facefind.analysis.runtime import deepface  # noqa: E402
from facefind.analysis.semantic import PhotoTextModel  # noqa: E402
from facefind.analysis.words import WordReader  # noqa: E402
from facefind.config import FaceSettings, IndexingSettings, min_confidence_of  # noqa: E402
from facefind.errors import ModelUnavailableError, NoFaceError  # noqa: E402
from facefind.indexing.builder import IndexBuilder  # noqa: E402
from facefind.search.faces import query_faces, search_faces  # noqa: E402
from facefind.sources.archive import Album  # noqa: E402
from facefind.stores.npz import AlbumIndex, PhotoInfo  # noqa: E402
from facefind.vectors import l2_normalize  # noqa: E402

CANVAS = (4000, 3000)


class PeakRss:
    """Peak resident memory of this process and its children (facefind's helper process)
    while a block runs, sampled every 20 ms from /proc."""

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @classmethod
    def _rss(cls) -> int:
        return cls._rss_of("self") + sum(cls._rss_of(child) for child in cls._children())

    @staticmethod
    def _children() -> list[str]:
        pids: list[str] = []
        for children in Path("/proc/self/task").glob("*/children"):
            try:
                pids += children.read_text().split()
            except OSError:  # the thread ended
                pass
        return pids

    @staticmethod
    def _rss_of(pid: str) -> int:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:  # the process ended
            pass
        return 0

    @property
    def mib(self) -> float:
        return round(self.peak / 1024**2, 1)


def race_album(folder: Path, photos: int, seed: int = 1) -> tuple[bytes, list[set[str]]]:
    """A zip of `photos` 4000x3000 JPEGs and, for each, the people placed in it."""
    with open(folder / "identities.csv", newline="") as handle:
        people = {row["file"]: row["person"] for row in csv.DictReader(handle)}
    sources = {name: Image.open(folder / name).convert("RGB") for name in sorted(people)}
    rng = np.random.default_rng(seed)
    names = sorted(sources)
    buffer = io.BytesIO()
    placed: list[set[str]] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number in range(photos):
            # A faceless backdrop: one of the photos shrunk to 16x12 pixels and blown up.
            backdrop = sources[names[rng.integers(len(names))]].resize((16, 12)).resize(CANVAS)
            count = int(rng.integers(1, 5))
            chosen = rng.choice(len(names), count, replace=False)
            slot = CANVAS[0] // count
            for position, index in enumerate(chosen):
                source = sources[names[index]]
                height = int(rng.integers(700, 1400))
                width = min(slot, round(source.width * height / source.height))
                height = round(source.height * width / source.width)
                backdrop.paste(
                    source.resize((width, height)),
                    (position * slot, int(rng.integers(0, CANVAS[1] - height + 1))),
                )
            placed.append({people[names[index]] for index in chosen})
            jpeg = io.BytesIO()
            backdrop.save(jpeg, format="JPEG", quality=90)
            archive.writestr(f"race/photo{number:04d}.jpg", jpeg.getvalue())
    return buffer.getvalue(), placed


def baseline_index(
    album: Album, settings: FaceSettings, limit: int, photo_model: PhotoTextModel | None
) -> AlbumIndex:
    """The usual way: one DeepFace.represent call per full-size photo, one after another, and
    (with --with-images) one UForm encoder call per photo."""
    DeepFace = deepface()
    photos: list[PhotoInfo] = []
    vectors, owners, boxes, confidences, described = [], [], [], [], []
    for number, entry in enumerate(album.photos[:limit]):
        photo = decode_photo(album.read(entry))
        if photo_model is not None:
            described.append(photo_model.embed_photos([photo.pixels])[0])
        try:
            faces = DeepFace.represent(
                np.ascontiguousarray(photo.pixels[:, :, ::-1]),
                model_name=settings.model,
                detector_backend=settings.detector,
            )
        except ValueError:  # no face
            faces = []
        for face in faces:
            area = face["facial_area"]
            if face["face_confidence"] < min_confidence_of(settings, settings.detector):
                continue
            if min(area["w"], area["h"]) < settings.min_face_size:
                continue
            vectors.append(face["embedding"])
            owners.append(number)
            boxes.append([area["x"], area["y"], area["w"], area["h"]])
            confidences.append(face["face_confidence"])
        photos.append(PhotoInfo(entry.name, photo.width, photo.height, entry.size))
    faces = {}
    if vectors:
        faces = {
            "embeddings": l2_normalize(np.asarray(vectors, dtype=np.float32)),
            "face_photo": np.asarray(owners, dtype=np.int32),
            "boxes": np.asarray(boxes, dtype=np.int32),
            "confidences": np.asarray(confidences, dtype=np.float32),
        }
    return AlbumIndex(
        model=settings.model,
        detector=settings.detector,
        settings=settings,
        photos=photos,
        thumbnails=[b""] * len(photos),
        photo_embeddings=np.stack(described) if described else None,
        **faces,
    )


def retrieval(
    index: AlbumIndex, placed: list[set[str]], queries: dict[str, np.ndarray], photos: int
) -> dict:
    """Precision and recall over one query per person, on the album's first `photos` photos."""
    true_hits = false_hits = missed = 0
    for person, query in queries.items():
        truth = {number for number in range(photos) if person in placed[number]}
        found = {hit.photo for hit in search_faces(index, query) if hit.photo < photos}
        true_hits += len(found & truth)
        false_hits += len(found - truth)
        missed += len(truth - found)
    return {
        "precision": round(true_hits / max(true_hits + false_hits, 1), 3),
        "recall": round(true_hits / max(true_hits + missed, 1), 3),
    }


def person_queries(folder: Path, embedder: FaceEmbedder) -> dict[str, np.ndarray]:
    """One query face per person: the largest face of their first labelled photo, found as
    facefind finds a query's faces."""
    queries: dict[str, np.ndarray] = {}
    for person, photo in first_photo_of_each_person(folder).items():
        try:
            queries[person] = query_faces(embedder, (folder / photo).read_bytes())[0].embedding
        except NoFaceError:
            pass
    return queries


def peer_index(data: bytes, folder: Path, placed: list[set[str]], cpus: int) -> dict | None:
    """The peer a user could pick instead: the `face_recognition` CLI (dlib chips, HOG at up
    to 1600 px, `--cpus` processes) on the same photos, its known people being the same query
    photos as facefind's. It reads files, so the album is written to a temporary folder (made
    of the shared test photos; deleted after). None where the CLI is not installed
    (`pip install --no-deps face-recognition-ng click`, for benchmarks only)."""
    command = shutil.which(
        "face_recognition", path=os.path.dirname(sys.executable)
    ) or shutil.which("face_recognition")
    if command is None:
        return None
    with tempfile.TemporaryDirectory(prefix="facefind-peer-") as work:
        known, unknown = Path(work, "known"), Path(work, "unknown")
        known.mkdir()
        unknown.mkdir()
        for person, photo in first_photo_of_each_person(folder).items():
            (known / f"{person}.jpg").write_bytes((folder / photo).read_bytes())
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                (unknown / Path(name).name).write_bytes(archive.read(name))
        started = time.perf_counter()
        result = subprocess.run(
            [command, "--cpus", str(cpus), str(known), str(unknown)],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - started
    found: dict[int, set[str]] = {}
    for line in result.stdout.splitlines():
        path, _, name = line.rpartition(",")
        if name.startswith("person") and path.endswith(".jpg"):
            number = int(Path(path).stem.removeprefix("photo"))
            found.setdefault(number, set()).add(name)
    true_hits = sum(len(found.get(n, set()) & people) for n, people in enumerate(placed))
    false_hits = sum(len(found.get(n, set()) - people) for n, people in enumerate(placed))
    wanted = sum(len(people) for people in placed)
    return {
        "photos": len(placed),
        "cpus": cpus,
        "seconds": round(seconds, 1),
        "photos_per_s": round(len(placed) / seconds, 3),
        "precision": round(true_hits / max(true_hits + false_hits, 1), 3),
        "recall": round(true_hits / max(wanted, 1), 3),
    }


def first_photo_of_each_person(folder: Path) -> dict[str, str]:
    """person -> their first labelled photo (the query photo of every benchmark here)."""
    with open(folder / "identities.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first: dict[str, str] = {}
    for row in rows:
        first.setdefault(row["person"], row["file"])
    return first


def usable_photo_model(wanted: bool) -> PhotoTextModel | None:
    """The UForm model for --with-images, or None (with a note) where it cannot be had."""
    if not wanted:
        return None
    model = PhotoTextModel()
    try:
        model.load()
    except ModelUnavailableError as error:
        print(f"--with-images ignored: {error}", file=sys.stderr)
        return None
    return model


def baseline_settings(embedder: FaceEmbedder) -> FaceSettings:
    """The settings of the baseline loop: DeepFace's own detector of the same name, or its dlib
    detector where facefind's detector is not one of DeepFace's (libfacedetection)."""
    detector = "dlib" if embedder.detector in OWN_DETECTORS else embedder.detector
    return replace(embedder.in_effect, detector=detector)


def measure(name: str, build, placed, queries, compared: int) -> dict:
    with PeakRss() as memory:
        started = time.perf_counter()
        index = build()
        seconds = time.perf_counter() - started
    figures = {
        "photos": len(index.photos),
        "seconds": round(seconds, 1),
        "photos_per_s": round(len(index.photos) / seconds, 3),
        "faces_per_s": round(index.face_count / seconds, 3),
        "peak_rss_mib": memory.mib,
        "with_images": index.photo_embeddings is not None,
        **retrieval(index, placed, queries, compared),
    }
    if name == "facefind" and len(index.photos) > compared:
        whole = retrieval(index, placed, queries, len(index.photos))
        figures["precision_all_photos"] = whole["precision"]
        figures["recall_all_photos"] = whole["recall"]
    return figures


def scaling(embedder: FaceEmbedder, album: Album, counts: list[int]) -> dict[str, float]:
    """photos/s on `n` cores (this process and its helpers pinned to them, where the system
    allows it), with `n` worker threads and `n` embedding processes, for each n asked for that
    the machine has: how indexing grows with cores."""
    pin = getattr(os, "sched_setaffinity", None)
    cores = sorted(os.sched_getaffinity(0)) if pin else list(range(os.cpu_count() or 1))
    rates = {}
    for count in [n for n in counts if n <= len(cores)]:
        work = IndexingSettings(workers=count, embedding_processes=count)
        if pin:
            pin(0, cores[:count])  # threads and helper processes started now inherit it
        try:
            started = time.perf_counter()
            index = IndexBuilder(embedder, settings=work).build(album)
            rates[str(count)] = round(len(index.photos) / (time.perf_counter() - started), 3)
        finally:
            if pin:
                pin(0, cores)
    return rates


def run(args: argparse.Namespace) -> dict:
    folder = Path(args.faces or shared_faces_folder())
    settings = FaceSettings(
        model=args.model,
        detector=args.detector or FaceSettings().detector,
        detect_size=args.detect_size,
    )
    data, placed = race_album(folder, args.photos)
    embedder = FaceEmbedder(settings)
    embedder.load()
    photo_model = usable_photo_model(args.with_images)
    queries = person_queries(folder, embedder)
    album = Album(data)
    compared = min(args.baseline_photos, args.photos) or args.photos
    report = {
        "photos": args.photos,
        "compared_photos": compared,
        "model": embedder.model_name,
        "detector": embedder.detector,
        "cpu_count": os.cpu_count(),
        "zip_mib": round(len(data) / 1024**2, 1),
        "facefind": measure(
            "facefind",
            lambda: IndexBuilder(embedder, photo_model).build(album),
            placed,
            queries,
            compared,
        ),
        "baseline": None,
        "speedup": None,
        "peer": peer_index(data, folder, placed, os.cpu_count() or 1) if args.peer else None,
        "speedup_vs_peer": None,
    }
    if args.words:
        reader = WordReader()
        report["facefind_with_words"] = measure(
            "facefind",
            lambda: IndexBuilder(embedder, photo_model, word_reader=reader).build(album),
            placed,
            queries,
            compared,
        )
        with_words = report["facefind_with_words"]["seconds"]
        report["words_share"] = round(1 - report["facefind"]["seconds"] / with_words, 3)
    counts = [int(n) for n in args.scaling.split(",") if n]
    report["photos_per_s_by_workers"] = scaling(embedder, album, counts) if counts else None
    if report["peer"]:
        report["speedup_vs_peer"] = round(
            report["facefind"]["photos_per_s"] / report["peer"]["photos_per_s"], 2
        )
        if args.words:
            report["speedup_vs_peer_with_words"] = round(
                report["facefind_with_words"]["photos_per_s"] / report["peer"]["photos_per_s"], 2
            )
    if args.baseline_photos > 0:
        report["baseline"] = measure(
            "baseline",
            lambda: baseline_index(album, baseline_settings(embedder), compared, photo_model),
            placed,
            queries,
            compared,
        )
        report["speedup"] = round(
            report["facefind"]["photos_per_s"] / report["baseline"]["photos_per_s"], 2
        )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument(
        "--baseline-photos",
        type=int,
        default=20,
        help="photos the slow per-photo loop indexes (0: skip it, e.g. for a memory run)",
    )
    parser.add_argument(
        "--with-images",
        action="store_true",
        help="also compute UForm photo embeddings (where the UForm model is available)",
    )
    parser.add_argument(
        "--no-peer",
        dest="peer",
        action="store_false",
        help="skip the face_recognition CLI (run where it is installed)",
    )
    parser.add_argument("--model", default="Dlib")
    parser.add_argument("--detector", help="default: facefind's (yuface, else dlib)")
    parser.add_argument("--detect-size", type=int, help="long side the detector scans (px)")
    parser.add_argument(
        "--no-words",
        dest="words",
        action="store_false",
        help="skip the run that also reads the words in the photos (its share of the time)",
    )
    parser.add_argument(
        "--scaling",
        default="1,2",
        help="also index on 1, 2, ... cores, as many workers and embedding processes "
        "(photos/s each); "
        "'' to skip",
    )
    parser.add_argument("--faces", help="the shared face photos (default ../shared/data/faces)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(
        f"{report['photos']} photos of 4000x3000 ({report['zip_mib']} MiB zip), model "
        f"{report['model']}, detector {report['detector']}, {report['cpu_count']} cores; "
        + (
            f"baseline on the first {report['compared_photos']}"
            if report["baseline"]
            else "baseline skipped"
        )
    )
    print("| pipeline | photos | s | photos/s | faces/s | peak RSS MiB | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("baseline", "facefind"):
        row = report[name]
        if row is None:
            continue
        print(
            f"| {name} | {row['photos']} | {row['seconds']} | {row['photos_per_s']} | "
            f"{row['faces_per_s']} | {row['peak_rss_mib']} | {row['precision']} | {row['recall']} |"
        )
    if "recall_all_photos" in report["facefind"]:
        print(
            f"facefind on all {report['photos']} photos: precision "
            f"{report['facefind']['precision_all_photos']}, recall "
            f"{report['facefind']['recall_all_photos']}"
        )
    if report["speedup"] is not None:
        print(f"speedup (photos/s, facefind / baseline): {report['speedup']}x")
    peer = report["peer"]
    if peer:
        print(
            f"peer: face_recognition CLI --cpus {peer['cpus']} on all {peer['photos']} photos: "
            f"{peer['seconds']} s, {peer['photos_per_s']} photos/s, precision "
            f"{peer['precision']}, recall {peer['recall']}; facefind is "
            f"{report['speedup_vs_peer']}x its speed"
        )
    elif args.peer:
        print("peer: the face_recognition CLI is not installed (see --help)")
    if "words_share" in report:
        row = report["facefind_with_words"]
        print(
            f"facefind reading words too (as `facefind index` does by default): {row['seconds']} "
            f"s, {row['photos_per_s']} photos/s; reading is {report['words_share']:.0%} of "
            "the indexing time"
            + (
                f"; {report['speedup_vs_peer_with_words']}x the peer's speed"
                if "speedup_vs_peer_with_words" in report
                else ""
            )
        )
    rates = report["photos_per_s_by_workers"]
    if rates:
        one = rates.get("1")
        print(
            "scaling (photos/s on n cores, n workers and embedding processes): "
            + ", ".join(
                f"{count}: {rate}" + (f" ({rate / one:.2f}x)" if one and count != "1" else "")
                for count, rate in rates.items()
            )
        )


if __name__ == "__main__":
    main()
