"""The web server's own bounds for a public event, set by facefind when it serves one.

A browser's uploader bound is only the browser's: anyone can PUT straight to Streamlit's upload
endpoint. Streamlit reads `server.maxUploadSize` on every upload request, so the event sets it
to a query photo's bound; and Starlette, which parses the upload, spools a part over 1 MB into
a temporary file on disk, so the event keeps every part up to that bound in memory instead
(a selfie never touches the disk; larger uploads are refused while they stream in).
"""

from __future__ import annotations

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


def upload_bound_mb() -> int:
    """The server's upload bound now, in MB."""
    from streamlit import config

    return int(config.get_option("server.maxUploadSize"))
