"""Words in photos: every photo's words and numbers (race bibs, signs, shirts), each with its box
and confidence, read offline by PP-OCR through RapidOCR, and matched against what a user types.

Where a bib can be read depends on how tall its digits are in what the text detector scans,
not on the photo's size: PP-OCRv4's detector finds digits reliably from about 40 px tall, and
a bib's digits are a third to a half of the wearer's face height. So the reader scans each
photo at the size where its smallest face is `FACE_HEIGHT` px tall (clamped between
`MIN_SCAN` and `MAX_SCAN` on the long side): a web-sized photo is enlarged, a close-up of big
faces is shrunk, and a photo with no face is scanned at `MAX_SCAN`. Each line found is read
from the sharper decode (cut out and straightened). Numbers split over two boxes on one line
("1 17") are also read joined. The measurements behind each number: docs/accuracy.md, "Words
in photos". The models ship inside the `rapidocr-onnxruntime` wheel: nothing is downloaded.
Each thread has its own RapidOCR object; the models under them are compiled once per process
(by OpenVINO where installed, else ONNX Runtime: `text_model`), shared by the threads, each
inference on one thread so the indexing workers do not fight over the cores.

Matching is by whole words: a number matches that number exactly (`1234` finds bib 1234, never
12345 or 234; a bib printed `0123` is found by `123`) and words match case- and
accent-insensitively.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefind.analysis.images import DecodedPhoto, fit_within
from facefind.analysis.openvino_models import OpenVinoModel, openvino_installed
from facefind.analysis.runtime import LoadsOnce
from facefind.errors import ModelUnavailableError
from facefind.geometry import Box

#: Text lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
MIN_WORD_CONFIDENCE = 0.5
#: The height (px) the smallest face of a photo gets in the copy text is found on: its bib's
#: digits are then 40-60 px, where the detector finds them. On the shared race photos 120 px
#: lost a bib at 1024 and 800 px, 130 and 140 none; 130 costs 3% less indexing time than 140
#: (docs/accuracy.md, "Words in photos").
FACE_HEIGHT = 130
#: The long side of that copy stays within these: 1024 keeps large text in close-ups, and
#: 2000 (RapidOCR's own largest) is what a photo without faces gets.
MIN_SCAN = 1024
MAX_SCAN = 2000
#: Text boxes are grown by this (RapidOCR's default 1.6 cut the edge digit of wide numbers:
#: "10246" read as "0246"); measured in docs/accuracy.md.
UNCLIP_RATIO = 2.0
#: Lines are read at this height (pixels) at most: the recogniser's own input height is 48.
LINE_HEIGHT = 64
READER_NAME = "PP-OCRv4 (RapidOCR)"


@dataclass(frozen=True)
class Word:
    """A line of text read in a photo: what it says, where (original pixels), how sure."""

    text: str
    box: Box
    confidence: float


class WordReader(LoadsOnce[tuple]):
    """Reads the words of photos: RapidOCR's text models loaded once per process and shared by
    the threads (text_model), and a RapidOCR instance of this thread's own around them, made on
    first use (its pre- and post-processing keep state between calls)."""

    _runtime_state = (*LoadsOnce._runtime_state, "_local")

    def __init__(
        self,
        read_size: int = MAX_SCAN,
        min_confidence: float = MIN_WORD_CONFIDENCE,
        face_height: int = FACE_HEIGHT,
    ):
        #: the largest long side text is found on (a photo without faces gets it)
        self.read_size = read_size
        self.min_confidence = min_confidence
        self.face_height = face_height
        self._fresh_runtime_state()

    def _fresh_runtime_state(self) -> None:
        super()._fresh_runtime_state()
        self._local = threading.local()

    def _load_model(self) -> tuple:
        """RapidOCR and its two models (a missing package is said before indexing starts)."""
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as error:
            raise ModelUnavailableError(
                "Reading words in photos needs the rapidocr-onnxruntime package: "
                "reinstall the requirements."
            ) from error
        return RapidOCR, text_model(DETECTION_MODEL), text_model(RECOGNITION_MODEL)

    def _ocr(self):
        ocr = getattr(self._local, "ocr", None)
        if ocr is None:
            rapid_ocr, detection, recognition = self.model
            ocr = rapid_ocr(
                intra_op_num_threads=1,
                inter_op_num_threads=1,
                det_unclip_ratio=UNCLIP_RATIO,
                use_cls=False,  # photos are upright once EXIF is applied
            )
            ocr.text_det.infer = detection
            ocr.text_rec.session = recognition
            self._local.ocr = ocr
        return ocr

    def scan_side(self, photo: DecodedPhoto, faces: Sequence[Box] = ()) -> int:
        """The long side of the copy text is found on: the smallest face `face_height` px tall,
        within `MIN_SCAN` and `read_size`; `read_size` without faces."""
        heights = [height for _, _, _, height in faces if height > 0]
        if not heights:
            return self.read_size
        wanted = max(photo.width, photo.height) * self.face_height / min(heights)
        return int(min(self.read_size, max(MIN_SCAN, wanted)))

    def read(self, photo: DecodedPhoto, faces: Sequence[Box] = ()) -> list[Word]:
        """The lines of text in the photo, each with its box in the original photo's pixels;
        `faces` (boxes in original pixels) say how large its people, and so its bibs, are."""
        ocr = self._ocr()
        scan = _text_scan(photo.pixels, self.scan_side(photo, faces))
        found = _find_text(ocr.text_det, scan)
        if not len(found):
            return []
        to_sharp = (np.array(photo.pixels.shape[1::-1]) / scan.shape[1::-1]).astype(np.float32)
        quads = [np.asarray(quad, dtype=np.float32) * to_sharp for quad in found]
        # each line cut from the RGB decode, then made BGR (the recogniser's order): a BGR
        # copy of the whole 12 MP decode cost 190 ms of page faults a photo
        lines = [
            np.ascontiguousarray(_line_image(photo.pixels, quad)[:, :, ::-1]) for quad in quads
        ]
        results, _ = ocr.text_rec(lines)
        words = []
        for quad, (text, confidence) in zip(quads, results, strict=True):
            text = str(text).strip()
            if text and float(confidence) >= self.min_confidence:
                # float32, as the index keeps it
                sure = float(np.float32(confidence))
                words.append(Word(text, _box_of(quad, photo.scale), sure))
        return words + joined_numbers(words)


def _text_scan(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """The copy text is found on: `long_side` long, each side a multiple of 32 (what the
    detector's network takes; RapidOCR would resize it once more to get there). Enlarged
    bicubically; shrunk by a whole factor first (images.fit_within's fast path), then
    exactly."""
    height, width = pixels.shape[:2]
    factor = long_side / max(height, width)
    size = (max(32, round(width * factor / 32) * 32), max(32, round(height * factor / 32) * 32))
    if factor >= 1:
        return cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC)
    return cv2.resize(fit_within(pixels, 2 * long_side), size, interpolation=cv2.INTER_AREA)


def _find_text(detector, scan: np.ndarray) -> np.ndarray:
    """The text boxes (four corners each, in scan pixels) RapidOCR's detector finds in an RGB
    scan. Its own preprocessing normalises in float64 (four 70 MB arrays for a 2000 px scan,
    a third of the reading time spent in page faults); OpenCV's blob is the same input in
    float32, made once."""
    blob = cv2.dnn.blobFromImage(
        scan, scalefactor=1 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True
    )  # BGR, (x - 127.5) / 127.5: RapidOCR's mean and std of 0.5
    prediction = detector.infer(blob)[0]
    boxes, _ = detector.postprocess_op(prediction, scan.shape[:2])
    return detector.filter_tag_det_res(boxes, scan.shape[:2])


#: The PP-OCRv4 models inside the rapidocr-onnxruntime wheel (its config.yaml names them).
DETECTION_MODEL = "ch_PP-OCRv4_det_infer.onnx"
RECOGNITION_MODEL = "ch_PP-OCRv4_rec_infer.onnx"


def _model_path(model: str) -> Path:
    import rapidocr_onnxruntime

    return Path(rapidocr_onnxruntime.__file__).parent / "models" / model


@functools.cache
def text_model(model: str) -> Callable[[np.ndarray], list[np.ndarray]]:
    """One of RapidOCR's models as a callable (input batch -> outputs), made once per process
    and shared by the threads. OpenVINO runs it where it is installed: the same network, the
    same outputs in float32, in two thirds of ONNX Runtime's time (a 2016x1504 detection
    0.49 -> 0.32 s), and about half again where the CPU computes in bfloat16, which OpenVINO
    then does by itself (0.20 s; every bib still read: docs/accuracy.md, "Words in photos").
    ONNX Runtime runs it otherwise."""
    if not openvino_installed():
        return _OnnxRuntimeModel(_model_path(model))
    return _OpenVinoModel(str(_model_path(model)))


class _OpenVinoModel(OpenVinoModel):
    """Called as RapidOCR calls its sessions: an input batch -> the list of outputs."""

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        return [self.infer(batch)]


class _OnnxRuntimeModel:
    """The model in an ONNX Runtime session that keeps its memory arena (RapidOCR turns it off,
    which costs 18% of the detector's time: 0.69 -> 0.57 s on a 2048x1536 copy), run on one
    thread by each indexing thread (ONNX Runtime runs a session from several threads at once):
    the arena's first growth costs about 1 s of page faults, paid once, not once a thread.
    Memory patterns are off: they are planned per input size, and every photo's copy has its
    own (a second second of page faults)."""

    def __init__(self, path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        options.enable_mem_pattern = False
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, {self._input: batch})


def joined_numbers(words: Sequence[Word]) -> list[Word]:
    """Numbers split over two text boxes side by side on one line ("1" "17" of a widely
    spaced bib 117), joined: the same height, overlapping in height, less than a digit's
    height apart. Both parts are kept as they were read."""
    numbers = sorted((word for word in words if word.text.isdigit()), key=lambda w: w.box[0])
    joined = []
    for left, right in zip(numbers, numbers[1:], strict=False):
        lx, ly, lw, lh = left.box
        rx, ry, rw, rh = right.box
        same_height = max(lh, rh) <= 1.4 * min(lh, rh)
        overlap = min(ly + lh, ry + rh) - max(ly, ry)
        gap = rx - (lx + lw)
        if same_height and overlap >= 0.6 * min(lh, rh) and -0.2 * lh <= gap <= min(lh, rh):
            top, bottom = min(ly, ry), max(ly + lh, ry + rh)
            box = (lx, top, rx + rw - lx, bottom - top)
            sure = min(left.confidence, right.confidence)
            joined.append(Word(left.text + right.text, box, sure))
    return joined


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


def same_token(wanted: str, read: str, whole_number: bool) -> bool:
    """Whether a typed token is a read one. Numbers read as a line of digits alone (a bib)
    are equal but for leading zeros (bib "007" is runner 7); a number inside other text is
    taken exactly ("XDU2013" misread "X0U013" is not bib 13)."""
    if whole_number and wanted.isdigit() and read.isdigit():
        return wanted.lstrip("0") == read.lstrip("0")
    return wanted == read


#: How many leading zeros a printed number may carry and still match what the runner types.
MAX_LEADING_ZEROS = 3


def spellings(token: str) -> list[str]:
    """The tokens a store may hold for a typed one: a number with and without leading zeros
    ("7", "07", "007", "0007"), a word as it is."""
    if not token.isdigit():
        return [token]
    bare = token.lstrip("0") or "0"
    return ["0" * zeros + bare for zeros in range(MAX_LEADING_ZEROS + 1)]


def matching_words(query: str, words: list[Word]) -> list[Word]:
    """The words of a photo that make up the query: every query token must be one of the
    photo's tokens (numbers exactly, leading zeros aside on a bib: same_token); the lines
    holding them are returned. Empty when the photo does not match."""
    wanted = tokens(query)
    if not wanted:
        return []
    holding: list[Word] = []
    for token in wanted:
        lines = [
            word
            for word in words
            if any(same_token(token, t, word.text.isdigit()) for t in tokens(word.text))
        ]
        if not lines:
            return []
        holding.extend(line for line in lines if line not in holding)
    return holding
