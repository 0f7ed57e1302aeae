"""Indexing: running the analysis steps over a whole album, and writing what they find to a
store. The local runner (builder.py: threads, and the face model's helper process of
face_process.py) and the Ray runner (cluster.py) index in chunks, resume where a stopped run
stopped, and report skipped files and progress (progress.py); reading.py reads the words of
an album already indexed, in the background of the app.

A new runner takes an album, an `IndexBuilder` and a `PartsStore`, as `index_into` and
`index_on_ray` do.
"""

from facefind.indexing.builder import (
    IndexBuilder,
    PartsStore,
    build_index,
    changed_photos,
    index_into,
)
from facefind.indexing.progress import IndexingRate

__all__ = [
    "IndexBuilder",
    "IndexingRate",
    "PartsStore",
    "build_index",
    "changed_photos",
    "index_into",
]
