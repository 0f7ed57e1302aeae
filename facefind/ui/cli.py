"""The command line: `facefind index|search|describe|words|people ...` (or `python -m facefind`).

Exit codes: 0 done (also when nothing matched), 2 a problem with the input that the message
explains (unreadable album, query photo without a face, index of another model), 1 an
unexpected failure. Progress and notices go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from facefind import __version__
from facefind.analysis.semantic import (
    DEFAULT_UFORM_MODEL,
    UFORM_MODELS,
)
from facefind.config import (
    DEFAULT_FACE_MODEL,
    FACE_MODELS,
    UFORM_MODEL_ENV,
    Environment,
)
from facefind.errors import FacefindError
from facefind.search.faces import DEFAULT_MIN_SCORE
from facefind.stores.optout import FORGET_SCORE
from facefind.ui.commands import (
    run_describe,
    run_forget,
    run_index,
    run_people,
    run_remove,
    run_search,
    run_words,
)

UFORM_HELP = (
    f"UForm model for text search: a hub name ({', '.join(UFORM_MODELS)}) or a local folder; "
    f"default ${UFORM_MODEL_ENV} or {DEFAULT_UFORM_MODEL}"
)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="facefind", description="Find your photos in an album zip by face."
    )
    main.add_argument("--version", action="version", version=f"facefind {__version__}")
    commands = main.add_subparsers(dest="command", required=True)

    def face_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--model",
            choices=FACE_MODELS,
            help=f"face model (default {DEFAULT_FACE_MODEL}; Facenet downloads its weights once)",
        )
        command.add_argument(
            "--detector",
            help="face detector: yuface (libfacedetection), dlib, opencv, yunet, ... (default: "
            "the model's best: yuface for "
            "Dlib, yunet for Facenet)",
        )
        command.add_argument(
            "--min-confidence", type=float, help="drop faces the detector is less sure of (0-1)"
        )
        command.add_argument(
            "--thorough",
            action="store_true",
            help="photos where no face is found get a second look with dlib's slower CNN "
            "detector (turned and dark faces; about 3 s for each such photo)",
        )
        command.add_argument("--quiet", action="store_true", help="no progress on stderr")
        command.add_argument("--uform-model", help=UFORM_HELP)
        command.add_argument(
            "--no-words",
            action="store_true",
            help="do not read the words and numbers written in the photos (bibs, signs): "
            "faster indexing, no search by bib number",
        )

    index = commands.add_parser("index", help="index an album zip and save the index")
    index.add_argument(
        "album",
        nargs="+",
        metavar="ALBUM",
        help="the album: a .zip or a folder of photos (several are indexed as one album, "
        "each photo named after its source)",
    )
    index.add_argument(
        "-o",
        "--output",
        help="index file to write (default ALBUM.facefind), or a postgresql:// URL: a store "
        "that a second run adds to, continuing where a stopped run stopped",
    )
    index.add_argument(
        "--no-text",
        action="store_true",
        help="skip UForm photo embeddings (no search by description; words are still read)",
    )
    index.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="index on a Ray cluster: 'auto', HOST:PORT, ray://HOST:10001, or 'local' for one "
        "on this machine (pip install 'facefind[cluster]')",
    )
    index.add_argument(
        "--workers", type=int, help="with --ray: workers (one core each; default all CPUs)"
    )
    index.add_argument(
        "--prune",
        action="store_true",
        help="into a database store: remove the photos whose files are gone from the folders",
    )
    face_options(index)
    index.set_defaults(run=run_index)

    remove = commands.add_parser(
        "remove", help="remove photos from a store or an index: faces, words, thumbnails"
    )
    remove.add_argument("index", help="the index file or postgresql:// store")
    remove.add_argument("photos", nargs="+", metavar="PHOTO", help="photo names, as search prints")
    remove.set_defaults(run=run_remove)

    forget = commands.add_parser(
        "forget",
        help="remove a person (a runner who asks, or who opted out) from a store or an index, "
        "and keep them out of every later search and indexing run",
    )
    forget.add_argument("index", help="the index file or postgresql:// store")
    forget.add_argument(
        "--face",
        action="append",
        required=True,
        help="a photo of the person (the largest face is used); repeat for more people",
    )
    forget.add_argument(
        "--min-score",
        type=float,
        default=FORGET_SCORE,
        help=f"faces at least this alike are theirs (default {FORGET_SCORE:.0f}: below the "
        "search's 50%%, so that forgetting errs towards removing)",
    )
    forget.set_defaults(run=run_forget)

    describe = commands.add_parser(
        "describe", help="add UForm photo embeddings to an index made without them"
    )
    describe.add_argument("album", help="the album (.zip or folder) the index was made from")
    describe.add_argument("index", help="the index file to update")
    describe.add_argument("--uform-model", help=UFORM_HELP)
    describe.add_argument("--quiet", action="store_true", help="no progress on stderr")
    describe.set_defaults(run=run_describe)

    words = commands.add_parser(
        "words",
        help="read the words and numbers (bibs) of the photos into an index made with --no-words",
    )
    words.add_argument("album", help="the album (.zip or folder) the index was made from")
    words.add_argument("index", help="the index file to update")
    words.add_argument("--quiet", action="store_true", help="no progress on stderr")
    words.set_defaults(run=run_words)

    search = commands.add_parser("search", help="find photos of one or more people")
    search.add_argument("album", help="the album (.zip or folder), or an index made by 'index'")
    search.add_argument("--face", action="append", help="a photo of a person (repeat for more)")
    search.add_argument(
        "--same-person",
        action="store_true",
        help="the --face photos all show one person: search for them as one (finds more of "
        "their photos than any one photo does)",
    )
    search.add_argument(
        "--text", help="describe the photo; with --face, ranks the photos of those people"
    )
    search.add_argument(
        "--wearer",
        action="store_true",
        help="with --text NUMBER: also the other photos of the person wearing it (found by "
        "the face above it; marked as found by face)",
    )
    search.add_argument(
        "--top", type=int, default=20, help="how many photos a --text search returns (default 20)"
    )
    search.add_argument(
        "--match",
        choices=("any", "all"),
        default="any",
        help="any: photos with at least one of the people; all: photos with every one",
    )
    search.add_argument(
        "--min-score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        help="similarity bar in percent (50 = the model's own same-person threshold)",
    )
    search.add_argument(
        "--all-faces",
        action="store_true",
        help="search for every face of the query photos, not only the largest",
    )
    search.add_argument(
        "--no-expand",
        dest="expand",
        action="store_false",
        help="search with the query photos alone: not again with the album faces it is sure "
        "of (query expansion), and no photo under the bar won back by the album's own evidence",
    )
    search.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    face_options(search)
    search.set_defaults(run=run_search)

    people = commands.add_parser("people", help="everyone in the album, grouped by face")
    people.add_argument("album", help="the album (.zip or folder), or an index made by 'index'")
    people.add_argument(
        "--min-photos",
        type=int,
        default=2,
        help="show people seen in at least this many photos (default 2)",
    )
    people.add_argument(
        "--export",
        metavar="OUT.zip",
        help="write a zip with one folder per person holding their original photos",
    )
    people.add_argument(
        "--album-zip",
        nargs="+",
        metavar="ALBUM",
        help="with an index and --export: the album (zips or folders) it was made from",
    )
    people.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    face_options(people)
    people.set_defaults(run=run_people, text=None)
    return main


class _OneLine(logging.Formatter):
    """Log records as one 'facefind: ...' line: no traceback for the user (FACEFIND_DEBUG=1
    shows them)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"facefind: {record.getMessage()}"


def _log_to_stderr() -> None:
    logger = logging.getLogger("facefind")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    if not Environment.now().debug:
        handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _log_to_stderr()
    try:
        return int(args.run(args))
    except FacefindError as error:
        print(f"facefind: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facefind: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which has read enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # never a traceback for the user, unless asked for
        if Environment.now().debug:
            raise
        print(
            f"facefind: unexpected error: {type(error).__name__}: {error} "
            "(set FACEFIND_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
