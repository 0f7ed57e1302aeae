"""Photos from where they are: a folder read file by file, or several zips and folders as one
album (`open_album`). Nothing is copied: a folder's photos are read when they are needed, and
the same rules as for a zip apply (junk skipped with its reason, oversized files refused)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from facefind.config import ArchiveLimits
from facefind.errors import ArchiveError, PhotoError
from facefind.sources.archive import Album, PhotoEntry, PhotoSource, Skipped, junk_reason


class FolderAlbum(PhotoSource):
    """The photos under a folder, named by their path inside it ("day1/IMG_0001.jpg"), in
    name order. A link that leads outside the folder is skipped (an event serves only its own
    photos); so are hidden files, non-photos and files over the size limit."""

    def __init__(self, folder: str | Path, limits: ArchiveLimits | None = None) -> None:
        self.limits = limits or ArchiveLimits()
        self.root = Path(folder).resolve()
        if not self.root.is_dir():
            raise ArchiveError(f"{folder} is not a folder.")
        self.photos: list[PhotoEntry] = []
        self.skipped: list[Skipped] = []
        self._scan()
        self._index_names()

    def _scan(self) -> None:
        found: list[tuple[str, Path]] = []
        for top, folders, files in os.walk(self.root, onerror=self._unreadable):
            folders.sort()
            for file_name in files:
                path = Path(top) / file_name
                found.append((path.relative_to(self.root).as_posix(), path))
                if len(found) > self.limits.max_entries:
                    raise ArchiveError(
                        f"{self.root} holds more than {self.limits.max_entries:,} files; "
                        "facefind reads at most that many from one folder. Give its "
                        "sub-folders as separate sources."
                    )
        for name, path in sorted(found):
            reason = self._problem(name, path)
            if reason is not None:
                self.skipped.append(Skipped(name, reason))
            else:
                self.photos.append(PhotoEntry(name, path.stat().st_size, path))

    def _unreadable(self, error: OSError) -> None:
        name = Path(error.filename or "?")
        where = name.relative_to(self.root).as_posix() if name.is_relative_to(self.root) else name
        self.skipped.append(Skipped(str(where), f"cannot be read ({error.strerror or error})"))

    def _problem(self, name: str, path: Path) -> str | None:
        if path.suffix.lower() == ".zip":
            return "a zip in the folder: give it to facefind as a source of its own"
        reason = junk_reason(name)
        if reason is not None:
            return reason
        try:
            real = path.resolve(strict=True)
            size = real.stat().st_size
        except OSError as error:
            return f"cannot be read ({error.strerror or error})"
        if not real.is_relative_to(self.root):
            return "a link to a file outside the folder (refused)"
        if size > self.limits.max_file_bytes:
            return (
                f"too large ({size / 1024**2:.0f} MiB; "
                f"the limit is {self.limits.max_file_bytes / 1024**2:.0f} MiB)"
            )
        return None

    def find(self, name: str) -> PhotoEntry | None:
        found = self._by_name.get(name)
        if found is not None or not name or junk_reason(name) is not None:
            return found
        path = self.root / name
        if ".." in Path(name).parts or not path.is_file() or self._problem(name, path):
            return None
        entry = PhotoEntry(name, path.stat().st_size, path)  # added since the scan
        self._by_name[name] = entry
        return entry

    def size_now(self, name: str) -> int | None:
        found = self.find(name)
        if found is None:
            return None
        path = Path(found.info)
        if self._problem(name, path) is not None:  # gone, or now a link out of the folder
            return None
        return path.stat().st_size

    def read(self, entry: PhotoEntry) -> bytes:
        limit = self.limits.max_file_bytes
        try:
            if not Path(entry.info).resolve(strict=True).is_relative_to(self.root):
                raise PhotoError("now a link to a file outside the folder (refused)")
            with open(entry.info, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            raise PhotoError(f"cannot be read ({error.strerror or error})") from error
        if len(data) > limit:
            raise PhotoError("larger than the size limit (refused)")
        return data


class CombinedAlbum(PhotoSource):
    """Several sources as one album: each photo's name starts with its source's label
    ("day1.zip/IMG_0001.jpg"), so names stay unique and say where a photo came from."""

    def __init__(self, parts: Sequence[tuple[str, PhotoSource]]) -> None:
        self.parts = list(parts)
        self.photos = []
        self.skipped = []
        self._source: dict[str, tuple[PhotoSource, PhotoEntry]] = {}
        for label, source in self.parts:
            for entry in source.photos:
                named = PhotoEntry(f"{label}/{entry.name}", entry.size, entry)
                self.photos.append(named)
                self._source[named.name] = (source, entry)
            self.skipped += [
                Skipped(f"{label}/{item.name}", item.reason) for item in source.skipped
            ]
        self._index_names()

    def _part(self, name: str) -> tuple[str, PhotoSource, str] | None:
        label, _, inner = name.partition("/")
        for part_label, source in self.parts:
            if part_label == label:
                return label, source, inner
        return None

    def find(self, name: str) -> PhotoEntry | None:
        found = self._by_name.get(name)
        part = self._part(name) if found is None else None
        if part is None:
            return found
        inner = part[1].find(part[2])
        if inner is None:
            return None
        entry = PhotoEntry(name, inner.size, inner)
        self._by_name[name] = entry
        self._source[name] = (part[1], inner)
        return entry

    def size_now(self, name: str) -> int | None:
        part = self._part(name)
        return None if part is None else part[1].size_now(part[2])

    def read(self, entry: PhotoEntry) -> bytes:
        source, inner = self._source[entry.name]
        return source.read(inner)

    def close(self) -> None:
        for _, source in self.parts:
            source.close()


def open_source(path: str | Path, limits: ArchiveLimits | None = None) -> PhotoSource:
    """A folder, or a zip read from the disk one photo at a time (nothing is extracted)."""
    path = Path(path)
    if path.is_dir():
        return FolderAlbum(path, limits)
    if not path.is_file():
        raise ArchiveError(f"Cannot read {path}: there is no folder or file there.")
    return Album(path, limits)  # says what is wrong with a file that is no zip


def open_album(paths: Sequence[str | Path], limits: ArchiveLimits | None = None) -> PhotoSource:
    """One album from one or more folders and zips; with several, each photo's name starts
    with its source's name (a second source of the same name gets " (2)")."""
    if not paths:
        raise ArchiveError("Give at least one folder or zip of photos.")
    if len(paths) == 1:
        return open_source(paths[0], limits)
    labels: list[str] = []
    for path in paths:
        label = Path(path).resolve().name or "album"
        copy = 1
        while (label if copy == 1 else f"{label} ({copy})") in labels:
            copy += 1
        labels.append(label if copy == 1 else f"{label} ({copy})")
    return CombinedAlbum(
        [(label, open_source(path, limits)) for label, path in zip(labels, paths, strict=True)]
    )


class PartOfAlbum(PhotoSource):
    """Some photos of a source (and the files it skipped, if asked): what one chunk of a
    resumable or distributed indexing run reads."""

    def __init__(
        self, source: PhotoSource, photos: Sequence[PhotoEntry], skipped: Sequence[Skipped] = ()
    ) -> None:
        self.source = source
        self.photos = list(photos)
        self.skipped = list(skipped)
        self._index_names()

    def read(self, entry: PhotoEntry) -> bytes:
        return self.source.read(entry)
