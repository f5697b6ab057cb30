"""MTBF, MTTR, the downtime Pareto and the ranked improvement opportunities.

Downtime events are rows ``asset_id, start, end, reason`` (timestamps, ``reason`` one of
:data:`~forewarn.kpi.oee.DOWN_REASONS` or ``planned_maintenance``).

- MTTR (ISO 22400-2 "mean time to repair") = the summed duration of ``failure`` stops / their number.
- MTBF (ISO 22400-2 "mean operating time between failures") = the operating time (APT of the production
  records) / the number of failures; with no failure it is undefined (NaN), not infinite.

>>> import pandas as pd
>>> ev = pd.DataFrame({"asset_id": ["P1", "P1", "P1"], "reason": ["failure", "failure", "changeover"],
...                    "start": pd.to_datetime(["2024-01-01 02:00", "2024-01-03 00:00", "2024-01-04 00:00"]),
...                    "end": pd.to_datetime(["2024-01-01 05:00", "2024-01-03 01:00", "2024-01-04 00:30"])})
>>> downtime_pareto(ev)[["reason", "hours", "cumulative_share"]].to_dict("records")
[{'reason': 'failure', 'hours': 4.0, 'cumulative_share': 0.888...}, {'reason': 'changeover', 'hours': 0.5, 'cumulative_share': 1.0}]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError
from forewarn.kpi.oee import LOSSES, oee, six_big_losses

__all__ = ["downtime_hours", "downtime_pareto", "mtbf_mttr", "opportunities", "validate_events"]


def validate_events(events: pd.DataFrame, source: str = "downtime events") -> pd.DataFrame:
    """Check downtime events (columns ``asset_id, start, end, reason``); returns a copy with UTC timestamps."""
    missing = [c for c in ("asset_id", "start", "end", "reason") if c not in events.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}", source=source, hint="expected asset_id, start, end, reason"
        )
    out = events.copy()
    for column in ("start", "end"):
        parsed = pd.to_datetime(out[column], errors="coerce", utc=True, format="ISO8601")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            raise SchemaError(
                f"{out[column].iloc[int(bad[0])]!r} is not a timestamp",
                source=source,
                line=int(bad[0]) + 2,
                column=column,
            )
        out[column] = parsed
    bad = np.flatnonzero((out["end"] < out["start"]).to_numpy())
    if bad.size:
        raise SchemaError("the stop ends before it starts", source=source, line=int(bad[0]) + 2, column="end")
    return out


def downtime_hours(events: pd.DataFrame) -> pd.Series:
    """The duration of each event in hours."""
    return (events["end"] - events["start"]).dt.total_seconds() / 3600.0


def downtime_pareto(events: pd.DataFrame, by: Sequence[str] = ("reason",)) -> pd.DataFrame:
    """Downtime hours and stop counts per ``by`` group, largest first, with each share and the cumulative share."""
    ev = validate_events(events)
    ev["hours"] = downtime_hours(ev)
    if ev.empty:
        return pd.DataFrame(columns=[*by, "hours", "stops", "share", "cumulative_share"])
    g = ev.groupby(list(by), observed=True).agg(hours=("hours", "sum"), stops=("hours", "size")).reset_index()
    g = g.sort_values(["hours", *by], ascending=[False, *([True] * len(by))], kind="stable").reset_index(drop=True)
    total = float(g["hours"].sum())
    g["share"] = g["hours"] / total if total > 0 else 0.0
    g["cumulative_share"] = g["share"].cumsum()
    return g


def mtbf_mttr(records: pd.DataFrame, events: pd.DataFrame, by: Sequence[str] = ("asset_id",)) -> pd.DataFrame:
    """Failures, MTBF and MTTR (hours) per group; operating time comes from the records (APT), stops from events.

    Events are tied to a group through their ``asset_id`` and the records' asset -> group columns.
    """
    per = oee(records, by=list(by))[[*by, "run_h"]]
    ev = validate_events(events)
    ev = ev[ev["reason"] == "failure"].copy()
    ev["hours"] = downtime_hours(ev)
    keys = [k for k in by if k != "asset_id"]
    if keys and any(k not in ev.columns for k in keys):
        mapping = records[["asset_id", *keys]].drop_duplicates("asset_id")
        ev = ev.drop(columns=[k for k in keys if k in ev.columns]).merge(mapping, on="asset_id", how="left")
    stats = ev.groupby(list(by), observed=True).agg(failures=("hours", "size"), repair_h=("hours", "sum")).reset_index()
    out = per.merge(stats, on=list(by), how="left")
    out["failures"] = out["failures"].fillna(0).astype(int)
    out["repair_h"] = out["repair_h"].fillna(0.0)
    has = out["failures"] > 0
    out["mtbf_h"] = np.where(has, out["run_h"] / out["failures"].where(has, 1), np.nan)
    out["mttr_h"] = np.where(has, out["repair_h"] / out["failures"].where(has, 1), np.nan)
    return out


def opportunities(records: pd.DataFrame, by: str = "line_id", top: int | None = None) -> pd.DataFrame:
    """The losses of each group ranked by what halving them would give, largest first.

    Per group and loss: ``loss_h``, ``gain_h`` (half of it), ``oee_gain_points`` (100 x gain / PBT: the OEE
    points won if the loss were halved), ``extra_good_units`` (the gain at the group's good-unit rate per ideal
    hour: good / (PRI x GQ)) and the OEE ``factor`` the loss lowers. ``top`` keeps the first ``top`` rows per group.

    >>> r = pd.DataFrame({"asset_id": ["P1"], "line_id": ["L1"], "planned_busy_h": [8.0], "down_failure_h": [1.0],
    ...                   "produced": [480], "good": [456], "ideal_rate": [100.0]})
    >>> opportunities(r, top=1)[["line_id", "loss", "loss_h", "oee_gain_points", "extra_good_units"]].round(4).to_dict("records")
    [{'line_id': 'L1', 'loss': 'reduced_speed', 'loss_h': 2.2, 'oee_gain_points': 13.75, 'extra_good_units': 110.0}]
    """
    losses = six_big_losses(records, by=[by])
    rows = []
    for _, g in losses.iterrows():
        rate = float(g["good_ideal_h"])
        good_per_h = float(
            records.loc[records[by] == g[by], "good"].sum() / rate if rate > 0 else 0.0  # = the ideal rate
        )
        for loss, factor in LOSSES.items():
            loss_h = float(g[loss])
            if loss_h <= 1e-12:
                continue
            pbt = float(g["planned_busy_h"])
            rows.append(
                {
                    by: g[by],
                    "loss": loss,
                    "factor": factor,
                    "loss_h": loss_h,
                    "gain_h": loss_h / 2.0,
                    "oee_gain_points": 100.0 * loss_h / 2.0 / pbt if pbt > 0 else 0.0,
                    "extra_good_units": loss_h / 2.0 * good_per_h,
                }
            )
    out = pd.DataFrame(rows, columns=[by, "loss", "factor", "loss_h", "gain_h", "oee_gain_points", "extra_good_units"])
    out = out.sort_values([by, "loss_h"], ascending=[True, False], kind="stable")
    if top is not None:
        out = out.groupby(by, sort=False).head(top)
    return out.sort_values("oee_gain_points", ascending=False, kind="stable").reset_index(drop=True)
