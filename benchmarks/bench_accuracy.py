"""Face-search accuracy on labelled albums: does facefind find every photo of a person?

    python benchmarks/bench_accuracy.py [--suite shared,people2,pairs,race]
                                        [--album ZIP_OR_DIR --truth CSV [--queries DIR]]
                                        [--model Dlib] [--detector dlib] [--min-score 50]
                                        [--thorough] [--no-expand] [--race-photos 40]
                                        [--curve 30,40,50,60] [--misses] [--json]

Suites (each prints precision and recall of album search at the bar, as a user runs it):
- shared: ../shared/data/faces as an album, one photo per person held out as that person's query;
- people2: ../shared/data/albums/people2 (other people, group photos, distractors), the same way;
- album: any album a user labels: `--album` (a zip or a folder of photos), `--truth` (CSV of
  `file,person`, one row per person in a photo) and `--queries` (a folder of query photos named
  after the person, e.g. `personA.jpg`); without `--queries`, one photo per person is held out;
- pairs: verification accuracy on the shared `master.csv` (300 same/different pairs);
- degraded: the shared and people2 albums with every photo degraded (degrade.py, seeded):
  faces shrunk to 30-80 px in a larger frame, messenger JPEG (quality 15-40), scans
  (greyscale or sepia, grain, blur), occlusion (sunglasses, a hand, a cap's shadow) and turned
  or cut faces, one album per kind; precision, recall and near misses per kind and in all;
- race: the race-like album of bench_index.py (12 MP photos, small faces), `--race-photos`;
- runners: People on the real race photos of ../shared/data/albums/bibs, against the runners
  labelled by eye in bibs_runners.csv: how many groups are one runner, mix runners, or hold
  faces no one could recognise (spectators, slivers, out-of-focus faces);
- bibs: search by bib number on ../shared/data/albums/bibs (`truth.csv`: file,bib), or on any
  album with `--album ZIP_OR_DIR --bibs CSV`: precision and recall of searching every labelled
  bib at full size and shrunk to 1024 and 800 px (`--bib-sizes`), beside plain RapidOCR at
  its defaults, each miss with what was read instead, and the reading cost per photo.

Precision and recall count (photo, person) pairs over all queries. Each album suite also
reports People, the grouping of its faces without a query: for every labelled person in three
or more of the album's photos, the F1 (over photos) of the group that best matches theirs.
`--misses` lists every miss and false hit with its similarity and score, so that a change can
be judged face by face.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from shared_data import shared_faces_folder  # noqa: E402

from facefind.analysis.faces import FaceEmbedder, decode_for_faces  # noqa: E402
from facefind.analysis.words import MAX_SCAN, Word, WordReader, matching_words, tokens  # noqa: E402
from facefind.config import FaceSettings, preferred_detector  # noqa: E402
from facefind.errors import NoFaceError  # noqa: E402
from facefind.indexing.builder import IndexBuilder  # noqa: E402
from facefind.search.faces import ScoreScale, query_faces, search_faces  # noqa: E402
from facefind.search.people import group_people  # noqa: E402
from facefind.search.words import common_tokens, word_search  # noqa: E402
from facefind.sources.archive import Album  # noqa: E402
from facefind.stores.npz import AlbumIndex  # noqa: E402

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".bmp", ".gif"}
#: People in the shared photos beyond identities.csv (../shared/README.md).
SHARED_EXTRAS = {
    "couple.jpg": {"person01"},
    "selfie-many-people.jpg": {"person01"},
    "img11_reflection.jpg": {"person01"},
}


@dataclass
class LabelledAlbum:
    """Photos (name -> bytes), who is in each, and one query photo per person."""

    name: str
    photos: dict[str, bytes]
    truth: dict[str, set[str]]
    queries: dict[str, bytes]
    query_names: dict[str, str] = field(default_factory=dict)

    def zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for photo_name, data in self.photos.items():
                archive.writestr(photo_name, data)
        return buffer.getvalue()


def read_truth(path: Path) -> dict[str, set[str]]:
    """file -> the people labelled in it, from a `file,person` CSV."""
    truth: dict[str, set[str]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            truth.setdefault(row["file"], set()).add(row["person"])
    return truth


def read_photos(source: Path) -> dict[str, bytes]:
    """Photos of a folder (its own files) or of a zip (every photo entry), by name."""
    if source.is_dir():
        return {
            path.name: path.read_bytes()
            for path in sorted(source.iterdir())
            if path.suffix.lower() in PHOTO_SUFFIXES
        }
    with zipfile.ZipFile(source) as archive:
        return {
            name: archive.read(name)
            for name in sorted(archive.namelist())
            if Path(name).suffix.lower() in PHOTO_SUFFIXES
        }


def held_out(
    name: str,
    photos: dict[str, bytes],
    truth: dict[str, set[str]],
    candidates: set[str] | None = None,
) -> LabelledAlbum:
    """For each person, their first photo where they are alone (among `candidates`, default all)
    becomes the query, out of the album; the rest is the album."""
    queries: dict[str, str] = {}
    for photo_name in sorted(candidates if candidates is not None else truth):
        people = truth[photo_name]
        if len(people) == 1 and photo_name in photos:
            queries.setdefault(next(iter(people)), photo_name)
    out = set(queries.values())
    return LabelledAlbum(
        name=name,
        photos={n: data for n, data in photos.items() if n not in out},
        truth={n: people for n, people in truth.items() if n not in out},
        queries={person: photos[n] for person, n in queries.items()},
        query_names=queries,
    )


def shared_album(folder: Path) -> LabelledAlbum:
    truth = read_truth(folder / "identities.csv")
    labelled = set(truth)  # couple.jpg also holds a man nobody labelled: never a query
    for photo_name, people in SHARED_EXTRAS.items():
        truth.setdefault(photo_name, set()).update(people)
    return held_out("shared", read_photos(folder), truth, labelled)


def user_album(album: Path, truth_csv: Path, queries: Path | None) -> LabelledAlbum:
    photos, truth = read_photos(album), read_truth(truth_csv)
    if queries is None:
        return held_out(album.stem, photos, truth)
    query_photos = {
        path.stem: path.read_bytes()
        for path in sorted(queries.iterdir())
        if path.suffix.lower() in PHOTO_SUFFIXES
    }
    return LabelledAlbum(album.stem, photos, truth, query_photos)


def index_album(album_zip: bytes, embedder: FaceEmbedder) -> tuple[AlbumIndex, float]:
    started = time.perf_counter()
    index = IndexBuilder(embedder).build(Album(album_zip))
    return index, time.perf_counter() - started


def search_kwargs(args: argparse.Namespace) -> dict:
    """Options of search_faces this benchmark varies (only those this facefind has)."""
    options = {} if args.expand is None else {"expand": args.expand}
    if getattr(args, "evidence", None) is not None:
        options["evidence"] = args.evidence
    return options


def album_accuracy(album: LabelledAlbum, embedder: FaceEmbedder, args: argparse.Namespace) -> dict:
    """Precision and recall of one search per labelled person, with every miss explained."""
    index, seconds = index_album(album.zip(), embedder)
    scale = ScoreScale(index.model)
    names = [photo.name for photo in index.photos]
    truth = {n: album.truth.get(n, set()) for n in names}
    true_hits = false_hits = missed = 0
    misses, false_found, no_query_face = [], [], []
    for person, query_photo in sorted(album.queries.items()):
        wanted = {n for n, people in truth.items() if person in people}
        try:
            query = query_faces(embedder, query_photo, name=person)[0].embedding
        except NoFaceError:
            no_query_face.append(person)
            missed += len(wanted)
            misses += [
                {"person": person, "photo": n, "why": "no face in the query"} for n in wanted
            ]
            continue
        hits = search_faces(
            index, query[None, :], "any", args.min_score, scale, **search_kwargs(args)
        )
        found = {hit.name: hit for hit in hits}
        true_hits += len(wanted & set(found))
        for photo_name in sorted(set(found) - wanted):
            false_hits += 1
            false_found.append(
                {"person": person, "photo": photo_name, "score": round(found[photo_name].score, 1)}
            )
        for photo_name in sorted(wanted - set(found)):
            missed += 1
            misses.append(
                {
                    "person": person,
                    "photo": photo_name,
                    **_closest(index, names, photo_name, query, scale),
                }
            )
    near = [miss for miss in misses if NEAR_MISS[0] <= miss.get("score", -1) < NEAR_MISS[1]]
    return {
        **grouping_quality(index, names, truth),
        **({"curve": bar_curve(index, album, embedder, args)} if args.curve else {}),
        "near_misses": len(near),
        "album": album.name,
        "photos": len(names),
        "faces": index.face_count,
        "people": len(album.queries),
        "true_pairs": true_hits + missed,
        "precision": _ratio(true_hits, true_hits + false_hits),
        "recall": _ratio(true_hits, true_hits + missed),
        "index_seconds": round(seconds, 1),
        "no_query_face": no_query_face,
        "misses": misses,
        "false_hits": false_found,
    }


#: Found faces scored in this range ([low, high) %) against the 50% bar: the misses a better
#: bar, or the album's own evidence, could win back.
NEAR_MISS = (30.0, 50.0)


def bar_curve(
    index: AlbumIndex, album: LabelledAlbum, embedder: FaceEmbedder, args: argparse.Namespace
) -> list[dict]:
    """Precision and recall at each bar of `--curve`, each a search as the user runs it (the
    expansion depends on the bar, so a lower bar is not the same results filtered)."""
    scale = ScoreScale(index.model)
    names = [photo.name for photo in index.photos]
    queries = {}
    for person, query_photo in sorted(album.queries.items()):
        try:
            queries[person] = query_faces(embedder, query_photo, name=person)[0].embedding
        except NoFaceError:
            continue
    curve = []
    for bar in args.curve:
        true_hits = false_hits = wanted_pairs = 0
        for person in album.queries:
            wanted = {n for n in names if person in album.truth.get(n, set())}
            wanted_pairs += len(wanted)
            if person not in queries:
                continue
            hits = search_faces(
                index, queries[person][None, :], "any", bar, scale, **search_kwargs(args)
            )
            found = {hit.name for hit in hits}
            true_hits += len(found & wanted)
            false_hits += len(found - wanted)
        curve.append(
            {
                "bar": bar,
                "precision": _ratio(true_hits, true_hits + false_hits),
                "recall": _ratio(true_hits, wanted_pairs),
                "true": true_hits,
                "false": false_hits,
            }
        )
    return curve


def degraded_accuracy(faces: Path, people2: Path, embedder: FaceEmbedder, args) -> dict:
    """The shared and people2 albums, each photo degraded as real albums are (degrade.py,
    seeded), one album per kind; the queries stay as they are (a selfie is a clean photo).
    Precision and recall per kind and in all, and the near misses."""
    from degrade import KINDS, degraded

    bases = [shared_album(faces), user_album(people2, people2 / "identities.csv", None)]
    boxes = {}
    for base in bases:
        for photo_name, data in base.photos.items():
            try:
                decoded = embedder.decode(data)
                boxes[base.name, photo_name] = [face.box for face in embedder.faces(decoded)]
            except Exception:  # an unreadable photo stays unreadable when degraded
                boxes[base.name, photo_name] = []
    kinds = [kind for kind in (args.degradations or ",".join(KINDS)).split(",") if kind]
    by_kind = {}
    for kind in kinds:
        results = []
        for base in bases:
            photos = {
                n: degraded(data, kind, boxes[base.name, n], seed=f"{base.name}/{n}")
                for n, data in base.photos.items()
            }
            album = LabelledAlbum(
                f"{base.name}-{kind}", photos, base.truth, base.queries, base.query_names
            )
            results.append(album_accuracy(album, embedder, args))
        by_kind[kind] = combined(results)
    return {"kinds": by_kind, "all": combined(list(by_kind.values()))}


def combined(results: list[dict]) -> dict:
    """Album results joined: pairs, hits and misses summed, precision and recall recomputed."""
    wanted = sum(result["true_pairs"] for result in results)
    missed = sum(len(result["misses"]) for result in results)
    false = sum(len(result["false_hits"]) for result in results)
    found = wanted - missed
    joined = {
        "photos": sum(result["photos"] for result in results),
        "faces": sum(result["faces"] for result in results),
        "true_pairs": wanted,
        "precision": _ratio(found, found + false),
        "recall": _ratio(found, wanted),
        "near_misses": sum(result["near_misses"] for result in results),
        "misses": [miss for result in results for miss in result["misses"]],
        "false_hits": [hit for result in results for hit in result["false_hits"]],
    }
    curves = [result["curve"] for result in results if result.get("curve")]
    if curves:
        joined["curve"] = [
            {
                "bar": points[0]["bar"],
                "precision": _ratio(
                    sum(p["true"] for p in points), sum(p["true"] + p["false"] for p in points)
                ),
                "recall": _ratio(sum(p["true"] for p in points), wanted),
                "true": sum(p["true"] for p in points),
                "false": sum(p["false"] for p in points),
            }
            for points in zip(*curves, strict=True)
        ]
    return joined


def grouping_quality(
    index: AlbumIndex, names: list[str], truth: dict[str, set[str]], min_photos: int = 3
) -> dict:
    """People found without a query: for each labelled person in at least `min_photos` photos,
    the F1 (over photos) of the group that best matches theirs; mean and worst."""
    groups = [
        {names[photo] for photo in person.photos}
        for person in group_people(index, min_photos=1).people
    ]
    scores = {}
    for person in sorted({p for people in truth.values() for p in people}):
        theirs = {n for n, people in truth.items() if person in people}
        if len(theirs) < min_photos:
            continue
        scores[person] = max(
            (2 * len(theirs & group) / (len(theirs) + len(group)) for group in groups), default=0.0
        )
    values = list(scores.values())
    return {
        "grouping_mean_f1": round(float(np.mean(values)), 3) if values else None,
        "grouping_worst_f1": round(float(np.min(values)), 3) if values else None,
        "grouping_people": len(values),
        "grouping_f1": {person: round(score, 3) for person, score in scores.items()},
    }


def _closest(
    index: AlbumIndex, names: list[str], photo_name: str, query: np.ndarray, scale: ScoreScale
) -> dict:
    """Why a photo was missed: no face found in it, or its closest face and that face's score."""
    if photo_name not in names or not len(faces := index.faces_in([names.index(photo_name)])):
        return {"why": "no face found in the photo"}
    similarity = float((faces.vectors @ query).max())
    return {
        "why": "below the bar",
        "similarity": round(similarity, 4),
        "score": round(float(scale.percent(similarity)), 1),
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 1.0


def pair_accuracy(folder: Path, embedder: FaceEmbedder) -> dict:
    """Same/different verification on master.csv at the model's own threshold."""
    with open(folder / "master.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    cache: dict[str, np.ndarray | None] = {}

    def embedding(name: str) -> np.ndarray | None:
        if name not in cache:
            try:
                cache[name] = query_faces(embedder, (folder / name).read_bytes(), name)[0].embedding
            except NoFaceError:
                cache[name] = None
        return cache[name]

    threshold = ScoreScale(embedder.model_name).threshold
    right, wrong = 0, []
    for pair in pairs:
        first, second = embedding(pair["file_x"]), embedding(pair["file_y"])
        same = pair["Decision"] == "Yes"
        distance = 2.0 if first is None or second is None else 1.0 - float(first @ second)
        if (distance <= threshold) == same:
            right += 1
        else:
            wrong.append(
                {
                    "pair": [pair["file_x"], pair["file_y"]],
                    "same": same,
                    "distance": round(distance, 4),
                }
            )
    return {
        "pairs": len(pairs),
        "accuracy": _ratio(right, len(pairs)),
        "threshold": threshold,
        "wrong": wrong,
    }


def race_accuracy(
    folder: Path, embedder: FaceEmbedder, photos: int, args: argparse.Namespace
) -> dict:
    """The race-like album of bench_index (12 MP photos, faces of race-photo sizes)."""
    from bench_index import race_album

    data, placed = race_album(folder, photos)
    truth = {f"race/photo{number:04d}.jpg": people for number, people in enumerate(placed)}
    identities = read_truth(folder / "identities.csv")
    queries: dict[str, bytes] = {}
    for photo_name in sorted(
        identities, key=lambda n: int("".join(c for c in n if c.isdigit()) or 0)
    ):
        for person in identities[photo_name]:
            queries.setdefault(person, (folder / photo_name).read_bytes())
    album = LabelledAlbum("race", read_photos_zip(data), truth, queries)
    return album_accuracy(album, embedder, args)


def bib_accuracy(
    album: Path, bibs_csv: Path, embedder: FaceEmbedder, read_size: int, sizes: list[str]
) -> dict:
    """Search by bib number at each photo size (`full`, or a long side in px: the photos
    shrunk as a race site serves them, EXIF applied, JPEG quality 88): index the album as
    `facefind index` does (words read), search every labelled bib as `facefind search --text
    BIB` does, and count (photo, bib) pairs; beside it, plain RapidOCR at its own defaults
    on the same photos. Every miss says what was read in that photo instead; reading is timed
    on its own, one thread each."""
    originals = read_photos(album)
    truth: dict[str, set[str]] = {}
    with open(bibs_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            truth.setdefault(row["bib"], set()).add(row["file"])
    reader = WordReader(read_size=read_size)
    reader.load()
    by_size = {}
    for size in sizes:
        photos = originals if size == "full" else shrunk_album(originals, int(size))
        figures = facefind_bibs(photos, truth, embedder, reader)
        figures["plain"] = plain_rapidocr_bibs(photos, truth)
        by_size[size] = figures
    return {
        "album": album.name,
        "photos": len(originals),
        "bibs": sum(len(wanted) for wanted in truth.values()),
        "sizes": by_size,
    }


def shrunk_album(photos: dict[str, bytes], long_side: int) -> dict[str, bytes]:
    """The photos upright (EXIF applied) and shrunk to `long_side`, JPEG quality 88: what a
    race site or a phone share gives a runner."""
    from PIL import Image, ImageOps

    shrunk = {}
    for name, data in photos.items():
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=88)
        shrunk[name] = buffer.getvalue()
    return shrunk


def facefind_bibs(
    photos: dict[str, bytes], truth: dict[str, set[str]], embedder: FaceEmbedder, reader
) -> dict:
    reading = 0.0
    for data in photos.values():  # the reading step alone, as indexing runs it
        photo, preview = decode_for_faces(data, embedder.in_effect)
        faces = [face.box for face in embedder.detect(photo, preview)]
        started = time.perf_counter()
        reader.read(photo, faces)
        reading += time.perf_counter() - started
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in photos.items():
            archive.writestr(name, data)
    started = time.perf_counter()
    index = IndexBuilder(embedder, word_reader=reader).build(Album(buffer.getvalue()))
    seconds = time.perf_counter() - started
    assert index.words is not None
    read_in = {info.name: words for info, words in zip(index.photos, index.words, strict=True)}
    found = {bib: {hit.name for hit in word_search(index, bib).hits} for bib in truth}
    figures = bib_figures(found, truth, read_in)
    figures["read_ms_per_photo"] = round(1000 * reading / max(len(photos), 1))
    figures["index_seconds"] = round(seconds, 1)
    figures["common_to_the_event"] = {
        token: index.token_counts()[token] for token in sorted(common_tokens(index))
    }
    return figures


def plain_rapidocr_bibs(photos: dict[str, bytes], truth: dict[str, set[str]]) -> dict:
    """RapidOCR run plainly, as its README shows (`RapidOCR()(image)`, every default: angle
    classifier on, text found on the photo shrunk to 2000 px or enlarged to 736 px on the
    short side), one thread, on the photo decoded upright; a bib is found where a token read
    in the photo is that number."""
    from PIL import Image, ImageOps
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    read_in: dict[str, list[Word]] = {}
    reading = 0.0
    for name, data in photos.items():
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        pixels = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        started = time.perf_counter()
        lines, _ = ocr(pixels)
        reading += time.perf_counter() - started
        read_in[name] = [Word(str(line[1]), (0, 0, 1, 1), float(line[2])) for line in lines or []]
    found = {
        bib: {name for name, words in read_in.items() if matching_words(bib, words)}
        for bib in truth
    }
    figures = bib_figures(found, truth, read_in)
    figures["read_ms_per_photo"] = round(1000 * reading / max(len(photos), 1))
    return figures


def bib_figures(
    found: dict[str, set[str]], truth: dict[str, set[str]], read_in: dict[str, list[Word]]
) -> dict:
    """Found, precision and recall over (photo, bib) pairs; each miss with what was read."""
    true_hits = false_hits = 0
    misses, false_found = [], []
    for bib, wanted in sorted(truth.items()):
        true_hits += len(found[bib] & wanted)
        false_found += [{"bib": bib, "photo": name} for name in sorted(found[bib] - wanted)]
        false_hits += len(found[bib] - wanted)
        for name in sorted(wanted - found[bib]):
            numbers = sorted({t for word in read_in.get(name, []) for t in tokens(word.text)})
            misses.append({"bib": bib, "photo": name, "read": numbers})
    pairs = sum(len(wanted) for wanted in truth.values())
    return {
        "found": true_hits,
        "precision": _ratio(true_hits, true_hits + false_hits),
        "recall": _ratio(true_hits, pairs),
        "misses": misses,
        "false_hits": false_found,
    }


#: The runners of ../shared/data/albums/bibs, labelled by eye (benchmarks/bibs_runners.csv:
#: the top-left corner of each clearly seen runner's face box, upright pixels); every other
#: face found there is a spectator, a sliver at the frame's edge or an out-of-focus face.
RUNNERS_CSV = HERE / "bibs_runners.csv"


def runner_groups(folder: Path, labels: Path, embedder: FaceEmbedder) -> dict:
    """People on real race photos: group the album's faces as the People tab does, and say of
    each group whether it is one labelled runner, mixes runners, or holds faces no one could
    recognise (a person who does not exist)."""
    photos = read_photos(folder)
    index, seconds = index_album(LabelledAlbum(folder.name, photos, {}, {}).zip(), embedder)
    with open(labels, newline="") as handle:
        marks = [
            (row["file"], int(row["x"]), int(row["y"]), row["runner"])
            for row in csv.DictReader(handle)
        ]
    names = [photo.name for photo in index.photos]
    groups = []
    for person in group_people(index).people:
        rows = index.faces(person.faces)
        who = [
            _runner_at(names[int(rows.photos[row])], rows.box(row), marks)
            for row in range(len(rows))
        ]
        runners = {runner for runner in who if runner is not None}
        groups.append(
            {
                "photos": sorted(names[photo] for photo in person.photos),
                "runners": sorted(runners),
                "unlabelled_faces": sum(runner is None for runner in who),
            }
        )
    return {
        "album": folder.name,
        "photos": len(names),
        "faces": index.face_count,
        "runners": len({mark[3] for mark in marks}),
        "groups": groups,
        "one_runner": sum(len(g["runners"]) == 1 and not g["unlabelled_faces"] for g in groups),
        "mixed": sum(len(g["runners"]) > 1 for g in groups),
        "with_unrecognisable": sum(g["unlabelled_faces"] > 0 for g in groups),
        "index_seconds": round(seconds, 1),
    }


def _runner_at(photo: str, box: tuple[int, int, int, int], marks: list) -> str | None:
    """The labelled runner whose face box starts where this one does (within a quarter of
    its width), or None."""
    x, y, width, _ = box
    for name, mark_x, mark_y, runner in marks:
        if name == photo and abs(mark_x - x) <= width / 4 and abs(mark_y - y) <= width / 4:
            return runner
    return None


def read_photos_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def run(args: argparse.Namespace) -> dict:
    faces = Path(args.faces or shared_faces_folder())
    model = args.model or FaceSettings().model
    settings = FaceSettings(
        model=model,
        detector=args.detector or preferred_detector(model),
        thorough=args.thorough,
        min_confidence=args.min_confidence,
        detect_size=args.detect_size,
    )
    embedder = FaceEmbedder(settings)
    embedder.load()
    report: dict = {
        "model": embedder.model_name,
        "detector": embedder.detector,
        "thorough": args.thorough,
        "min_score": args.min_score,
        "expand": args.expand,
        "evidence": args.evidence,
        "suites": {},
    }
    suites = [suite for suite in args.suite.split(",") if suite]
    if args.album and args.bibs:
        suites = [suite for suite in suites if suite != "bibs"] + ["bibs"]
    elif args.album:
        suites.append("album")
    for suite in suites:
        if suite == "shared":
            result = album_accuracy(shared_album(faces), embedder, args)
        elif suite == "people2":
            folder = Path(args.people2 or faces.parent / "albums" / "people2")
            result = album_accuracy(
                user_album(folder, folder / "identities.csv", None), embedder, args
            )
        elif suite == "album":
            queries = Path(args.queries) if args.queries else None
            result = album_accuracy(
                user_album(Path(args.album), Path(args.truth), queries), embedder, args
            )
        elif suite == "pairs":
            result = pair_accuracy(faces, embedder)
        elif suite == "race":
            result = race_accuracy(faces, embedder, args.race_photos, args)
        elif suite == "runners":
            folder = Path(args.album or faces.parent / "albums" / "bibs")
            result = runner_groups(folder, Path(args.runners or RUNNERS_CSV), embedder)
        elif suite == "degraded":
            folder = Path(args.people2 or faces.parent / "albums" / "people2")
            result = degraded_accuracy(faces, folder, embedder, args)
        elif suite == "bibs":
            folder = Path(args.album or faces.parent / "albums" / "bibs")
            bibs = Path(args.bibs or folder / "truth.csv")
            sizes = [size for size in args.bib_sizes.split(",") if size]
            result = bib_accuracy(folder, bibs, embedder, args.read_size, sizes)
        else:
            raise SystemExit(f"unknown suite {suite!r}")
        report["suites"][suite] = result
    return report


def print_report(report: dict, misses: bool) -> None:
    print(
        f"model {report['model']}, detector {report['detector']}"
        + (" (thorough)" if report["thorough"] else "")
        + f", bar {report['min_score']}%"
        + ("" if report["expand"] is None else f", expand {report['expand']}")
        + ("" if report.get("evidence") is None else f", evidence {report['evidence']}")
    )
    print("| album | photos | faces | people | true pairs | precision | recall | index s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in report["suites"].items():
        if name in ("pairs", "bibs", "degraded", "runners"):
            continue
        print(
            f"| {name} | {result['photos']} | {result['faces']} | {result['people']} | "
            f"{result['true_pairs']} | {result['precision']} | {result['recall']} | "
            f"{result['index_seconds']} |"
        )
    if "degraded" in report["suites"]:
        print_degraded(report["suites"]["degraded"])
    if "runners" in report["suites"]:
        print_runners(report["suites"]["runners"])
    if "bibs" in report["suites"]:
        print_bibs(report["suites"]["bibs"], misses)
    curves = {n: r["curve"] for n, r in report["suites"].items() if r.get("curve")}
    curves.update(
        {
            f"degraded {kind}": result["curve"]
            for kind, result in report["suites"].get("degraded", {}).get("kinds", {}).items()
            if result.get("curve")
        }
    )
    if report["suites"].get("degraded", {}).get("all", {}).get("curve"):
        curves["degraded, all"] = report["suites"]["degraded"]["all"]["curve"]
    if curves:
        bars = next(iter(curves.values()))
        print("\nPrecision / recall against the bar:")
        print("| album | " + " | ".join(f"{point['bar']:g}%" for point in bars) + " |")
        print("|---|" + "---:|" * len(bars))
        for name, curve in curves.items():
            cells = " | ".join(f"{p['precision']:.3f} / {p['recall']:.3f}" for p in curve)
            print(f"| {name} | {cells} |")
    grouped = {n: r for n, r in report["suites"].items() if r.get("grouping_people")}
    if grouped:
        print("\nPeople (grouping without a query; labelled people in 3+ photos):")
        print("| album | people | mean F1 | worst F1 |")
        print("|---|---:|---:|---:|")
        for name, result in grouped.items():
            print(
                f"| {name} | {result['grouping_people']} | {result['grouping_mean_f1']} | "
                f"{result['grouping_worst_f1']} |"
            )
    if "pairs" in report["suites"]:
        pairs = report["suites"]["pairs"]
        print(f"pairs (master.csv): accuracy {pairs['accuracy']} on {pairs['pairs']} pairs")
    for name, result in report["suites"].items():
        if name == "runners":
            continue
        if name == "degraded":
            for miss in result["all"]["misses"] if misses else ():
                print(f"  degraded: missed {miss}")
            for hit in result["all"]["false_hits"] if misses else ():
                print(f"  degraded: false hit {hit}")
            continue
        if name == "bibs":
            continue
        if name == "pairs":
            for wrong in result["wrong"] if misses else ():
                print(f"  pairs: wrong {wrong}")
            continue
        if result["no_query_face"]:
            print(f"  {name}: no face found in the query of {', '.join(result['no_query_face'])}")
        for miss in result["misses"] if misses else ():
            print(f"  {name}: missed {miss}")
        for hit in result["false_hits"] if misses else ():
            print(f"  {name}: false hit {hit}")
        for person, score in (result.get("grouping_f1") or {}).items() if misses else ():
            if score < 1:
                print(f"  {name}: People groups {person} with F1 {score}")


def print_degraded(degraded: dict) -> None:
    print(
        "\ndegraded (shared + people2, every album photo degraded, one album per kind; "
        f"near misses: found faces scored {NEAR_MISS[0]:g}-{NEAR_MISS[1]:g}%)"
    )
    print("| degradation | photos | faces | true pairs | precision | recall | near misses |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, result in [*degraded["kinds"].items(), ("all", degraded["all"])]:
        print(
            f"| {kind} | {result['photos']} | {result['faces']} | {result['true_pairs']} | "
            f"{result['precision']} | {result['recall']} | {result['near_misses']} |"
        )


def print_runners(runners: dict) -> None:
    print(
        f"\nPeople on real race photos ({runners['album']}, {runners['photos']} photos, "
        f"{runners['faces']} faces, {runners['runners']} runners labelled by eye): "
        f"{len(runners['groups'])} people shown, {runners['one_runner']} of them one runner, "
        f"{runners['mixed']} mixing runners, {runners['with_unrecognisable']} with faces no one "
        "could recognise"
    )
    for group in runners["groups"]:
        print(
            f"  {', '.join(group['photos'])}: runners {group['runners'] or 'none'}, "
            f"{group['unlabelled_faces']} unlabelled faces"
        )


def print_bibs(bibs: dict, misses: bool) -> None:
    print(
        f"\nbibs ({bibs['album']}, {bibs['photos']} photos, {bibs['bibs']} labelled bibs): "
        "facefind against plain RapidOCR at its defaults (reading alone, ms a photo, one thread)"
    )
    print("| photos | facefind found | precision | ms | RapidOCR found | precision | ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size, ours in bibs["sizes"].items():
        plain = ours["plain"]
        print(
            f"| {size if size == 'full' else size + ' px'} | {ours['found']}/{bibs['bibs']} | "
            f"{ours['precision']} | {ours['read_ms_per_photo']} | {plain['found']}/{bibs['bibs']}"
            f" | {plain['precision']} | {plain['read_ms_per_photo']} |"
        )
    for size, ours in bibs["sizes"].items():
        common = ", ".join(f"{t} ({n} photos)" for t, n in ours["common_to_the_event"].items())
        print(f"  {size}: common to the event (never followed to a face): {common or 'none'}")
        for who, figures in (("facefind", ours), ("RapidOCR", ours["plain"])) if misses else ():
            for miss in figures["misses"]:
                print(
                    f"  {size} {who}: missed {miss['bib']} in {miss['photo']}, read {miss['read']}"
                )
            for hit in figures["false_hits"]:
                print(
                    f"  {size} {who}: {hit['bib']} found in {hit['photo']}, which does not show it"
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suite",
        default="shared,people2,pairs",
        help="comma-separated: shared, people2, pairs, race, bibs (default: the first three)",
    )
    parser.add_argument("--album", help="a labelled album: a zip or a folder of photos")
    parser.add_argument("--truth", help="with --album: CSV of file,person")
    parser.add_argument(
        "--bibs", help="with --album: CSV of file,bib (the bibs suite on that album)"
    )
    parser.add_argument(
        "--read-size",
        type=int,
        default=MAX_SCAN,
        help="the largest long side words are found on (px)",
    )
    parser.add_argument(
        "--bib-sizes",
        default="full,1024,800",
        help="bibs suite: the photo sizes to measure (full, or a long side in px)",
    )
    parser.add_argument("--queries", help="with --album: folder of query photos named PERSON.jpg")
    parser.add_argument("--faces", help="the shared face photos (default ../shared/data/faces)")
    parser.add_argument("--people2", help="the people2 album folder")
    parser.add_argument("--model")
    parser.add_argument("--detector")
    parser.add_argument(
        "--thorough",
        action="store_true",
        help="dlib's CNN detector for album photos where HOG finds no face",
    )
    parser.add_argument("--min-score", type=float, default=50.0)
    parser.add_argument(
        "--min-confidence", type=float, help="the detector's bar (default: its own)"
    )
    parser.add_argument("--detect-size", type=int, help="long side the detector scans (px)")
    parser.add_argument(
        "--expand",
        dest="expand",
        action="store_true",
        default=None,
        help="search again with the album faces it is sure of",
    )
    parser.add_argument("--no-expand", dest="expand", action="store_false")
    parser.add_argument(
        "--no-evidence",
        dest="evidence",
        action="store_false",
        default=None,
        help="no near misses won back by the album's own evidence (search.evidence)",
    )
    parser.add_argument("--race-photos", type=int, default=40)
    parser.add_argument(
        "--runners", help="runners suite: CSV of file,x,y,runner (default: bibs_runners.csv)"
    )
    parser.add_argument(
        "--degradations",
        help="degraded suite: the kinds to measure (default: small,messenger,scan,occluded,turned)",
    )
    parser.add_argument(
        "--curve",
        type=lambda text: [float(bar) for bar in text.split(",") if bar],
        help="precision and recall at each of these bars (%%), e.g. 30,35,40,45,50,55,60",
    )
    parser.add_argument("--misses", action="store_true", help="list every miss and false hit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.album and not (args.truth or args.bibs):
        parser.error("--album needs --truth (faces) or --bibs (bib numbers)")
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report, args.misses)


if __name__ == "__main__":
    main()
