"""Probability calibration: turn a model's score into a probability a planner can act on.

A raw score (an anomaly score, a boosted-tree output, a probability from an over-confident classifier)
is not a probability. :class:`Calibrator` learns the map from score to "how often did the asset really
fail within the horizon" on held-out data:

* ``method="isotonic"``: centred isotonic regression (a monotone map that keeps the ranking), the default
  when there are a few hundred labelled rows or more;
* ``method="platt"`` (or ``"sigmoid"``): a logistic curve ``1 / (1 + exp(-(a * score + b)))``, steadier on
  small data.

The learned state is two or three named arrays (``get_state``/``set_state``), so a calibrator travels in
JSON next to the model it calibrates and is never pickled. :class:`ScoreCalibration` is the label-free map of
the anomaly detectors (alarm level at 0.5).

There is one implementation of these maps, :mod:`forewarn.base.calibration`, re-exported here: the failure
models calibrate their margins with the same functions inside ``fit``, and the layer rule lets ``models/`` import
only from below, so the code sits in ``base/``. This module adds the measures of calibration.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> score = rng.uniform(0, 10, 2000)
>>> failed = rng.uniform(size=2000) < score / 10          # true probability = score / 10
>>> cal = Calibrator("isotonic").fit(score, failed)
>>> [round(float(p), 1) for p in cal.transform([1.0, 5.0, 9.0])]
[0.1, 0.5, 0.9]
>>> again = Calibrator().set_state(cal.get_state())
>>> bool(np.allclose(again.transform(score), cal.transform(score)))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from forewarn.base.calibration import (
    METHODS,
    Calibrator,
    ScoreCalibration,
    _as_vector,
    fit_isotonic,
    fit_platt,
    logistic,
    piecewise_linear,
    platt,
)

__all__ = [
    "METHODS",
    "Calibrator",
    "ScoreCalibration",
    "brier_score",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_platt",
    "logistic",
    "piecewise_linear",
    "platt",
]


def brier_score(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (lower is better).

    >>> brier_score([0.0, 1.0, 0.5], [0, 1, 1])
    0.08333333333333333
    """
    p = _as_vector(probabilities, "probabilities")
    y = _as_vector(outcomes, "outcomes")
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(
    probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray, *, bins: int = 10
) -> float:
    """Weighted mean gap between predicted and observed frequency over ``bins`` equal-width bins.

    >>> expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0])
    0.1
    """
    p = _as_vector(probabilities, "probabilities")
    y = _as_vector(outcomes, "outcomes")
    which = np.minimum((p * bins).astype(int), bins - 1)
    gap = 0.0
    for b in np.unique(which):
        mask = which == b
        gap += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(round(gap / max(len(p), 1), 12))
