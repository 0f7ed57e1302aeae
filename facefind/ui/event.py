"""An indexed event served to its runners: the store and the photos it was indexed from.

Opened once per server (the app keeps it in `st.cache_resource`) and shared, read-only, by
every browser session: a runner's selfie and results stay in their own session. Photos are read
from the folders and zips the organiser indexed (recorded in the store); only those photos can
ever be served, by their names in the store.

An event is indexed while it is served: `refresh` (each time a runner's page runs) follows the
store's photos as they are added or removed, and the folders as photographers fill them. A
photo missing from the folders, or changed since it was indexed, is left out of what runners
see and reported in the organiser's log; every other photo is served.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from facefind.config import Environment
from facefind.errors import FacefindError, NoFaceError, PhotoError
from facefind.search.results import PhotoHit
from facefind.sources.folders import open_album
from facefind.stores.base import IndexStore
from facefind.stores.opening import open_store
from facefind.stores.urls import is_store_url

#: The lowest similarity bar a runner may choose (`--floor`, else $FACEFIND_EVENT_FLOOR, else
#: this): lower, a runner could page through everyone's photos. The lowest bar that kept
#: precision >= 0.95 on both labelled albums (bench_accuracy.py --min-score, shared / people2:
#: 45% 0.944 / 0.875, 47% 1.0 / 0.933, 48% 1.0 / 0.949, 49% 1.0 / 0.966, 50% 1.0 / 0.982).
EVENT_FLOOR = 49
#: What a runner is told when anything but their own photo went wrong (the details go to the
#: organiser's log): never an address, an internal name or an organiser's instruction.
RUNNER_BUSY = "The event is busy: try again in a moment."
log = logging.getLogger("facefind")


def _argument(name: str, argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    for number, arg in enumerate(args):
        if arg == name and number + 1 < len(args):
            return args[number + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def event_location(argv: list[str] | None = None) -> str | None:
    """The store given as `streamlit run app.py -- --event STORE`, else $FACEFIND_EVENT."""
    return _argument("--event", argv) or Environment.now().event


def event_floor(argv: list[str] | None = None) -> int:
    """The organiser's floor under the similarity bar (`--floor N`, $FACEFIND_EVENT_FLOOR)."""
    given = _argument("--floor", argv) or Environment.now().event_floor
    try:
        floor = int(given) if given else EVENT_FLOOR
    except ValueError:
        raise FacefindError(f"The floor must be a whole percentage, not {given!r}.") from None
    return min(max(floor, 0), 100)


def runner_message(error: BaseException) -> str:
    """What a runner sees of an error: what is wrong with their own photo, or RUNNER_BUSY
    (the error itself goes to the organiser's log)."""
    if isinstance(error, (NoFaceError, PhotoError)):
        return str(error)
    log.error("A runner's search failed", exc_info=error)
    return RUNNER_BUSY


class Event:
    """The event's store (opened read-only) and its photos, following each other."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._lock = threading.Lock()
        self.store = self._open_store()
        if not self.store.sources:
            raise FacefindError(
                "This index does not say where its photos are. Index the event's folders or "
                "zips with `facefind index PHOTOS... -o STORE`, then serve that store."
            )
        self.album = open_album(list(self.store.sources))
        self._reported: set[str] = set()
        self._report_unavailable()

    def _open_store(self) -> IndexStore:
        self._file_stamp = self._stamp()
        return open_store(self.where, read_only=True)

    def _stamp(self) -> tuple[int, int] | None:
        """When an index file last changed (`facefind remove` writes it again, whole)."""
        if is_store_url(self.where):
            return None
        stat = Path(self.where).stat()
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Catch up with photos indexed or removed since the last look (cheap when none were:
        one small query). Photos added to the folders are found as they are asked for."""
        with self._lock:
            self.store.refresh()
            if self._stamp() != self._file_stamp:  # an index file written again
                old, self.store = self.store, self._open_store()
                old.close()

    def _report_unavailable(self) -> None:
        """Say in the organiser's log which photos cannot be served as they were indexed."""
        self.servable_names([info.name for info in self.store.photos])

    def servable_names(self, names: Sequence[str]) -> set[str]:
        """Those of these photos that can be served as they were indexed: in the folders, and
        the same size as then (another file under the same name may show another person).
        The others are reported once in the organiser's log, never to runners."""
        photos = self.store.photos
        servable, missing, changed = set(), [], []
        for name in names:
            size = self.album.size_now(name)
            info = photos.named(name)
            if size is None:
                missing.append(name)
            elif info is not None and size != info.size:
                changed.append(name)
            else:
                servable.add(name)
        self._log_once(
            missing,
            "%d photos of the event are not in its folders and are left out (first: %s): put "
            "them back, or `facefind index ... --prune` removes them from the store",
        )
        self._log_once(
            changed,
            "%d photos changed since they were indexed and are left out (first: %s): "
            "`facefind index` on the event's folders indexes them again",
        )
        return servable

    def _log_once(self, names: list[str], message: str) -> None:
        new = [name for name in names if name not in self._reported]
        if new:
            self._reported.update(new)
            log.warning(message, len(new), new[0])

    def photo_count(self) -> int:
        return len(self.store.photos)

    def servable(self, hits: Sequence[PhotoHit]) -> list[PhotoHit]:
        """The hits whose photos can be served as they were indexed."""
        servable = self.servable_names([hit.name for hit in hits])
        return [hit for hit in hits if hit.name in servable]


def open_event(where: str) -> Event:
    """The event's store and its photos, checked against each other."""
    return Event(where)
