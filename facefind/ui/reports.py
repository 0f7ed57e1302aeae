"""What the command line prints and writes: progress notices, results as lines or JSON, what
was indexed and skipped. Notices and progress go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from facefind.config import (
    detector_name,
)
from facefind.errors import FacefindError
from facefind.search.people import People
from facefind.search.results import BY_EVIDENCE, UNCLEAR_FACE, PhotoHit
from facefind.stores.base import IndexStore
from facefind.stores.urls import safe_url


def notify(message: str) -> None:
    print(f"facefind: {message}", file=sys.stderr)


def say_indexed(index: IndexStore, output: str, added: str = "") -> None:
    described = f", photos described by {index.photo_model}" if index.photo_model else ""
    if index.word_reader is not None:
        described += ", words read"
    print(
        f"{added}{len(index.photos)} photos, {index.face_count} faces ({index.model}, "
        f"{detector_name(index.detector)} detector){described}, {len(index.skipped)} skipped "
        f"-> {safe_url(output)}",
        file=sys.stderr,
    )
    report_skipped(index)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def people_report(index: IndexStore, people: People, names: dict[int, str] | None = None) -> dict:
    """The JSON document of `facefind people` (a person's name where the user gave one)."""
    shown = index.faces([person.face for person in people.people])
    names = names or {}
    return {
        "people": [
            {
                "id": person.id,
                "name": names.get(person.id),
                "photos": [index.photos[photo].name for photo in person.photos],
                "faces": len(person.faces),
                "face": {
                    "photo": index.photos[int(shown.photos[row])].name,
                    "box": list(shown.box(row)),
                },
            }
            for row, person in enumerate(people.people)
        ],
        "others": people.others,
    }


def write_new(path: str, data: bytes) -> None:
    """Write a file the user asked for; never over an existing one."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise FacefindError(f"{path} exists already: choose another name.") from None
    except OSError as error:
        raise FacefindError(f"Cannot write {path}: {error.strerror or error}.") from error


def search_report(index: IndexStore, hits: Sequence[PhotoHit], args: argparse.Namespace) -> dict:
    """The JSON document of a search: model, results (best first) and skipped files."""
    return {
        "model": index.model,
        "detector": index.detector,
        "match": args.match,
        "min_score": args.min_score,
        "text": args.text,
        "photo_model": index.photo_model,
        "word_reader": index.word_reader,
        "photos": len(index.photos),
        "results": [
            {
                "photo": hit.name,
                "score": round(hit.score, 2),
                "faces": [
                    {
                        "person": face.person,
                        "box": list(face.box),
                        "score": round(face.score, 2),
                        "unclear": face.unclear,
                    }
                    for face in hit.faces
                ],
                "via": hit.via,
                "words": [
                    {"text": word.text, "box": list(word.box), "score": round(word.confidence, 3)}
                    for word in hit.words
                ],
            }
            for hit in hits
        ],
        "skipped": [{"name": item.name, "reason": item.reason} for item in index.skipped],
    }


def print_hits(hits: Sequence[PhotoHit], people: int, words: bool) -> None:
    if not hits:
        hints = (["a lower --min-score"] if people else []) + (["other words"] if words else [])
        print(f"No photo matched. Try {', or '.join(hints)}.", file=sys.stderr)
    for hit in hits:
        detail = ""
        if people > 1:
            detail = (
                "  ("
                + ", ".join(f"person {face.person + 1}: {face.score:.0f}%" for face in hit.faces)
                + ")"
            )
        if hit.words:
            detail += "  (" + ", ".join(repr(word.text) for word in hit.words) + ")"
        elif hit.via == "face" and not people:
            detail += "  (the face of the person wearing it)"
        elif hit.via == "album":
            detail += f"  ({BY_EVIDENCE})"
        if hit.unclear:
            detail += f"  ({UNCLEAR_FACE})"
        print(f"{hit.score:5.1f}%  {hit.name}{detail}")


def report_skipped(index: IndexStore) -> None:
    if index.skipped:
        print(f"{len(index.skipped)} files skipped:", file=sys.stderr)
        for item in index.skipped:
            print(f"  {item.name}: {item.reason}", file=sys.stderr)
