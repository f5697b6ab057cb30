"""Probability calibration: turn a model's score into a probability a planner can act on.

A raw score (an anomaly score, a boosted-tree output, a probability from an over-confident classifier)
is not a probability. :class:`Calibrator` learns the map from score to "how often did the asset really
fail within the horizon" on held-out data:

* ``method="isotonic-platt"``: the centred isotonic map blended with a Platt curve,
  ``(1 - w) * isotonic(s) + w * platt(s)`` with ``w =`` :data:`PLATT_WEIGHT` (:func:`isotonic_platt`). It keeps
  isotonic's reliability where the data are and is continuous and *strictly* increasing everywhere: the isotonic
  map alone is flat beyond its end knots (every score below the first block's mean reads that block's frequency,
  often 0.0, and every score above the last one 1.0 or its last step), so a fleet ranking could not order those
  assets and a threshold sweep jumped across them at once (issue 12 item 6, BENCHMARKS.md "Own data"). The
  default of ``forewarn train`` when the held-out assets hold enough failures for isotonic regression;
* ``method="isotonic"``: centred isotonic regression alone (a monotone map, flat beyond its end knots);
* ``method="platt"`` (or ``"sigmoid"``): a logistic curve ``1 / (1 + exp(-(a * score + b)))``, steadier on
  small data.

The learned state is a few named arrays (``get_state``/``set_state``), so a calibrator travels in
JSON next to the model it calibrates and is never pickled; a state saved before ``"isotonic-platt"`` existed
(``isotonic`` or ``platt``) loads and maps exactly as it did. :class:`ScoreCalibration` is the label-free map of
the anomaly detectors (alarm level at 0.5).

The isotonic and Platt maps and their blend have one implementation, :mod:`forewarn.base.calibration`, re-exported
here: the failure models calibrate their margins with the same functions inside ``fit``, and the layer rule lets
``models/`` import only from below, so the code sits in ``base/``. This module adds the blend's :class:`Calibrator`
and the measures of calibration.

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
>>> smooth = Calibrator("isotonic-platt").fit(score, failed)
>>> low = smooth.transform([-3.0, -2.0, -1.0])            # below every training score: still ordered
>>> bool(low[0] < low[1] < low[2])
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from forewarn.base import calibration as _base
from forewarn.base.calibration import (
    FLAT_SLOPE,
    ISOTONIC_PLATT,
    PLATT_WEIGHT,
    ScoreCalibration,
    _as_vector,
    fit_isotonic,
    fit_isotonic_platt,
    fit_platt,
    fit_rising_platt,
    isotonic_platt,
    logistic,
    piecewise_linear,
    platt,
)
from forewarn.exceptions import SchemaError, StateError

__all__ = [
    "FLAT_SLOPE",
    "ISOTONIC_PLATT",
    "METHODS",
    "PLATT_WEIGHT",
    "Calibrator",
    "ScoreCalibration",
    "brier_score",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_isotonic_platt",
    "fit_rising_platt",
    "isotonic_platt",
    "fit_platt",
    "logistic",
    "piecewise_linear",
    "platt",
]


METHODS = (*_base.METHODS, ISOTONIC_PLATT)


class Calibrator(_base.Calibrator):
    """Score -> probability map learned from (score, event happened) pairs: ``"isotonic-platt"``,
    ``"isotonic"`` or ``"platt"`` (see the module text). It extends :class:`forewarn.base.calibration.Calibrator`
    with the blend; the two others are the base class's own, and their saved states load unchanged.

    >>> rng = np.random.default_rng(1)
    >>> score = rng.normal(size=3000)
    >>> failed = rng.uniform(size=3000) < logistic(2 * score - 3)
    >>> cal = Calibrator("isotonic-platt").fit(score, failed)
    >>> p = cal.transform(np.sort(score))
    >>> bool(np.all(np.diff(p) > 0)), bool(0.0 < p.min() and p.max() < 1.0)
    (True, True)
    >>> sorted(cal.to_json())
    ['coef', 'method', 'weight', 'x', 'y']
    """

    def __init__(self, method: str = "isotonic", *, weight: float | None = None):
        if method == ISOTONIC_PLATT:
            self.method = method
            self.state_ = None
        else:
            super().__init__(method)
        weight = PLATT_WEIGHT if weight is None else weight  # read when called: benchmarks vary it
        if not 0.0 < float(weight) <= 1.0:
            raise SchemaError(f"weight must be in (0, 1], got {weight!r}", column="weight")
        self.weight = float(weight)

    def fit(self, scores: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray) -> Calibrator:
        """Learn the map from ``scores`` to the frequency of ``outcomes`` (1/True = the event happened)."""
        if self.method != ISOTONIC_PLATT:
            super().fit(scores, outcomes)
            return self
        super().__init__("isotonic")  # the base class checks the rows and fits the knots (fit_isotonic)
        try:
            super().fit(scores, outcomes)
        finally:
            self.method = ISOTONIC_PLATT
        assert self.state_ is not None
        coef = fit_rising_platt(_as_vector(scores, "scores"), _as_vector(outcomes, "outcomes"))
        self.state_.update(method=np.asarray([ISOTONIC_PLATT]), coef=coef, weight=np.asarray([self.weight]))
        return self

    def transform(self, scores: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """Calibrated probabilities in [0, 1] for ``scores``."""
        if self.method != ISOTONIC_PLATT or self.state_ is None:
            return super().transform(scores)
        state = self.state_
        return isotonic_platt(
            _as_vector(scores, "scores"), state["x"], state["y"], state["coef"], float(state["weight"][0])
        )

    def set_state(self, state: Mapping[str, Any]) -> Calibrator:
        """Restore a fitted calibrator of any method (accepts lists as read back from JSON). Returns ``self``."""
        try:
            stored = str(np.asarray(state["method"]).reshape(-1)[0])
        except (KeyError, IndexError):
            raise StateError("calibrator state lacks 'method'") from None
        if stored != ISOTONIC_PLATT:
            super().set_state(state)
            return self
        missing = [k for k in ("x", "y", "coef", "weight") if k not in state]
        if missing:
            raise StateError(f"{ISOTONIC_PLATT} calibrator state lacks {', '.join(missing)}")
        try:  # the base class checks the knots
            super().set_state({"method": "isotonic", "x": state["x"], "y": state["y"]})
        except StateError as error:
            raise StateError(f"{ISOTONIC_PLATT} calibrator state: {error}") from None
        coef = np.asarray(state["coef"], dtype="float64").reshape(-1)
        weight = np.asarray(state["weight"], dtype="float64").reshape(-1)
        if len(coef) != 2 or not coef[0] > 0.0:
            raise StateError(f"{ISOTONIC_PLATT} calibrator state needs coef = [slope > 0, intercept]")
        if len(weight) != 1 or not 0.0 < weight[0] <= 1.0:
            raise StateError(f"{ISOTONIC_PLATT} calibrator state needs one weight in (0, 1]")
        assert self.state_ is not None
        self.method, self.weight = ISOTONIC_PLATT, float(weight[0])
        self.state_.update(method=np.asarray([ISOTONIC_PLATT]), coef=coef, weight=weight)
        return self


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
