"""Where an album's photos come from: `PhotoSource`, and the zip read in memory (`Album`).

Nothing is extracted to disk: the zip stays in the bytes or file object it came in, and one
photo at a time is read out of it when it is needed. Entries that are not photos are reported
with a reason instead of being dropped silently. Folders and several sources at once are in
sources.py; all of them answer as `PhotoSource`.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from facefind.config import ArchiveLimits
from facefind.errors import ArchiveError, PhotoError

#: File extensions read as photos (lower case). HEIC/HEIF/AVIF need pillow-heif / Pillow's AVIF.
PHOTO_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
    }
)

#: An upload (bytes or a file object, read in memory), or a zip file's path (read from the disk
#: as photos are needed, for albums larger than memory; the command line's).
AlbumSource = bytes | bytearray | memoryview | BinaryIO | os.PathLike


@dataclass(frozen=True)
class Skipped:
    """An entry of the album that was not used, and why (in words a user understands)."""

    name: str
    reason: str


@dataclass(frozen=True)
class PhotoEntry:
    """A photo of a source: its name as the user sees it and where to read it (the zip's entry,
    a file's path)."""

    name: str
    size: int
    info: Any = field(repr=False, compare=False)


def display_name(info: zipfile.ZipInfo) -> str:
    """The entry's path, decoded the way the zip's author most likely meant it.

    Zips without the UTF-8 flag are decoded as cp437 by the standard library, but most tools
    that omit the flag actually wrote UTF-8 (macOS, Linux) or the system code page (Windows,
    e.g. Shift-JIS in Japan). Try those before keeping cp437.
    """
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "shift_jis", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def safe_member_name(name: str) -> str:
    """The name without drive letters, leading slashes or `..` parts (no zip slip)."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":  # C:
        parts = parts[1:]
    return "/".join(parts) or "photo"


def junk_reason(name: str) -> str | None:
    """Why an entry is not a photo worth trying, or None if it may be one."""
    parts = [part for part in name.split("/") if part]
    if not parts:
        return "empty name"
    if "__MACOSX" in parts:
        return "macOS metadata, not a photo"
    if parts[-1].startswith("._"):
        return "macOS metadata, not a photo"
    if any(part.startswith(".") and part not in (".", "..") for part in parts):
        return "hidden file"
    extension = posixpath.splitext(parts[-1])[1].lower()
    if extension == ".zip":
        return "a zip inside the zip: unpack it and upload its photos"
    if extension not in PHOTO_EXTENSIONS:
        return f"not a photo ({extension or 'no extension'})"
    return None


#: The file in a download zip that names the photos that could not be put in it.
LEFT_OUT_NOTE = "LEFT-OUT.txt"


@dataclass(frozen=True)
class PhotoZip:
    """A zip of photos for download, and the photos that could not be read into it."""

    data: bytes
    left_out: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class PhotoInfo:
    """A photo of the album as the index knows it (the original bytes stay in the album)."""

    name: str
    width: int
    height: int
    size: int


class PhotoSource:
    """Photos to index, read one at a time: `photos` (unique names, in a stable order),
    `skipped` (with reasons), `read(entry)`; downloads are built from the original bytes."""

    photos: list[PhotoEntry]
    skipped: list[Skipped]

    def read(self, entry: PhotoEntry) -> bytes:
        """The photo's bytes; one that cannot be read raises PhotoError with the reason."""
        raise NotImplementedError

    def _index_names(self) -> None:
        self._by_name = {entry.name: entry for entry in self.photos}

    def entry(self, name: str) -> PhotoEntry:
        """The photo of that name (names are unique: a second copy is skipped); KeyError if none."""
        found = self.find(name)
        if found is None:
            raise KeyError(name)
        return found

    def find(self, name: str) -> PhotoEntry | None:
        """The photo of that name, or None; a folder also finds a photo added since it was
        scanned (an event's photographers upload during the race)."""
        return self._by_name.get(name)

    def size_now(self, name: str) -> int | None:
        """The photo's size in bytes now (a file may have changed since it was indexed);
        None if it cannot be served any more."""
        found = self.find(name)
        return None if found is None else found.size

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of these photo names that this source does not hold (in the order given):
        how an index is checked against the album it is opened with."""
        return [name for name in names if self.find(name) is None]

    def zip_of(self, names: Iterable[str]) -> PhotoZip:
        """A new zip of these photos for download: original bytes, names as in the album.

        Only names that would escape the folder they are unzipped into (`/abs/x.jpg`,
        `../x.jpg`) are made relative, so the download is safe to unzip.
        """
        return self.zip_of_folders({"": names})

    def zip_of_folders(self, folders: Mapping[str, Iterable[str]]) -> PhotoZip:
        """A new zip with the given photos under each folder (e.g. one folder per person; ""
        for the top): original bytes, names as in the album, made safe as in `zip_of`. A photo
        that cannot be read now is left out, and the zip's LEFT-OUT.txt says which and why."""
        buffer = io.BytesIO()
        used: set[str] = set()
        left_out: list[Skipped] = []
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for folder, names in folders.items():
                for name in names:
                    try:
                        data = self.read(self.entry(name))
                    except KeyError:
                        left_out.append(Skipped(name, "no longer in the album"))
                        continue
                    except PhotoError as error:
                        left_out.append(Skipped(name, str(error)))
                        continue
                    member = posixpath.join(folder, safe_member_name(name)).lstrip("/")
                    stem, extension = posixpath.splitext(member)
                    copy = 1
                    while member in used:  # "../a.jpg" and "a.jpg" both became "a.jpg"
                        copy += 1
                        member = f"{stem} ({copy}){extension}"
                    used.add(member)
                    archive.writestr(member, data)
            if left_out:
                archive.writestr(
                    LEFT_OUT_NOTE,
                    "".join(f"{item.name}: {item.reason}\n" for item in left_out),
                )
        return PhotoZip(buffer.getvalue(), tuple(left_out))

    def __iter__(self) -> Iterator[PhotoEntry]:
        return iter(self.photos)

    def __len__(self) -> int:
        return len(self.photos)

    def close(self) -> None:
        """Let go of what the source holds open."""


class Album(PhotoSource):
    """An album zip opened in memory: its photos and the entries that were skipped.

    Reading is lazy: `read(entry)` decompresses one photo, so an album of 2 GB needs the 2 GB of
    the upload plus one photo at a time, never a second copy of everything.
    """

    def __init__(self, source: AlbumSource, limits: ArchiveLimits | None = None) -> None:
        self.limits = limits or ArchiveLimits()
        self._zip = _open_zip(source)
        self.photos: list[PhotoEntry] = []
        self.skipped: list[Skipped] = []
        self._scan()

    def _scan(self) -> None:
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_entries:
            raise ArchiveError(
                f"The zip has {len(infos):,} entries; facefind reads at most "
                f"{self.limits.max_entries:,}. Split the album into smaller zips."
            )
        total = 0
        encrypted = 0
        seen: set[str] = set()
        for info in infos:
            if info.is_dir():
                continue
            name = display_name(info)
            reason = (
                "a second file of the same name in the zip" if name in seen else junk_reason(name)
            )
            seen.add(name)
            if reason is None and info.flag_bits & 0x1:
                reason = "password-protected"
                encrypted += 1
            if reason is None:
                reason = self._size_problem(info)
            if reason is not None:
                self.skipped.append(Skipped(name, reason))
                continue
            total += info.file_size
            self.photos.append(PhotoEntry(name=name, size=info.file_size, info=info))
        if total > self.limits.max_total_bytes:
            raise ArchiveError(
                f"The photos in this zip add up to {total / 1024**3:.1f} GiB uncompressed; "
                f"facefind reads at most {self.limits.max_total_bytes / 1024**3:.0f} GiB at once."
            )
        self._index_names()
        if encrypted and not self.photos:
            raise ArchiveError(
                "The zip is password-protected. Unzip it with its password and upload "
                "a zip without one."
            )

    def _size_problem(self, info: zipfile.ZipInfo) -> str | None:
        if info.file_size > self.limits.max_file_bytes:
            return (
                f"too large ({info.file_size / 1024**2:.0f} MiB; "
                f"the limit is {self.limits.max_file_bytes / 1024**2:.0f} MiB)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > self.limits.max_compression_ratio:
            return f"refused: compressed {ratio:.0f}:1, which photos never are (a zip bomb?)"
        return None

    def read(self, entry: PhotoEntry) -> bytes:
        """The photo's bytes; a damaged entry raises PhotoError with the reason."""
        limit = self.limits.max_file_bytes
        try:
            with self._zip.open(entry.info) as handle:
                data = handle.read(limit + 1)
        except Exception as error:  # BadZipFile, zlib.error, EOFError, NotImplementedError...
            raise PhotoError(f"damaged in the zip ({_short(error)})") from error
        if len(data) > limit:
            raise PhotoError("larger than its zip entry says (refused)")
        return data

    def close(self) -> None:
        self._zip.close()


def _open_zip(source: AlbumSource) -> zipfile.ZipFile:
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile as error:
        raise ArchiveError(
            "This file is not a zip archive (or it is damaged or incomplete): "
            "the album has to be a .zip file."
        ) from error
    except (OSError, ValueError, EOFError) as error:
        raise ArchiveError(f"The zip cannot be read: {_short(error)}") from error


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 120 else text[:117] + "..."
