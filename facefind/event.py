"""An indexed event served to its runners: the store and the photos it was indexed from.

Opened once per server (the app keeps it in `st.cache_resource`) and shared, read-only, by
every browser session: a runner's selfie and results stay in their own session. Photos are read
from the folders and zips the organiser indexed (recorded in the store); only those photos can
ever be served, by their names in the store.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from .archive import PhotoSource
from .errors import FacefindError
from .sources import open_album
from .store import IndexStore, open_store

#: The environment variable naming the event's store (an index file or a postgresql:// URL),
#: for a server started without arguments.
EVENT_ENV = "FACEFIND_EVENT"


@dataclass(frozen=True)
class Event:
    where: str
    store: IndexStore
    album: PhotoSource


def event_location(argv: list[str] | None = None) -> str | None:
    """The store given as `streamlit run app.py -- --event STORE`, else $FACEFIND_EVENT."""
    args = sys.argv[1:] if argv is None else argv
    for number, arg in enumerate(args):
        if arg == "--event" and number + 1 < len(args):
            return args[number + 1]
        if arg.startswith("--event="):
            return arg.split("=", 1)[1]
    return os.environ.get(EVENT_ENV) or None


def open_event(where: str) -> Event:
    """The event's store and its photos, checked against each other."""
    store = open_store(where)
    if not store.sources:
        raise FacefindError(
            "This index does not say where its photos are. Index the event's folders or zips "
            "with `facefind index PHOTOS... -o STORE`, then serve that store."
        )
    album = open_album(list(store.sources))
    missing = album.missing(photo.name for photo in store.photos)
    if missing:
        raise FacefindError(
            f"{len(missing)} of the event's photos are no longer where they were indexed "
            f"(first: {missing[0]}). Put them back, or index the event again."
        )
    return Event(where, store, album)
