"""The index store: everything search, people, the gallery, the app and the CLI may ask of an
indexed album, and nothing about how it is kept.

Two stores answer it: `AlbumIndex` (index.py), the album in memory and saved as one `.npz`
file, the embedded default; and a database store for an event too big for one machine, which
answers "faces above the bar for these query vectors" without loading every vector. Callers go
through these methods and never reach for a store's arrays, so a store can keep its faces
anywhere and in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from facefind.analysis.words import Word
from facefind.config import EMBEDDING_SIZE, FaceSettings
from facefind.sources.archive import PhotoInfo, Skipped


class PhotoTable:
    """The photos of a store by their ids, in id order. Ids are the store's and stable for its
    life (a database's keys): a photo removed leaves a gap, never a shifted neighbour, so a
    result computed before a removal can never name another person's photo."""

    def __init__(self, ids: Iterable[int], infos: Iterable[PhotoInfo]) -> None:
        self.ids = np.fromiter(ids, dtype=np.int64)
        self._infos = list(infos)
        self._position = {int(photo): row for row, photo in enumerate(self.ids)}
        self._by_name: dict[str, int] | None = None  # made when first asked
        if len(self._position) != len(self._infos):
            raise ValueError("one photo id per photo")

    def __getitem__(self, photo: int) -> PhotoInfo:
        """The photo with this id; PhotoGone (a KeyError) if the store holds none."""
        try:
            return self._infos[self._position[int(photo)]]
        except KeyError:
            raise PhotoGone(photo) from None

    def __contains__(self, photo: object) -> bool:
        return isinstance(photo, (int, np.integer)) and int(photo) in self._position

    @classmethod
    def numbered(cls, infos: Iterable[PhotoInfo]) -> PhotoTable:
        """Photos numbered 0..n-1 in the order given (an .npz index's)."""
        infos = list(infos)
        return cls(range(len(infos)), infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __iter__(self) -> Iterator[PhotoInfo]:
        return iter(self._infos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PhotoTable):
            return NotImplemented
        return bool(np.array_equal(self.ids, other.ids)) and self._infos == other._infos

    def __repr__(self) -> str:
        return f"PhotoTable({len(self)} photos)"

    def positions(self, photos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Where these photo ids are in id order (rows of `photo_vectors`); -1 for a gone one."""
        return np.array([self._position.get(int(p), -1) for p in photos], dtype=np.int64)

    def named(self, name: str) -> PhotoInfo | None:
        """The photo of that name, if the store holds it (names are unique)."""
        found = self.id_of(name)
        return None if found is None else self[found]

    def id_of(self, name: str) -> int | None:
        """The id of the photo of that name, if the store holds it."""
        if self._by_name is None:
            self._by_name = {info.name: int(photo) for photo, info in self.with_id()}
        return self._by_name.get(name)

    def with_id(self) -> Iterator[tuple[int, PhotoInfo]]:
        return zip((int(photo) for photo in self.ids), self._infos, strict=True)


class PhotoGone(KeyError):
    """A photo id the store no longer holds (removed since it was found)."""


@dataclass(frozen=True)
class FaceRows:
    """Some faces of a store, in increasing id order: their ids, the photo each is in, its box
    (x, y, width, height in the photo's pixels), detector confidence, unit-length vector and
    the sharpness of its chip (analysis.quality; NaN where the store predates it)."""

    ids: np.ndarray
    photos: np.ndarray
    boxes: np.ndarray
    confidences: np.ndarray
    vectors: np.ndarray
    sharpness: np.ndarray

    @classmethod
    def empty(cls) -> FaceRows:
        return cls(
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros((0, 4), dtype=np.int32),
            np.zeros(0, dtype=np.float32),
            np.zeros((0, EMBEDDING_SIZE), dtype=np.float32),
            np.zeros(0, dtype=np.float32),
        )

    @classmethod
    def joined(cls, parts: Sequence[FaceRows]) -> FaceRows:
        """The faces of several parts as one (in the parts' order)."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([part.ids for part in parts]),
            np.concatenate([part.photos for part in parts]),
            np.concatenate([part.boxes for part in parts]),
            np.concatenate([part.confidences for part in parts]),
            np.concatenate([part.vectors for part in parts]),
            np.concatenate([part.sharpness for part in parts]),
        )

    def take(self, positions: np.ndarray) -> FaceRows:
        """These rows (positions into this one), in the order given."""
        return FaceRows(
            self.ids[positions],
            self.photos[positions],
            self.boxes[positions],
            self.confidences[positions],
            self.vectors[positions],
            self.sharpness[positions],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def box(self, row: int) -> tuple[int, int, int, int]:
        x, y, width, height = (int(side) for side in self.boxes[row])
        return x, y, width, height


@dataclass(frozen=True)
class FaceMatches:
    """Faces at least as similar as a bar to some query vectors: one entry per (face, query)
    pair that passed, with its cosine similarity, computed exactly, and the face's photo and
    vector (what a search needs next, without asking the store again)."""

    faces: np.ndarray
    queries: np.ndarray
    similarity: np.ndarray
    photos: np.ndarray
    vectors: np.ndarray

    @classmethod
    def joined(cls, parts: Sequence[FaceMatches]) -> FaceMatches:
        if not parts:
            return cls(
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                np.zeros(0, np.float32),
                np.zeros(0, np.int32),
                np.zeros((0, EMBEDDING_SIZE), np.float32),
            )
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _MATCH_FIELDS))

    def where(self, mask: np.ndarray) -> FaceMatches:
        """The entries where `mask` is true."""
        return FaceMatches(*(getattr(self, name)[mask] for name in _MATCH_FIELDS))

    def of_query(self, query: int) -> np.ndarray:
        """Positions of the faces that passed for one query, most similar first (ties in face
        order)."""
        mine = np.flatnonzero(self.queries == query)
        return mine[np.lexsort((self.faces[mine], -self.similarity[mine]))]


_MATCH_FIELDS = ("faces", "queries", "similarity", "photos", "vectors")


class IndexStore(Protocol):
    """What an indexed album answers. Photos and faces have ids that are stable for the store's
    life (positions in an .npz index, which is never changed in place; a database's keys), and
    `photos` is a `PhotoTable` by those ids."""

    @property
    def model(self) -> str: ...
    @property
    def detector(self) -> str: ...
    @property
    def settings(self) -> FaceSettings: ...
    @property
    def photos(self) -> PhotoTable: ...
    @property
    def skipped(self) -> Sequence[Skipped]: ...
    @property
    def photo_model(self) -> str | None: ...
    @property
    def word_reader(self) -> str | None: ...
    @property
    def face_count(self) -> int: ...
    @property
    def sources(self) -> tuple[str, ...]:
        """Where the photos were read from (absolute paths), if known."""
        ...

    def faces_above(self, queries: np.ndarray, min_similarity: float) -> FaceMatches:
        """Every face at least `min_similarity` alike to each query vector (rows of `queries`),
        the similarity computed exactly (a store may find candidates approximately first)."""
        ...

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        """The faces with these ids, in the order asked."""
        ...

    def faces_in(self, photos: Sequence[int] | np.ndarray) -> FaceRows:
        """Every face of these photos."""
        ...

    def face_blocks(self, size: int) -> Iterator[FaceRows]:
        """All faces, `size` at a time, in id order (for grouping people, exporting)."""
        ...

    def thumbnail(self, photo: int) -> bytes:
        """The photo's JPEG thumbnail."""
        ...

    def photo_vectors(self) -> np.ndarray | None:
        """The UForm embedding of every photo, one unit-length row per photo; None when the
        album was indexed without them."""
        ...

    def words_read(self) -> bool:
        """Whether the words in the photos were read when the album was indexed."""
        ...

    def described(self) -> bool:
        """Whether every photo has its UForm vector (asked on every page: a database answers
        without reading them)."""
        ...

    def words_of(self, photos: Sequence[int]) -> dict[int, list[Word]]:
        """The words read in each of these photos, at once (one query for a database)."""
        ...

    def common_tokens(self, more_than: int, share: float) -> set[str]:
        """Tokens written in more than `more_than` photos and in at least `share` of them
        (the event's name and year on every bib, not one runner's number)."""
        ...

    def words_in(self, photo: int) -> list[Word]:
        """The words read in one photo."""
        ...

    def photos_with_token(self, token: str) -> set[int]:
        """The photos whose words hold this token (see words.tokens)."""
        ...

    def token_counts(self) -> dict[str, int]:
        """How many photos hold each token (to tell the event's words from one runner's)."""
        ...

    def opted_out(self) -> np.ndarray:
        """The faces of people who asked not to be found ((k, 128), unit length): a query like
        one of them finds nothing, and their faces are kept out of what is indexed later."""
        ...

    def refresh(self) -> bool:
        """Catch up with photos added or removed since the last look (an event is indexed while
        it is served); True when something changed. Cheap when nothing did."""
        ...

    def close(self) -> None:
        """Let go of connections and threads."""
        ...

    # --- writing: a database store changes in place and returns itself; an .npz index is
    # never changed in place and returns a new one, which `keep` saves

    def remove(self, names: Sequence[str], keep_out: bool = True) -> IndexStore:
        """Without these photos, their faces, words and thumbnails; `keep_out` lists them as
        removed, so that indexing the same photos again does not bring them back."""
        ...

    def forget_faces(self, faces: Sequence[int], opted_out: np.ndarray) -> IndexStore:
        """Without these faces, keeping `opted_out` (the faces of the people who asked)."""
        ...

    def keep(self, where: str) -> None:
        """Make the changes last (save the file; a database has committed them)."""
        ...

    def add_photo_vectors(self, photo_model: str, vectors: np.ndarray) -> IndexStore:
        """With the UForm vector of every photo, in photo (id) order (`describe`)."""
        ...


def photo_name(store: IndexStore, photo: int) -> str | None:
    """The photo's name; None if the store no longer holds it. A photo indexed since the store
    last looked (an event indexed while it is served) is found after one `refresh`."""
    try:
        return store.photos[photo].name
    except PhotoGone:
        if not store.refresh():
            return None
    try:
        return store.photos[photo].name
    except PhotoGone:
        return None


class IndexTarget(Protocol):
    """Where `facefind index` writes: a database store (each part committed as it is done, a
    second run adding only what is new) or an index file made from parts (stores.parts). The
    command line writes to either the same way, never asking which it holds."""

    #: whether each part is kept as it is added, so that a stopped run continues (a database)
    resumable: bool

    @property
    def sources(self) -> tuple[str, ...]: ...
    @property
    def photos(self) -> PhotoTable: ...

    def opted_out(self) -> np.ndarray:
        """The faces of people who asked not to be found: kept out of what is added."""
        ...

    def done_photos(self) -> set[str]:
        """Names of the photos (and files skipped) that a resumed run does not index again."""
        ...

    def add(self, part: Any) -> None:
        """Add an indexed part (an `AlbumIndex` of some photos)."""
        ...

    def add_sources(self, paths: Sequence[str]) -> None: ...
    def remove(self, names: Sequence[str], keep_out: bool = True) -> Any: ...

    def as_store(self) -> IndexStore:
        """What has been written, as a store to read (to say what was indexed)."""
        ...

    def keep(self, where: str) -> None: ...
    def close(self) -> None: ...
