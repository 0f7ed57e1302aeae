"""The PostgreSQL store's connections: a few, each lent for one transaction, and a read tried
once more on a fresh connection when the database dropped the first (a restart kills them all).

A served event shares one store between all browser sessions, which Streamlit runs on a new
thread each run: one connection per thread would leak one per rerun.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from facefind.errors import StoreBusyError
from facefind.stores.urls import safe_url

#: Connections a store holds open at most (PostgreSQL's default limit is 100 for everyone).
MAX_CONNECTIONS = 8
log = logging.getLogger("facefind")


class Connections:
    """At most MAX_CONNECTIONS connections to one database, lent one transaction at a time;
    `read_only` ones refuse any write in the database itself."""

    def __init__(self, url: str, read_only: bool) -> None:
        import psycopg
        from pgvector.psycopg import register_vector

        self.url, self.read_only = url, read_only
        self._connect, self._register = psycopg.connect, register_vector
        self._connection_error = psycopg.Error
        self._connection_lost = psycopg.OperationalError
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._connections: list[Any] = []

    @contextmanager
    def cursor(self, binary: bool = False) -> Iterator[Any]:
        """A cursor on a connection borrowed for one transaction (committed at the end, rolled
        back on an error) and given back: an event's browser sessions search at once, at most
        MAX_CONNECTIONS at a time, however many threads Streamlit runs them on."""
        with self._slots:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._new()
            try:
                with connection.cursor(binary=binary) as cursor:
                    yield cursor
                connection.commit()
            except BaseException:
                if not connection.closed:
                    connection.rollback()
                raise
            finally:
                if connection.closed:
                    self._connections.remove(connection)
                else:
                    self._idle.put(connection)

    def _new(self) -> Any:
        try:
            connection = self._connect(self.url, autocommit=False)
        except self._connection_error as error:
            log.warning("Cannot connect to the store %s: %s", safe_url(self.url), error)
            raise StoreBusyError(
                f"Cannot connect to the store {safe_url(self.url)}: {error}"
            ) from error
        with connection.cursor() as cursor:
            if self.read_only:  # the database itself refuses any write on this connection
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            else:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        connection.commit()
        self._register(connection)
        self._connections.append(connection)
        return connection

    def reading(self, read: Callable[[Any], Any], binary: bool = True) -> Any:
        """`read(cursor)` in one transaction, tried once more on a fresh connection when the
        first one was lost (the database restarted: every pooled connection is dead then)."""
        try:
            with self.cursor(binary=binary) as cursor:
                return read(cursor)
        except self._connection_lost as error:
            log.warning("The store %s dropped a connection (%s): again", safe_url(self.url), error)
            self._drop_idle()
        try:
            with self.cursor(binary=binary) as cursor:
                return read(cursor)
        except self._connection_lost as error:
            self._drop_idle()
            log.warning("The store %s is unreachable: %s", safe_url(self.url), error)
            where = safe_url(self.url)
            raise StoreBusyError(f"The store {where} is unreachable: {error}") from error

    def _drop_idle(self) -> None:
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return
            connection.close()
            if connection in self._connections:
                self._connections.remove(connection)

    def __len__(self) -> int:
        """How many connections are open now."""
        return len(self._connections)

    def close(self) -> None:
        for connection in list(self._connections):
            connection.close()
        self._connections.clear()
