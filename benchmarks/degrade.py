"""Labelled photos degraded the way real albums degrade them, reproducibly (seeded), so that
the near misses a clean album hides show up in bench_accuracy's `degraded` suite.

Each kind takes a photo (bytes) and its faces' boxes (upright pixels, as found on the clean
photo) and returns a JPEG:
- small: the photo shrunk so that its largest face is 30-80 px wide, placed in a frame three
  times its size (a group or party photo's background faces);
- messenger: shrunk to 1280 px and saved at JPEG quality 15-40, as messenger apps send it;
- scan: greyscale or sepia, blurred and grainy, as a scanned print;
- occluded: every face partly covered: sunglasses, a hand over the mouth, or a cap's shadow;
- turned: the face squeezed sideways as a head turned away, or cut by the frame's edge.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

Box = tuple[int, int, int, int]  # x, y, width, height

KINDS = ("small", "messenger", "scan", "occluded", "turned")


def upright(data: bytes) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def small(image: Image.Image, faces: Sequence[Box], rng: random.Random) -> Image.Image:
    width = max((box[2] for box in faces), default=image.width // 4)
    factor = min(1.0, rng.uniform(30, 80) / max(width, 1))
    photo = image.resize(
        (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
        Image.Resampling.LANCZOS,
    )
    frame_size = (photo.width * 3, photo.height * 3)
    # the frame: the photo itself, enlarged and blurred past any face, as a wide shot's rest
    frame = image.resize(frame_size).filter(ImageFilter.GaussianBlur(frame_size[0] / 15))
    frame.paste(photo, (rng.randrange(0, 2 * photo.width), rng.randrange(0, 2 * photo.height)))
    return frame


def messenger(image: Image.Image, faces: Sequence[Box], rng: random.Random) -> Image.Image:
    image = image.copy()
    image.thumbnail((1280, 1280), Image.Resampling.BILINEAR)
    return Image.open(io.BytesIO(jpeg(image, rng.randint(15, 40)))).convert("RGB")


def scan(image: Image.Image, faces: Sequence[Box], rng: random.Random) -> Image.Image:
    grey = ImageOps.grayscale(image)
    toned = (
        ImageOps.colorize(grey, (40, 26, 13), (255, 240, 200)).convert("RGB")
        if rng.random() < 0.5
        else grey.convert("RGB")
    )
    blurred = toned.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 2.0) * image.width / 1000))
    pixels = np.asarray(blurred, dtype=np.float32)
    grain = np.random.default_rng(rng.randrange(1 << 30)).normal(
        0, rng.uniform(8, 16), pixels.shape[:2]
    )
    return Image.fromarray(np.clip(pixels + grain[..., None], 0, 255).astype(np.uint8))


def occluded(image: Image.Image, faces: Sequence[Box], rng: random.Random) -> Image.Image:
    image = image.copy()
    draw = ImageDraw.Draw(image, "RGBA")
    how = rng.choice(("sunglasses", "hand", "cap"))
    for x, y, w, h in faces:
        if how == "sunglasses":  # two dark lenses and a bridge across the eyes
            top, bottom = y + 0.28 * h, y + 0.5 * h
            for left in (x + 0.1 * w, x + 0.53 * w):
                draw.ellipse((left, top, left + 0.37 * w, bottom), fill=(15, 15, 20, 255))
            draw.line(
                (x + 0.45 * w, top + 0.08 * h, x + 0.55 * w, top + 0.08 * h),
                fill=(15, 15, 20, 255),
                width=max(2, round(w / 30)),
            )
        elif how == "hand":  # a hand over the mouth and chin
            draw.ellipse(
                (x + 0.15 * w, y + 0.62 * h, x + 0.95 * w, y + 1.15 * h), fill=(205, 160, 130, 255)
            )
        else:  # a cap's shadow over the forehead and eyes
            draw.rectangle(
                (x - 0.1 * w, y - 0.3 * h, x + 1.1 * w, y + 0.45 * h), fill=(0, 0, 0, 150)
            )
    return image


def turned(image: Image.Image, faces: Sequence[Box], rng: random.Random) -> Image.Image:
    if not faces:
        return image
    x, y, w, h = faces[0]
    if rng.random() < 0.5:  # the frame's edge through the face: 55-70% of it left in view
        kept = rng.uniform(0.55, 0.7)
        if rng.random() < 0.5:
            return image.crop((round(x + (1 - kept) * w), 0, image.width, image.height))
        return image.crop((0, 0, round(x + kept * w), image.height))
    image = image.copy()  # each face squeezed sideways to 55-70%, as a head turned away
    squeeze = rng.uniform(0.55, 0.7)
    for fx, fy, fw, fh in faces:
        left, top = max(0, round(fx - 0.2 * fw)), max(0, round(fy - 0.2 * fh))
        right, bottom = (
            min(image.width, round(fx + 1.2 * fw)),
            min(image.height, round(fy + 1.2 * fh)),
        )
        region = image.crop((left, top, right, bottom))
        narrow = region.resize((max(1, round(region.width * squeeze)), region.height))
        background = region.filter(ImageFilter.GaussianBlur(max(2, fw / 10)))
        background.paste(narrow, (rng.randrange(0, region.width - narrow.width + 1), 0))
        image.paste(background, (left, top))
    return image


DEGRADE: dict[str, Callable[[Image.Image, Sequence[Box], random.Random], Image.Image]] = {
    "small": small,
    "messenger": messenger,
    "scan": scan,
    "occluded": occluded,
    "turned": turned,
}


def degraded(data: bytes, kind: str, faces: Sequence[Box], seed: str) -> bytes:
    """The photo degraded by `kind`; the same photo, kind and seed always give the same bytes."""
    rng = random.Random(f"{seed}/{kind}")
    picture = DEGRADE[kind](upright(data), faces, rng)
    return picture if isinstance(picture, bytes) else jpeg(picture)
