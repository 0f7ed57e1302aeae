"""The command line: `facefind index|search|describe|words|people ...` (or `python -m facefind`).

Exit codes: 0 done (also when nothing matched), 2 a problem with the input that the message
explains (unreadable album, query photo without a face, index of another model), 1 an
unexpected failure. Progress and notices go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from facefind import __version__
from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import (
    DEFAULT_UFORM_MODEL,
    UFORM_MODEL_ENV,
    UFORM_MODELS,
    PhotoTextModel,
)
from facefind.analysis.words import WordReader
from facefind.config import (
    DEFAULT_FACE_MODEL,
    FACE_MODELS,
    FaceSettings,
    detector_name,
    face_settings,
)
from facefind.errors import FacefindError, ModelUnavailableError
from facefind.indexing.builder import IndexBuilder, add_photo_embeddings, changed_photos
from facefind.indexing.progress import IndexingRate
from facefind.search.curation import forget_people, remove_photos
from facefind.search.faces import DEFAULT_MIN_SCORE, query_faces, search_faces, stack_embeddings
from facefind.search.people import People, PeopleNotes, group_people
from facefind.search.results import PhotoHit
from facefind.search.words import text_results
from facefind.sources.archive import PhotoSource
from facefind.sources.folders import open_album
from facefind.stores.base import IndexStore
from facefind.stores.npz import AlbumIndex, is_index_file
from facefind.stores.opening import open_store
from facefind.stores.optout import FORGET_SCORE, without_opted_out
from facefind.stores.urls import is_store_url, safe_url

if TYPE_CHECKING:
    from facefind.stores.postgres import PostgresStore


class ProgressPrinter:
    """'indexed 120/900 photos, 3.2 photos/s, 4 min left' on stderr (in place on a terminal)."""

    def __init__(self, verb: str = "indexed", stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.rate = IndexingRate(verb)
        self.interactive = stream.isatty()
        self.last_shown = -1.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_shown < (0.2 if self.interactive else 5.0):
            return
        self.last_shown = now
        line = self.rate.line(done, total)
        end = "\r" if self.interactive and done < total else "\n"
        self.stream.write(line.ljust(60) + end)
        self.stream.flush()


def _face_settings(args: argparse.Namespace) -> FaceSettings:
    return face_settings(args.model, args.detector, args.min_confidence, args.thorough)


def _notify(message: str) -> None:
    print(f"facefind: {message}", file=sys.stderr)


def _embedder(settings: FaceSettings) -> FaceEmbedder:
    return FaceEmbedder(settings, notify=_notify)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise FacefindError(f"Cannot read {path}: {error.strerror or error}.") from error


def _open_album(paths: str | list[str]) -> PhotoSource:
    """The album: folders read file by file, zips one photo at a time (nothing is extracted)."""
    return open_album([paths] if isinstance(paths, str) else paths)


def _builder(
    embedder: FaceEmbedder, photo_model: PhotoTextModel | None, args: argparse.Namespace
) -> IndexBuilder:
    """The indexer for the user's choices (words read unless --no-words)."""
    reader = None if args.no_words else WordReader()
    return IndexBuilder(embedder, photo_model, notify=_notify, word_reader=reader)


def _progress(args: argparse.Namespace) -> ProgressPrinter | None:
    """Progress on stderr; with words read, it says both stages of each photo."""
    verb = "indexed" if args.no_words else "found the faces and read the bib numbers of"
    return None if args.quiet else ProgressPrinter(verb)


def _index_path(album: str) -> str:
    """Where an album's index goes by default: album.zip -> album.facefind, a folder
    photos/ -> photos.facefind beside it."""
    source = Path(album).resolve()
    if source.is_dir():
        return str(source.with_name(source.name + ".facefind"))
    return str(source.with_suffix(".facefind"))


def run_index(args: argparse.Namespace) -> int:
    photo_model = None if args.no_text else PhotoTextModel(args.uform_model)
    if len(args.album) > 1 and not args.output:
        raise FacefindError("With several folders or zips, name the index to write: -o FILE.")
    output = args.output or _index_path(args.album[0])
    album = _open_album(args.album)
    builder = _builder(_embedder(_face_settings(args)), photo_model, args)
    progress = _progress(args)
    if is_store_url(output) or args.ray:
        return _index_in_parts(output, album, builder, args, progress)
    index = replace(builder.build(album, progress), sources=_source_paths(args.album))
    index = _keeping_opt_outs(index, output)
    index.save(output)
    _say_indexed(index, output)
    return 0


