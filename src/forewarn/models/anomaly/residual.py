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

The training rows' errors (the score's covariance, and the training scores the ensemble's tail fit reads) are
corrected for a short training part (:func:`fit_honest`), so few rows do not make the score's scale too tight.

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
#: the least ``1 - p / n`` the errors' correction divides by (a fit with nearly as many coefficients as rows)
MIN_SLACK = 0.05


def needed_rows(lags: int, n_channels: int) -> int:
    """Training rows the regressions need (fewer: persistence forecast)."""
    return lags + (lags + 1) * n_channels + 2


def memory(lags: int) -> int:
    """Rows before a row that its score reads: its ``lags`` and the causal median of 3 before them
    (:mod:`.memo`)."""
    return lags + 2


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
    """Learn the predictions on standardised, gap-filled training rows ``z`` (:func:`fit_honest`'s state, plain)."""
    return fit_honest(z, lags, reference_rows=None)[0]


def fit_honest(
    z: np.ndarray, lags: int, reference_rows: int | None = None, noise: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Learn the predictions on training rows ``z``; also return the training rows' prediction errors, made honest
    for a short training part when ``reference_rows`` is given.

    A regression's errors on the rows it was fitted on are smaller than on new rows: its squared errors by about
    ``(1 - p / n)^2`` (``n`` training rows, ``p`` effective coefficients, the sum of the leverages in the ridge fit),
    by half with 8 channels and 60 rows. Each channel's errors on the fitted rows are multiplied by
    ``(1 - p / reference_rows) / (1 - p / n)`` (at least 1): as honest as those of a fit on ``reference_rows``
    rows, the size whose errors the ensemble's alarm level was chosen with, so nothing changes from that size on.
    The error covariance (the score's scale) and the returned errors (the training scores) use them. Without
    ``reference_rows``: the plain errors.

    ``noise`` (per channel, variance in ``z``'s units) is error no forecast can remove, independent of the other
    channels: a recorded value's rounding (step ``q``: up to ``q**2 / 4``). It is a floor under the covariance's
    diagonal: a channel whose training errors already vary more than its rounding keeps them (they hold the
    rounding), one whose errors vary less is raised to it. Without it a channel that sat on one recorded step
    through training looks perfectly predictable (its errors a copy of its neighbours'), and every later step
    from one recorded value to the next is a huge surprise. (A floor, not an addition: on a failing twin fleet
    written with four decimals either gives 254-256 episodes against 249 unrounded, and the floor leaves a
    channel whose rounding its training rows already show as it was.)

    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=(40, 4))
    >>> state, honest = fit_honest(z, lags=3, reference_rows=600)
    >>> plain = fit_honest(z, lags=3)[1]
    >>> ratio = np.median(np.abs(honest[3:]) / np.abs(plain[3:]), axis=0)
    >>> bool((ratio > 1.3).all()), honest.shape
    (True, (40, 4))
    """
    n, n_channels = z.shape
    width = (lags + 1) * n_channels + 1
    coef = np.zeros((width, n_channels))
    if n >= needed_rows(lags, n_channels):
        full = design(z, lags)
        keep = _usable(z, lags)
        if keep.sum() < width + 2:  # too few clean rows: fit on all of them instead
            keep = np.arange(n) >= lags
        rows = full[keep]
        factor = np.ones(n_channels)
        for j in range(n_channels):
            columns = np.flatnonzero(np.arange(width) != j)  # not the channel itself at the same row
            a = rows[:, columns]
            penalty = RIDGE * np.eye(len(columns))
            penalty[-1, -1] = 0.0  # the intercept is not shrunk
            gram = a.T @ a + penalty
            coef[columns, j] = np.linalg.solve(gram, a.T @ z[keep, j])
            if reference_rows is not None:
                effective = float(np.trace(np.linalg.solve(gram, a.T @ a)))  # the sum of the leverages
                factor[j] = max(1.0, (1.0 - effective / reference_rows) / max(1.0 - effective / n, MIN_SLACK))
        errors = z - full @ coef
        errors[keep] *= factor
        covariance = np.atleast_2d(np.cov(errors[keep], rowvar=False))
        if noise is not None:  # a floor under the diagonal (docstring)
            covariance = covariance + np.diag(np.maximum(0.0, noise - np.diag(covariance)))
        floor = 1e-3 * float(np.mean(np.diag(covariance))) + 1e-9
        precision = np.linalg.inv(covariance + floor * np.eye(n_channels))
        return {"coef": coef, "precision": precision}, errors
    # persistence: z_t = z_(t-1), diagonal covariance of the first differences
    coef[n_channels : 2 * n_channels] = np.eye(n_channels)
    diffs = np.diff(z, axis=0) if n > 1 else np.ones((1, n_channels))
    _, spread = robust_location_scale(diffs)
    variance = spread**2 if noise is None else np.maximum(spread**2, 2.0 * noise)  # a difference: two roundings
    state = {"coef": coef, "precision": np.diag(1.0 / variance)}
    return state, innovations(state, z)


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
