"""How far indexing has come, in the words the CLI and the app both show: done/total, photos a
second, time left. Called as progress(done, total) by the builders (local and cluster)."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Called as progress(photos_done, photos_total) while an album is indexed.
Progress = Callable[[int, int], None]


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class IndexingRate:
    """Photos a second since it was made (the model loads before: it is not counted), and the
    time the rest will take at that rate."""

    def __init__(self, verb: str = "indexed") -> None:
        self.started = time.monotonic()
        #: what is done to the photos: "indexed", "read the words of"
        self.verb = verb

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def seconds_left(self, done: int, total: int) -> float | None:
        """The time the rest will take at the rate so far; None before the first photo."""
        return (total - done) * self.seconds() / done if done else None

    def line(self, done: int, total: int) -> str:
        """'indexed 120/900 photos, 3.2 photos/s, 4 min left'"""
        rate = done / max(self.seconds(), 1e-6)
        left = self.seconds_left(done, total) or 0.0
        return f"{self.verb} {done}/{total} photos, {rate:.1f} photos/s, {duration(left)} left"
