"""Decoding untrusted photo bytes into upright RGB pixels with Pillow.

Whatever a phone or a website produced (CMYK, 16-bit, palette with transparency, rotated by
EXIF, HEIC) comes out as an upright RGB uint8 array, and a broken file raises PhotoError with a
reason instead of stopping the album.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps

from facefind.config import ImageLimits
from facefind.errors import PhotoError

try:  # HEIC/HEIF (iPhone photos) when pillow-heif is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - optional
    pass

# Our own pixel limit (ImageLimits.max_pixels) is checked before decoding; Pillow's guard
# stays as a second line of defence.
Image.MAX_IMAGE_PIXELS = ImageLimits().max_pixels


@dataclass(frozen=True)
class DecodedPhoto:
    """An upright RGB photo, possibly downscaled for work.

    `width`/`height` are the upright original's size; `pixels` may be smaller, and
    `scale` = pixels size / original size, so a box found in `pixels` maps back by 1/scale.
    """

    pixels: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> float:
        return self.pixels.shape[1] / self.width

    def shrunk(self, max_side: int) -> DecodedPhoto:
        """The same photo with its pixels shrunk (area averaging) to at most `max_side`."""
        return DecodedPhoto(fit_within(self.pixels, max_side), self.width, self.height)


def fit_within(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """The image shrunk by area averaging (no aliasing) so its long side is at most `max_side`.

    First by a whole factor, which OpenCV averages on a fast path (20 ms of CPU for 12 MP
    instead of 55), then by what remains.
    """
    height, width = pixels.shape[:2]
    whole = max(height, width) // max_side
    if whole >= 2:
        pixels = cv2.resize(pixels, None, fx=1 / whole, fy=1 / whole, interpolation=cv2.INTER_AREA)
        height, width = pixels.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1.0:
        return pixels
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def open_image(data: bytes, limits: ImageLimits | None = None) -> Image.Image:
    """Open (not yet decode) a photo, refusing what is not an image or is too large."""
    limits = limits or ImageLimits()
    if not data:
        raise PhotoError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoError("too many pixels (refused as a decompression bomb)") from error
    except Exception as error:  # UnidentifiedImageError, OSError, SyntaxError...
        raise PhotoError(
            "not a photo facefind can read (damaged, or not JPEG, PNG, WebP, HEIC, BMP, TIFF "
            "or GIF)"
        ) from error
    width, height = image.size
    if width * height > limits.max_pixels:
        raise PhotoError(
            f"too many pixels ({width}x{height}; the limit is "
            f"{limits.max_pixels / 1e6:.0f} megapixels)"
        )
    if width < 1 or height < 1:
        raise PhotoError("an image of no pixels")
    return image


def decode_photo(
    data: bytes,
    max_side: int | None = None,
    limits: ImageLimits | None = None,
    *,
    slack: float = 1.0,
) -> DecodedPhoto:
    """Decode a photo upright, as RGB, downscaled so its long side is at most `max_side`.

    JPEGs are decoded straight at a reduced size with Pillow's draft mode (the DCT scales by
    1/2, 1/4, 1/8), which is several times faster than decoding 12 MP and shrinking afterwards.
    With `slack` > 1 the long side may stay up to `slack` x `max_side` when that saves
    resampling: shrinking a 12 MP photo exactly costs more than decoding it (measured 90 ms
    against 32 ms), so the indexer takes the draft-mode result as it is.
    """
    image = open_image(data, limits)
    try:
        stored_w, stored_h = image.size
        if max_side and max(stored_w, stored_h) > max_side:
            factor = max_side / max(stored_w, stored_h)
            # draft() keeps at least the requested size, so the result is then shrunk exactly.
            image.draft("RGB", (math.ceil(stored_w * factor), math.ceil(stored_h * factor)))
        # Orientations 5-8 turn the photo a quarter: the upright original is stored_h wide.
        quarter_turn = image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
        width, height = (stored_h, stored_w) if quarter_turn else (stored_w, stored_h)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # no copy of an upright photo
        rgb = to_rgb(image)
        if max_side and max(rgb.size) > max_side * slack:
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=None)
        pixels = np.asarray(rgb, dtype=np.uint8)
    except PhotoError:
        raise
    except Exception as error:  # truncated data, broken EXIF, decoder errors
        raise PhotoError(f"damaged image ({_reason(error)})") from error
    return DecodedPhoto(pixels=pixels, width=width, height=height)


#: A query photo (a selfie, a phone photo) that is not a JPEG is decoded whole, so it is held
#: to this many pixels: 14000x14000 PNG (196 MP, 190 KB of bytes) cost 1 GB of memory to
#: decode. A JPEG of up to the album's bound decodes at 1/8 of its size with draft mode and
#: costs little whatever its pixel count (phones take 48-200 MP photos).
QUERY_MAX_PIXELS = 24_000_000
#: Query photos looked at (decoded, and searched for faces: a photo with none gets the costly
#: thorough pass) at once in one server process; the rest wait their turn, so memory under
#: many uploads at once stays about this many times one photo's (bench_served.py --hostile).
QUERY_PHOTOS_AT_ONCE = 2
_QUERY_SLOTS = threading.BoundedSemaphore(QUERY_PHOTOS_AT_ONCE)


def query_limits(data: bytes) -> ImageLimits:
    """The pixel bound for a query photo: the album's for a JPEG (decoded small in draft
    mode), QUERY_MAX_PIXELS for any other format."""
    try:
        kind = Image.open(io.BytesIO(data)).format
    except Exception:  # not an image: open_image says so
        kind = None
    if kind == "JPEG":
        return ImageLimits()
    return ImageLimits(max_pixels=QUERY_MAX_PIXELS)


@contextmanager
def query_turn() -> Iterator[None]:
    """A turn to look at a query photo (at most QUERY_PHOTOS_AT_ONCE at a time)."""
    with _QUERY_SLOTS:
        yield


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: transparency onto white, 16-bit scaled, CMYK converted."""
    if image.mode == "RGB":
        image.load()
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode == "P" and "transparency" in image.info or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def thumbnail_jpeg(pixels: np.ndarray, size: int) -> bytes:
    """A small JPEG of the photo for result grids; never the original bytes."""
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "truncated" in text.lower():
        return "the file is incomplete"
    return text if len(text) < 100 else text[:97] + "..."
