"""Calibration: the one implementation of "score -> probability", shared by every layer that needs it.

The failure models calibrate their out-of-fold margins inside ``fit``, the decision layer calibrates held-out
scores of any model (:mod:`forewarn.decide.calibration` re-exports this module), and the anomaly detectors
map scores to [0, 1] around an alarm level. It lives here, below ``models/``, because the layer rule lets
``models/`` import only from lower layers; one formula, one function:

:func:`logistic`
    ``1 / (1 + exp(-z))``, written ``0.5 * (1 + tanh(z / 2))`` (no overflow for any ``z``).
:func:`fit_platt` / :func:`platt`
    Platt scaling ``p = logistic(a * s + b)``; ``(a, b)`` from a weakly penalised logistic regression of the
    outcomes on the (standardised) score. scikit-learn calls this method ``"sigmoid"``: both names are accepted.
:func:`fit_isotonic` / :func:`piecewise_linear`
    centred isotonic regression (Oron & Flournoy 2017): pool-adjacent-violators gives a non-decreasing step
    function; each block becomes a knot at (mean score of the block, block frequency) and the knots are joined
    linearly. Unlike the plain step function it is strictly increasing between the first and last knot, so it
    keeps the ranking of the scores (ROC-AUC is not lost to ties). Beyond the end knots it is flat.
:func:`fit_isotonic_platt` / :func:`isotonic_platt`
    the blend ``(1 - w) * isotonic + w * platt`` with ``w =`` :data:`PLATT_WEIGHT` (``"isotonic-platt"``):
    isotonic's reliability where the data are, continuous and strictly increasing everywhere (the isotonic map
    alone is flat beyond its end knots, so a fleet ranking could not order those scores). The failure models'
    own calibration and :class:`forewarn.decide.calibration.Calibrator` both use it.
:class:`Calibrator`
    the two supervised maps behind one object whose state is named arrays (JSON-safe, never pickled).
:class:`ScoreCalibration`
    the unsupervised map of the anomaly detectors (no labels): the empirical CDF of the training scores up to
    an alarm level (through :func:`piecewise_linear`), a Platt tail above it (through :func:`platt`).

>>> rng = np.random.default_rng(0)
>>> margin = rng.normal(size=2000)
>>> y = (rng.uniform(size=2000) < logistic(3 * margin)).astype(int)  # scores are too timid
>>> x_knots, y_knots = fit_isotonic(margin, y)
>>> p = piecewise_linear(np.array([-1.0, 0.0, 1.0]), x_knots, y_knots)
>>> bool(p[0] < 0.15 and 0.4 < p[1] < 0.6 and p[2] > 0.85)
True
>>> a, b = fit_platt(margin, y)
>>> bool(2.5 < a < 3.5)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.exceptions import NotFittedError, SchemaError, StateError

#: supervised methods; ``"sigmoid"`` (scikit-learn's name) is accepted for ``"platt"``
METHODS = ("isotonic", "platt")
ALIASES = {"sigmoid": "platt"}


def method_name(method: str) -> str:
    """The canonical name of a supervised method (``"sigmoid"`` -> ``"platt"``); an unknown one is an error."""
    name = ALIASES.get(method, method)
    if name not in METHODS:
        raise SchemaError(
            f"unknown calibration method {method!r}",
            column="method",
            hint=f"choose from {', '.join((*METHODS, *ALIASES))}",
        )
    return name


# -- the formulas -------------------------------------------------------------------------------------------------
def logistic(z: np.ndarray | float) -> np.ndarray:
    """The logistic function, overflow-free."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype="float64"))))


def platt(scores: np.ndarray, coef: Sequence[float] | np.ndarray) -> np.ndarray:
    """Platt's map ``logistic(a * s + b)`` with ``coef = (a, b)``."""
    a, b = (float(c) for c in np.asarray(coef, dtype="float64").reshape(-1))
    return logistic(a * np.asarray(scores, dtype="float64") + b)


