"""What ``forewarn train`` (and ``backtest`` and ``score``) are asked to do: one frozen, checked spec.

A spec comes from keyword arguments (the Python API and the CLI's options) or a TOML file
(``--spec FILE.toml``, keys of a ``[train]`` table, costs in ``[costs.<asset class>]``); options given on the
command line win over the file. Durations are pandas-style spans (``"10min"``, ``"1h"``, ``"7d"``).

>>> spec = TrainSpec(task="failure", horizon="7d")
>>> spec.horizon_hours, spec.model
(168.0, 'auto')
>>> TrainSpec(task="weather")
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: task='weather' is not one of failure, rul, anomaly, failure-mode
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from forewarn.base.timespan import timespan
from forewarn.exceptions import ConfigError
from forewarn.features.window import DEFAULT_STATS, check_settings

#: trailing-window rows unless the spec says (failure, anomaly, failure-mode; the floor for RUL)
DEFAULT_WINDOW = 24
#: the longest window a RUL spec derives from its cap (C-MAPSS FD001 training engines, 5-fold unit-wise CV of the
#: bench's boosting: RMSE 16.2 at 30 cycles, 14.1 at 50, 13.3 at 100, 12.7 at 200; serving reads 4 windows)
MAX_DERIVED_WINDOW = 200
TASKS = ("failure", "rul", "anomaly", "failure-mode")
FEATURE_SETS = ("ml", "physics", "hybrid")
#: maintenance actions that renew an asset's life (a replaced, rebuilt or newly installed part or machine); matched
#: as prefixes, case-blind. A maintenance event without an action, or one whose ``result`` is ``corrective`` (a
#: repair), renews too.
RENEWING_ACTIONS = ("replace", "overhaul", "rebuild", "repair", "renew", "recondition", "install")
#: whether a model reads the age since the last renewal (:mod:`forewarn.features.age`): ``auto`` = when the training
#: events hold at least one renewal
AGE_CHOICES = ("auto", "on", "off")


def hours(span: str | float | int, what: str) -> float:
    """A duration as hours: ``"90min"`` -> 1.5; plain numbers are hours already.

    >>> hours("90min", "horizon"), hours(24, "horizon")
    (1.5, 24.0)
    """
    if isinstance(span, (int, float)) and not isinstance(span, bool):
        value = float(span)
    else:
        try:
            value = timespan(str(span)) / pd.Timedelta(hours=1)
        except (TypeError, ValueError):
            raise ConfigError(f"{what}={span!r} is not a time span; use e.g. '30min', '24h' or '7d'") from None
    if not value > 0:
        raise ConfigError(f"{what}={span!r} must be a positive time span")
    return float(value)


@dataclass(frozen=True)
class TrainSpec:
    """Task, labels, data selection, features, model choice and costs of one training run."""

    task: str = "failure"
    horizon: str = "24h"
    min_lead: str | None = None
    label: str | None = None
    model: str = "auto"
    model_id: str | None = None
    interval: str | None = None
    window: int | None = None
    stats: tuple[str, ...] = tuple(DEFAULT_STATS)
    features: str = "ml"
    channels: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    max_rul: str | None = None
    holdout: float = 0.3
    folds: int = 3
    max_rows: int = 200_000
    renewing_actions: tuple[str, ...] = RENEWING_ACTIONS
    costs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    seed: int = 0
    age: str = "auto"
    baseline: str | None = None
    #: the channels that set the operating point (load, surroundings: not the machine's condition), recorded in the
    #: model card for ``forewarn monitor`` (:func:`forewarn.monitor.classify.operating_channels`); not features
    operating_channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task={self.task!r} is not one of {', '.join(TASKS)}")
        if self.features not in FEATURE_SETS:
            raise ConfigError(f"features={self.features!r} is not one of {', '.join(FEATURE_SETS)}")
        if self.age not in AGE_CHOICES:
            raise ConfigError(f"age={self.age!r} is not one of {', '.join(AGE_CHOICES)}")
        hours(self.horizon, "horizon")
        if self.min_lead is not None:
            hours(self.min_lead, "min_lead")
        if self.interval is not None:
            hours(self.interval, "interval")
        if self.max_rul is not None:
            hours(self.max_rul, "max_rul")
        if self.baseline is not None:
            hours(self.baseline, "baseline")
        check_settings(self.stats, DEFAULT_WINDOW if self.window is None else self.window)
        if not 0.05 <= float(self.holdout) <= 0.6:
            raise ConfigError(f"holdout={self.holdout!r} must be a share of assets between 0.05 and 0.6")
        if int(self.folds) < 2:
            raise ConfigError(f"folds={self.folds!r} must be at least 2")
        if int(self.max_rows) < 1000:
            raise ConfigError(f"max_rows={self.max_rows!r} must be at least 1000")

    @property
    def horizon_hours(self) -> float:
        return hours(self.horizon, "horizon")

    @property
    def min_lead_hours(self) -> float:
        """A failure counts as caught when a case was open at least this long before it: 24 h by default, or half
        the horizon when that is shorter (a 24 h horizon would else leave no time to catch a failure in).

        >>> TrainSpec(horizon="7d").min_lead_hours, TrainSpec(horizon="24h").min_lead_hours
        (24.0, 12.0)
        """
        if self.min_lead is not None:
            return hours(self.min_lead, "min_lead")
        return min(24.0, self.horizon_hours / 2.0)

    @property
    def baseline_hours(self) -> float | None:
        """The span of each asset life's baseline (:mod:`forewarn.features.baseline`); None: no baseline features.

        >>> TrainSpec(baseline="14d").baseline_hours, TrainSpec().baseline_hours
        (336.0, None)
        """
        return None if self.baseline is None else hours(self.baseline, "baseline")

    @property
    def max_rul_hours(self) -> float:
        """The RUL cap: training targets above it count as it (default ten horizons)."""
        return hours(self.max_rul, "max_rul") if self.max_rul is not None else 10.0 * self.horizon_hours

    def window_rows(self, interval: str) -> int:
        """Rows in the trailing window at the sampling ``interval``: the spec's ``window`` when given; for RUL, rows
        spanning twice the RUL cap (the stretch before wear starts to show and the wear itself: the statistics must
        see the trend over a life, not a day), between 24 and 200; else 24.

        >>> TrainSpec(task="rul", max_rul="125h").window_rows("1h"), TrainSpec(task="rul").window_rows("6h")
        (200, 80)
        >>> TrainSpec(task="failure").window_rows("1h"), TrainSpec(task="rul", window=12).window_rows("1h")
        (24, 12)
        """
        if self.window is not None:
            return int(self.window)
        if self.task != "rul":
            return DEFAULT_WINDOW
        span = int(math.ceil(2.0 * self.max_rul_hours / hours(interval, "interval") - 1e-9))
        return max(DEFAULT_WINDOW, min(MAX_DERIVED_WINDOW, span))

    def resolved(self, interval: str) -> TrainSpec:
        """This spec with its window fixed for data sampled at ``interval`` (what the run records)."""
        return replace(self, window=self.window_rows(interval))

    @property
    def name(self) -> str:
        """The model id the registry files this model under (default: the task)."""
        return self.model_id or self.task

    def with_options(self, **options: Any) -> TrainSpec:
        """A copy with the options that are not ``None`` (or empty) replacing the spec's values."""
        given = {k: v for k, v in options.items() if v is not None and v != () and v != []}
        unknown = set(given) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown training option(s) {', '.join(sorted(unknown))}")
        for key in (
            "channels",
            "sites",
            "lines",
            "classes",
            "assets",
            "stats",
            "renewing_actions",
            "operating_channels",
        ):
            if key in given:
                given[key] = _names(given[key])
        return replace(self, **given)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> TrainSpec:
        """Read ``[train]`` (any field above) and ``[costs.<asset class>]`` from a TOML file."""
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"spec file {str(file)!r} does not exist") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"spec file {str(file)!r} is not valid TOML: {err}") from None
        unknown = set(data) - {"train", "costs"}
        if unknown:
            raise ConfigError(
                f"spec file {str(file)!r} has unknown table(s) {', '.join(sorted(unknown))}; "
                "expected [train] and [costs.<asset class>]"
            )
        options = dict(data.get("train", {}))
        if "costs" in data:
            options["costs"] = data["costs"]
        try:
            return cls().with_options(**options)
        except TypeError as err:
            raise ConfigError(f"spec file {str(file)!r}: {err}") from None


def _names(value: Any) -> tuple[str, ...]:
    """A comma-separated string or a list as a tuple of names."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)
