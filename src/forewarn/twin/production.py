"""Production data from the twin: counts, quality, stops with reasons and energy, per asset, shift and day.

A post-processing pass over a simulated fleet's hourly record (:class:`~forewarn.twin.degradation.Plan`,
the hourly regime and the asset parameters); it changes nothing in the simulation. Per asset and hour:

- planned busy time: the hours the schedule says the machine runs, less planned maintenance inside them
  (ISO 22400 puts planned downtime outside the planned busy time);
- failure stops: scheduled hours lost to a failure and its repair (the scheduled time that neither ran nor was
  planned work); planned work: the engine's planned visits and repairs;
- changeovers and starvation, which the degradation engine does not model, are drawn here from their own
  random stream (the seed and :data:`CHANGEOVER` / :data:`STARVATION`), the same for every maintenance policy;
  they cut production only (the machine is taken to keep turning, so wear and energy are unchanged);
- output: ``ideal_rate`` units per hour at full load; the rate run is ``ideal_rate x load x (1 - 0.2 (1 - health))``
  (a machine at part load or in poor health makes fewer units per hour);
- quality: the good share is ``0.995 - 0.2 (1 - health)^2`` (worn machines make more scrap);
- energy: the twin's input power (:func:`~forewarn.twin.machine.operate` at the hour's load, run fraction
  and condition) over the hour.

Hours are grouped into three 8-hour shifts (A 06-14, B 14-22, C 22-06 UTC, the C shift dated by its start).
:func:`production_data` returns production records in :mod:`forewarn.kpi.oee`'s layout and downtime events
(``asset_id, start, end, reason``).

>>> from forewarn.twin.fleet import build_fleet
>>> fleet = build_fleet(sites=1, assets=2, days=2, seed=4, interval="1h")
>>> data = production_data(fleet)
>>> sorted(data.records["shift"].unique()), bool((data.records["good"] <= data.records["produced"]).all())
(['A', 'B', 'C'], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.twin.assets import MODES
from forewarn.twin.machine import operate

__all__ = ["CHANGEOVER", "IDEAL_RATE", "STARVATION", "ProductionData", "fleet_production", "production_data"]

#: units per hour at full load, per asset class
IDEAL_RATE = {"pump": 120.0, "motor": 90.0, "compressor": 60.0, "fan": 150.0}
#: chance that a scheduled shift starts with a changeover, and its length in hours (uniform range)
CHANGEOVER = (0.15, 0.25, 0.75)
#: chance that a scheduled hour holds a starvation stop, and its length in hours (uniform range)
STARVATION = (0.03, 0.1, 0.5)
_SHIFTS = np.array(["A", "B", "C"])


@dataclass
class ProductionData:
    """Production records (one row per asset, day and shift) and downtime events."""

    records: pd.DataFrame
    events: pd.DataFrame


def _overlap(n: int, hours: int, intervals: list[tuple[int, int, int]]) -> np.ndarray:
    """Hours of each ``(asset, start_min, end_min)`` interval falling in each hour, as an ``(n, hours)`` array."""
    out = np.zeros((n, hours))
    for a, start, end in intervals:
        h0, h1 = max(start // 60, 0), min(-(-end // 60), hours)
        if h1 <= h0:
            continue
        edges = 60 * np.arange(h0, h1 + 1)
        out[a, h0:h1] += np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, 60) / 60.0
    return np.minimum(out, 1.0)


def production_data(
    fleet: Any = None,
    *,
    plan: Any = None,
    regime: Any = None,
    params: Any = None,
    assets: list[Any] | None = None,
    start: pd.Timestamp | None = None,
    seed: int | None = None,
) -> ProductionData:
    """Production records and downtime events of a fleet (or of a ``plan`` run over ``regime`` and ``params``)."""
    if fleet is not None:
        plan, regime, params = fleet.plan, fleet.regime, fleet.params
        assets, start, seed = fleet.assets, fleet.start, fleet.config.seed
    if plan is None or regime is None or params is None or assets is None or start is None:
        raise ValueError("production_data needs a fleet, or plan, regime, params, assets and start")
    n, hours = plan.run.shape
    rng = np.random.default_rng([int(seed or 0), 16])
    sched = regime.scheduled[:, :hours].astype(float)
    pm_iv = [(a, s, e) for a, s, e, kind in plan.downtime if kind == 2]
    fail_iv = [(a, s, e) for a, s, e, kind in plan.downtime if kind == 1]
    pm = np.minimum(_overlap(n, hours, pm_iv), sched)
    # the engine returns a repaired machine to service at the end of the day its work finishes: the idle rest of
    # that day belongs to the stop before it
    day_end = [(a, s, max(e, 1440 * -(-e // 1440))) for a, s, e in fail_iv]
    failing = _overlap(n, hours, day_end) > 0
    # an hour both run and booked for planned work (a job starting within the hour) counts the work first
    run = np.minimum(plan.run.astype(float), sched - pm)
    lost = np.clip(sched - pm - run, 0.0, None)
    down_failure = np.where(failing, lost, 0.0)
    pm = pm + (lost - down_failure)  # idle time around planned work
    # changeovers at shift starts (06, 14, 22 h) and starvation stops, from their own stream
    hod = (np.arange(hours) + start.hour) % 24
    shift_start = np.isin(hod, (6, 14, 22))[None, :]
    co_on = (rng.random((n, hours)) < CHANGEOVER[0]) & shift_start
    co = np.where(co_on, rng.uniform(CHANGEOVER[1], CHANGEOVER[2], (n, hours)), 0.0)
    sv_on = rng.random((n, hours)) < STARVATION[0]
    sv = np.where(sv_on, rng.uniform(STARVATION[1], STARVATION[2], (n, hours)), 0.0)
    co = np.minimum(co, run)
    sv = np.minimum(sv, run - co)
    run_prod = run - co - sv
    health = np.clip(plan.health.astype(float), 0.0, 1.0)
    classes = [a.asset_class for a in assets]
    ideal = np.array([IDEAL_RATE.get(c, 100.0) for c in classes])
    load = np.clip(regime.load[:, :hours].astype(float), 0.0, 1.0)
    made = ideal[:, None] * run_prod * load * (1.0 - 0.2 * (1.0 - health))
    good_share = np.clip(0.995 - 0.2 * (1.0 - health) ** 2, 0.0, 1.0)
    pc = params.columns(float)
    op = operate(
        pc,
        regime.load[:, :hours],
        plan.run,
        [plan.damage[:, m] for m in range(len(MODES))],
        plan.oil,
        plan.wear,
        regime.ambient[:, :hours],
    )
    energy = np.asarray(op.input_kw, dtype=float)
    # shifts: periods of 8 h from 06:00 of the first day (hours before it belong to the previous C shift)
    period = (np.arange(hours) + start.hour - 6) // 8
    codes, first = np.unique(period, return_inverse=True)
    k = codes.size

    def per_shift(x: np.ndarray) -> np.ndarray:
        out = np.zeros((n, k))
        for a in range(n):
            out[a] = np.bincount(first, weights=x[a], minlength=k)
        return out

    day0 = start.normalize()
    shift_start_ts = day0 + pd.to_timedelta(codes * 8 + 6, unit="h")
    produced = np.floor(per_shift(made) + 1e-9)
    good = np.minimum(produced, np.round(per_shift(made * good_share)))
    frame = pd.DataFrame(
        {
            "asset_id": np.repeat([a.asset_id for a in assets], k),
            "line_id": np.repeat([a.line_id for a in assets], k),
            "site_id": np.repeat([a.site_id for a in assets], k),
            "day": np.tile(shift_start_ts.strftime("%Y-%m-%d"), n),
            "shift": np.tile(_SHIFTS[codes % 3], n),
            "planned_busy_h": (per_shift(sched) - per_shift(pm)).ravel(),
            "planned_downtime_h": per_shift(pm).ravel(),
            "down_failure_h": per_shift(down_failure).ravel(),
            "down_changeover_h": per_shift(co).ravel(),
            "down_starvation_h": per_shift(sv).ravel(),
            "produced": produced.ravel(),
            "good": good.ravel(),
            "ideal_rate": np.repeat(ideal, k),
            "energy_kwh": per_shift(energy).ravel(),
        }
    )
    frame["planned_busy_h"] = frame["planned_busy_h"].clip(lower=0.0)
    return ProductionData(frame, _events(assets, start, plan.downtime, co, sv, hours))


def _events(
    assets: list[Any],
    start: pd.Timestamp,
    downtime: list[tuple[int, int, int, int]],
    co: np.ndarray,
    sv: np.ndarray,
    hours: int,
) -> pd.DataFrame:
    ids = np.array([a.asset_id for a in assets])
    end_min = 60 * hours
    rows_a, rows_s, rows_e, rows_r = [], [], [], []
    for a, s, e, kind in downtime:
        rows_a.append(ids[a])
        rows_s.append(s)
        rows_e.append(min(e, end_min))
        rows_r.append("failure" if kind == 1 else "planned_maintenance")
    for reason, x in (("changeover", co), ("starvation", sv)):
        a_idx, h_idx = np.nonzero(x > 0)
        rows_a += list(ids[a_idx])
        rows_s += list(60 * h_idx)
        rows_e += list(60 * h_idx + np.round(x[a_idx, h_idx] * 60).astype(int))
        rows_r += [reason] * a_idx.size
    base = start.tz_localize("UTC") if start.tzinfo is None else start
    ev = pd.DataFrame(
        {
            "asset_id": rows_a,
            "start": base + pd.to_timedelta(np.asarray(rows_s, dtype=np.int64), unit="min"),
            "end": base + pd.to_timedelta(np.asarray(rows_e, dtype=np.int64), unit="min"),
            "reason": rows_r,
        }
    )
    return ev.sort_values(["asset_id", "start"], kind="stable").reset_index(drop=True)


def fleet_production(fleet: Any) -> ProductionData:
    """:func:`production_data` of a :class:`~forewarn.twin.fleet.Fleet`."""
    return production_data(fleet)
