"""Face scores as percentages: DeepFace's calibration for the model, stretched so that 50% is
exactly the model's own verification threshold and a slider works across the whole range."""

from __future__ import annotations

import math

import numpy as np

from facefind.analysis.runtime import deepface


class ScoreScale:
    """Cosine similarity as a 0-100 percentage that is exactly 50 at the model's threshold.

    Built from DeepFace's calibration for the model (`config.confidence`: a logistic curve of
    the distance, and the lowest value it saw for different people). DeepFace's own
    `find_confidence` maps "same" and "different" to two separate ranges (51-100 and 0-49) and
    jumps at the threshold (Dlib: 51.4% at distance 0.0690, 27.0% at 0.0701), so no score
    between ~27 and 51 ever appears and a slider does nothing there. Here the same curve is
    stretched piecewise-linearly instead: 100% at distance 0, 50% at the threshold, 0% where
    DeepFace's calibration saw its least similar different people. Continuous and monotone.
    """

    def __init__(self, model: str) -> None:
        deepface()  # configure DeepFace before its modules are imported
        from deepface.config.confidence import confidences
        from deepface.modules import verification

        self.model = model
        self.threshold = float(verification.find_threshold(model, "cosine"))
        self._calibration = confidences.get(model, {}).get("cosine")
        self._cuts: dict[float, float] = {}
        if self._calibration is not None:
            self._at_zero = self._logistic(0.0)
            self._at_threshold = self._logistic(self.threshold)
            self._at_floor = min(self._calibration["denorm_min_false"], self._at_threshold - 1e-6)

    def _logistic(self, distance: float) -> float:
        """DeepFace's calibrated curve (find_confidence before it splits into two ranges)."""
        calibration = self._calibration
        assert calibration is not None
        if calibration["normalizer"] > 1:
            distance = distance / calibration["normalizer"]
        z = calibration["w"] * distance + calibration["b"]
        return 100.0 / (1.0 + math.exp(-z))

    def percent_of_distance(self, distance: float) -> float:
        distance = max(float(distance), 0.0)
        if self._calibration is None:  # a model DeepFace has no calibration for: linear
            return float(np.clip(100.0 - 50.0 * distance / self.threshold, 0.0, 100.0))
        value = self._logistic(distance)
        if distance <= self.threshold:
            span = max(self._at_zero - self._at_threshold, 1e-9)
            return float(min(100.0, 50.0 + 50.0 * (value - self._at_threshold) / span))
        span = self._at_threshold - self._at_floor
        return float(max(0.0, 50.0 * (value - self._at_floor) / span))

    def percent(self, similarity: np.ndarray | float) -> np.ndarray:
        """Percentages for cosine similarities (any shape)."""
        distances = 1.0 - np.asarray(similarity, dtype=np.float64)
        return np.vectorize(self.percent_of_distance, otypes=[np.float64])(distances)

    def similarity_at(self, min_score: float) -> float:
        """The lowest cosine similarity whose percentage is at least `min_score`.

        The percentage falls as distance grows, so the bar is found by bisection once and the
        search itself compares raw similarities: no per-face conversion for a million faces.
        """
        if min_score not in self._cuts:
            self._cuts[min_score] = self._similarity_at(min_score)
        return self._cuts[min_score]

    def _similarity_at(self, min_score: float) -> float:
        if min_score <= 0:
            return -np.inf
        if self.percent_of_distance(0.0) < min_score:
            return np.inf
        low, high = 0.0, 2.0  # distance passes at `low`, fails at `high` (or high is max)
        if self.percent_of_distance(high) >= min_score:
            return -1.0
        for _ in range(60):
            middle = (low + high) / 2
            if self.percent_of_distance(middle) >= min_score:
                low = middle
            else:
                high = middle
        return 1.0 - low
