"""The web server's own bounds for a public event, set by facefind when it serves one.

A browser's uploader bound is only the browser's: anyone can PUT straight to Streamlit's upload
endpoint. Streamlit reads `server.maxUploadSize` on every upload request, so the event sets it
to a query photo's bound; and Starlette, which parses the upload, spools a part over 1 MB into
a temporary file on disk, so the event keeps every part up to that bound in memory instead
(a selfie never touches the disk; larger uploads are refused while they stream in).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: A query photo's bound in an event (a phone photo is 2-15 MB); the album mode's uploader
#: takes 50 MB, and the album zip 2 GB.
EVENT_UPLOAD_MB = 20
#: What Starlette's multipart parser may hold in memory beyond the file itself (the form's
#: framing): Streamlit's own allowance for it, with room to spare.
_FRAMING_BYTES = 1024 * 1024


def bound_uploads(megabytes: int = EVENT_UPLOAD_MB) -> None:
    """Refuse uploads over `megabytes` on the server and keep those under it in memory."""
    from starlette.formparsers import MultiPartParser
    from streamlit import config

    if config.get_option("server.maxUploadSize") != megabytes:
        config.set_option("server.maxUploadSize", megabytes)
    # a class attribute Starlette reads for each part it parses (1 MB by default)
    MultiPartParser.spool_max_size = megabytes * 1024 * 1024 + 2 * _FRAMING_BYTES


#: glibc malloc arenas for a served event's process. By default every thread may get an arena
#: of its own (up to 8 per core), and each keeps the memory of the largest photo decoded in it:
#: with 20 sessions at once (a thread each) sending 24 MP PNGs, two at a time, the server
#: peaked 860 MiB above its start, and stayed 380 MiB up; with 2 arenas and big blocks
#: mapped and given back on free, the peak is what the two decodes at a time need
#: (bench_served.py --hostile 20: docs/performance.md).
MALLOC_ARENAS = 2
#: Blocks of at least this many bytes are mapped (and given back when freed), never kept in an
#: arena: glibc otherwise raises this bar after the first large free, to 32 MB.
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # mallopt's parameter numbers (malloc.h)


def bound_memory() -> bool:
    """Keep a served event's memory to what its photos at once need (glibc; elsewhere a
    no-op that says False)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return False
    return bool(mallopt(_M_ARENA_MAX, MALLOC_ARENAS)) and bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    )


@functools.cache
def serve_publicly() -> None:
    """Set a public event server's bounds, once per server process (a runner's every page
    run asks): uploads bounded and kept in memory, memory bounded under many sessions."""
    bound_uploads()
    bound_memory()
