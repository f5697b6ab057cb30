"""Data quality of an asset over the monitored window: missing channels, stuck sensors, sampling changes.

* *missing*: a channel the reference has (half its rows or more present) that the window's last day lacks
  (fewer than a quarter of its running rows present);
* *stuck*: a channel whose value does not change over ``stuck_rows`` consecutive running rows (at the model's
  interval; averages of a live sensor are never exactly equal) while it moved in the reference;
* *sampling*: raw readings per channel per hour in the window against the reference span's rate (a change by
  a factor of 2 or more: a logger reconfigured, a gateway dropping messages).

>>> stuck_runs(np.array([1.0, 2.0, 2.0, 2.0, 2.0, 3.0]), 4)
True
>>> stuck_runs(np.array([1.0, 2.0, 2.0, 2.0, 3.0]), 4)
False
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn.monitor.drift import Reference, running_at
from forewarn.store import Store

#: consecutive identical values (at the model's interval) that make a sensor stuck
STUCK_ROWS = 6


def stuck_runs(values: np.ndarray, rows: int) -> bool:
    """Whether ``values`` hold ``rows`` or more consecutive equal finite values."""
    values = values[np.isfinite(values)]
    if len(values) < rows:
        return False
    change = np.flatnonzero(np.r_[True, values[1:] != values[:-1], True])  # where each run of equal values starts
    return bool(np.diff(change).max() >= rows)


def raw_rates(db: Store, asset_ids: list[str], start: Any, end: Any) -> dict[str, float]:
    """Raw readings per channel per hour of each asset in ``[start, end)`` (one query; assets without readings
    are left out)."""
    rows = db.sql(
        "SELECT c.asset_id, count(*) AS n, count(DISTINCT r.series_id) AS k, min(r.ts) AS t0, max(r.ts) AS t1 "
        "FROM reading_values r JOIN channels c ON c.series_id = r.series_id "
        "WHERE c.asset_id IN (SELECT unnest(?)) AND r.ts >= ? AND r.ts < ? GROUP BY c.asset_id",
        [list(asset_ids), pd.Timestamp(start), pd.Timestamp(end)],
    )
    out = {}
    for row in rows.itertuples():
        hours = max((pd.Timestamp(row.t1) - pd.Timestamp(row.t0)) / pd.Timedelta(hours=1), 1.0)
        out[str(row.asset_id)] = float(row.n) / float(row.k) / hours
    return out


def raw_rate(db: Store, asset_id: str, start: Any, end: Any) -> float:
    """Raw readings per channel per hour of ``asset_id`` in ``[start, end)`` (NaN without readings)."""
    return raw_rates(db, [asset_id], start, end).get(asset_id, float("nan"))


def check(asset_id: str, window: pd.DataFrame, reference: Reference, rate: float) -> dict[str, Any]:
    """The quality findings of one asset over the window (see the module docstring); ``rate`` is its raw readings
    per channel per hour in the window (:func:`raw_rates`)."""
    out: dict[str, Any] = {"asset_id": asset_id, "missing": [], "stuck": [], "sampling": None, "rows": len(window)}
    if window.empty:
        out["missing"] = list(reference.channels)
        out["problems"] = ["no readings in the window"]
        return out
    live = window[running_at(window, reference.run_level)]
    last_day = live[live["ts"] >= live["ts"].max().floor("1D")] if len(live) else live
    for channel in reference.channels:
        values = live[channel].to_numpy(dtype="float64") if channel in live else np.zeros(0)
        if len(last_day) and (channel not in last_day or last_day[channel].notna().mean() < 0.25):
            out["missing"].append(channel)
        elif stuck_runs(values, STUCK_ROWS):
            out["stuck"].append(channel)
    if np.isfinite(rate) and np.isfinite(reference.raw_rate) and reference.raw_rate > 0:
        ratio = rate / reference.raw_rate
        out["sampling"] = {"readings_per_hour": round(rate, 3), "reference": round(reference.raw_rate, 3)}
        if ratio >= 2 or ratio <= 0.5:
            out["sampling"]["changed"] = True
    problems = [f"missing {c}" for c in out["missing"]] + [f"stuck {c}" for c in out["stuck"]]
    if out["sampling"] and out["sampling"].get("changed"):
        problems.append(
            f"sampling changed: {out['sampling']['readings_per_hour']} readings per channel-hour "
            f"(reference {out['sampling']['reference']})"
        )
    out["problems"] = problems
    return out
