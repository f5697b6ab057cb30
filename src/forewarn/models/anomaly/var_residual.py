"""Residual control chart on a vector autoregression: how surprising is each row given the rows before it.

Sensor rows of a running machine are autocorrelated, so a control chart on raw values either alarms on
normal swings or misses small faults. This detector fits a ridge-regularised VAR(``lags``) with intercept
on the standardised training rows, ``z_t = c + sum_i A_i z_(t-i) + e_t``, and scores each row by the
squared Mahalanobis norm of its one-step innovation ``e_t`` under the training innovations' covariance,
divided by the number of features (about 1 on normal data). A broken relation between sensors, a jump,
or a level the model has to keep pulling back towards normal (the intercept makes the VAR mean-reverting)
all leave large innovations.

The fit is robust to a bad stretch inside the training rows: a row lying more than ``outlier_cutoff``
robust standard deviations (median and MAD, or the standard deviation for a column whose MAD is 0) from
the training median on any column is left out of the regression, both as a target and as a lag, so a
burst of gross outliers cannot teach the model that "bad follows bad" is normal.

Rows are a time series: ``score(X)`` treats the rows of ``X`` as consecutive, in order, and the score of
row ``t`` uses rows ``t - lags .. t`` only (no look-ahead). The first rows of ``X`` have no history; they
are predicted as if the first row had been steady before them. Score a long series in one call (or
prepend recent history) rather than row by row.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.zeros((600, 2))
>>> for t in range(1, 600):
...     x[t] = 0.9 * x[t - 1] + rng.normal(0, 0.1, 2)
>>> det = VARResidualDetector(lags=2).fit(x[:400])
>>> test = x[400:].copy(); test[100:, 1] += 0.5   # a step on one sensor
>>> s = det.score(test)
>>> bool(s[100] > 10 * np.median(s[:100]))
True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import Interval, Options
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError
from forewarn.models.anomaly.scaling import fit_scaling, standardise


def lagged(z: np.ndarray, lags: int) -> np.ndarray:
    """Design matrix ``[z_(t-1), ..., z_(t-lags), 1]`` for every row ``t``, padding history with the first row.

    >>> lagged(np.array([[1.0], [2.0], [3.0]]), 2).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 1.0, 1.0]]
    """
    padded = np.vstack([np.repeat(z[:1], lags, axis=0), z])
    blocks = [padded[lags - i - 1 : len(padded) - i - 1] for i in range(lags)]
    return np.hstack([*blocks, np.ones((len(z), 1))])


@register("var-residual")
class VARResidualDetector(AnomalyDetector):
    """Mahalanobis norm of VAR(``lags``) one-step innovations; ``ridge`` shrinks the lag coefficients."""

    tags = {"sequential": True}
    parameter_constraints = {
        "lags": [Interval(int, 1)],
        "ridge": [Interval(float, 0)],
        "outlier_cutoff": [Interval(float, 0, None, closed="right"), Options(math.inf)],
    }

    def __init__(self, *, lags: int = 3, ridge: float = 1.0, outlier_cutoff: float = 6.0):
        self.lags = lags
        self.ridge = ridge
        self.outlier_cutoff = outlier_cutoff

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64")
        n_features = values.shape[1]
        if len(values) < self.lags + 2 * n_features + 2:
            raise SchemaError(
                f"{type(self).__name__} needs at least {self.lags + 2 * n_features + 2} training rows "
                f"for {n_features} columns and lags={self.lags}, got {len(values)}",
                hint="train on a longer stretch of normal operation or lower lags",
            )
        self.mean_, self.scale_ = fit_scaling(values)
        z = standardise(values, self.mean_, self.scale_)
        keep = _usable_rows(values, self.lags, self.outlier_cutoff)
        design, target = lagged(z, self.lags)[keep], z[keep]
        if len(target) < design.shape[1] + 2:  # too few clean rows: fit on all of them instead
            design, target = lagged(z, self.lags)[self.lags :], z[self.lags :]
        penalty = self.ridge * np.eye(design.shape[1])
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        self.coef_ = np.linalg.solve(design.T @ design + penalty, design.T @ target)
        residual = target - design @ self.coef_
        covariance = np.atleast_2d(np.cov(residual, rowvar=False))
        floor = 1e-3 * float(np.mean(np.diag(covariance))) + 1e-9
        self.precision_ = np.linalg.inv(covariance + floor * np.eye(n_features))

    def innovations(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """One-step prediction errors of every row, in standardised units (same shape as ``X``)."""
        z = standardise(self._validate_input(X).to_numpy(dtype="float64"), self.mean_, self.scale_)
        return z - lagged(z, self.lags) @ self.coef_

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        z = standardise(X.to_numpy(dtype="float64"), self.mean_, self.scale_)
        residual = z - lagged(z, self.lags) @ self.coef_
        return np.einsum("ij,jk,ik->i", residual, self.precision_, residual) / z.shape[1]

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "coef_", "precision_")


def _usable_rows(values: np.ndarray, lags: int, cutoff: float) -> np.ndarray:
    """Rows ``t >= lags`` whose own values and ``lags`` predecessors all lie within ``cutoff`` robust SDs.

    >>> x = np.zeros((8, 1)); x[:, 0] = [0, 1, 0, 1, 50, 1, 0, 1]
    >>> np.flatnonzero(_usable_rows(x, 1, 6.0)).tolist()
    [1, 2, 3, 6, 7]
    """
    median = np.median(values, axis=0)
    spread = 1.4826 * np.median(np.abs(values - median), axis=0)
    spread = np.where(spread > 1e-12, spread, values.std(axis=0))
    spread = np.where(spread > 1e-12, spread, 1.0)
    bad = (np.abs(values - median) / spread > cutoff).any(axis=1)
    near_bad = bad.copy()
    for shift in range(1, lags + 1):
        near_bad[shift:] |= bad[:-shift]
    usable = ~near_bad
    usable[:lags] = False
    return usable
