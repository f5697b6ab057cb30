"""Probability calibration: turn a model's score into a probability a planner can act on.

A raw score (an anomaly score, a boosted-tree output, a probability from an over-confident classifier)
is not a probability. :class:`Calibrator` learns the map from score to "how often did the asset really
fail within the horizon" on held-out data:

* ``method="isotonic"``: a monotone step function (pool-adjacent-violators, via scikit-learn), the
  default when there are a few hundred labelled rows or more;
* ``method="platt"``: a logistic curve ``1 / (1 + exp(-(a * score + b)))``, steadier on small data.

The learned state is two or three named arrays (``get_state``/``set_state``), so a calibrator travels in
JSON next to the model it calibrates and is never pickled.

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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from forewarn.exceptions import NotFittedError, SchemaError, StateError

METHODS = ("isotonic", "platt")


def _as_vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64").reshape(-1)
    if not np.isfinite(array).all():
        raise SchemaError(f"{name} holds missing or infinite values", column=name,
                          hint="drop rows without a score before calibrating")
    return array


class Calibrator:
    """Score -> probability map learned from (score, event happened) pairs."""

    def __init__(self, method: str = "isotonic"):
        if method not in METHODS:
            raise SchemaError(f"unknown calibration method {method!r}", column="method",
                              hint=f"choose from {', '.join(METHODS)}")
        self.method = method
        self.state_: dict[str, np.ndarray] | None = None

    def fit(self, scores: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray) -> Calibrator:
        """Learn the map from ``scores`` to the frequency of ``outcomes`` (1/True = the event happened)."""
        x = _as_vector(scores, "scores")
        y = _as_vector(outcomes, "outcomes")
        if len(x) != len(y):
            raise SchemaError(f"scores has {len(x)} values but outcomes has {len(y)}", column="outcomes")
        if not np.isin(y, (0.0, 1.0)).all():
            raise SchemaError("outcomes must be 0/1 (or False/True)", column="outcomes")
        if len(np.unique(y)) < 2:
            raise SchemaError("outcomes hold only one class; calibration needs failures and non-failures",
                              column="outcomes", hint="calibrate on a period that contains both")
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
            self.state_ = {"method": np.asarray(["isotonic"]), "x": np.asarray(iso.X_thresholds_, dtype="float64"),
                           "y": np.asarray(iso.y_thresholds_, dtype="float64")}
        else:
            scale = float(np.std(x)) or 1.0
            logistic = LogisticRegression(C=1e4).fit((x / scale)[:, None], y.astype(int))
            self.state_ = {"method": np.asarray(["platt"]),
                           "coef": np.asarray([logistic.coef_[0, 0] / scale, logistic.intercept_[0]], dtype="float64")}
        return self

    def transform(self, scores: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """Calibrated probabilities in [0, 1] for ``scores``."""
        if self.state_ is None:
            raise NotFittedError("this Calibrator is not fitted yet; call fit(scores, outcomes) first")
        x = _as_vector(scores, "scores")
        if self.method == "isotonic":  # between the fitted probabilities (checked to lie in [0, 1]): no clipping
            return np.interp(x, self.state_["x"], self.state_["y"])
        a, b = self.state_["coef"]
        return 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -500.0, 500.0)))

    def get_state(self) -> dict[str, np.ndarray]:
        """Named arrays that :meth:`set_state` restores."""
        if self.state_ is None:
            raise NotFittedError("this Calibrator is not fitted yet; nothing to save")
        return {k: np.array(v, copy=True) for k, v in self.state_.items()}

    def set_state(self, state: Mapping[str, Any]) -> Calibrator:
        """Restore a fitted calibrator (accepts lists as read back from JSON). Returns ``self``."""
        try:
            method = str(np.asarray(state["method"]).reshape(-1)[0])
        except (KeyError, IndexError):
            raise StateError("calibrator state lacks 'method'") from None
        needed = {"isotonic": ("x", "y"), "platt": ("coef",)}.get(method)
        if needed is None:
            raise StateError(f"calibrator state has unknown method {method!r}; expected one of {', '.join(METHODS)}")
        missing = [k for k in needed if k not in state]
        if missing:
            raise StateError(f"{method} calibrator state lacks {', '.join(missing)}")
        self.method = method
        self.state_ = {"method": np.asarray([method])}
        for key in needed:
            self.state_[key] = np.asarray(state[key], dtype="float64").reshape(-1)
        if method == "isotonic" and (len(self.state_["x"]) != len(self.state_["y"]) or len(self.state_["x"]) == 0):
            raise StateError("isotonic calibrator state needs x and y of the same, non-zero length")
        if method == "isotonic" and not ((self.state_["y"] >= 0.0) & (self.state_["y"] <= 1.0)).all():
            raise StateError("isotonic calibrator state has probabilities (y) outside [0, 1]")
        if method == "platt" and len(self.state_["coef"]) != 2:
            raise StateError("platt calibrator state needs coef = [slope, intercept]")
        return self

    def to_json(self) -> dict[str, list[float] | str]:
        """Plain JSON form of the state (for a model's ``serving.json``)."""
        state = self.get_state()
        return {"method": self.method, **{k: v.tolist() for k, v in state.items() if k != "method"}}


def brier_score(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (lower is better).

    >>> brier_score([0.0, 1.0, 0.5], [0, 1, 1])
    0.08333333333333333
    """
    p = _as_vector(probabilities, "probabilities")
    y = _as_vector(outcomes, "outcomes")
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[Any] | np.ndarray,
                               *, bins: int = 10) -> float:
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
