"""Alert thresholds chosen from what mistakes cost, one per asset class.

Raising an alert sends someone to inspect the asset (cost ``inspection``). If the asset was healthy, the
alert was also a false alarm (production stopped, trust lost: ``false_alarm``). Not raising one before a
failure costs ``missed_failure`` (unplanned downtime, secondary damage). With a calibrated probability
``p`` of failure within the horizon, alerting is worth it when the expected cost of alerting is below the
expected cost of waiting::

    inspection + (1 - p) * false_alarm  <  p * missed_failure
    p  >  (inspection + false_alarm) / (missed_failure + false_alarm)        (:func:`bayes_threshold`)

On labelled history the threshold that minimises the realised cost (:func:`empirical_threshold`) can be
used instead; it also reports the cost it reaches. :class:`ThresholdPolicy` keeps the costs and the
chosen threshold of every asset class, with a ``default`` class for the rest, and reads its costs from a
plain mapping (a TOML or JSON table such as ``{"pump": {"missed_failure": 50000, ...}}``).

>>> costs = Costs(missed_failure=20_000, inspection=500, false_alarm=1_500)
>>> round(bayes_threshold(costs), 4)
0.093
>>> policy = ThresholdPolicy.from_mapping({"default": {"missed_failure": 10000, "inspection": 400, "false_alarm": 600},
...                                        "pump": {"missed_failure": 50000, "inspection": 500, "false_alarm": 1500}})
>>> round(policy.threshold_for("pump"), 4), round(policy.threshold_for("fan"), 4)
(0.0388, 0.0943)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, SchemaError

DEFAULT_CLASS = "default"


@dataclass(frozen=True)
class Costs:
    """What each outcome costs (any one currency); all must be finite and non-negative."""

    missed_failure: float = 10_000.0
    inspection: float = 500.0
    false_alarm: float = 1_000.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"cost {name!r} must be a finite number >= 0, got {value!r}")
        if self.missed_failure <= 0:
            raise ConfigError("cost 'missed_failure' must be > 0: with free failures no alert is ever worth it")


@dataclass(frozen=True)
class ThresholdChoice:
    """A chosen threshold and what it does on the data it was chosen on."""

    threshold: float
    cost: float
    alerts: int
    caught: int
    missed: int
    false_alarms: int


def bayes_threshold(costs: Costs) -> float:
    """Probability above which alerting has the lower expected cost (needs calibrated probabilities)."""
    return float(min(1.0, (costs.inspection + costs.false_alarm) / (costs.missed_failure + costs.false_alarm)))


def realised_cost(probabilities: np.ndarray, failed: np.ndarray, threshold: float, costs: Costs) -> ThresholdChoice:
    """Cost of alerting on ``probabilities >= threshold`` given what really happened.

    >>> c = realised_cost(np.array([0.9, 0.2, 0.6]), np.array([1, 1, 0]), 0.5, Costs(100, 1, 10))
    >>> c.cost, c.caught, c.missed, c.false_alarms
    (112.0, 1, 1, 1)
    """
    alert = probabilities >= threshold
    positive = failed.astype(bool)
    caught = int((alert & positive).sum())
    missed = int((~alert & positive).sum())
    false_alarms = int((alert & ~positive).sum())
    cost = alert.sum() * costs.inspection + false_alarms * costs.false_alarm + missed * costs.missed_failure
    return ThresholdChoice(float(threshold), float(cost), int(alert.sum()), caught, missed, false_alarms)


def empirical_threshold(
    probabilities: Sequence[float] | np.ndarray, failed: Sequence[Any] | np.ndarray, costs: Costs
) -> ThresholdChoice:
    """The threshold with the lowest realised cost on labelled rows (ties: the highest such threshold).

    >>> p = np.array([0.05, 0.1, 0.3, 0.7, 0.8, 0.95])
    >>> y = np.array([0, 0, 0, 1, 0, 1])
    >>> empirical_threshold(p, y, Costs(missed_failure=1000, inspection=10, false_alarm=100)).threshold
    0.7
    """
    p = np.asarray(probabilities, dtype="float64").reshape(-1)
    y = np.asarray(failed).reshape(-1)
    if len(p) != len(y):
        raise SchemaError(f"probabilities has {len(p)} values but failed has {len(y)}", column="failed")
    if len(p) == 0 or not np.isfinite(p).all():
        raise SchemaError("probabilities must be a non-empty set of finite numbers", column="probabilities")
    # Sorted descending, alerting on the top k rows for k = 0..n covers every distinct threshold.
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order].astype(bool)
    k = np.arange(len(p) + 1)
    caught = np.concatenate([[0], np.cumsum(y_sorted)])
    false_alarms = k - caught
    missed = y_sorted.sum() - caught
    cost = k * costs.inspection + false_alarms * costs.false_alarm + missed * costs.missed_failure
    # Only cut where the next probability differs, so a threshold never splits tied rows.
    valid = np.ones(len(k), dtype=bool)
    valid[1:-1] = p_sorted[:-1] != p_sorted[1:]
    candidates = np.flatnonzero(valid)
    best = int(candidates[np.argmin(cost[candidates])])
    threshold = float(np.nextafter(p_sorted[0], np.inf)) if best == 0 else float(p_sorted[best - 1])
    return realised_cost(p, y, threshold, costs)


@dataclass
class ThresholdPolicy:
    """Costs and thresholds per asset class; classes without their own entry use ``default``."""

    costs: dict[str, Costs] = field(default_factory=lambda: {DEFAULT_CLASS: Costs()})
    thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Mapping[str, Any]]) -> ThresholdPolicy:
        """Build from ``{asset_class: {missed_failure, inspection, false_alarm[, threshold]}}``."""
        costs: dict[str, Costs] = {}
        thresholds: dict[str, float] = {}
        for asset_class, entry in table.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"cost table entry {asset_class!r} must be a table of costs, got {entry!r}")
            entry = dict(entry)
            fixed = entry.pop("threshold", None)
            unknown = set(entry) - {"missed_failure", "inspection", "false_alarm"}
            if unknown:
                raise ConfigError(
                    f"cost table entry {asset_class!r} has unknown key(s) {', '.join(sorted(unknown))}; "
                    "expected missed_failure, inspection, false_alarm, threshold"
                )
            costs[str(asset_class)] = Costs(**{k: float(v) for k, v in entry.items()})
            if fixed is not None:
                value = float(fixed)
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(f"threshold of {asset_class!r} must be in [0, 1], got {fixed!r}")
                thresholds[str(asset_class)] = value
        costs.setdefault(DEFAULT_CLASS, Costs())
        return cls(costs, thresholds)

    def costs_for(self, asset_class: str | None) -> Costs:
        """The costs of ``asset_class``, or the default ones."""
        return self.costs.get(asset_class or DEFAULT_CLASS, self.costs[DEFAULT_CLASS])

    def threshold_for(self, asset_class: str | None) -> float:
        """The fitted (or configured) threshold of the class, else the Bayes threshold of its costs."""
        key = asset_class or DEFAULT_CLASS
        if key in self.thresholds:
            return self.thresholds[key]
        if key not in self.costs and DEFAULT_CLASS in self.thresholds:
            return self.thresholds[DEFAULT_CLASS]
        return bayes_threshold(self.costs_for(asset_class))

    def fit(
        self,
        probabilities: Sequence[float] | np.ndarray,
        failed: Sequence[Any] | np.ndarray,
        asset_classes: Sequence[str] | np.ndarray,
        *,
        min_failures: int = 5,
    ) -> dict[str, ThresholdChoice]:
        """Choose each class's threshold from labelled rows; classes with fewer than ``min_failures``
        failures keep the Bayes threshold of their costs. Returns the choices made."""
        p = np.asarray(probabilities, dtype="float64").reshape(-1)
        y = np.asarray(failed).reshape(-1).astype(bool)
        classes = np.asarray(asset_classes, dtype=str).reshape(-1)
        if not len(p) == len(y) == len(classes):
            raise SchemaError(
                "probabilities, failed and asset_classes must have the same length", column="asset_classes"
            )
        chosen: dict[str, ThresholdChoice] = {}
        for asset_class in np.unique(classes):
            mask = classes == asset_class
            if y[mask].sum() >= min_failures:
                choice = empirical_threshold(p[mask], y[mask], self.costs_for(str(asset_class)))
                self.thresholds[str(asset_class)] = choice.threshold
                chosen[str(asset_class)] = choice
        return chosen

    def to_mapping(self) -> dict[str, dict[str, float]]:
        """The inverse of :meth:`from_mapping` (fitted thresholds included)."""
        table: dict[str, dict[str, float]] = {k: asdict(v) for k, v in self.costs.items()}
        for asset_class, threshold in self.thresholds.items():
            table.setdefault(asset_class, asdict(self.costs_for(asset_class)))["threshold"] = threshold
        return table
