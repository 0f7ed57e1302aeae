"""Words in photos: every photo's words and numbers (race bibs, signs, shirts), each with its box
and confidence, read offline by PP-OCR through RapidOCR, and matched against what a user types.

The reader finds text lines on a copy of the photo shrunk to `read_size` and reads each line
from the sharper full decode (cut out and straightened), so that a bib a few dozen pixels high
in a 12 MP photo is read from its own pixels. The models ship inside the `rapidocr-onnxruntime`
wheel: nothing is downloaded. Each thread has its own reader (ONNX Runtime sessions with one
thread each, so the indexing workers do not fight over the cores).

Matching is by whole words: a number matches that number exactly (`1234` finds bib 1234, never
12345 or 234) and words match case- and accent-insensitively.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from .chips import Box
from .errors import ModelUnavailableError
from .images import DecodedPhoto
from .runtime import ShipsWithoutModels

#: Text lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
MIN_WORD_CONFIDENCE = 0.5
#: Text is found on a copy of at most this long side (docs/accuracy.md, "Words in photos").
READ_SIZE = 2048
#: Lines are read at this height (pixels) at most: the recogniser's own input height is 48.
LINE_HEIGHT = 64
READER_NAME = "PP-OCRv4 (RapidOCR)"


@dataclass(frozen=True)
class Word:
    """A line of text read in a photo: what it says, where (original pixels), how sure."""

    text: str
    box: Box
    confidence: float


def reader_available() -> bool:
    """Whether RapidOCR and its models are installed."""
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


class WordReader(ShipsWithoutModels):
    """Reads the words of photos; one RapidOCR instance per thread, made on first use."""

    _runtime_state = ("_local",)

    def __init__(self, read_size: int = READ_SIZE, min_confidence: float = MIN_WORD_CONFIDENCE):
        self.read_size = read_size
        self.min_confidence = min_confidence
        self._fresh_runtime_state()

    def _fresh_runtime_state(self) -> None:
        self._local = threading.local()

    def load(self) -> None:
        """Make this thread's reader now, so that a missing package is said before indexing."""
        self._ocr()

    def _ocr(self):
        ocr = getattr(self._local, "ocr", None)
        if ocr is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as error:
                raise ModelUnavailableError(
                    "Reading words in photos needs the rapidocr-onnxruntime package: "
                    "reinstall the requirements."
                ) from error
            ocr = RapidOCR(
                intra_op_num_threads=1,
                inter_op_num_threads=1,
                det_limit_type="max",
                det_limit_side_len=self.read_size,
                use_cls=False,  # photos are upright once EXIF is applied
            )
            self._local.ocr = ocr
        return ocr

    def read(self, photo: DecodedPhoto) -> list[Word]:
        """The lines of text in the photo, each with its box in the original photo's pixels."""
        ocr = self._ocr()
        scan = photo.shrunk(self.read_size)
        found, _ = ocr.text_det(np.ascontiguousarray(scan.pixels[:, :, ::-1]))
        if found is None or not len(found):
            return []
        to_photo = photo.scale / scan.scale
        sharp = np.ascontiguousarray(photo.pixels[:, :, ::-1])
        quads = [np.asarray(quad, dtype=np.float32) * to_photo for quad in found]
        lines = [_line_image(sharp, quad) for quad in quads]
        results, _ = ocr.text_rec(lines)
        words = []
        for quad, (text, confidence) in zip(quads, results, strict=True):
            text = str(text).strip()
            if text and float(confidence) >= self.min_confidence:
                # float32, as the index keeps it
                sure = float(np.float32(confidence))
                words.append(Word(text, _box_of(quad, photo.scale), sure))
        return words


def _line_image(pixels: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text line inside `quad` (four corners, clockwise from top left), straightened and
    shrunk by area averaging to at most `LINE_HEIGHT` pixels high."""
    width = max(int(np.linalg.norm(quad[0] - quad[1])), int(np.linalg.norm(quad[2] - quad[3])), 1)
    height = max(int(np.linalg.norm(quad[0] - quad[3])), int(np.linalg.norm(quad[1] - quad[2])), 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    line = cv2.warpPerspective(
        pixels,
        cv2.getPerspectiveTransform(quad, target),
        (width, height),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if height > LINE_HEIGHT:
        size = (max(1, round(width * LINE_HEIGHT / height)), LINE_HEIGHT)
        line = cv2.resize(line, size, interpolation=cv2.INTER_AREA)
    return line


def _box_of(quad: np.ndarray, scale: float) -> Box:
    """The upright box around a quad of decode pixels, in original photo pixels."""
    left, top = quad.min(axis=0) / scale
    right, bottom = quad.max(axis=0) / scale
    return (round(left), round(top), max(1, round(right - left)), max(1, round(bottom - top)))


# --- matching ---------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """The words and numbers of a text, lower case and without accents: runs of letters and
    runs of digits ("No.1234" → "no", "1234"; "Café" → "cafe")."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in plain if not unicodedata.combining(char)).casefold()
    return re.findall(r"[^\W\d_]+|\d+", plain)


def matching_words(query: str, words: list[Word]) -> list[Word]:
    """The words of a photo that make up the query: every query token must be one of the
    photo's tokens (numbers exactly); the lines holding them are returned. Empty when the
    photo does not match."""
    wanted = tokens(query)
    if not wanted:
        return []
    holding: list[Word] = []
    for token in wanted:
        lines = [word for word in words if token in tokens(word.text)]
        if not lines:
            return []
        holding.extend(line for line in lines if line not in holding)
    return holding