def _keeping_opt_outs(index: AlbumIndex, output: str) -> AlbumIndex:
    """An index written over an earlier one keeps the people who asked not to be found there
    (`facefind forget`): out of the new photos too."""
    if not is_index_file(output):
        return index
    kept = AlbumIndex.load(output).opted_out()
    if not len(kept):
        return index
    verb = "stays" if len(kept) == 1 else "stay"
    _notify(f"{plural(len(kept), 'person', 'people')} who asked not to be found {verb} out.")
    return replace(without_opted_out(index, kept), opted_out_faces=kept)


def _source_paths(albums: list[str]) -> tuple[str, ...]:
    """The album's folders and zips as absolute paths, for serving it as an event later."""
    return tuple(str(Path(album).resolve()) for album in albums)


def _say_indexed(index: IndexStore, output: str, added: str = "") -> None:
    described = f", photos described by {index.photo_model}" if index.photo_model else ""
    if index.word_reader is not None:
        described += ", words read"
    print(
        f"{added}{len(index.photos)} photos, {index.face_count} faces ({index.model}, "
        f"{detector_name(index.detector)} detector){described}, {len(index.skipped)} skipped "
        f"-> {safe_url(output)}",
        file=sys.stderr,
    )
    _report_skipped(index)


def _index_in_parts(
    output: str,
    album: PhotoSource,
    builder: IndexBuilder,
    args: argparse.Namespace,
    progress: ProgressPrinter | None,
) -> int:
    """Into a database store, chunk by chunk, each written when done (a second run continues
    where a stopped one stopped); and/or on a Ray cluster (--ray)."""
    from facefind.indexing.builder import index_into
    from facefind.indexing.cluster import JoinedParts

    sources = _source_paths(args.album)
    store: PostgresStore | JoinedParts
    if is_store_url(output):
        from facefind.stores.postgres import PostgresStore

        store = PostgresStore(output)
        known = store.sources
        if known and set(known) != set(sources):
            raise FacefindError(
                f"This store was made from other photos ({', '.join(known)}): index them "
                "into a new database."
            )
        store.add_sources(sources)
        _repair(store, album, args.prune)
    else:
        store = JoinedParts([])
    if args.ray:
        from facefind.indexing.cluster import connect, index_on_ray

        ray = connect(args.ray, args.workers)
        added, before = index_on_ray(ray, album, builder, store, args.workers, progress)
    else:
        added, before = index_into(store, album, builder, progress)
    said = f"{added} photos indexed now, {before} there already: "
    if isinstance(store, JoinedParts):  # --ray into a file: the parts as one .npz
        joined = replace(AlbumIndex.joined(store.parts), sources=sources)
        joined.save(output)
        _say_indexed(joined, output, said)
    else:
        _say_indexed(store, output, said)
    return 0


def _repair(store: IndexStore, album: PhotoSource, prune: bool) -> None:
    """Before indexing into a store again: a photo whose file changed since it was indexed is
    removed, to be indexed again; one whose file is gone is removed with --prune, else said."""
    changed, vanished = changed_photos(store, album)
    if changed:
        store.remove(changed, keep_out=False)
        _notify(f"{len(changed)} photos changed since they were indexed: indexing them again.")
    if vanished and prune:
        store.remove(vanished, keep_out=False)
        _notify(f"{len(vanished)} photos no longer in the folders were removed from the store.")
    elif vanished:
        _notify(
            f"{len(vanished)} photos of the store are no longer in the folders (first: "
            f"{vanished[0]}); an event leaves them out. --prune removes them from the store."
        )


def run_remove(args: argparse.Namespace) -> int:
    """Take photos out of a store (or an index file): their faces, words and thumbnails."""
    store = open_store(args.index)
    store, removed = remove_photos(store, args.photos)
    if removed:
        store.keep(args.index)
    for name in args.photos:
        if name not in removed:
            _notify(f"{name}: no such photo in {safe_url(args.index)} (names as `search` prints)")
    print(f"{plural(len(removed), 'photo')} removed from {safe_url(args.index)}", file=sys.stderr)
    store.close()
    return 0 if removed or not args.photos else 2