def piecewise_linear(scores: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The knots ``(x, y)`` joined linearly, flat beyond the end knots."""
    return np.interp(  # type: ignore[no-any-return]
        np.asarray(scores, dtype="float64"), np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    )


def fit_platt(scores: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """``(a, b)`` of :func:`platt` for 0/1 ``outcomes`` (both classes present)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(scores, dtype="float64")
    scale = float(np.std(x)) or 1.0  # standardised, so the weak penalty means the same on every score scale
    fitted = LogisticRegression(C=1e4, max_iter=1000).fit((x / scale)[:, None], np.asarray(outcomes).astype(int))
    return np.array([fitted.coef_[0, 0] / scale, fitted.intercept_[0]], dtype="float64")


def fit_isotonic(scores: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of the centred isotonic map for 0/1 ``outcomes`` (see the module text)."""
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(scores, dtype="float64")
    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit_transform(
        x, np.asarray(outcomes, dtype="float64")
    )
    order = np.argsort(x, kind="stable")
    values = fitted[order]
    new_block = np.r_[True, np.diff(values) != 0]
    block_id = np.cumsum(new_block) - 1
    x_knots = np.bincount(block_id, weights=x[order]) / np.bincount(block_id)
    return x_knots, values[new_block]


# -- the isotonic-Platt blend: isotonic's reliability, Platt's strict order ------------------------------------------
#: the blend of the centred isotonic map and a Platt curve (:func:`isotonic_platt`)
ISOTONIC_PLATT = "isotonic-platt"
#: the Platt curve's share in :func:`isotonic_platt`, chosen on AI4I's training part (validation seeds 11 and 12;
#: 0.02 to 0.2 all remove the map's ties, 0.1 had the lowest mean ECE) and checked on the twin (seeds 11 and 12) and
#: C-MAPSS FD001's train split: ``benchmarks/calibration.py``, BENCHMARKS.md "Own data"
PLATT_WEIGHT = 0.1
#: the slope (per standard deviation of the training scores) of the Platt curve that stands in for one whose fitted
#: slope is not positive (scores that do not rank failures on the calibration rows): nearly flat, still increasing
FLAT_SLOPE = 1e-3


def isotonic_platt(scores: np.ndarray, x: np.ndarray, y: np.ndarray, coef: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * piecewise_linear(scores, x, y) + weight * platt(scores, coef)``: a weighted mean of two
    probabilities, so within [0, 1]; strictly increasing wherever the Platt slope ``coef[0]`` is positive.

    >>> isotonic_platt(np.array([-5.0, 0.0, 5.0]), np.array([-1.0, 1.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0]), 0.1).round(4).tolist()
    [0.0007, 0.5, 0.9993]
    """
    return (1.0 - weight) * piecewise_linear(scores, x, y) + weight * platt(scores, coef)


def fit_rising_platt(scores: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """``coef`` of :func:`fit_platt` for 0/1 ``outcomes``, with a positive slope: a fitted slope that is not
    positive (scores that do not rank failures on these rows) becomes :data:`FLAT_SLOPE` per standard deviation,
    the intercept putting the training frequency at the mean score, so the blend keeps the scores' order without
    claiming they rank anything.

    >>> coef = fit_rising_platt(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1, 0, 1, 0]))
    >>> bool(coef[0] > 0), round(float(platt(np.array([1.5]), coef)[0]), 3)
    (True, 0.5)
    """
    x = np.asarray(scores, dtype="float64")
    y = np.asarray(outcomes, dtype="float64")
    coef = fit_platt(x, y)
    if not coef[0] > 0.0:
        rate = float(np.clip(y.mean(), 1e-9, 1.0 - 1e-9))
        slope = FLAT_SLOPE / (float(np.std(x)) or 1.0)
        coef = np.array([slope, np.log(rate / (1.0 - rate)) - slope * float(np.mean(x))])
    return coef


def fit_isotonic_platt(scores: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of :func:`fit_isotonic` and ``coef`` of :func:`fit_rising_platt`: the state of
    :func:`isotonic_platt` for 0/1 ``outcomes``.

    >>> x, y, coef = fit_isotonic_platt(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1]))
    >>> p = isotonic_platt(np.array([-1.0, 0.0, 3.0, 4.0]), x, y, coef, PLATT_WEIGHT)
    >>> bool(np.all(np.diff(p) > 0)), bool(0.0 < p.min() and p.max() < 1.0)
    (True, True)
    """
    return (*fit_isotonic(scores, outcomes), fit_rising_platt(scores, outcomes))


# -- supervised: scores and outcomes -> probabilities ---------------------------------------------------------------
def _as_vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64").reshape(-1)
    if not np.isfinite(array).all():
        raise SchemaError(
            f"{name} holds missing or infinite values", column=name, hint="drop rows without a score before calibrating"
        )
    return array


class Calibrator:
    """Score -> probability map learned from (score, event happened) pairs: ``"isotonic"`` or ``"platt"``.

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

    def __init__(self, method: str = "isotonic"):
        self.method = method_name(method)
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
            raise SchemaError(
                "outcomes hold only one class; calibration needs failures and non-failures",
                column="outcomes",
                hint="calibrate on a period that contains both",
            )
        if self.method == "isotonic":
            knots_x, knots_y = fit_isotonic(x, y)
            self.state_ = {"method": np.asarray(["isotonic"]), "x": knots_x, "y": knots_y}
        else:
            self.state_ = {"method": np.asarray(["platt"]), "coef": fit_platt(x, y)}
        return self

    def transform(self, scores: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """Calibrated probabilities in [0, 1] for ``scores``."""
        if self.state_ is None:
            raise NotFittedError("this Calibrator is not fitted yet; call fit(scores, outcomes) first")
        x = _as_vector(scores, "scores")
        if self.method == "isotonic":  # between the fitted probabilities (checked to lie in [0, 1]): no clipping
            return piecewise_linear(x, self.state_["x"], self.state_["y"])
        return platt(x, self.state_["coef"])

    def get_state(self) -> dict[str, np.ndarray]:
        """Named arrays that :meth:`set_state` restores."""
        if self.state_ is None:
            raise NotFittedError("this Calibrator is not fitted yet; nothing to save")
        return {k: np.array(v, copy=True) for k, v in self.state_.items()}

    def set_state(self, state: Mapping[str, Any]) -> Calibrator:
        """Restore a fitted calibrator (accepts lists as read back from JSON). Returns ``self``."""
        try:
            stored = str(np.asarray(state["method"]).reshape(-1)[0])
        except (KeyError, IndexError):
            raise StateError("calibrator state lacks 'method'") from None
        method = ALIASES.get(stored, stored)
        needed = {"isotonic": ("x", "y"), "platt": ("coef",)}.get(method)
        if needed is None:
            raise StateError(f"calibrator state has unknown method {stored!r}; expected one of {', '.join(METHODS)}")
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


# -- unsupervised: training scores -> alarm level and a [0, 1] scale ------------------------------------------------
@dataclass(frozen=True)
class ScoreCalibration:
    """Alarm level and [0, 1] map learned from the training rows' scores only (no labels).

    The alarm level sits as far above the training 99th percentile ``q99`` as ``q99`` sits above the training
    median ``q50``, measured as a ratio: ``level = q99 * (q99 / q50) ** spread`` with ``spread = 1``. The rule
    has no unit and no scale: it gives the same alarms for a score and for any positive power of it (a distance
    or its square), so one rule serves every detector; where ``q50`` is not positive it falls back to the linear
    ``q99 + spread * (q99 - q50)``. :meth:`transform` maps any score monotonically to [0, 1]: up to the level it
    is the empirical CDF of the training scores (:func:`piecewise_linear` over 1001 quantiles), rescaled so the
    level maps to exactly 0.5; above it the Platt tail ``platt(s, (2 / w, -2 * level / w))`` with
    ``w = level - q50`` climbs towards 1 (about 0.88 one ``w`` past the level). So ``transform(s) > 0.5``
    means "beyond the alarm level".

    >>> cal = ScoreCalibration.fit(np.linspace(0.0, 2.0, 201))   # q50 = 1.0, q99 = 1.98
    >>> round(cal.level, 4)
    3.9204
    >>> [round(float(v), 3) for v in cal.transform(np.array([0.0, 1.0, 3.9204, 6.8408, 100.0]))]
    [0.0, 0.25, 0.5, 0.881, 1.0]
    >>> cal.alarm(np.array([3.0, 4.0])).tolist()
    [False, True]
    """

    reference: np.ndarray  # quantiles 0, 0.001, ..., 1 of the training scores
    level: float  # alarm level
    median: float

    @classmethod
    def fit(cls, training_scores: np.ndarray, *, quantile: float = 0.99, spread: float = 1.0) -> ScoreCalibration:
        """Learn the calibration from the scores of the training rows."""
        scores = np.asarray(training_scores, dtype="float64")
        scores = scores[np.isfinite(scores)]
        if scores.size == 0:
            raise SchemaError("no finite training scores to calibrate on", column="scores")
        if not 0.5 < quantile <= 1.0 or spread < 0.0:
            raise SchemaError(
                f"quantile must be in (0.5, 1] and spread >= 0, got {quantile} and {spread}", column="quantile"
            )
        reference = np.quantile(scores, np.linspace(0.0, 1.0, 1001))
        # order statistics (no interpolation), so that the rule commutes with any increasing power
        median = float(np.quantile(scores, 0.5, method="inverted_cdf"))
        high = float(np.quantile(scores, quantile, method="inverted_cdf"))
        # ratio rule where it is defined, the linear rule otherwise
        level = high * (high / median) ** spread if median > 0.0 else high + spread * (high - median)
        if level <= median:  # degenerate (e.g. constant) training scores: keep a positive tail scale
            level = median + max(abs(median), 1.0) * 1e-6
        return cls(reference=reference, level=float(level), median=median)

    def alarm(self, scores: np.ndarray) -> np.ndarray:
        """Boolean alarms: score above the alarm level."""
        return np.asarray(scores, dtype="float64") > self.level

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Monotone map of scores to [0, 1]; exactly 0.5 at the alarm level."""
        values = np.asarray(scores, dtype="float64")
        grid = np.linspace(0.0, 1.0, len(self.reference))
        below = piecewise_linear(values, self.reference, grid)
        at_level = float(piecewise_linear(np.asarray([self.level]), self.reference, grid)[0])
        low = 0.5 * below / max(at_level, 1e-12)
        width = self.level - self.median
        high = platt(values, (2.0 / width, -2.0 * self.level / width))
        return np.clip(np.where(values <= self.level, np.minimum(low, 0.5), high), 0.0, 1.0)
