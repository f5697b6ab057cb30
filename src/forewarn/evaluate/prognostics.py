"""Standard quality metrics of a health indicator (HI) over one run to failure.

``monotonicity``
    ``|#(dx > 0) - #(dx < 0)| / (n - 1)`` over consecutive points (Coble & Hines 2009). A step with
    ``dx == 0`` counts as neither, so an HI that never falls but mostly stays flat (a running maximum)
    scores its share of strict rises, not 1.
``trendability``
    Spearman rank correlation of the HI with time (1 = rank order is time order); 0 for a constant HI,
    where it is undefined.
``robustness``
    ``mean(exp(-|x_t - trend_t| / std(x)))`` with ``trend`` a centred moving average over ``window``
    points: 1 for a smooth HI, lower for a noisy one. Zhang et al. (2016) divide by ``|x_t|`` instead,
    which is undefined for an indicator that crosses or sits at 0 (a baseline-normalised one does), so the
    HI's own spread is the unit here. The centred average looks ahead; it is a metric computed after the
    run, not part of any indicator.

>>> x = np.array([0.0, 1.0, 1.0, 2.0, 1.5, 3.0])
>>> round(monotonicity(x), 2), round(trendability(x), 3), monotonicity(np.ones(3))
(0.4, 0.928, 0.0)
>>> robustness(np.linspace(0, 1, 50), window=5) > robustness(np.linspace(0, 1, 50) + np.tile([0, 0.3], 25), 5)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from forewarn.exceptions import SchemaError


def _series(values: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(values, dtype="float64")
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise SchemaError(f"{name} needs a 1-D series of at least 2 finite values, got shape {x.shape}", column=name)
    return x


def monotonicity(values: np.ndarray) -> float:
    """Coble & Hines monotonicity (module text)."""
    steps = np.diff(_series(values, "monotonicity"))
    return float(abs(int((steps > 0).sum()) - int((steps < 0).sum())) / len(steps))


def trendability(values: np.ndarray, times: np.ndarray | None = None) -> float:
    """Spearman correlation of ``values`` with ``times`` (default: the index); 0 for a constant series."""
    x = _series(values, "trendability")
    t = np.arange(len(x), dtype="float64") if times is None else np.asarray(times, dtype="float64")
    if len(t) != len(x):
        raise SchemaError(f"{len(x)} values but {len(t)} times", column="times")
    if np.ptp(x) == 0:
        return 0.0
    return float(spearmanr(x, t).statistic)


def robustness(values: np.ndarray, window: int = 25) -> float:
    """Share of the HI that is trend rather than noise (module text); 1 for a constant series."""
    x = _series(values, "robustness")
    if window < 1:
        raise SchemaError(f"window must be at least 1, got {window}", column="window")
    spread = float(x.std())
    if spread == 0.0:
        return 1.0
    trend = pd.Series(x).rolling(window, center=True, min_periods=1).mean().to_numpy()
    return float(np.mean(np.exp(-np.abs(x - trend) / spread)))


__all__ = ["monotonicity", "robustness", "trendability"]
