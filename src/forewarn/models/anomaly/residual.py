"""Ensemble member: forecasting residual. A VAR(``lags``) one-step forecast (the model of
:class:`~forewarn.models.anomaly.var_residual.VARResidualDetector`, fitted on the robustly standardised rows,
gross outliers left out of the regression) and the Mahalanobis norm of each row's innovation, divided by the
number of channels. The innovations also feed the change-point member.

With fewer training rows than the VAR needs (``lags + 2 * channels + 2``) the forecast falls back to
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
from forewarn.models.anomaly.var_residual import VARResidualDetector

NAMES = ("mean", "scale", "coef", "precision", "innovation_scale")


def needed_rows(lags: int, n_channels: int) -> int:
    """Training rows the VAR needs (fewer: persistence forecast)."""
    return lags + 2 * n_channels + 2


def fit(z: np.ndarray, lags: int) -> dict[str, np.ndarray]:
    """Learn the forecast on standardised, gap-filled training rows ``z``."""
    n, n_channels = z.shape
    if n >= needed_rows(lags, n_channels):
        model = VARResidualDetector(lags=lags)
        model.fit(z)
        state = {"mean": model.mean_, "scale": model.scale_, "coef": model.coef_, "precision": model.precision_}
    else:  # persistence: z_t = z_(t-1), diagonal covariance of the first differences
        coef = np.zeros((lags * n_channels + 1, n_channels))
        coef[:n_channels] = np.eye(n_channels)
        diffs = np.diff(z, axis=0) if n > 1 else np.ones((1, n_channels))
        _, spread = robust_location_scale(diffs)
        state = {
            "mean": np.zeros(n_channels),
            "scale": np.ones(n_channels),
            "coef": coef,
            "precision": np.diag(1.0 / spread**2),
        }
    state["innovation_scale"] = np.ones(n_channels)
    e = innovations(state, z)
    state["innovation_scale"] = robust_location_scale(e[lags:] if n > lags + 2 else e)[1]
    return state


def innovations(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """One-step forecast errors of every row (the first rows see the first row as steady history)."""
    x = (z - state["mean"]) / state["scale"]
    coef = state["coef"]
    n_channels = x.shape[1]
    lags = (coef.shape[0] - 1) // n_channels
    prediction = np.broadcast_to(coef[-1], x.shape).copy()
    for i in range(lags):
        block = coef[i * n_channels : (i + 1) * n_channels]
        shift = i + 1
        past = np.empty_like(x)
        past[shift:] = x[:-shift] if shift < len(x) else x[:0]
        past[: min(shift, len(x))] = x[:1]
        prediction += past @ block
    return x - prediction


def score(state: dict[str, np.ndarray], e: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis norm of the innovations per channel (about 1 on normal rows)."""
    return np.einsum("ij,jk,ik->i", e, state["precision"], e) / e.shape[1]
