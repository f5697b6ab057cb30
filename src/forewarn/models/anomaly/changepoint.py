"""Ensemble member: change points by a windowed two-sided CUSUM on the forecast innovations.

The residual member's one-step innovations, divided per channel by their robust training spread, are about
white noise with unit variance on normal rows. A level shift, a drift or a broken relation leaves a
persistent bias in them that one row does not show but a cumulative sum does. For each channel and each sign,
the CUSUM ``S_t = max(0, S_(t-1) + y_t - drift)`` is computed in closed form (a Lindley recursion is the
running sum minus its running minimum), limited to the last ``window`` rows so that the statistic forgets an
old change (bounded memory; a plain CUSUM would stay high for as long as the change lasted). The score of a
row is the largest of the channel statistics, divided by ``sqrt(window)``.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> e = rng.normal(size=(400, 1)); e[300:] += 1.5
>>> s = score(e, np.ones(1), window=50)
>>> bool(s[340] > 3 * np.quantile(s[:300], 0.99))
True
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import trailing_min

#: the reference drift (in units of the innovation's spread) below which a bias is not accumulated
DRIFT = 0.5


def windowed_cusum(y: np.ndarray, window: int, drift: float = DRIFT) -> np.ndarray:
    """Upper CUSUM of ``y - drift`` per column, over the trailing ``window`` rows (closed form, causal)."""
    running = np.vstack([np.zeros((1, y.shape[1])), np.cumsum(y - drift, axis=0)])
    return running[1:] - trailing_min(running, window + 1)[1:]


def score(e: np.ndarray, innovation_scale: np.ndarray, window: int) -> np.ndarray:
    """The change-point score of every row from innovations ``e`` (module text)."""
    y = np.clip(e / innovation_scale, -8.0, 8.0)  # one gross outlier is the residual member's, not a change
    up = windowed_cusum(y, window)
    down = windowed_cusum(-y, window)
    return np.maximum(up, down).max(axis=1) / np.sqrt(window)
