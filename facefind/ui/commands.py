"""The command line's commands (`facefind index|search|describe|words|people|remove|forget`),
each a `run_*(args)` over the library; cli.py parses the arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from facefind.analysis.faces import FaceEmbedder
from facefind.analysis.semantic import (
    PhotoTextModel,
)
from facefind.analysis.words import WordReader
from facefind.config import (
    FaceSettings,
    face_settings,
)
from facefind.errors import FacefindError, ModelUnavailableError
from facefind.indexing.builder import IndexBuilder, changed_photos, describe_photos
from facefind.indexing.chunks import index_into
from facefind.indexing.progress import IndexingRate
from facefind.search.curation import forget_people, remove_photos
from facefind.search.faces import query_faces, search_faces, stack_embeddings
from facefind.search.people import PeopleNotes, group_people
from facefind.search.results import PhotoHit
from facefind.search.words import text_results
from facefind.sources.archive import PhotoSource
from facefind.sources.folders import open_album
from facefind.stores.base import IndexStore, IndexTarget
from facefind.stores.npz import AlbumIndex, is_index_file
from facefind.stores.opening import check_album_of, open_for_indexing, open_store
from facefind.stores.urls import is_store_url, safe_url
from facefind.ui.reports import (
    notify,
    people_report,
    plural,
    print_hits,
    report_skipped,
    say_indexed,
    search_report,
    write_new,
)


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


def _embedder(settings: FaceSettings) -> FaceEmbedder:
    return FaceEmbedder(settings, notify=notify)


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
    return IndexBuilder(embedder, photo_model, notify=notify, word_reader=reader)


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
    """Index the album into an index file or a database store: here, or on a Ray cluster
    (--ray); into a store chunk by chunk, each committed when done, so that a second run
    continues where a stopped one stopped."""
    photo_model = None if args.no_text else PhotoTextModel(args.uform_model)
    if len(args.album) > 1 and not args.output:
        raise FacefindError("With several folders or zips, name the index to write: -o FILE.")
    output = args.output or _index_path(args.album[0])
    album = _open_album(args.album)
    builder = _builder(_embedder(_face_settings(args)), photo_model, args)
    progress = _progress(args)
    sources = _source_paths(args.album)
    target = open_for_indexing(output)
    known = target.sources
    if known and set(known) != set(sources):
        raise FacefindError(
            f"This store was made from other photos ({', '.join(known)}): index them "
            "into a new database."
        )
    target.add_sources(sources)
    _repair(target, album, args.prune)
    opted_out = len(target.opted_out())
    if opted_out:
        _say_opted_out(opted_out)
    said = ""
    if args.ray:
        from facefind.indexing.cluster import connect, index_on_ray

        ray = connect(args.ray, args.workers)
        added, before = index_on_ray(ray, album, builder, target, args.workers, progress)
        said = f"{added} photos indexed now, {before} there already: "
    elif target.resumable:  # chunk by chunk, each committed: a stopped run loses one at most
        added, before = index_into(target, album, builder, progress)
        said = f"{added} photos indexed now, {before} there already: "
    else:  # an index file is written once, whole: the album is indexed in one go
        target.add(builder.build(album, progress))
    target.keep(output)
    say_indexed(target.as_store(), output, said)
    target.close()
    return 0


def _say_opted_out(people: int) -> None:
    verb = "stays" if people == 1 else "stay"
    notify(f"{plural(people, 'person', 'people')} who asked not to be found {verb} out.")


def _source_paths(albums: list[str]) -> tuple[str, ...]:
    """The album's folders and zips as absolute paths, for serving it as an event later."""
    return tuple(str(Path(album).resolve()) for album in albums)


