"""A PostgreSQL database for the store benchmarks: the one given, or a new one in a PostgreSQL
16 with pgvector 0.6.2 started from the `pgserver` wheel in a temporary folder (removed after)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def database(url: str | None = None) -> Iterator[str]:
    """The URL of a database to fill: `url` itself, or a fresh one on a server started here."""
    if url is not None:
        yield url
        return
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="ffpg"), cleanup_mode="delete")
    try:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        server.psql(f"CREATE DATABASE {name};")
        yield server.get_uri(name)
    finally:
        server.cleanup()
