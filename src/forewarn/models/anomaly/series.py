"""Scoring a time series with a detector, without look-ahead, and turning scores into a calibrated [0, 1] scale.

* :func:`score_series` fits a detector on the first ``n_train`` rows of a time-ordered frame and scores
  every row; sequential detectors (tag ``sequential``, e.g. ``var-residual``) see the rows in order and
  use only the past. The scores are then smoothed by a *trailing* mean over ``smooth`` rows
  (:func:`trailing_mean`), so the score of row ``t`` depends on rows ``<= t`` only.
* :func:`on_delay` is the alarm-management on-delay (debounce): an alarm stands only once the raw alarm
  condition has held for ``rows`` consecutive rows, which removes alarm bursts shorter than that, at the
  price of raising every real alarm ``rows - 1`` rows later. Causal as well.
* :class:`ScoreCalibration` (the one implementation lives in :mod:`forewarn.base.calibration`, with the
  supervised calibrators, and is re-exported here) is learned from the training rows' scores only: an alarm
  level as far above the training 99th percentile as that sits above the median (a ratio, so the same alarms
  for a score and any positive power of it), and a monotone map to [0, 1] that puts the level at 0.5.

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

import numpy as np
import pandas as pd

from forewarn.base.calibration import ScoreCalibration
from forewarn.base.estimator import AnomalyDetector
from forewarn.exceptions import SchemaError

__all__ = ["ScoreCalibration", "on_delay", "score_series", "trailing_mean"]


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


def score_series(
    detector: AnomalyDetector,
    frame: pd.DataFrame,
    n_train: int,
    smooth: int = 1,
) -> tuple[AnomalyDetector, np.ndarray]:
    """Fit ``detector`` on the first ``n_train`` rows of ``frame`` (time order) and return it with every row's
    smoothed score. Row ``t``'s score never depends on rows after ``t``."""
    if not 0 < n_train <= len(frame):
        raise SchemaError(
            f"n_train={n_train} must be between 1 and the {len(frame)} rows of the series", column="n_train"
        )
    detector.fit(frame.iloc[:n_train])
    return detector, trailing_mean(detector.score(frame), smooth)
