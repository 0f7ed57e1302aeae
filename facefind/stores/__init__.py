"""Stores: where an indexed album is kept, and everything search may ask of it (base.py's
`IndexStore`): in memory and one .npz file (npz.py's `AlbumIndex`), or PostgreSQL with pgvector
for an event (postgres.py's `PostgresStore`, imported only for a postgresql:// URL: urls.py),
opened by where they are (opening.py). optout.py keeps people who asked not to be found out of
every store.

A new store implements `IndexStore` (reading, and writing: remove, forget_faces, keep) and
passes tests/test_store_steps.py's contract.
"""

from facefind.stores.base import FaceMatches, FaceRows, IndexStore, PhotoGone, PhotoTable
from facefind.stores.npz import AlbumIndex, is_index_file
from facefind.stores.opening import open_store
from facefind.stores.urls import is_store_url, safe_url

__all__ = [
    "AlbumIndex",
    "FaceMatches",
    "FaceRows",
    "IndexStore",
    "PhotoGone",
    "PhotoTable",
    "is_index_file",
    "is_store_url",
    "open_store",
    "safe_url",
]
