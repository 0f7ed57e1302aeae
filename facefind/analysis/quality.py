"""How recognisable a face is: the sharpness of the aligned chip the model describes.

A face too small in the photo is enlarged into its chip, and a background face is out of
focus: both leave the chip without fine detail, and such faces look alike to the model (on
the race photos of `albums/bibs`, People's first "person" was twelve blurred spectators).
The variance of the chip's Laplacian measures that detail in the very pixels the model sees;
docs/accuracy.md ("Faces good enough to recognise") has the measurements behind the bar.
"""

from __future__ import annotations

import numpy as np

#: Chips less sharp than this are not recognisable faces (measured on the labelled albums:
#: docs/accuracy.md): never grouped in People, marked in search results.
RECOGNISABLE_SHARPNESS = 10.0


def sharpness(chip: np.ndarray) -> float:
    """The variance of the Laplacian of the chip's grey pixels, on the 0-255 scale (a BGR or
    grey chip, of bytes or, as DeepFace's crops are, of floats 0..1)."""
    import cv2

    pixels = chip.astype(np.float32) * (1.0 if chip.dtype == np.uint8 else 255.0)
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def recognisable(values: np.ndarray) -> np.ndarray:
    """Which faces are sharp enough; a face of an index older than the measure (NaN) is."""
    values = np.asarray(values, dtype=np.float32)
    return np.isnan(values) | (values >= RECOGNISABLE_SHARPNESS)
