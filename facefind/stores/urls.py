"""Telling a database store's URL from a file name, without importing any database driver."""

from __future__ import annotations


def is_store_url(text: object) -> bool:
    """Whether an argument names a PostgreSQL store rather than a file."""
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
