"""User-facing errors.

Every error facefind raises on purpose is a `FacefindError` whose message is written for the
person using the app or the CLI, so the UI and CLI can show `str(error)` and never a traceback.
"""


class FacefindError(Exception):
    """A problem the user can understand and act on."""


class ArchiveError(FacefindError):
    """The uploaded album cannot be read as a whole (not a zip, encrypted, over a limit)."""


class PhotoError(FacefindError):
    """One photo cannot be used; the album goes on without it."""


class NoFaceError(FacefindError):
    """A query photo has no usable face."""


class IndexFileError(FacefindError):
    """A saved index is damaged, from another version, or made with another model."""


class ModelUnavailableError(FacefindError):
    """A model's weights are missing and cannot be downloaded."""


class StoreBusyError(FacefindError):
    """The database store cannot be reached just now (restarting, overloaded): try again. The
    message names the store for the organiser; a runner is only told to try again."""
