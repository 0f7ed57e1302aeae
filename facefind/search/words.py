"""Search by the words written in photos: a bib number, a name on a shirt, a sign.

A photo matches when its words hold every word and number of the query (numbers exactly,
words case- and accent-insensitively: words.py). A number printed in a large share of an
album's photos (the year or the race's name on every bib) is not one runner's: the search says
so, and never follows it to a face. "Also photos of the person wearing 1234" follows each
matched number up to the face above it and searches the album for that face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facefind.analysis.semantic import PhotoTextModel
from facefind.analysis.words import Word, matching_words, spellings, tokens
from facefind.errors import FacefindError
from facefind.geometry import Box
from facefind.search.faces import search_faces
from facefind.search.ranking import text_search
from facefind.search.results import PhotoHit
from facefind.stores.base import IndexStore, photo_name
from facefind.vectors import mean_direction

#: A token written in at least this share of an album's photos (and in more than
#: `COMMON_MIN_PHOTOS`) is common to the event, not one runner's (docs/accuracy.md, "Words").
COMMON_SHARE = 0.2
COMMON_MIN_PHOTOS = 4


@dataclass(frozen=True)
class WordResults:
    """Photos found by their words (and, when asked, by the face of whoever wears them), and
    what the user should know about the search."""

    hits: list[PhotoHit]
    notes: list[str]


def common_tokens(index: IndexStore) -> set[str]:
    """Tokens written in so many of the album's photos that they belong to the event."""
    return index.common_tokens(COMMON_MIN_PHOTOS, COMMON_SHARE)


def word_search(
    index: IndexStore, text: str, within: Sequence[PhotoHit] | None = None
) -> WordResults:
    """Photos whose written words hold the query, surest reading first; `within` (face hits)
    narrows the search to those photos and keeps their faces."""
    wanted = tokens(text)
    if not wanted:
        raise FacefindError("Type the words or the number to look for.")
    if not index.words_read():
        return WordResults([], [_NOT_READ])
    candidates = set.intersection(*(_photos_with(index, token) for token in wanted))
    faces = {hit.photo: hit.faces for hit in within} if within is not None else None
    if faces is not None:
        candidates &= set(faces)
    hits = []
    words = index.words_of(sorted(candidates))  # one question to the store, not one a photo
    for photo in sorted(candidates):
        found = matching_words(text, words[photo])
        name = photo_name(index, photo) if found else None
        if found and name is not None:
            score = 100.0 * min(word.confidence for word in found)
            hits.append(
                PhotoHit(
                    photo=photo,
                    name=name,
                    score=score,
                    faces=faces[photo] if faces is not None else (),
                    words=tuple(found),
                    via="words",
                )
            )
    hits.sort(key=lambda hit: (-hit.score, hit.name))
    notes = []
    common = common_tokens(index)
    if all(token in common for token in wanted):
        share = len(candidates) / max(len(index.photos), 1)
        notes.append(
            f"{text.strip()} is written in {share:.0%} of the photos (like a year or the "
            "event's name printed on every bib), so it is not one runner's number."
        )
    return WordResults(hits, notes)


def _photos_with(index: IndexStore, token: str) -> set[int]:
    """The photos holding a typed token in any of its spellings (words.spellings)."""
    return set().union(*(index.photos_with_token(spelling) for spelling in spellings(token)))


_NOT_READ = (
    "This index was made without reading the words in the photos: run `facefind words ALBUM "
    "INDEX` (or index the album again) to search by bib number or written words."
)


def wearer_search(index: IndexStore, found: WordResults, text: str) -> WordResults:
    """The word hits, then the other photos of the person wearing them: the face above each
    matched number, searched for as one person (marked `via="face"`). Numbers common to the
    event are never followed."""
    if set(tokens(text)) <= common_tokens(index):
        return found
    wearer_faces = [
        face
        for hit in found.hits
        for word in hit.words
        if (face := face_above(index, hit.photo, word)) is not None
    ]
    if not wearer_faces:
        notes = [*found.notes, f"No face was found above {text.strip()} to look for."]
        return WordResults(found.hits, notes)
    seen = {hit.photo for hit in found.hits}
    query = mean_direction(index.faces(wearer_faces).vectors)
    by_face = [hit for hit in search_faces(index, query) if hit.photo not in seen]  # via "face"
    notes = found.notes
    if not by_face:  # say why nothing was added, rather than add nothing in silence
        notes = [
            *notes,
            f"The face above {text.strip()} is in no other photo of the album "
            "(at the default bar).",
        ]
    return WordResults(found.hits + by_face, notes)


def with_descriptions(
    index: IndexStore,
    found: WordResults,
    photo_model: PhotoTextModel,
    text: str,
    top: int | None,
    within: Sequence[PhotoHit] | None = None,
) -> list[PhotoHit]:
    """The word hits first, then the photos UForm finds best described by `text` that are not
    among them (the app and the CLI show the same list)."""
    seen = {hit.photo for hit in found.hits}
    described = text_search(index, photo_model, text, top, within)
    return found.hits + [hit for hit in described if hit.photo not in seen]


def text_results(
    index: IndexStore,
    text: str,
    within: Sequence[PhotoHit] | None = None,
    *,
    wearer: bool = False,
    photo_model: PhotoTextModel | None = None,
    top: int | None = 20,
) -> WordResults:
    """What a text search shows, in the app and the CLI alike: photos whose written words match
    first (with `wearer`, then the other photos of whoever wears them), then, given the UForm
    model, the photos best described by the text."""
    found = word_search(index, text, within)
    if wearer and within is None and found.hits:
        found = wearer_search(index, found, text)
    if photo_model is None:
        return found
    return WordResults(with_descriptions(index, found, photo_model, text, top, within), found.notes)


def face_above(index: IndexStore, photo: int, word: Word) -> int | None:
    """The face (its id in the store) of whoever wears `word`: the nearest face above it whose
    width overlaps it, no further than a few face heights (a bib is on the chest)."""
    best: tuple[float, int] | None = None
    faces = index.faces_in([photo])
    for row, face in enumerate(faces.ids):
        gap = _gap_below(faces.box(row), word.box)
        if gap is not None and (best is None or gap < best[0]):
            best = (gap, int(face))
    return None if best is None else best[1]


def _gap_below(face: Box, word: Box) -> float | None:
    """How far below the face the word is, in face heights; None when it is not below it."""
    fx, fy, fw, fh = face
    wx, wy, ww, _ = word
    centre = wx + ww / 2
    if not (fx - fw <= centre <= fx + 2 * fw):
        return None
    gap = (wy - (fy + fh)) / max(fh, 1)
    return gap if -0.5 <= gap <= 6 else None
