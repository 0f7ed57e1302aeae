"""Reading an album's words after its faces: faces are searchable at once, the bib numbers
follow.

Reading words costs more than finding faces (docs/performance.md), so the app indexes the
faces first and reads the words afterwards, in the background, while the person already
searches by face; `facefind words INDEX ALBUM` reads them into an index made with
`--no-words`. Each photo is read again from its album and decoded as indexing decodes it;
its faces, already in the index, tell the reader how large its bibs are (words.py).
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from facefind.analysis.faces import decode_for_faces
from facefind.analysis.steps import read_words_safely
from facefind.analysis.words import READER_NAME, Word, WordReader
from facefind.config import ImageLimits
from facefind.errors import FacefindError, PhotoError
from facefind.indexing.builder import indexed_entries
from facefind.indexing.progress import IndexingRate, Progress, duration
from facefind.sources.archive import PhotoSource, Skipped
from facefind.stores.npz import AlbumIndex

log = logging.getLogger("facefind")


@dataclass(frozen=True)
class WordsRead:
    """The words of every photo of an index, in photo order, and the photos whose words could
    not be read (the photo stays indexed)."""

    words: list[list[Word]]
    failed: list[Skipped]

    def into(self, index: AlbumIndex) -> AlbumIndex:
        """The index with these words (and their failures among its skipped files)."""
        return replace(
            index,
            words=self.words,
            word_reader=READER_NAME,
            skipped=[*index.skipped, *self.failed],
        )


class Cancelled(FacefindError):
    """The reading was stopped before it ended (the album was forgotten or replaced)."""


def read_words(
    index: AlbumIndex,
    album: PhotoSource,
    reader: WordReader,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    workers: int | None = None,
    limits: ImageLimits | None = None,
) -> WordsRead:
    """The words of each of the index's photos, read from the album it was made from, a few
    photos at once (one thread a core, at most 4). Raises `Cancelled` when `stop` is set."""
    entries = indexed_entries(index, album)
    reader.load()
    faces = index.faces_in(range(len(index.photos)))
    boxes: list[list] = [[] for _ in index.photos]
    for row, photo in enumerate(faces.photos):
        boxes[int(photo)].append(faces.box(row))

    def read_one(number: int) -> tuple[list[Word], Skipped | None]:
        if stop is not None and stop.is_set():
            raise Cancelled("Reading the words was stopped.")
        name = index.photos[number].name
        try:
            photo, _ = decode_for_faces(album.read(entries[number]), index.settings, limits)
        except PhotoError as error:
            return [], Skipped(name, f"indexed without its words: {error}")
        return read_words_safely(reader, photo, boxes[number], name)

    words: list[list[Word]] = []
    failed: list[Skipped] = []
    count = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(count, thread_name_prefix="facefind-words") as pool:
        for done, (read, failure) in enumerate(pool.map(read_one, range(len(entries))), 1):
            words.append(read)
            if failure is not None:
                failed.append(failure)
            if progress:
                progress(done, len(entries))
    return WordsRead(words, failed)


class BackgroundReading:
    """`read_words` in a thread of its own, for a person who searches by face meanwhile: how
    far it has come, its result once done, and a way to stop it. Holds nothing but the
    session's own album and index, and writes nothing anywhere."""

    def __init__(self, index: AlbumIndex, album: PhotoSource, reader: WordReader) -> None:
        self.index = index
        self.total = len(index.photos)
        self.done = 0
        self.result: AlbumIndex | None = None
        self.error: str | None = None
        self._rate = IndexingRate()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(album, reader), name="facefind-words", daemon=True
        )
        self._thread.start()

    def _run(self, album: PhotoSource, reader: WordReader) -> None:
        try:
            found = read_words(self.index, album, reader, self._advance, self._stop)
            self.result = found.into(self.index)
        except Cancelled:
            pass
        except FacefindError as error:
            self.error = str(error)
        except Exception as error:  # said in the page; the details in the server's log
            log.error("Reading the words in the background failed", exc_info=error)
            self.error = f"Reading the bib numbers failed ({error})."

    def _advance(self, done: int, total: int) -> None:
        self.done = done

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def line(self) -> str:
        """'Reading bib numbers: 340 of 900 photos, 2 min left'"""
        left = self._rate.seconds_left(self.done, self.total)
        when = f", {duration(left)} left" if left is not None else ""
        return f"Reading bib numbers: {self.done} of {self.total} photos{when}"

    def cancel(self) -> None:
        """Stop after the photos being read now (the album is forgotten or replaced)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
