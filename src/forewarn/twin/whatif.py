"""What-if: Monte Carlo futures of one asset under a scenario (load, ambient, cooling, a maintenance date).

Start from a :class:`TwinState`: the twin's own state (:meth:`forewarn.twin.fleet.Fleet.twin_state`) or one
estimated from recent readings (:func:`~forewarn.twin.calibrate.estimate_state`). :func:`what_if` copies the
asset ``runs`` times, perturbs what is uncertain (damage levels by 10 %, degradation rates by a log-normal
factor of spread 0.25), replays its recent weekly operating pattern under the scenario, and runs the hourly
degradation engine until each copy first fails or the horizon ends. The result gives the time-to-failure
distribution (median, 10th and 90th percentiles, share failing within the horizon; percentiles of runs that
outlive the horizon are reported as ``inf``) and daily quantiles of key signals.

>>> from forewarn.twin.fleet import simulate_fleet
>>> fleet = simulate_fleet(sites=1, assets=2, days=3, seed=2, interval="1h")
>>> result = what_if(fleet.twin_state(fleet.asset_ids[0]), Scenario(load=1.0), runs=20, horizon_days=10, seed=1)
>>> result.trajectories["health"].shape, len(result.ttf_days)
((11, 3), 20)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError
from forewarn.twin.assets import MODES
from forewarn.twin.degradation import POLICY_CODES, Policy
from forewarn.twin.engine import run_plan
from forewarn.twin.sites import HourlyRegime
from forewarn.twin.state import TwinState

__all__ = ["SIGNALS", "Scenario", "TwinState", "WhatIfResult", "what_if"]

#: Signals whose daily quantiles a what-if reports.
SIGNALS = ("health", "winding_temp", "bearing_temp", "vib_rms", "oil_quality")
MAX_SCENARIO_LOAD = 1.5


@dataclass(frozen=True)
class Scenario:
    """A planner's question: ``load`` multiplies the asset's usual load (1.1 = 110 %); ``ambient_c`` replaces the
    ambient temperature (``ambient_offset_c`` shifts it instead); ``cooling`` multiplies the winding's cooling
    (0.7 = a third lost); ``maintenance_in_days`` schedules a full service (inspect and repair what is found)."""

    load: float = 1.0
    ambient_c: float | None = None
    ambient_offset_c: float = 0.0
    cooling: float = 1.0
    maintenance_in_days: float | None = None

    def validate(self) -> None:
        if not 0.0 < self.load <= MAX_SCENARIO_LOAD:
            raise ConfigError(f"scenario load {self.load}: expected a factor in (0, {MAX_SCENARIO_LOAD}] (1.1 = 110 %)")
        if not 0.05 <= self.cooling <= 2.0:
            raise ConfigError(f"scenario cooling {self.cooling}: expected a factor in [0.05, 2] (0.7 = 30 % less)")
        if self.ambient_c is not None and not -50.0 <= self.ambient_c <= 80.0:
            raise ConfigError(f"scenario ambient {self.ambient_c} degC: expected -50 to 80 degC")
        if self.maintenance_in_days is not None and self.maintenance_in_days < 0:
            raise ConfigError(f"scenario maintenance_in_days {self.maintenance_in_days}: expected >= 0")


@dataclass
class WhatIfResult:
    """Time to failure per run (days, ``inf`` = survived the horizon) and daily signal quantiles (p10, p50, p90)."""

    asset_id: str
    scenario: Scenario
    horizon_days: float
    ttf_days: np.ndarray
    failure_modes: list[str | None]
    days: np.ndarray
    trajectories: dict[str, np.ndarray]

    @property
    def fail_fraction(self) -> float:
        return float(np.isfinite(self.ttf_days).mean())

    def percentile(self, q: float) -> float:
        """A percentile of time to failure in days (``inf`` when more than ``100 - q`` % of runs survive)."""
        return float(np.percentile(np.sort(self.ttf_days), q, method="inverted_cdf"))

    @property
    def median_days(self) -> float:
        return self.percentile(50)

    @property
    def p10_days(self) -> float:
        return self.percentile(10)

    @property
    def p90_days(self) -> float:
        return self.percentile(90)

    def mode_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for mode in self.failure_modes:
            if mode is not None:
                counts[mode] = counts.get(mode, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def summary(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "runs": int(self.ttf_days.size),
            "horizon_days": self.horizon_days,
            "fail_fraction": self.fail_fraction,
            "p10_days": self.p10_days,
            "median_days": self.median_days,
            "p90_days": self.p90_days,
            "modes": self.mode_counts(),
        }

    def trajectory_frame(self) -> pd.DataFrame:
        """Long frame ``day, signal, p10, p50, p90``."""
        parts = [
            pd.DataFrame({"day": self.days, "signal": name, "p10": q[:, 0], "p50": q[:, 1], "p90": q[:, 2]})
            for name, q in self.trajectories.items()
        ]
        return pd.concat(parts, ignore_index=True)


def _regime(twin: TwinState, scenario: Scenario, runs: int, hours: int) -> HourlyRegime:
    reps = -(-hours // twin.week_load.size)
    running = np.tile(twin.week_running, reps)[:hours] > 0.5
    load = np.clip(np.tile(twin.week_load, reps)[:hours] * scenario.load, 0.05, MAX_SCENARIO_LOAD)
    if scenario.ambient_c is not None:
        ambient = np.full(hours, scenario.ambient_c)
    else:
        ambient = np.tile(twin.week_ambient, reps)[:hours] + scenario.ambient_offset_c
    return HourlyRegime(
        scheduled=np.broadcast_to(running, (runs, hours)),
        load=np.broadcast_to(load.astype(np.float32), (runs, hours)),
        ambient=np.broadcast_to(ambient.astype(np.float32), (runs, hours)),
        outdoor=ambient[None, :],
    )


def what_if(
    state: TwinState | pd.DataFrame,
    scenario: Scenario | None = None,
    runs: int = 200,
    horizon_days: float = 90.0,
    seed: int = 0,
    asset: Any = None,
) -> WhatIfResult:
    """Monte Carlo scenario runs of one asset (see the module docstring).

    ``state`` is a :class:`TwinState`, or a wide readings frame of one asset (then ``asset``, the
    :class:`~forewarn.schema.Asset`, is needed and the state is estimated from the readings).
    """
    scenario = scenario or Scenario()
    scenario.validate()
    if runs < 1 or horizon_days <= 0:
        raise ConfigError(
            f"what-if needs runs >= 1 and horizon_days > 0 (got runs={runs}, horizon_days={horizon_days})"
        )
    if isinstance(state, pd.DataFrame):
        from forewarn.twin.calibrate import estimate_state

        if asset is None:
            raise ConfigError("what_if from readings needs the asset (forewarn.schema.Asset) they belong to")
        state = estimate_state(state, asset)
    rng = np.random.default_rng(seed)
    hours = int(round(horizon_days * 24))
    index = np.zeros(runs, dtype=int)
    params = state.params.take(index)
    jitter = lambda: np.exp(rng.normal(0.0, 0.25, runs))  # noqa: E731
    params = replace(
        params,
        spall_growth=params.spall_growth * jitter(),
        imb_rate=params.imb_rate * jitter(),
        mis_rate=params.mis_rate * jitter(),
        foul_rate=params.foul_rate * jitter(),
        seal_rate=params.seal_rate * jitter(),
        winding_r=params.winding_r / scenario.cooling,
    )
    slow = state.state.take(index)
    slow.damage = np.clip(slow.damage * rng.normal(1.0, 0.1, slow.damage.shape), 0.0, 0.999)
    applicable = np.repeat(state.applicable.reshape(1, -1), runs, axis=0)
    never = np.full(runs, np.inf)
    planned = (
        never.copy() if scenario.maintenance_in_days is None else np.full(runs, scenario.maintenance_in_days * 24.0)
    )
    policy = Policy(
        code=np.full(runs, POLICY_CODES["none"]),
        pm_interval_h=never.copy(),
        oil_interval_h=never.copy(),
        quality=np.full(runs, state.quality),
        next_pm_h=never.copy(),
        next_oil_h=never.copy(),
        planned_h=planned,
        planned_mask=np.zeros(runs, np.int64),
    )
    plan = run_plan(params, slow, _regime(state, scenario, runs, hours), policy, applicable, rng, stop_at_failure=True)
    assert plan.failed_at_h is not None
    ttf = plan.failed_at_h / 24.0
    modes: list[str | None] = [None] * runs
    for a, _minute, mode in plan.failures:
        modes[a] = MODES[mode]
    days = np.arange(0, int(np.ceil(hours / 24)) + 1)
    trajectories = {
        name: _daily_quantiles(series, ttf, hours, failed_value=0.0 if name == "health" else np.nan)
        for name, series in (
            ("health", plan.health),
            ("winding_temp", plan.winding_c),
            ("bearing_temp", plan.bearing_c),
            ("vib_rms", plan.vib_rms),
            ("oil_quality", plan.oil),
        )
    }
    return WhatIfResult(
        asset_id=state.asset_id,
        scenario=scenario,
        horizon_days=float(horizon_days),
        ttf_days=ttf,
        failure_modes=modes,
        days=days,
        trajectories=trajectories,
    )


def _daily_quantiles(series: np.ndarray, ttf_days: np.ndarray, hours: int, failed_value: float) -> np.ndarray:
    """p10/p50/p90 over runs of each day's value (day 0 = the start); after a run fails it counts as
    ``failed_value`` (0 for health, NaN, i.e. left out, for the signals of a stopped machine)."""
    points = np.arange(0, hours + 1, 24)
    values = series[:, np.minimum(points, hours - 1)].astype(float)
    values[ttf_days[:, None] * 24 <= points[None, :]] = failed_value
    out = np.full((points.size, 3), np.nan)
    for k in range(points.size):
        col = values[:, k]
        if np.isfinite(col).any():
            out[k] = np.nanpercentile(col, [10, 50, 90])
    return out
