"""The PostgreSQL store's schema: its tables, its version, and the migrations that bring an older
database up to date (run by a writer when it opens the store; a read-only server never does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facefind.config import EMBEDDING_SIZE

#: 2: photo ids from a sequence (never reused after a removal), a revision that every write
#: bumps (a served event follows it), and the faces of people who asked not to be found.
#: 3: the sharpness of each face's chip (analysis.quality; NULL: indexed before it was kept).
SCHEMA_VERSION = 3
#: A read-only server reads a store this old too (what it lacks reads as empty).
OLDEST_READABLE_SCHEMA = 1
#: HNSW build parameters (pgvector's defaults; docs/deploy.md says when to raise them).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


HNSW_INDEX = (
    "CREATE INDEX faces_embedding ON faces USING hnsw (embedding vector_cosine_ops) "
    f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
)
#: A first load of at least this many faces builds the HNSW index after the rows are in (with
#: this much memory: the graph of 1M faces fits), not face by face.
BULK_FACES = 50_000
BUILD_MEMORY = "2GB"


def _schema_v1(cursor: Any) -> None:
    cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    cursor.execute(
        f"""
        CREATE TABLE photos (
            id integer PRIMARY KEY,
            name text NOT NULL UNIQUE,
            width integer NOT NULL,
            height integer NOT NULL,
            size bigint NOT NULL,
            thumbnail bytea NOT NULL,
            vector real[]
        );
        CREATE TABLE faces (
            id bigserial PRIMARY KEY,
            photo integer NOT NULL REFERENCES photos (id),
            box integer[4] NOT NULL,
            confidence real NOT NULL,
            embedding vector({EMBEDDING_SIZE}) NOT NULL
        );
        CREATE INDEX faces_photo ON faces (photo);
        {HNSW_INDEX};
        CREATE TABLE words (
            photo integer NOT NULL REFERENCES photos (id),
            position integer NOT NULL,
            text text NOT NULL,
            box integer[4] NOT NULL,
            confidence real NOT NULL,
            PRIMARY KEY (photo, position)
        );
        CREATE TABLE word_tokens (
            token text NOT NULL,
            photo integer NOT NULL REFERENCES photos (id),
            PRIMARY KEY (token, photo)
        );
        CREATE TABLE skipped (name text PRIMARY KEY, reason text NOT NULL);
        """
    )


def _schema_v2(cursor: Any) -> None:
    cursor.execute(
        f"""
        CREATE SEQUENCE photo_ids MINVALUE 0 START 0 OWNED BY photos.id;
        SELECT setval('photo_ids', coalesce(max(id) + 1, 0), false) FROM photos;
        CREATE TABLE opted_out (
            id bigserial PRIMARY KEY,
            embedding vector({EMBEDDING_SIZE}) NOT NULL,
            added timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO facefind_meta VALUES ('revision', '0') ON CONFLICT (key) DO NOTHING;
        """
    )


def _schema_v3(cursor: Any) -> None:
    cursor.execute("ALTER TABLE faces ADD COLUMN sharpness real")


#: schema version N -> what makes a version N database version N + 1 (0: an empty database).
MIGRATIONS: dict[int, Callable[[Any], None]] = {0: _schema_v1, 1: _schema_v2, 2: _schema_v3}
