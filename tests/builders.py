"""Helpers the tests build their inputs with: zips in memory, small pictures, odd files, and
running the command line as a user does. Shared here so that tests never import each other."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The first bytes of a JPEG: enough for a file to count as a photo in an album listing.
JPEG_MAGIC = b"\xff\xd8\xff\xe0" + b"\0" * 100


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """An album zip built in memory from name -> content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def solid_jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def printed_jpeg(text: str, size: tuple[int, int] = (900, 400), font_size: int = 150) -> bytes:
    """A JPEG of black text on white, as a sign or a bib shows it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    font = ImageFont.load_default(size=font_size)
    ImageDraw.Draw(image).text((60, 100), text, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def legacy_named_zip(raw_names: list[bytes]) -> bytes:
    """A zip whose names are raw bytes without the UTF-8 flag, as old Windows tools write them.

    zipfile always writes non-ASCII names as flagged UTF-8, so ASCII placeholders of the same
    length are written and then replaced by the raw bytes.
    """
    placeholders = [f"{n:0{len(raw)}d}".encode() for n, raw in enumerate(raw_names)]
    data = zip_bytes({placeholder.decode(): JPEG_MAGIC for placeholder in placeholders})
    for placeholder, raw in zip(placeholders, raw_names, strict=True):
        data = data.replace(placeholder, raw)
    return data


def set_entry_flags(data: bytes, flags: int) -> bytes:
    """Set general-purpose flag bits on every entry (local and central headers)."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset] |= flags
            start = patched.find(signature, start + 4)
    return bytes(patched)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header (how decompression bombs look)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def facefind(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "facefind", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def face_index(embeddings, face_photo, photos: int | None = None):
    """A hand-made Dlib index: these unit-length faces in these photos (named p0.jpg, p1.jpg,
    ...), box n = (n, n, 10, 10), every face sure."""
    import numpy as np

    from facefind.config import FaceSettings
    from facefind.stores.npz import AlbumIndex, PhotoInfo

    face_photo = np.asarray(face_photo, dtype=np.int32)
    count = len(face_photo)
    photos = int(face_photo.max()) + 1 if photos is None else photos
    return AlbumIndex(
        model="Dlib",
        detector="dlib",
        settings=FaceSettings(model="Dlib"),
        photos=[PhotoInfo(f"p{n}.jpg", 100, 100, 1) for n in range(photos)],
        thumbnails=[b""] * photos,
        embeddings=np.asarray(embeddings, dtype=np.float32),
        face_photo=face_photo,
        boxes=np.array([[n, n, 10, 10] for n in range(count)], dtype=np.int32).reshape(-1, 4),
        confidences=np.ones(count, dtype=np.float32),
    )


def process_exists(pid: int) -> bool:
    """Whether a process is still there (any POSIX system, no /proc needed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but someone else's
        return True
    return True
