"""Ensemble member: forecasting residual. Each channel of row ``t`` is predicted from the *other* channels of
the same row and from every channel's last ``lags`` rows (a ridge regression per channel, fitted on the
robustly standardised training rows with gross outliers left out), and the score is the Mahalanobis norm of
the rows' prediction errors, divided by the number of channels.

Why the same row's other channels: a load step or a change of set point moves speed, current, power, flow and
temperatures together, consistently; a forecast from past rows alone (a VAR) cannot foresee the step and
raises an alarm at every one, while the channels' relation at the row explains it. A fault breaks the
relation (one channel leaves the others) and still leaves a large error. On the failing twin fleet this cut
the false alarms per asset-month from 4.36 to 2.55 and SKAB's false-alarm rate from 33.4 % to 29.6 %
(BENCHMARKS.md, issue 14). The price: a change that moves every channel as a load change does is explained
away too.

With fewer training rows than the regression needs (:func:`needed_rows`) the prediction falls back to
persistence (each channel predicted by its previous value) with a diagonal covariance of first differences.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> z = np.cumsum(rng.normal(size=(300, 2)), axis=0) * 0.1
>>> state = fit(z[:200], lags=2)
>>> e = innovations(state, z)
>>> e.shape, bool(np.isfinite(score(state, e)).all())
((300, 2), True)
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import robust_location_scale

NAMES = ("coef", "precision")
#: ridge penalty of the regressions (standardised units)
RIDGE = 1.0
#: training rows with a channel beyond this many robust spreads (or such a row among their lags) are left out
OUTLIER_CUTOFF = 6.0


def needed_rows(lags: int, n_channels: int) -> int:
    """Training rows the regressions need (fewer: persistence forecast)."""
    return lags + (lags + 1) * n_channels + 2


def design(z: np.ndarray, lags: int) -> np.ndarray:
    """``[z_t, z_(t-1), ..., z_(t-lags), 1]`` of every row (the first rows see the first row as steady history)."""
    parts = [z]
    for shift in range(1, lags + 1):
        past = np.empty_like(z)
        past[shift:] = z[:-shift] if shift < len(z) else z[:0]
        past[: min(shift, len(z))] = z[:1]
        parts.append(past)
    parts.append(np.ones((len(z), 1)))
    return np.hstack(parts)


def _usable(z: np.ndarray, lags: int) -> np.ndarray:
    """Rows ``t >= lags`` whose channels, and those of their ``lags`` predecessors, lie within ``OUTLIER_CUTOFF``
    robust spreads (1.4826 MAD, no fallback: a channel whose training values nearly all sit at one value counts
    every other value as an outlier, so the rare rows where it moves do not shape the regressions)."""
    center = np.median(z, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(z - center), axis=0), 1e-9)
    bad = (np.abs(z - center) / spread > OUTLIER_CUTOFF).any(axis=1)
    near = bad.copy()
    for shift in range(1, lags + 1):
        near[shift:] |= bad[:-shift]
    usable = ~near
    usable[:lags] = False
    return usable


def fit(z: np.ndarray, lags: int) -> dict[str, np.ndarray]:
    """Learn the predictions on standardised, gap-filled training rows ``z``."""
    n, n_channels = z.shape
    width = (lags + 1) * n_channels + 1
    coef = np.zeros((width, n_channels))
    if n >= needed_rows(lags, n_channels):
        full = design(z, lags)
        keep = _usable(z, lags)
        if keep.sum() < width + 2:  # too few clean rows: fit on all of them instead
            keep = np.arange(n) >= lags
        rows = full[keep]
        for j in range(n_channels):
            columns = np.flatnonzero(np.arange(width) != j)  # not the channel itself at the same row
            a = rows[:, columns]
            penalty = RIDGE * np.eye(len(columns))
            penalty[-1, -1] = 0.0  # the intercept is not shrunk
            coef[columns, j] = np.linalg.solve(a.T @ a + penalty, a.T @ z[keep, j])
        errors = z[keep] - rows @ coef
        covariance = np.atleast_2d(np.cov(errors, rowvar=False))
        floor = 1e-3 * float(np.mean(np.diag(covariance))) + 1e-9
        precision = np.linalg.inv(covariance + floor * np.eye(n_channels))
    else:  # persistence: z_t = z_(t-1), diagonal covariance of the first differences
        coef[n_channels : 2 * n_channels] = np.eye(n_channels)
        diffs = np.diff(z, axis=0) if n > 1 else np.ones((1, n_channels))
        _, spread = robust_location_scale(diffs)
        precision = np.diag(1.0 / spread**2)
    return {"coef": coef, "precision": precision}


def innovations(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """Prediction errors of every row."""
    coef = state["coef"]
    n_channels = z.shape[1]
    lags = (coef.shape[0] - 1) // n_channels - 1
    prediction = z @ coef[:n_channels] + coef[-1]  # block by block: no (rows x width) design in memory
    for shift in range(1, lags + 1):
        past = np.empty_like(z)
        past[shift:] = z[:-shift] if shift < len(z) else z[:0]
        past[: min(shift, len(z))] = z[:1]
        prediction += past @ coef[shift * n_channels : (shift + 1) * n_channels]
    out: np.ndarray = z - prediction
    return out


def score(state: dict[str, np.ndarray], e: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis norm of the prediction errors per channel (about 1 on normal rows)."""
    return np.einsum("ij,jk,ik->i", e, state["precision"], e) / e.shape[1]