def run_forget(args: argparse.Namespace) -> int:
    """Remove every face of the people in the given photos (a runner asked to be forgotten, or
    opted out at registration) and keep them out of every later search and indexing run."""
    store = open_store(args.index)
    embedder = _embedder(store.settings)
    faces = [query_faces(embedder, _read(path), name=path)[0] for path in args.face]
    store, forgotten = forget_people(store, stack_embeddings(faces), args.min_score)
    store.keep(args.index)
    store.close()
    print(
        f"{plural(len(faces), 'person', 'people')} forgotten: "
        f"{plural(forgotten.faces, 'face')} removed, "
        f"{plural(len(forgotten.photos_removed), 'photo')} that showed only them removed, "
        f"{plural(forgotten.photos_kept, 'photo')} kept for the other people in them. "
        "They are kept out of every search and of photos indexed later.",
        file=sys.stderr,
    )
    return 0


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def run_describe(args: argparse.Namespace) -> int:
    """Add UForm photo embeddings to an index made without them (faces are kept)."""
    photo_model = PhotoTextModel(args.uform_model)
    progress = None if args.quiet else ProgressPrinter()
    if is_store_url(args.index):
        from facefind.indexing.builder import describe_photos
        from facefind.stores.postgres import PostgresStore

        store = PostgresStore(args.index)
        vectors = describe_photos(store, _open_album(args.album), photo_model, progress)
        store.add_photo_vectors(photo_model.name, vectors)
        print(f"{len(vectors)} photos described by {photo_model.name}", file=sys.stderr)
        return 0
    index = AlbumIndex.load(args.index)
    index = add_photo_embeddings(index, _open_album(args.album), photo_model, progress)
    index.save(args.index)
    print(
        f"{len(index.photos)} photos described by {index.photo_model} -> {args.index}",
        file=sys.stderr,
    )
    return 0


def run_words(args: argparse.Namespace) -> int:
    """Read the words and numbers of the photos into an index made without them (--no-words);
    faces are kept."""
    from facefind.indexing.reading import read_words

    if is_store_url(args.index):
        raise FacefindError(
            "A database store reads the words while it is indexed: index the photos into it "
            "again without --no-words."
        )
    index = AlbumIndex.load(args.index)
    progress = None if args.quiet else ProgressPrinter("read the words of")
    found = read_words(index, _open_album(args.album), WordReader(), progress)
    index = found.into(index)
    index.save(args.index)
    print(f"words read in {len(index.photos)} photos -> {args.index}", file=sys.stderr)
    _report_skipped(index)
    return 0


def _load_or_index(args: argparse.Namespace) -> tuple[IndexStore, FaceEmbedder, PhotoSource | None]:
    """The index, from an index file or a database store, or by indexing the album (then also
    the album, for whatever else needs its photos)."""
    if is_store_url(args.album) or is_index_file(args.album):
        index = open_store(args.album, args.model)
        if args.detector and args.detector != index.detector:
            _notify(
                f"the index was made with the {index.detector} detector; "
                "query faces are found with it too."
            )
        return index, _embedder(index.settings), None
    embedder = _embedder(_face_settings(args))
    photo_model = _usable_text_model(args.uform_model) if args.text else None
    album = _open_album(args.album)
    return _builder(embedder, photo_model, args).build(album, _progress(args)), embedder, album


def _usable_text_model(name: str | None, quiet: bool = False) -> PhotoTextModel | None:
    """The UForm model for descriptions, or None where it cannot be had (said, unless `quiet`:
    the caller says it where it matters): words and numbers written in the photos are
    searched all the same."""
    photo_model = PhotoTextModel(name)
    try:
        photo_model.load()
    except ModelUnavailableError as error:
        if not quiet:
            _notify(f"{error} Searching the words written in the photos only.")
        return None
    return photo_model


