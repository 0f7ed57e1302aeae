"""Opening a store by where it is: an index file, or a PostgreSQL URL (whose driver is imported
only then: the laptop path never needs one)."""

from __future__ import annotations

from facefind.errors import FacefindError
from facefind.sources.archive import PhotoSource
from facefind.stores.base import IndexStore, IndexTarget
from facefind.stores.urls import is_store_url


def open_store(where: str, model: str | None = None, read_only: bool = False) -> IndexStore:
    """An index file, or the store at a postgresql:// URL (its driver imported only then);
    `read_only` opens a database without any DDL or write (what a served event needs)."""
    if not is_store_url(where):
        from facefind.stores.npz import AlbumIndex

        return AlbumIndex.load(where, model=model)
    from facefind.stores.postgres import PostgresStore

    store = PostgresStore(where, read_only=read_only)
    if model and store.face_count and store.model != model:
        raise FacefindError(
            f"This store holds faces of the {store.model} model, not {model}: search with "
            f"--model {store.model}."
        )
    return store


def open_for_indexing(where: str) -> IndexTarget:
    """Where `facefind index` writes: the store at a postgresql:// URL (created or migrated),
    else an index file made anew from the parts indexed."""
    if is_store_url(where):
        from facefind.stores.postgres import PostgresStore

        return PostgresStore(where)
    from facefind.stores.parts import IndexFileParts

    return IndexFileParts(where)


def check_album_of(index: IndexStore, album: PhotoSource, album_name: str = "the album") -> None:
    """Refuse an album that is not the one the index was made from (a photo of the index is
    not in it): its photos would be read under the index's names (the app's saved index, the
    CLI's `describe`, `words` and `--export`)."""
    missing = album.missing(info.name for info in index.photos)
    if missing:
        raise FacefindError(
            f"This index was made from another album: {missing[0]} is not in {album_name}. "
            "Give the album it was made from."
        )
