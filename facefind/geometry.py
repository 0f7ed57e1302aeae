"""Where something is in a photo, shared by every stage (detectors, the word reader, results,
pictures) without any of them importing another's module."""

from __future__ import annotations

#: x, y, width, height in a photo's pixels (of the upright original).
Box = tuple[int, int, int, int]
