"""A causal, monotone health indicator (HI) for run-to-failure vibration features.

Each step uses only snapshots up to the current one, so the value at snapshot ``t`` never changes when
later snapshots change (or do not exist yet); that is what a plant gets on line.

1. **Baseline.** The first ``baseline_snapshots`` snapshots (a fixed commissioning period, *not* a share
   of the life: a share would need the life length, i.e. the future) give, per column, the mean ``m`` and
   standard deviation ``s`` of ``log f``. Every snapshot becomes ``z = (log f - m) / s``.
2. **Degradation** ``d``: the mean over the columns of ``max(z, 0)``. One-sided on purpose: bearing damage
   raises vibration energy, impulsiveness and envelope energy, so a feature falling below its healthy level
   is not damage and must not cancel another feature's rise.
3. **Causal smoothing**: an exponential moving average of ``d`` (``span`` snapshots, no ``adjust``), the
   *raw* indicator.
4. **Monotone step** (health can only decrease, so degradation can only grow): ``monotone="max"`` keeps the
   running maximum of the raw indicator (the worst degradation seen so far, in the raw indicator's units);
   ``monotone="cumulative"`` accumulates the raw indicator's excess over the alert level (cumulative damage
   past the healthy band, 0 until the first crossing).
5. **Alert level** from the baseline only: mean + ``k`` standard deviations of the raw indicator over the
   baseline snapshots. The alert opens at the first snapshot after the baseline where the raw indicator has
   been above the level for ``persistence`` snapshots in a row; the monotone indicator never comes back, so
   neither does the alert.

>>> import pandas as pd
>>> rng = np.random.default_rng(0)
>>> wear = np.r_[np.ones(150), np.exp(np.linspace(0, 2, 50))]
>>> frame = pd.DataFrame({"rms_h": wear * rng.lognormal(0, 0.05, 200), "rms_v": rng.lognormal(0, 0.05, 200)})
>>> hi = MonotoneHealthIndicator(baseline_snapshots=100).compute(frame)
>>> bool(np.all(np.diff(hi.monotone) >= 0)), bool(hi.monotone[-1] > hi.level), 100 < hi.alert_index < 200
(True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError

MONOTONE_RULES = ("max", "cumulative")


@dataclass(frozen=True)
class HealthIndicatorSeries:
    """What :meth:`MonotoneHealthIndicator.compute` returns: both indicators, the level and the alert."""

    raw: np.ndarray  # smoothed one-sided degradation, before the monotone step
    monotone: np.ndarray  # after the monotone step (never decreases)
    level: float  # alert level on the raw indicator, from the baseline
    alert_index: int | None  # snapshot where the alert opens (None: no alert)
    n_baseline: int


@dataclass(frozen=True)
class MonotoneHealthIndicator:
    """Baseline-normalised, one-sided, causally smoothed and monotone degradation indicator (module text).

    ``features`` selects the columns named ``<feature>_<channel>`` (every channel); ``None`` takes every
    column of the frame.
    """

    features: tuple[str, ...] | None = None
    baseline_snapshots: int = 120
    span: int = 12
    k: float = 3.0
    persistence: int = 3
    monotone: str = "max"

    def _check(self, frame: pd.DataFrame) -> list[str]:
        if self.monotone not in MONOTONE_RULES:
            raise ConfigError(f"monotone must be one of {MONOTONE_RULES}, got {self.monotone!r}")
        if self.baseline_snapshots < 2 or self.span < 1 or self.persistence < 1 or self.k < 0:
            raise ConfigError(
                f"need baseline_snapshots >= 2, span >= 1, persistence >= 1 and k >= 0; got "
                f"{self.baseline_snapshots}, {self.span}, {self.persistence} and {self.k}"
            )
        if len(frame) <= self.baseline_snapshots:
            raise ConfigError(
                f"{len(frame)} snapshots do not go past the baseline of {self.baseline_snapshots}; "
                "lower baseline_snapshots or wait for more data"
            )
        if self.features is None:
            return list(frame.columns)
        chosen = [c for c in frame.columns if str(c).rsplit("_", 1)[0] in self.features]
        if not chosen:
            raise ConfigError(f"no column of {self.features} in the snapshot features {list(frame.columns)}")
        return chosen

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Steps 1-3: the smoothed one-sided degradation of every snapshot (causal)."""
        values = frame[self._check(frame)].to_numpy(dtype="float64")
        logs = np.log(np.maximum(values, 1e-12))
        base = logs[: self.baseline_snapshots]
        spread = base.std(axis=0)
        z = (logs - base.mean(axis=0)) / np.where(spread > 1e-12, spread, 1.0)
        degradation = np.maximum(z, 0.0).mean(axis=1)
        smoothed: np.ndarray = pd.Series(degradation).ewm(span=self.span, adjust=False).mean().to_numpy()
        return smoothed

    def compute(self, frame: pd.DataFrame) -> HealthIndicatorSeries:
        """Steps 1-5 on the snapshots of ``frame`` (rows in time order)."""
        raw = self.raw(frame)
        n_base = self.baseline_snapshots
        level = float(raw[:n_base].mean() + self.k * raw[:n_base].std())
        excess = np.maximum(raw - level, 0.0)
        monotone = np.maximum.accumulate(raw) if self.monotone == "max" else np.cumsum(excess)
        return HealthIndicatorSeries(
            raw=raw,
            monotone=monotone,
            level=level,
            alert_index=first_persistent_crossing(raw, level, n_base, self.persistence),
            n_baseline=n_base,
        )


def first_persistent_crossing(values: np.ndarray, level: float, start: int, persistence: int) -> int | None:
    """First index ``>= start`` where ``values`` has been above ``level`` for ``persistence`` points in a row.

    Only points from ``start`` on count towards the run.

    >>> first_persistent_crossing(np.array([0, 5, 0, 5, 5, 5, 0]), 1.0, 0, 3)
    5
    >>> first_persistent_crossing(np.array([5, 5, 0, 5]), 1.0, 1, 2) is None
    True
    """
    above = np.asarray(values, dtype="float64")[start:] > level
    run = 0
    for offset, is_above in enumerate(above):
        run = run + 1 if is_above else 0
        if run >= persistence:
            return start + offset
    return None


__all__ = ["MONOTONE_RULES", "HealthIndicatorSeries", "MonotoneHealthIndicator", "first_persistent_crossing"]
