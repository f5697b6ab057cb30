"""Event-level maintenance figures: failures caught, forewarning (lead) time, false alarms, cost.

Row-level F1 says little to a planner; what matters is whether each failure got a warning early enough,
and how many warnings sent someone out for nothing. Given alerts and failures per asset:

* an alert *warns of* a failure of the same asset when it falls in ``[failure - horizon, failure - min_lead]``;
* a failure is *caught* when at least one alert warns of it; its *lead time* is ``failure - first such alert``;
* an alert that warns of no failure is a *false alarm*; false alarms are divided by the observed
  asset-months (``observed`` spans per asset; by default each asset's first to last alert or failure);
* alerts of one asset closer than ``cooldown`` to the previous *counted* alert are folded into it
  (one open case, one visit); each counted alert costs one inspection;
* cost at unit costs :class:`Costs`: ``missed * missed_failure + false_alarms * false_alarm +
  counted_alerts * inspection``.

Times are timestamps (then ``horizon``, ``min_lead``, ``cooldown`` are ``pd.Timedelta`` and a month is
30.4375 days) or plain numbers such as cycles or hours (then all durations are numbers and ``month`` must
be given in the same unit).

>>> alerts = pd.DataFrame({"asset_id": ["p1", "p1", "p2"],
...                        "ts": ["2024-01-05", "2024-03-01", "2024-02-01"]})
>>> failures = pd.DataFrame({"asset_id": ["p1", "p2"], "ts": ["2024-01-10", "2024-06-01"]})
>>> m = event_metrics(alerts, failures, horizon=pd.Timedelta(days=14), costs=Costs(1000, 50, 10))
>>> m.caught, m.missed, m.false_alarms, [str(t) for t in m.lead_times]
(1, 1, 2, ['5 days 00:00:00'])
>>> m.cost
1130.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError
from forewarn.schema import to_utc

MONTH = pd.Timedelta(days=365.25 / 12)


@dataclass(frozen=True)
class Costs:
    """Unit costs: a missed failure, a false alarm (on top of its inspection), an inspection per counted alert."""

    missed_failure: float
    false_alarm: float
    inspection: float = 0.0


@dataclass(frozen=True)
class EventMetrics:
    """What a maintenance team would count after a period of alerts."""

    failures: int
    caught: int
    alerts: int
    false_alarms: int
    asset_months: float
    lead_times: list[Any] = field(default_factory=list)
    cost: float | None = None

    @property
    def missed(self) -> int:
        return self.failures - self.caught

    @property
    def catch_rate(self) -> float:
        """Share of failures caught (1.0 when there was no failure)."""
        return self.caught / self.failures if self.failures else 1.0

    @property
    def false_alarms_per_asset_month(self) -> float:
        return self.false_alarms / self.asset_months if self.asset_months > 0 else float(self.false_alarms > 0) * np.inf

    def lead_time_summary(self) -> dict[str, Any]:
        """Mean, median and minimum lead time of the caught failures (``None`` when none was caught)."""
        if not self.lead_times:
            return {"mean": None, "median": None, "min": None}
        values = pd.Series(self.lead_times)
        return {"mean": values.mean(), "median": values.median(), "min": values.min()}

    def as_dict(self) -> dict[str, float | None]:
        """Plain numbers (lead times in the unit of the inputs: hours for timestamps)."""
        summary = self.lead_time_summary()
        to_num = (
            (lambda v: None if v is None else v / pd.Timedelta(hours=1))
            if self.lead_times and isinstance(self.lead_times[0], pd.Timedelta)
            else (lambda v: v if v is None else float(v))
        )
        return {
            "failures": float(self.failures),
            "caught": float(self.caught),
            "missed": float(self.missed),
            "catch_rate": self.catch_rate,
            "alerts": float(self.alerts),
            "false_alarms": float(self.false_alarms),
            "false_alarms_per_asset_month": self.false_alarms_per_asset_month,
            "lead_time_mean": to_num(summary["mean"]),
            "lead_time_median": to_num(summary["median"]),
            "cost": self.cost,
        }


def _times(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, bool]:
    """Rows sorted by asset and time, with ``t`` as float: nanoseconds since the epoch for timestamps."""
    missing = [c for c in ("asset_id", "ts") if c not in frame.columns]
    if missing:
        raise SchemaError(f"{name} lacks column(s) {missing}", source=name, hint="give columns asset_id and ts")
    out = pd.DataFrame({"asset_id": frame["asset_id"].astype(str).to_numpy()})
    ts = frame["ts"]
    numeric = pd.api.types.is_numeric_dtype(ts.dtype) and not pd.api.types.is_bool_dtype(ts.dtype)
    if numeric:
        out["t"] = ts.to_numpy(dtype="float64")
    else:
        parsed = to_utc(ts.reset_index(drop=True), source=name)
        out["t"] = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype("int64").astype("float64")
    return out.sort_values(["asset_id", "t"], kind="stable").reset_index(drop=True), numeric


def _duration(value: Any, numeric: bool, name: str) -> float:
    """A duration on the internal axis: as given for numbers, nanoseconds for timestamps."""
    if numeric:
        if isinstance(value, pd.Timedelta):
            raise SchemaError(
                f"{name} is a Timedelta but the times are numbers",
                column=name,
                hint="give durations in the unit of the times",
            )
        return float(value)
    if not isinstance(value, pd.Timedelta):
        raise SchemaError(f"{name} must be a pandas Timedelta for timestamp data, got {value!r}", column=name)
    return float(value.value)


def _fold(times: np.ndarray, cooldown: float | None) -> np.ndarray:
    """Alerts left after folding those within ``cooldown`` of the previous counted one."""
    if cooldown is None or len(times) == 0:
        return times
    kept = [times[0]]
    for t in times[1:]:
        if t - kept[-1] >= cooldown:
            kept.append(t)
    return np.asarray(kept)


def event_metrics(
    alerts: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    horizon: Any,
    min_lead: Any = None,
    cooldown: Any = None,
    observed: Mapping[str, tuple[Any, Any]] | None = None,
    month: Any = None,
    costs: Costs | None = None,
) -> EventMetrics:
    """Count caught failures, lead times, false alarms per asset-month and cost (see the module text)."""
    alert_rows, alerts_numeric = _times(alerts, "alerts")
    failure_rows, failures_numeric = _times(failures, "failures")
    kinds = {kind for kind, rows in ((alerts_numeric, alert_rows), (failures_numeric, failure_rows)) if len(rows)}
    if len(kinds) > 1:
        raise SchemaError(
            "alerts and failures mix timestamps and numbers",
            column="ts",
            hint="give both as timestamps or both as numbers in the same unit",
        )
    numeric = kinds == {True}
    if numeric and month is None:
        raise SchemaError("numeric times need month= in the same unit (e.g. 720 for hours)", column="month")
    span_unit = _duration(MONTH if month is None else month, numeric, "month")
    reach = _duration(horizon, numeric, "horizon")
    lead_floor = 0.0 if min_lead is None else _duration(min_lead, numeric, "min_lead")
    fold = None if cooldown is None else _duration(cooldown, numeric, "cooldown")
    spans = {asset: _duration(_span(asset, window), numeric, "observed") for asset, window in (observed or {}).items()}
    assets = sorted(set(alert_rows["asset_id"]) | set(failure_rows["asset_id"]) | set(spans))
    caught = counted_alerts = false_alarms = 0
    leads: list[float] = []
    watched = 0.0
    for asset in assets:
        raw = alert_rows.loc[alert_rows["asset_id"] == asset, "t"].to_numpy()
        fails = failure_rows.loc[failure_rows["asset_id"] == asset, "t"].to_numpy()
        kept = _fold(raw, fold)
        counted_alerts += len(kept)
        warns = np.zeros(len(kept), dtype=bool)
        for failure in fails:
            low, high = failure - reach, failure - lead_floor
            inside = (raw >= low) & (raw <= high)
            if inside.any():
                caught += 1
                leads.append(float(failure - raw[inside][0]))
            warns |= (kept >= low) & (kept <= high)
        false_alarms += int((~warns).sum())
        times = np.concatenate([raw, fails])
        watched += spans.get(asset, float(times.max() - times.min()) if times.size else 0.0)
    lead_times: list[Any] = leads if numeric else [pd.Timedelta(int(round(v)), unit="ns") for v in leads]
    cost = None
    if costs is not None:
        cost = float(
            (len(failure_rows) - caught) * costs.missed_failure
            + false_alarms * costs.false_alarm
            + counted_alerts * costs.inspection
        )
    return EventMetrics(
        failures=len(failure_rows),
        caught=caught,
        alerts=counted_alerts,
        false_alarms=false_alarms,
        asset_months=watched / span_unit,
        lead_times=lead_times,
        cost=cost,
    )


def _span(asset: str, window: tuple[Any, Any]) -> Any:
    """The length of an ``observed`` (start, end) span: a Timedelta for timestamps, a number otherwise."""
    start, end = window
    if isinstance(start, (str, pd.Timestamp)):
        start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end < start:
        raise SchemaError(f"observed span of {asset!r} ends before it starts", column="observed")
    return end - start
