"""Sources: where an album's photos are read from, one at a time and never extracted: an
uploaded zip in memory (`Album`), a zip or a folder on disk, several as one album. Each gives
`PhotoEntry`s to read and `Skipped` files with their reasons.

A new source (a cloud bucket, say) is a `PhotoSource` with `photos`, `skipped` and `read`.
"""

from facefind.sources.archive import (
    Album,
    PhotoEntry,
    PhotoInfo,
    PhotoSource,
    PhotoZip,
    Skipped,
)
from facefind.sources.folders import (
    CombinedAlbum,
    FolderAlbum,
    PartOfAlbum,
    open_album,
    open_source,
)

__all__ = [
    "Album",
    "CombinedAlbum",
    "FolderAlbum",
    "PartOfAlbum",
    "PhotoEntry",
    "PhotoInfo",
    "PhotoSource",
    "PhotoZip",
    "Skipped",
    "open_album",
    "open_source",
]
