"""Probability calibration of raw failure scores, stored as plain arrays.

Two methods, both fitted on held-out (out-of-fold) scores of training rows only:

``isotonic``
    centred isotonic regression (Oron & Flournoy 2017): pool-adjacent-violators gives a non-decreasing step
    function; its blocks are replaced by points at (mean score of the block, block frequency) and joined
    linearly. Unlike the plain step function it is strictly increasing between the first and last block, so
    it keeps the ranking of the raw scores (ROC-AUC is not lost to ties). State: the knots ``(x, y)``.
``sigmoid``
    Platt scaling, ``p = 1 / (1 + exp(-(a s + b)))`` with ``(a, b)`` fitted by logistic regression on the
    raw margin ``s``. State: ``(a, b)``.

With no calibration (``None``) the raw margin goes through the logistic function.

>>> rng = np.random.default_rng(0)
>>> margin = rng.normal(size=2000)
>>> y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-3 * margin))).astype(int)  # scores are too timid
>>> x_knots, y_knots = fit_calibration(margin, y, "isotonic")
>>> p = apply_calibration(np.array([-1.0, 0.0, 1.0]), "isotonic", x_knots, y_knots)
>>> bool(p[0] < 0.15 and 0.4 < p[1] < 0.6 and p[2] > 0.85)
True
>>> a_b, _ = fit_calibration(margin, y, "sigmoid")
>>> bool(2.5 < a_b[0] < 3.5)
True
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from forewarn.exceptions import SchemaError

METHODS = ("isotonic", "sigmoid", None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_calibration(margin: np.ndarray, y: np.ndarray, method: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Calibration state for raw ``margin`` scores (higher = likelier failure) and 0/1 targets ``y``."""
    if method not in METHODS:
        raise SchemaError(f"calibration {method!r} is not one of {METHODS}", column="calibration")
    margin = np.asarray(margin, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if method is None or len(np.unique(y)) < 2:
        return np.empty(0), np.empty(0)
    if method == "sigmoid":
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(margin[:, None], y)
        return np.array([float(platt.coef_[0, 0]), float(platt.intercept_[0])]), np.empty(0)
    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit_transform(margin, y)
    order = np.argsort(margin, kind="stable")
    values = fitted[order]
    block_start = np.flatnonzero(np.r_[True, np.diff(values) != 0])
    block_id = np.cumsum(np.r_[True, np.diff(values) != 0]) - 1
    sizes = np.bincount(block_id)
    x_knots = np.bincount(block_id, weights=margin[order]) / sizes
    return x_knots, values[block_start]


def apply_calibration(margin: np.ndarray, method: str | None, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for raw ``margin`` scores given the state from :func:`fit_calibration`."""
    margin = np.asarray(margin, dtype="float64")
    if method is None or len(first) == 0:
        return _sigmoid(margin)
    if method == "sigmoid":
        return _sigmoid(first[0] * margin + first[1])
    if len(first) == 1:
        return np.full(len(margin), float(second[0]))
    return np.interp(margin, first, second)
