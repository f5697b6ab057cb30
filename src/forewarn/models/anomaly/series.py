"""Scoring a time series with a detector, without look-ahead, and turning scores into a calibrated [0, 1] scale.

* :func:`score_series` fits a detector on the first ``n_train`` rows of a time-ordered frame and scores
  every row; sequential detectors (tag ``sequential``, e.g. ``var-residual``) see the rows in order and
  use only the past. The scores are then smoothed by a *trailing* mean over ``smooth`` rows
  (:func:`trailing_mean`), so the score of row ``t`` depends on rows ``<= t`` only.
* :func:`on_delay` is the alarm-management on-delay (debounce): an alarm stands only once the raw alarm
  condition has held for ``rows`` consecutive rows, which removes alarm bursts shorter than that, at the
  price of raising every real alarm ``rows - 1`` rows later. Causal as well.
* :class:`ScoreCalibration` is learned from the training rows' scores only. Its alarm level sits as far
  above the training 99th percentile ``q99`` as ``q99`` sits above the training median ``q50``, measured
  as a ratio: ``level = q99 * (q99 / q50) ** spread`` with ``spread = 1``. The rule has no unit and no
  scale: it gives the same alarms for a score and for any positive power of it (a distance or its
  square), so one rule serves every detector; where ``q50`` is not positive it falls back to the linear
  ``q99 + spread * (q99 - q50)``. :meth:`ScoreCalibration.transform` maps any score monotonically to
  [0, 1]: up to the alarm level it is the empirical CDF of the training scores, rescaled so the level
  maps to exactly 0.5; above it a logistic tail ``0.5 + 0.5 * tanh((s - level) / (level - q50))`` climbs
  towards 1 (about 0.88 one ``level - q50`` past the level). So ``anomaly_score > 0.5`` means "beyond
  the alarm level".

>>> import numpy as np
>>> trailing_mean(np.array([0.0, 3.0, 0.0, 3.0]), 2).tolist()
[0.0, 1.5, 1.5, 1.5]
>>> on_delay(np.array([1, 1, 0, 1, 1, 1, 1, 0]), 3).astype(int).tolist()
[0, 0, 0, 0, 0, 1, 1, 0]
>>> cal = ScoreCalibration.fit(np.linspace(0.0, 2.0, 201))   # q50 = 1.0, q99 = 1.98
>>> round(cal.level, 4)
3.9204
>>> [round(float(v), 3) for v in cal.transform(np.array([0.0, 1.0, 3.9204, 6.8408, 100.0]))]
[0.0, 0.25, 0.5, 0.881, 1.0]
>>> cal.alarm(np.array([3.0, 4.0])).tolist()
[False, True]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.exceptions import SchemaError


def trailing_mean(scores: np.ndarray, window: int) -> np.ndarray:
    """Mean of each score and the ``window - 1`` before it (fewer at the start): causal smoothing."""
    if window < 1:
        raise SchemaError(f"smoothing window must be at least 1 row, got {window}", column="smooth")
    values = np.asarray(scores, dtype="float64")
    if window == 1:
        return values.copy()
    return pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()


def on_delay(alarms: np.ndarray, rows: int) -> np.ndarray:
    """True where ``alarms`` has been true for the last ``rows`` rows, this one included (causal debounce)."""
    if rows < 1:
        raise SchemaError(f"on-delay must be at least 1 row, got {rows}", column="persistence")
    on = np.asarray(alarms, dtype=bool)
    if rows == 1:
        return on.copy()
    # length of the current run of consecutive alarms at every row
    index = np.arange(len(on))
    last_off = np.maximum.accumulate(np.where(~on, index, -1))
    return (index - last_off) >= rows


def score_series(detector: AnomalyDetector, frame: pd.DataFrame, n_train: int, smooth: int = 1,
                 ) -> tuple[AnomalyDetector, np.ndarray]:
    """Fit ``detector`` on the first ``n_train`` rows of ``frame`` (time order) and return it with every row's
    smoothed score. Row ``t``'s score never depends on rows after ``t``."""
    if not 0 < n_train <= len(frame):
        raise SchemaError(f"n_train={n_train} must be between 1 and the {len(frame)} rows of the series",
                          column="n_train")
    detector.fit(frame.iloc[:n_train])
    return detector, trailing_mean(detector.score(frame), smooth)


@dataclass(frozen=True)
class ScoreCalibration:
    """Alarm level and [0, 1] map learned from training scores (see the module text)."""

    reference: np.ndarray  # quantiles 0, 0.001, ..., 1 of the training scores
    level: float  # alarm level (module text)
    median: float

    @classmethod
    def fit(cls, training_scores: np.ndarray, *, quantile: float = 0.99, spread: float = 1.0) -> ScoreCalibration:
        """Learn the calibration from the scores of the training rows (module text)."""
        scores = np.asarray(training_scores, dtype="float64")
        scores = scores[np.isfinite(scores)]
        if scores.size == 0:
            raise SchemaError("no finite training scores to calibrate on", column="scores")
        if not 0.5 < quantile <= 1.0 or spread < 0.0:
            raise SchemaError(f"quantile must be in (0.5, 1] and spread >= 0, got {quantile} and {spread}",
                              column="quantile")
        reference = np.quantile(scores, np.linspace(0.0, 1.0, 1001))
        # order statistics (no interpolation), so that the rule commutes with any increasing power
        median = float(np.quantile(scores, 0.5, method="inverted_cdf"))
        high = float(np.quantile(scores, quantile, method="inverted_cdf"))
        # ratio rule where it is defined, the linear rule otherwise
        level = high * (high / median) ** spread if median > 0.0 else high + spread * (high - median)
        if level <= median:  # degenerate (e.g. constant) training scores: keep a positive tail scale
            level = median + max(abs(median), 1.0) * 1e-6
        return cls(reference=reference, level=float(level), median=median)

    def alarm(self, scores: np.ndarray) -> np.ndarray:
        """Boolean alarms: score above the alarm level."""
        return np.asarray(scores, dtype="float64") > self.level

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Monotone map of scores to [0, 1]; exactly 0.5 at the alarm level."""
        values = np.asarray(scores, dtype="float64")
        grid = np.linspace(0.0, 1.0, len(self.reference))
        below = np.interp(values, self.reference, grid, left=0.0, right=1.0)
        at_level = float(np.interp(self.level, self.reference, grid, left=0.0, right=1.0))
        low = 0.5 * below / max(at_level, 1e-12)
        high = 0.5 + 0.5 * np.tanh((values - self.level) / (self.level - self.median))
        return np.clip(np.where(values <= self.level, np.minimum(low, 0.5), high), 0.0, 1.0)