def run_search(args: argparse.Namespace) -> int:
    if not args.face and not args.text:
        raise FacefindError("Say what to look for: --face PHOTO, --text DESCRIPTION, or both.")
    index, embedder, _ = _load_or_index(args)
    faces = []
    for path in args.face or ():
        faces.extend(query_faces(embedder, _read(path), name=path, all_faces=args.all_faces))
    hits = None
    if faces:
        queries = stack_embeddings(faces, same_person=args.same_person)
        hits = search_faces(index, queries, args.match, args.min_score, expand=args.expand)
    if args.text:
        hits = _text_hits(index, args, hits)
    assert hits is not None
    if args.json:
        json.dump(search_report(index, hits, args), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        _print_hits(hits, len(faces), bool(args.text))
        _report_skipped(index)
    return 0


def _text_hits(
    index: IndexStore, args: argparse.Namespace, within: list[PhotoHit] | None
) -> list[PhotoHit]:
    """Photos whose written words match first (and, with --wearer, the other photos of whoever
    wears them), then, where the UForm model can be had, the best described photos."""
    described = index.photo_vectors() is not None  # asked once: a database reads them all
    photo_model = None
    if described:
        photo_model = _usable_text_model(args.uform_model or index.photo_model, quiet=True)
    found = text_results(
        index, args.text, within, wearer=args.wearer, photo_model=photo_model, top=args.top
    )
    for note in found.notes:
        _notify(note)
    if photo_model is not None or found.hits:  # words matched: descriptions are not missed
        return found.hits
    searched_now = not (is_index_file(args.album) or is_store_url(args.album))
    if not described and not searched_now:
        _notify(
            "No photo has these words written in it, and this album was indexed without photo "
            "embeddings (the UForm model was not available), so it cannot be searched by "
            "description: add them with `facefind describe ALBUM.zip INDEX` where the model "
            "can be had."
        )
    elif described:  # but the model cannot be had now
        # (a zip searched now without the model: that was said before it was indexed)
        _notify(
            "No photo has these words written in it, and descriptions need the UForm model, "
            "which cannot be had here (it downloads once where there is internet)."
        )
    if within is None:
        return []
    _notify("These are the photos of the people found by face, not narrowed by the words.")
    return list(within)


def run_people(args: argparse.Namespace) -> int:
    """Everyone in the album, without a query photo: groups of faces, most photos first."""
    index, _, album = _load_or_index(args)
    notes = PeopleNotes.saved_with(index)
    people = notes.shown(args.min_photos) if notes else group_people(index, args.min_photos)
    report = people_report(index, people, notes.names if notes else {})
    if args.export:
        if args.album_zip and not is_index_file(args.album_zip[0]):
            album = _open_album(args.album_zip)
        elif album is None and index.sources:  # indexed from the command line: from there
            album = _open_album(list(index.sources))
        elif args.album_zip or album is None:  # an index file: its photos are not in it
            raise FacefindError(
                "--export needs the album's photos: give its zip or folder with --album-zip."
            )
        folders = {f"person-{entry['id']:02d}": entry["photos"] for entry in report["people"]}
        exported = album.zip_of_folders(folders)
        _write_new(args.export, exported.data)
        print(f"{len(folders)} people exported to {args.export}", file=sys.stderr)
        for item in exported.left_out:
            _notify(f"{item.name} left out of the export: {item.reason}")
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    for entry in report["people"]:
        who = (
            f"{entry['name']} (person {entry['id']})" if entry["name"] else f"person {entry['id']}"
        )
        print(f"{who}: {len(entry['photos'])} photos, {entry['faces']} faces")
    print(
        f"{report['others']} faces of people seen in fewer than {args.min_photos} photos "
        "are not listed (--min-photos 1 lists them too)",
        file=sys.stderr,
    )
    return 0


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


def _write_new(path: str, data: bytes) -> None:
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
                    {"person": face.person, "box": list(face.box), "score": round(face.score, 2)}
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


def _print_hits(hits: Sequence[PhotoHit], people: int, words: bool) -> None:
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
        print(f"{hit.score:5.1f}%  {hit.name}{detail}")


def _report_skipped(index: IndexStore) -> None:
    if index.skipped:
        print(f"{len(index.skipped)} files skipped:", file=sys.stderr)
        for item in index.skipped:
            print(f"  {item.name}: {item.reason}", file=sys.stderr)


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
        help="do not search again with the album faces it is sure of (query expansion)",
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
    if not os.environ.get("FACEFIND_DEBUG"):
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
        if os.environ.get("FACEFIND_DEBUG"):
            raise
        print(
            f"facefind: unexpected error: {type(error).__name__}: {error} "
            "(set FACEFIND_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
