"""Robust helpers shared by the ensemble detector and its members: gap filling, median/MAD scaling, trailing
(causal) window statistics, and a robust tail normalisation of member scores.

Everything here is causal: the value on row ``t`` uses rows ``<= t`` only.

>>> import numpy as np
>>> x = np.array([[1.0], [np.nan], [3.0]])
>>> fill_gaps(x, np.array([0.0])).ravel().tolist()
[1.0, 1.0, 3.0]
>>> trailing_mean(np.arange(5.0)[:, None], 2).ravel().tolist()
[0.0, 0.5, 1.5, 2.5, 3.5]
>>> center, scale = robust_location_scale(np.array([[0.0], [1.0], [2.0], [100.0]]))
>>> center.tolist(), [round(v, 3) for v in scale.tolist()]
([1.5], [1.483])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: spreads below this count as zero
TINY = 1e-9


def fill_gaps(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Missing values (NaN) take the last value seen before them in the column (causal), or ``fallback``."""
    out = np.array(pd.DataFrame(values).ffill().to_numpy(dtype="float64"), copy=True)
    missing = np.isnan(out)
    if missing.any():
        out[missing] = np.broadcast_to(fallback, out.shape)[missing]
    return out


def robust_location_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column medians and MAD-based standard deviations (NaN ignored); a column with MAD 0 falls back to its
    standard deviation, then to 1 (a constant column keeps its original units)."""
    with np.errstate(all="ignore"):
        center = np.nanmedian(values, axis=0) if len(values) else np.zeros(values.shape[1])
        center = np.where(np.isfinite(center), center, 0.0)
        spread = 1.4826 * np.nanmedian(np.abs(values - center), axis=0)
        std = np.nanstd(values, axis=0)
    spread = np.where(np.isfinite(spread) & (spread > TINY), spread, np.where(np.isfinite(std), std, 0.0))
    return center, np.where(spread > TINY, spread, 1.0)


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each row and the ``window - 1`` rows before it, per column (fewer rows at the start)."""
    csum = np.cumsum(values, axis=0)
    out = csum.copy()
    out[window:] -= csum[:-window]
    counts = np.minimum(np.arange(1, len(values) + 1), window).astype("float64")
    return out / counts[:, None]


def trailing_std(values: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation over the trailing ``window`` rows, per column (0 on the first row).

    Computed from running sums of the values centred on the first row, so a large level does not cost
    precision."""
    centred = values - values[:1]
    mean = trailing_mean(centred, window)
    square = trailing_mean(centred * centred, window)
    return np.sqrt(np.maximum(square - mean * mean, 0.0))


def trailing_min(values: np.ndarray, window: int) -> np.ndarray:
    """Minimum of each row and the ``window - 1`` rows before it, per column."""
    return pd.DataFrame(values).rolling(window, min_periods=1).min().to_numpy(dtype="float64")


def tail_fit(train_scores: np.ndarray, tail: float) -> np.ndarray:
    """``[median, upper quantile]`` of a member's training scores: the robust tail fit that
    :func:`tail_normalise` uses (the quantile at ``1 - tail``; ``tail`` grows with the known contamination)."""
    finite = train_scores[np.isfinite(train_scores)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    median = float(np.median(finite))
    upper = float(np.quantile(finite, 1.0 - tail))
    spread = 1.4826 * float(np.median(np.abs(finite - median)))
    # a degenerate tail (all training scores alike) still gets a positive width
    width = max(upper - median, spread, 1e-6 * max(abs(median), 1.0), TINY)
    return np.array([median, median + width])


def tail_normalise(scores: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """``(score - median) / (upper - median)``: 0 at the training median, 1 at the training tail quantile."""
    return (scores - fit[0]) / (fit[1] - fit[0])
