"""Pictures for showing results: thumbnails with the matched faces outlined, query face crops.

Kept out of the app so the app stays a thin layer of widgets, and so they can be tested.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps

from facefind.analysis.images import decode_photo, query_limits, query_turn
from facefind.geometry import Box
from facefind.search.results import PhotoHit
from facefind.stores.base import IndexStore

#: One outline colour per query person (person 1 = first colour...).
PERSON_COLOURS = ("#ff3b30", "#34c759", "#0a84ff", "#ff9f0a", "#bf5af2", "#64d2ff")


def person_colour(person: int) -> str:
    return PERSON_COLOURS[person % len(PERSON_COLOURS)]


#: The outline of matched words (a bib number), apart from every person's colour.
WORD_COLOUR = "#ffd60a"
WORD_EDGE_COLOUR = "#1a1a1a"


def outlined_thumbnail(index: IndexStore, hit: PhotoHit) -> Image.Image:
    """The photo's thumbnail with each matched face outlined in its person's colour, and the
    matched words (a bib number) in yellow."""
    thumbnail = Image.open(io.BytesIO(index.thumbnail(hit.photo))).convert("RGB")
    info = index.photos[hit.photo]
    _outline(thumbnail, hit, thumbnail.width / info.width, max(2, round(thumbnail.width / 150)))
    return thumbnail


def outlined_photo(data: bytes, hit: PhotoHit, max_side: int = 1600) -> Image.Image:
    """The full photo (shrunk to `max_side`) with the matched faces and words outlined, for a
    closer look."""
    photo = decode_photo(data, max_side)
    image = Image.fromarray(photo.pixels)
    _outline(image, hit, photo.scale, max(3, round(image.width / 300)))
    return image


def _outline(image: Image.Image, hit: PhotoHit, factor: float, width: int) -> None:
    """Draw the hit's faces and words (boxes in original pixels) on a copy `factor` as large."""
    draw = ImageDraw.Draw(image)
    for face in hit.faces:
        x, y, w, h = (round(value * factor) for value in face.box)
        draw.rectangle((x, y, x + w, y + h), outline=person_colour(face.person), width=width)
    for word in hit.words:
        # a bib: a band twice as wide as a face's, yellow inside a dark edge, so that it shows
        # on a white bib, a yellow shirt and a dark one alike; drawn around the box, never over
        # the number (a bib's box is only a few outline widths tall in the larger view)
        x, y, w, h = (round(value * factor) for value in word.box)
        band, edge = 2 * width, 3 * width
        draw.rectangle(
            (x - edge, y - edge, x + w + edge, y + h + edge), outline=WORD_EDGE_COLOUR, width=width
        )
        draw.rectangle(
            (x - band, y - band, x + w + band, y + h + band), outline=WORD_COLOUR, width=band
        )


def face_crops(
    data: bytes, boxes: Sequence[Box], size: int = 160, query: bool = False
) -> list[Image.Image]:
    """Square crops of faces of one photo (boxes in its original pixels): the faces of a query
    photo to pick who to look for (`query`: decoded within a query photo's bounds), or the
    face shown for a person of the album."""
    if query:
        with query_turn():
            photo = decode_photo(data, 2048, query_limits(data))
    else:
        photo = decode_photo(data, 2048)
    image = Image.fromarray(photo.pixels)
    return [_crop(image, box, photo.scale, size) for box in boxes]


def _crop(image: Image.Image, box: Box, scale: float, size: int) -> Image.Image:
    x, y, w, h = (value * scale for value in box)
    margin = 0.25 * max(w, h)
    region = (
        max(0, round(x - margin)),
        max(0, round(y - margin)),
        min(image.width, round(x + w + margin)),
        min(image.height, round(y + h + margin)),
    )
    return ImageOps.fit(image.crop(region), (size, size))
