"""The index in PostgreSQL with pgvector: an event too big for one file or one machine's memory.

Photos, faces, words and skipped files are tables; face vectors have an HNSW index. A search
asks HNSW for candidates, then re-checks every one exactly against the bar (the similarity is
computed here from the stored vector, as the `.npz` store computes it), so a result is never a
face below the bar; and it widens the candidate list until the last candidate is below the bar,
so that the faces above it are all among the candidates unless HNSW's graph misses one outright
(it is approximate: bench_pgstore.py compares the photos found with the exact search's over
random queries). `exact=True` skips HNSW (a sequential scan).

The schema has a version (`facefind_meta`), and `MIGRATIONS` bring an older database up to date
when it is opened. Written photo by photo and committed in batches, so an interrupted indexing
run continues where it stopped (`done_photos`). Only this module imports psycopg, and only when
a `postgresql://` URL is given: the laptop path never needs a database driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import cached_property
from typing import Any

import numpy as np

from facefind import __version__
from facefind.analysis.words import Word
from facefind.config import EMBEDDING_SIZE, FaceSettings
from facefind.errors import FacefindError, IndexFileError
from facefind.sources.archive import Skipped
from facefind.stores.base import FaceMatches, FaceRows, PhotoGone, PhotoInfo, PhotoTable
from facefind.stores.npz import REMOVED, AlbumIndex
from facefind.stores.optout import without_opted_out
from facefind.stores.pg_connections import Connections
from facefind.stores.pg_copy import copy_part
from facefind.stores.pg_schema import (
    MIGRATIONS,
    OLDEST_READABLE_SCHEMA,
    SCHEMA_VERSION,
)
from facefind.stores.urls import safe_url

#: Candidates asked of HNSW first; doubled while the last one still passes the bar, up to
#: MOST_CANDIDATES, beyond which the exact scan answers (a face in hundreds of photos). HNSW
#: searches `EF_FACTOR` times as many as it returns (pgvector's `hnsw.ef_search`, at most
#: 1000): a denser search, so that a face near many others is not left out.
FIRST_CANDIDATES = 100
#: Query vectors (people, and their expanded queries) searched at once, one connection each.
QUERY_THREADS = 4
MOST_CANDIDATES = 400
EF_FACTOR = 2.5


class PostgresStore:
    """An `IndexStore` (store.py) in PostgreSQL. Photo and face ids are the database's, never
    reused. A few connections, each borrowed for one transaction (the app shares one store
    between all browser sessions).

    `read_only` (a served event): no DDL and no write, every transaction read-only, so a role
    with SELECT alone serves the event; a store older than this facefind is read as it is."""

    #: each part is committed as it is added: a stopped indexing run continues
    resumable = True

    def __init__(self, url: str, exact: bool = False, read_only: bool = False) -> None:
        try:
            import pgvector.psycopg  # noqa: F401 (the connections register its types)
            import psycopg
        except ImportError as error:
            raise FacefindError(
                "A PostgreSQL store needs psycopg and pgvector: pip install 'facefind[cluster]'."
            ) from error
        self.url = url
        self.exact = exact
        self.read_only = read_only
        self._connections = Connections(url, read_only)
        self._cursor, self._reading = self._connections.cursor, self._connections.reading
        self._revision: int | None = None
        if read_only:
            self.schema = self._readable_schema()
            return
        try:
            self._migrate()
        except psycopg.errors.InsufficientPrivilege as error:
            raise IndexFileError(
                f"This role cannot write to the store at {safe_url(self.url)} ({error}): "
                "index with the writer role; serve with `--event` (read-only)."
            ) from error
        self.schema = SCHEMA_VERSION

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        """Threads that ask for the candidates of several query vectors at once."""
        return ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="facefind-pg")

    # --- schema ------------------------------------------------------------------------------

    def _readable_schema(self) -> int:
        """The schema version, read without writing anything (a read-only server)."""

        def read(cursor: Any) -> int:
            cursor.execute("SELECT to_regclass('facefind_meta') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return 0
            cursor.execute("SELECT value FROM facefind_meta WHERE key = 'schema'")
            row = cursor.fetchone()
            return int(row[0]) if row else 0

        version = int(self._reading(read))
        if version == 0:
            raise IndexFileError(
                f"The database {safe_url(self.url)} holds no facefind store yet: index the "
                "event's photos into it first (`facefind index PHOTOS -o URL`)."
            )
        if not OLDEST_READABLE_SCHEMA <= version <= SCHEMA_VERSION:
            raise IndexFileError(
                f"The store at {safe_url(self.url)} has schema {version}, which facefind "
                f"{__version__} does not read: upgrade facefind."
            )
        return version

    def _migrate(self) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS facefind_meta (key text PRIMARY KEY, value jsonb)"
            )
            cursor.execute("SELECT value FROM facefind_meta WHERE key = 'schema' FOR UPDATE")
            row = cursor.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise IndexFileError(
                    f"The store at {safe_url(self.url)} was made by a newer facefind (schema "
                    f"{version}; this is {__version__}, schema {SCHEMA_VERSION}): upgrade."
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](cursor)
            self._put(cursor, "schema", SCHEMA_VERSION)

    def _put(self, cursor: Any, key: str, value: object) -> None:
        cursor.execute(
            "INSERT INTO facefind_meta VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def _bump(self, cursor: Any) -> None:
        """A write happened: servers following this store read it again (`refresh`)."""
        cursor.execute(
            "INSERT INTO facefind_meta VALUES ('revision', '1') ON CONFLICT (key) "
            "DO UPDATE SET value = to_jsonb(facefind_meta.value::int + 1)"
        )
        self._forget_cached()

    def _forget_cached(self) -> None:
        for cached in ("photos", "face_count", "_meta", "_opted_out"):
            self.__dict__.pop(cached, None)

    @cached_property
    def _meta(self) -> dict[str, Any]:
        """The store's settings, read once until it changes (every property asks them)."""
        return dict(self._query("SELECT key, value FROM facefind_meta"))

    def revision(self) -> int:
        rows = self._query("SELECT value FROM facefind_meta WHERE key = 'revision'")
        return int(rows[0][0]) if rows else 0

    def refresh(self) -> bool:
        revision = self.revision()
        changed = self._revision is not None and revision != self._revision
        if changed:
            self._forget_cached()
        self._revision = revision
        return changed

    def _writable(self) -> None:
        if self.read_only:
            raise FacefindError("This store was opened read-only (a served event).")

    # --- writing -----------------------------------------------------------------------------

    def check_fits(self, model: str, detector: str, settings: FaceSettings) -> None:
        """Refuse to add faces of another model (or settings) to a store that has some."""
        meta = self._meta
        if "model" in meta and (meta["model"], meta["settings"]) != (model, asdict(settings)):
            raise IndexFileError(
                f"The store at {safe_url(self.url)} holds faces of the {meta['model']} model with "
                "other settings; faces of different models or settings cannot be compared. "
                "Use a new database, or the settings it was made with."
            )

    def done_photos(self) -> set[str]:
        """Names of the photos already in the store (and the files skipped): what a resumed
        run does not index again."""
        return {
            name
            for (name,) in self._query("SELECT name FROM photos UNION SELECT name FROM skipped")
        }

    def add(self, part: AlbumIndex) -> None:
        """Add the photos, faces, words and skipped files of a part of the album (indexed by
        the builder, or by cluster workers), in one transaction: all of it or none."""
        self._writable()
        self.check_fits(part.model, part.detector, part.settings)
        part = without_opted_out(part, self.opted_out())
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT nextval('photo_ids') FROM generate_series(1, %s)", (len(part.photos),)
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
            self._put(cursor, "model", part.model)
            self._put(cursor, "detector", part.detector)
            self._put(cursor, "settings", asdict(part.settings))
            self._put(cursor, "facefind", part.version)
            if part.photo_model:
                self._put(cursor, "photo_model", part.photo_model)
            if part.words is not None:
                self._put(cursor, "word_reader", part.word_reader)
            copy_part(cursor, part, ids)
            cursor.executemany(
                "INSERT INTO skipped VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                [(item.name, item.reason) for item in part.skipped],
            )
            self._bump(cursor)

    def add_photo_vectors(self, photo_model: str, vectors: np.ndarray) -> PostgresStore:
        """The UForm vectors of every photo, in photo (id) order (`describe` on a store)."""
        self._writable()
        ids = self.photos.ids
        if len(ids) != len(vectors):
            raise FacefindError("Photos were added or removed while they were described: again.")
        with self._cursor() as cursor:
            cursor.executemany(
                "UPDATE photos SET vector = %s WHERE id = %s",
                [(vector.tolist(), int(photo)) for photo, vector in zip(ids, vectors, strict=True)],
            )
            self._put(cursor, "photo_model", photo_model)
            self._bump(cursor)
        return self

    def remove(self, names: Sequence[str], keep_out: bool = True) -> PostgresStore:
        """Remove these photos with their faces, words and thumbnails, in one transaction.
        `keep_out` records them as removed, so that indexing the same folders again does not
        bring them back. The store itself, changed (the .npz store makes a new one)."""
        self._writable()
        with self._cursor() as cursor:
            cursor.execute("SELECT id FROM photos WHERE name = ANY(%s)", (list(names),))
            ids = [int(row[0]) for row in cursor.fetchall()]
            for table in ("faces", "words", "word_tokens"):
                cursor.execute(f"DELETE FROM {table} WHERE photo = ANY(%s)", (ids,))
            cursor.execute("DELETE FROM photos WHERE id = ANY(%s)", (ids,))
            if keep_out:
                cursor.executemany(
                    "INSERT INTO skipped VALUES (%s, %s) ON CONFLICT (name) "
                    "DO UPDATE SET reason = excluded.reason",
                    [(name, REMOVED) for name in names],
                )
            self._bump(cursor)
        return self

    def forget_faces(self, faces: Sequence[int], opted_out: np.ndarray) -> PostgresStore:
        """Remove these faces and keep `opted_out` (the person's own query faces): what is
        indexed later, and every query, is checked against them."""
        self._writable()
        with self._cursor() as cursor:
            cursor.execute("DELETE FROM faces WHERE id = ANY(%s)", ([int(f) for f in faces],))
            cursor.executemany(
                "INSERT INTO opted_out (embedding) VALUES (%s)",
                [(np.asarray(vector, np.float32),) for vector in opted_out],
            )
            self._bump(cursor)
        return self

    def keep(self, where: str) -> None:
        """Nothing to do: every change is committed when made (an .npz store saves here)."""

    def as_store(self) -> PostgresStore:
        return self

    def opted_out(self) -> np.ndarray:
        return self._opted_out

    @cached_property
    def _opted_out(self) -> np.ndarray:
        """Read once until the store changes (every search asks it)."""
        if self.schema < 2:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        rows = self._query("SELECT embedding FROM opted_out ORDER BY id")
        if not rows:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        return np.stack([_array(row[0]) for row in rows]).astype(np.float32)

    # --- the IndexStore interface --------------------------------------------------------------

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """Rows of one statement, in binary (vectors parse far faster than from text)."""

        def read(cursor: Any) -> list[tuple]:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

        return list(self._reading(read))

    @property
    def model(self) -> str:
        return str(self._meta.get("model", "Dlib"))

    @property
    def detector(self) -> str:
        return str(self._meta.get("detector", ""))

    @property
    def settings(self) -> FaceSettings:
        return FaceSettings(**self._meta.get("settings", {}))

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._meta.get("sources", ()))

    def add_sources(self, paths: Sequence[str]) -> None:
        """Record where photos were read from (an event serves them from there)."""
        self._writable()
        known = list(self.sources)
        with self._cursor() as cursor:
            self._put(cursor, "sources", known + [p for p in paths if p not in known])
            self._bump(cursor)

    @property
    def photo_model(self) -> str | None:
        return self._meta.get("photo_model")

    @property
    def word_reader(self) -> str | None:
        return self._meta.get("word_reader")

    @cached_property
    def photos(self) -> PhotoTable:
        rows = self._query("SELECT id, name, width, height, size FROM photos ORDER BY id")
        return PhotoTable((row[0] for row in rows), (PhotoInfo(*row[1:]) for row in rows))

    @property
    def skipped(self) -> list[Skipped]:
        return [Skipped(*row) for row in self._query("SELECT name, reason FROM skipped")]

    @cached_property
    def face_count(self) -> int:
        return int(self._query("SELECT count(*) FROM faces")[0][0])

    def faces_above(self, queries: np.ndarray, min_similarity: float) -> FaceMatches:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
        # each query vector on its own connection at once: PostgreSQL runs one backend each
        found = list(self._pool.map(lambda query: self._candidates(query, min_similarity), queries))
        parts = []
        for number, (query, rows) in enumerate(zip(queries, found, strict=True)):
            exact = rows.vectors @ query  # the exact re-check, as the .npz store computes it
            keep = exact >= min_similarity
            parts.append(
                FaceMatches(
                    rows.ids[keep],
                    np.full(int(keep.sum()), number, dtype=np.int64),
                    exact[keep],
                    rows.photos[keep],
                    rows.vectors[keep],
                )
            )
        return FaceMatches.joined(parts)

    def _candidates(self, query: np.ndarray, min_similarity: float) -> FaceRows:
        """The faces that may pass: HNSW's nearest, widened until the last one is below the
        bar, else (more than MOST_CANDIDATES above it) the exact scan's."""
        # a margin for the database's own float rounding; the re-check is exact
        distance = 1.0 - float(min_similarity) + 1e-4
        wanted = FIRST_CANDIDATES
        columns = self._face_columns
        while not self.exact and wanted <= MOST_CANDIDATES:

            def nearest(cursor: Any, wanted: int = wanted) -> list[tuple]:
                search = min(int(wanted * EF_FACTOR), 1000)
                cursor.execute(f"SET LOCAL hnsw.ef_search = {search}")
                cursor.execute(
                    f"SELECT {columns}, embedding <=> %s FROM faces "
                    "ORDER BY embedding <=> %s LIMIT %s",
                    (query, query, wanted),
                )
                return list(cursor.fetchall())

            rows = self._reading(nearest)
            if len(rows) < wanted or rows[-1][-1] > distance:
                return _face_rows([row[:-1] for row in rows if row[-1] <= distance])
            wanted *= 2
        return self._face_rows("embedding <=> %s <= %s", (query, distance))

    @property
    def _face_columns(self) -> str:
        """What a face row is read as (a store older than schema 3, read by a read-only
        server as it is, has no sharpness: NULL, not measured)."""
        sharpness = "sharpness" if self.schema >= 3 else "NULL::real"
        return f"id, photo, box, confidence, embedding, {sharpness}"

    def _face_rows(self, where: str, args: Sequence[object], limit: int | None = None) -> FaceRows:
        return _face_rows(
            self._query(
                f"SELECT {self._face_columns} FROM faces WHERE {where} "
                "ORDER BY id" + ("" if limit is None else f" LIMIT {int(limit)}"),
                args,
            )
        )

    def faces(self, ids: Sequence[int] | np.ndarray) -> FaceRows:
        wanted = [int(i) for i in np.asarray(ids).reshape(-1)]
        found = self._face_rows("id = ANY(%s)", (sorted(set(wanted)),))
        position = {int(face): row for row, face in enumerate(found.ids)}
        return found.take(np.array([position[face] for face in wanted], dtype=np.int64))

    def faces_in(self, photos: Sequence[int] | np.ndarray) -> FaceRows:
        return self._face_rows("photo = ANY(%s)", ([int(p) for p in np.unique(photos)],))

    def face_blocks(self, size: int) -> Iterator[FaceRows]:
        last = -1
        while len(block := self._face_rows("id > %s", (last,), limit=size)):
            yield block
            last = int(block.ids[-1])

    def thumbnail(self, photo: int) -> bytes:
        rows = self._query("SELECT thumbnail FROM photos WHERE id = %s", (photo,))
        if not rows:
            raise PhotoGone(photo)
        return bytes(rows[0][0])

    def photo_vectors(self) -> np.ndarray | None:
        """In id order (`photos.ids`); read in one query, so the photos asked for are the
        photos answered (an event grows while it is served)."""
        if self.photo_model is None:
            return None
        rows = self._query("SELECT id, vector FROM photos ORDER BY id")
        if [row[0] for row in rows] != self.photos.ids.tolist():
            self._forget_cached()  # photos were added or removed since they were read
        if any(row[1] is None for row in rows) or [r[0] for r in rows] != self.photos.ids.tolist():
            return None
        return np.array([row[1] for row in rows], dtype=np.float32).reshape(-1, EMBEDDING_SIZE)

    def words_read(self) -> bool:
        return self.word_reader is not None

    def words_in(self, photo: int) -> list[Word]:
        rows = self._query(
            "SELECT text, box, confidence FROM words WHERE photo = %s ORDER BY position",
            (photo,),
        )
        return [_word(text, box, confidence) for text, box, confidence in rows]

    def described(self) -> bool:
        if self.photo_model is None:
            return False
        rows = self._query("SELECT NOT EXISTS (SELECT 1 FROM photos WHERE vector IS NULL)")
        return bool(rows[0][0])

    def words_of(self, photos: Sequence[int]) -> dict[int, list[Word]]:
        wanted = sorted({int(photo) for photo in photos})
        found: dict[int, list[Word]] = {photo: [] for photo in wanted}
        rows = self._query(
            "SELECT photo, text, box, confidence FROM words WHERE photo = ANY(%s) "
            "ORDER BY photo, position",
            (wanted,),
        )
        for photo, text, box, confidence in rows:
            found[int(photo)].append(_word(text, box, confidence))
        return found

    def common_tokens(self, more_than: int, share: float) -> set[str]:
        rows = self._query(
            "SELECT token FROM word_tokens GROUP BY token HAVING count(*) > %s "
            "AND count(*) >= %s * (SELECT count(*) FROM photos)",
            (more_than, share),
        )
        return {str(row[0]) for row in rows}

    def photos_with_token(self, token: str) -> set[int]:
        rows = self._query("SELECT photo FROM word_tokens WHERE token = %s", (token,))
        return {int(row[0]) for row in rows}

    def token_counts(self) -> dict[str, int]:
        rows = self._query("SELECT token, count(*) FROM word_tokens GROUP BY token")
        return {str(token): int(count) for token, count in rows}

    def close(self) -> None:
        if "_pool" in self.__dict__:
            self._pool.shutdown()
        self._connections.close()


def _word(text: str, box: Sequence[int], confidence: float) -> Word:
    x, y, width, height = (int(side) for side in box)
    return Word(str(text), (x, y, width, height), float(confidence))


def _array(vector: Any) -> np.ndarray:
    """A vector column's value as numpy (pgvector's `Vector`, or already an array)."""
    return vector.to_numpy() if hasattr(vector, "to_numpy") else np.asarray(vector)


def _face_rows(rows: Sequence[tuple]) -> FaceRows:
    """(id, photo, box, confidence, embedding, sharpness) rows as FaceRows."""
    if not rows:
        return FaceRows.empty()
    ids, photos, boxes, confidences, vectors, sharpness = zip(*rows, strict=True)
    return FaceRows(
        np.array(ids, dtype=np.int64),
        np.array(photos, dtype=np.int32),
        np.array(boxes, dtype=np.int32).reshape(-1, 4),
        np.array(confidences, dtype=np.float32),
        np.stack([_array(vector) for vector in vectors]).astype(np.float32),
        np.array([np.nan if value is None else value for value in sharpness], np.float32),
    )