def _repair(store: IndexTarget, album: PhotoSource, prune: bool) -> None:
    """Before indexing into a store again: a photo whose file changed since it was indexed is
    removed, to be indexed again; one whose file is gone is removed with --prune, else said."""
    changed, vanished = changed_photos(store, album)
    if changed:
        store.remove(changed, keep_out=False)
        notify(f"{len(changed)} photos changed since they were indexed: indexing them again.")
    if vanished and prune:
        store.remove(vanished, keep_out=False)
        notify(f"{len(vanished)} photos no longer in the folders were removed from the store.")
    elif vanished:
        notify(
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
            notify(f"{name}: no such photo in {safe_url(args.index)} (names as `search` prints)")
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


def run_describe(args: argparse.Namespace) -> int:
    """Add UForm photo embeddings to an index or a store made without them (faces are kept)."""
    photo_model = PhotoTextModel(args.uform_model)
    progress = None if args.quiet else ProgressPrinter()
    store = open_store(args.index)
    vectors = describe_photos(store, _open_album(args.album), photo_model, progress)
    store = store.add_photo_vectors(photo_model.name, vectors)
    store.keep(args.index)
    store.close()
    print(
        f"{len(vectors)} photos described by {photo_model.name} -> {safe_url(args.index)}",
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
    report_skipped(index)
    return 0


def _load_or_index(args: argparse.Namespace) -> tuple[IndexStore, FaceEmbedder, PhotoSource | None]:
    """The index, from an index file or a database store, or by indexing the album (then also
    the album, for whatever else needs its photos)."""
    if is_store_url(args.album) or is_index_file(args.album):
        index = open_store(args.album, args.model)
        if args.detector and args.detector != index.detector:
            notify(
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
            notify(f"{error} Searching the words written in the photos only.")
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
        hits = search_faces(
            index, queries, args.match, args.min_score, expand=args.expand, evidence=args.expand
        )
    if args.text:
        hits = _text_hits(index, args, hits)
    assert hits is not None
    if args.json:
        json.dump(search_report(index, hits, args), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print_hits(hits, len(faces), bool(args.text))
        report_skipped(index)
    return 0


def _text_hits(
    index: IndexStore, args: argparse.Namespace, within: list[PhotoHit] | None
) -> list[PhotoHit]:
    """Photos whose written words match first (and, with --wearer, the other photos of whoever
    wears them), then, where the UForm model can be had, the best described photos."""
    described = index.described()
    photo_model = None
    if described:
        photo_model = _usable_text_model(args.uform_model or index.photo_model, quiet=True)
    found = text_results(
        index, args.text, within, wearer=args.wearer, photo_model=photo_model, top=args.top
    )
    for note in found.notes:
        notify(note)
    if photo_model is not None or found.hits:  # words matched: descriptions are not missed
        return found.hits
    searched_now = not (is_index_file(args.album) or is_store_url(args.album))
    if not described and not searched_now:
        notify(
            "No photo has these words written in it, and this album was indexed without photo "
            "embeddings (the UForm model was not available), so it cannot be searched by "
            "description: add them with `facefind describe ALBUM.zip INDEX` where the model "
            "can be had."
        )
    elif described:  # but the model cannot be had now
        # (a zip searched now without the model: that was said before it was indexed)
        notify(
            "No photo has these words written in it, and descriptions need the UForm model, "
            "which cannot be had here (it downloads once where there is internet)."
        )
    if within is None:
        return []
    notify("These are the photos of the people found by face, not narrowed by the words.")
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
            check_album_of(index, album, " ".join(args.album_zip))
        elif album is None and index.sources:  # indexed from the command line: from there
            album = _open_album(list(index.sources))
        elif args.album_zip or album is None:  # an index file: its photos are not in it
            raise FacefindError(
                "--export needs the album's photos: give its zip or folder with --album-zip."
            )
        folders = {f"person-{entry['id']:02d}": entry["photos"] for entry in report["people"]}
        exported = album.zip_of_folders(folders)
        write_new(args.export, exported.data)
        print(f"{len(folders)} people exported to {args.export}", file=sys.stderr)
        for item in exported.left_out:
            notify(f"{item.name} left out of the export: {item.reason}")
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
