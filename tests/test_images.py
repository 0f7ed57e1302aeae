"""Decoding photos of every kind into upright RGB, and refusing broken ones clearly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facefind.analysis.images import DecodedPhoto, decode_photo, thumbnail_jpeg
from facefind.errors import PhotoError

from .builders import png_header_only


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_every_mode_becomes_rgb_with_right_colours() -> None:
    red = (200, 30, 30)
    rgba = Image.new("RGBA", (40, 30), (*red, 255))
    rgba.paste((0, 0, 0, 0), (20, 0, 40, 30))  # right half fully transparent
    palette = Image.new("P", (40, 30), 0)
    palette.putpalette([*red, 0, 0, 0] + [0] * 762)
    palette.paste(1, (20, 0, 40, 30))
    palette.info["transparency"] = 1
    cases = {
        "RGBA-png": encode(rgba, "PNG"),
        "LA-png": encode(rgba.convert("LA"), "PNG"),
        "P-transparent-png": encode(palette, "PNG", transparency=1),
        "CMYK-jpeg": encode(Image.new("RGB", (40, 30), red).convert("CMYK"), "JPEG"),
        "gray-jpeg": encode(Image.new("L", (40, 30), 90), "JPEG"),
        "webp": encode(Image.new("RGB", (40, 30), red), "WEBP", lossless=True),
        "bmp": encode(Image.new("RGB", (40, 30), red), "BMP"),
        "tiff": encode(Image.new("RGB", (40, 30), red), "TIFF"),
        "gif": encode(Image.new("RGB", (40, 30), red), "GIF"),
    }
    for name, data in cases.items():
        photo = decode_photo(data)
        assert photo.pixels.shape == (30, 40, 3), name
        assert photo.pixels.dtype == np.uint8, name
    transparent = decode_photo(cases["RGBA-png"]).pixels
    assert tuple(transparent[5, 5]) == red and tuple(transparent[5, 35]) == (255, 255, 255)
    assert tuple(decode_photo(cases["P-transparent-png"]).pixels[5, 35]) == (255, 255, 255)
    cmyk = decode_photo(cases["CMYK-jpeg"]).pixels[15, 20].astype(int)
    assert np.abs(cmyk - red).max() < 20


def test_16_bit_png_is_scaled_not_clipped() -> None:
    values = np.full((10, 10), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    data = encode(Image.fromarray(values), "PNG")
    pixels = decode_photo(data).pixels
    assert abs(int(pixels[0, 0, 0]) - 128) <= 1


@pytest.mark.parametrize("orientation, upright", [(3, (40, 30)), (6, (30, 40)), (8, (30, 40))])
def test_exif_orientation_is_applied(orientation: int, upright: tuple[int, int]) -> None:
    image = Image.new("RGB", (40, 30), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 10))  # red marker top-left as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = decode_photo(encode(image, "JPEG", exif=exif))
    assert (photo.width, photo.height) == upright
    assert photo.pixels.shape[:2] == (upright[1], upright[0])
    red_corner = {3: (-1, -1), 6: (0, -1), 8: (-1, 0)}[orientation]
    y = 2 if red_corner[0] == 0 else -3
    x = 2 if red_corner[1] == 0 else -3
    assert photo.pixels[y, x, 0] > 200 and photo.pixels[y, x, 2] < 60


def test_large_jpeg_is_decoded_small_and_reports_original_size() -> None:
    data = encode(Image.new("RGB", (4000, 3000), (10, 120, 10)), "JPEG", quality=90)
    photo = decode_photo(data, max_side=1000)
    assert (photo.width, photo.height) == (4000, 3000)
    assert max(photo.pixels.shape[:2]) == 1000
    assert photo.scale == pytest.approx(0.25)


def test_slack_keeps_a_draft_decoded_jpeg_instead_of_resampling_it() -> None:
    """The indexer's decode: a 12 MP JPEG asked for at 2560 px with slack 2 stays at 4000 px
    (draft mode cannot halve it below 2560, and an exact shrink costs more than decoding);
    asked for 2000 px, draft mode halves it exactly."""
    data = encode(Image.new("RGB", (4000, 3000), (10, 120, 10)), "JPEG", quality=90)
    assert decode_photo(data, 2560, slack=2.0).pixels.shape == (3000, 4000, 3)
    assert decode_photo(data, 2560).pixels.shape == (1920, 2560, 3)
    assert decode_photo(data, 2000, slack=2.0).pixels.shape == (1500, 2000, 3)
    photo = decode_photo(data, 640, slack=2.0)  # draft goes to 1/4 (1000 px), within slack
    assert photo.pixels.shape == (750, 1000, 3) and photo.scale == pytest.approx(0.25)


@pytest.mark.parametrize("size", [(4000, 3000), (3999, 2999), (2500, 1000), (1000, 800)])
def test_shrunk_copy_fits_exactly_and_averages(size: tuple[int, int]) -> None:
    """The detector's copy: long side exactly the limit (or unchanged when smaller), same
    original size, and area-averaged (a fine checkerboard turns grey, not striped)."""
    width, height = size
    board = (np.indices((height, width)).sum(axis=0) % 2 * 255).astype(np.uint8)
    photo = DecodedPhoto(np.repeat(board[:, :, None], 3, axis=2), width, height)
    small = photo.shrunk(1280)
    assert max(small.pixels.shape[:2]) == min(1280, max(size))
    assert (small.width, small.height) == size
    if max(size) > 1280:
        assert np.abs(small.pixels[5:-5, 5:-5].astype(int) - 127).max() < 40


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"this is a text file named photo.jpg", "not a photo facefind can read"),
        (png_header_only(30000, 30000), "too many pixels"),
    ],
    ids=["zero-bytes", "text", "bomb"],
)
def test_bad_photos_raise_a_readable_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PhotoError, match=reason):
        decode_photo(data)


def test_truncated_jpeg_is_refused() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    with pytest.raises(PhotoError, match="incomplete|damaged"):
        decode_photo(data[: len(data) // 3])


def test_thumbnail_is_a_small_jpeg() -> None:
    thumb = thumbnail_jpeg(np.zeros((3000, 4000, 3), dtype=np.uint8), 384)
    assert Image.open(io.BytesIO(thumb)).size == (384, 288)


def test_heic_photos_decode_when_pillow_heif_is_installed() -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    data = encode(Image.new("RGB", (64, 48), (200, 30, 30)), "HEIF")
    photo = decode_photo(data)
    assert photo.pixels.shape == (48, 64, 3)
    assert np.abs(photo.pixels[10, 10].astype(int) - (200, 30, 30)).max() < 25
