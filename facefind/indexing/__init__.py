"""Indexing: running the analysis steps over a whole album, and writing what they find to a
store. The local runner (builder.py: threads, and the face model's helper process of
face_process.py) and the Ray runner (cluster.py) index in chunks, resume where a stopped run
stopped, and report skipped files and progress (progress.py); reading.py reads the words of
an album already indexed, in the background of the app.

One orchestration (chunks.py: chunks, resume, skipped files, progress) serves every runner; a
new runner is a `ChunkRunner` that indexes chunks and gives each one's index back as it
finishes, as `LocalRunner` and `cluster.RayRunner` do.
"""

from facefind.indexing.builder import IndexBuilder, build_index, changed_photos
from facefind.indexing.chunks import ChunkRunner, LocalRunner, PartsStore, index_into
from facefind.indexing.progress import IndexingRate

__all__ = [
    "ChunkRunner",
    "IndexBuilder",
    "LocalRunner",
    "IndexingRate",
    "PartsStore",
    "build_index",
    "changed_photos",
    "index_into",
]
