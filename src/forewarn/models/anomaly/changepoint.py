"""Ensemble member: change points by a windowed two-sided CUSUM against a moving reference.

Each channel's deviation from the mean of its previous ``reference`` rows, ``y_t = (z_t - mean(z_(t-R..t-1)))
/ sigma`` (``sigma``: the deviation's robust spread on the training rows), is about zero-mean on normal rows,
including slow drifts that the moving reference follows. A level shift, a step in a drift's slope or a new
variance leaves a run of same-signed deviations that one row does not show but a cumulative sum does. For each
channel and each sign, the CUSUM ``S_t = max(0, S_(t-1) + y_t - drift)`` is computed in closed form (the
running sum minus its running minimum, a Lindley recursion), limited to the last ``window`` rows so that the
statistic forgets an old change (bounded memory). As the reference catches up with a new level the
deviations vanish and the statistic falls: the member marks the *onset* of a change, not its duration. The
score of a row is the largest of the channel statistics divided by ``sqrt(window)``.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> z = rng.normal(size=(600, 1)); z[400:] += 1.5
>>> state = fit(z[:300], window=20)
>>> s = score(state, z, window=20)
>>> bool(s[430] > 3 * np.quantile(s[:400], 0.99)), bool(s[599] < 2 * np.quantile(s[:400], 0.99))
(True, True)
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import robust_location_scale, trailing_mean, trailing_min

#: the reference drift (in units of the deviation's spread) below which a bias is not accumulated
DRIFT = 0.5
#: rows of the moving reference, in windows
REFERENCE = 4


def memory(window: int) -> int:
    """Rows before a row that its score reads: the CUSUM's ``window`` of deviations, each from the mean of the
    ``REFERENCE * window`` rows before it (:mod:`.memo`)."""
    return REFERENCE * window + window


def deviations(z: np.ndarray, window: int) -> np.ndarray:
    """Each row minus the mean of the ``REFERENCE * window`` rows before it (the first row: itself)."""
    baseline = trailing_mean(z, REFERENCE * window)
    before = np.vstack([z[:1], baseline[:-1]])
    return z - before


def windowed_cusum(y: np.ndarray, window: int, drift: float = DRIFT) -> np.ndarray:
    """Upper CUSUM of ``y - drift`` per column, over the trailing ``window`` rows (closed form, causal)."""
    running = np.vstack([np.zeros((1, y.shape[1])), np.cumsum(y - drift, axis=0)])
    return running[1:] - trailing_min(running, window + 1)[1:]


def fit(z: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """The robust spread of each channel's deviation from its moving reference on the training rows."""
    d = deviations(z, window)
    return {"spread": robust_location_scale(d[1:] if len(d) > 2 else d)[1]}


def score(state: dict[str, np.ndarray], z: np.ndarray, window: int) -> np.ndarray:
    """The change-point score of every row (module text)."""
    y = np.clip(deviations(z, window) / state["spread"], -8.0, 8.0)  # one gross outlier is not a change
    up = windowed_cusum(y, window)
    down = windowed_cusum(-y, window)
    # the last row's own deviation, a thousandth, keeps the score continuous where both CUSUMs sit at 0
    return (np.maximum(up, down) + 1e-3 * np.abs(y)).max(axis=1) / np.sqrt(window)
