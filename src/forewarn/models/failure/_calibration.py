"""The failure models' calibration state: two plain arrays over the one implementation in
:mod:`forewarn.base.calibration` (the same maps :mod:`forewarn.decide.calibration` serves).

Fitted on held-out (out-of-fold) margins of training rows only, and kept in the layout saved models have
always used, so every saved model loads unchanged:

``isotonic``
    centred isotonic knots: ``first = x``, ``second = y`` (:func:`~forewarn.base.calibration.fit_isotonic`).
``sigmoid`` or ``platt``
    Platt scaling: ``first = (a, b)``, ``second`` empty (:func:`~forewarn.base.calibration.fit_platt`).
``isotonic-platt``
    the blend ``(1 - w) * isotonic + w * platt`` (:func:`~forewarn.base.calibration.isotonic_platt`):
    ``first = (a, b, w, x knots...)``, ``second = y knots``. Continuous and strictly increasing, so the
    probabilities keep the margins' order: the isotonic map alone is flat beyond its end knots, and on the twin
    half the held-out rows shared their value there (BENCHMARKS.md "Own data", issue 12 item 6).

With no calibration (``None``), or when it could not be fitted (one class), both arrays are empty and the raw
margin goes through the logistic function.

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
>>> first, second = fit_calibration(margin, y, "isotonic-platt")
>>> p = apply_calibration(np.array([-9.0, -8.0, 8.0, 9.0]), "isotonic-platt", first, second)
>>> bool(np.all(np.diff(p) > 0))                  # ordered beyond the end knots too
True
"""

from __future__ import annotations

import numpy as np

from forewarn.base.calibration import (
    ISOTONIC_PLATT,
    PLATT_WEIGHT,
    fit_isotonic,
    fit_isotonic_platt,
    fit_platt,
    isotonic_platt,
    logistic,
    method_name,
    piecewise_linear,
    platt,
)

METHODS = ("isotonic", "sigmoid", "platt", ISOTONIC_PLATT, None)


def fit_calibration(margin: np.ndarray, y: np.ndarray, method: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Calibration state for raw ``margin`` scores (higher = likelier failure) and 0/1 targets ``y``."""
    name = method if method is None or method == ISOTONIC_PLATT else method_name(method)
    margin = np.asarray(margin, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if name is None or len(np.unique(y)) < 2:
        return np.empty(0), np.empty(0)
    if name == ISOTONIC_PLATT:
        x_knots, y_knots, coef = fit_isotonic_platt(margin, y)
        return np.r_[coef, PLATT_WEIGHT, x_knots], y_knots
    if name == "platt":
        return fit_platt(margin, y), np.empty(0)
    return fit_isotonic(margin, y)


def apply_calibration(margin: np.ndarray, method: str | None, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for raw ``margin`` scores given the state from :func:`fit_calibration`."""
    if method is None or len(first) == 0:
        return logistic(margin)
    if method == ISOTONIC_PLATT:
        return isotonic_platt(margin, first[3:], second, first[:2], float(first[2]))
    if method_name(method) == "platt":
        return platt(margin, first)
    return piecewise_linear(margin, first, second)
