"""Case-level maintenance figures (what a backtest reports): cases opened by alarms, failures caught ahead, lead
time, false cases per asset-year, cost; and the threshold whose cases cost least (:func:`cost_optimal_threshold`).

:mod:`forewarn.evaluate.events` counts alerts one by one (an alert near a failure but inside ``min_lead`` is false
there); here consecutive alarms are *cases*, as a planner opens them, and a case that a failure follows within the
horizon is never false, whatever its lead.

Alarm rows (probability at or above the threshold) of one asset form *cases*: a case opens at an alarm and takes
in the asset's later alarms until ``horizon`` passes without one, or a failure or renewal closes it. A failure is
*caught* when an alarm came between ``horizon`` and ``min_lead`` before it (the earliest such alarm gives the lead
time); a case that no failure follows within ``horizon`` of its last alarm is *false*. Costs: a missed failure,
a false case (on top of its inspection), an inspection per case; the run-to-failure baseline misses every failure,
the time-based one inspects every asset every ``period`` (the best period of a grid, for a fair baseline) and
catches the failures that a visit lands ahead of.

>>> import pandas as pd
>>> t = pd.date_range("2024-01-01", periods=6, freq="12h", tz="UTC")
>>> scored = pd.DataFrame({"asset_id": "a", "ts": t, "p": [0.1, 0.9, 0.9, 0.1, 0.1, 0.1]})
>>> failures = pd.DataFrame({"asset_id": ["a"], "ts": [t[4]]})
>>> figures = event_figures(scored, failures, threshold=0.5, horizon_hours=48, min_lead_hours=24)
>>> figures["caught"], figures["lead_time_hours_median"], figures["false_cases"]
(1, 36.0, 0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn.decide.quiet import went_quiet
from forewarn.decide.thresholds import Costs

HOUR = pd.Timedelta(hours=1)
YEAR_HOURS = 365.25 * 24


def cases(alarms: pd.DataFrame, horizon_hours: float, closers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Alarm rows (``asset_id, ts``) folded into cases: ``asset_id, opened, last``. The gap rule is the case
    book's (:func:`~forewarn.decide.quiet.went_quiet`: an alarm exactly ``horizon`` after the last one still joins
    the case); a failure or renewal (``closers``) between two alarms ends it too.

    >>> t = pd.Timestamp("2024-01-01", tz="UTC")
    >>> alarms = pd.DataFrame({"asset_id": "a", "ts": [t, t + pd.Timedelta("48h"), t + pd.Timedelta("97h")]})
    >>> cases(alarms, 48)[["opened", "last"]].astype(str).values.tolist()
    [['2024-01-01 00:00:00+00:00', '2024-01-03 00:00:00+00:00'], ['2024-01-05 01:00:00+00:00', '2024-01-05 01:00:00+00:00']]
    """
    out = []
    closing = (
        {}
        if closers is None or closers.empty
        else {a: np.sort(g["ts"].to_numpy()) for a, g in closers.groupby("asset_id")}
    )
    gap = pd.Timedelta(hours=horizon_hours).to_timedelta64()
    for asset, rows in alarms.sort_values("ts").groupby("asset_id", sort=False):
        times = rows["ts"].to_numpy()
        closes = closing.get(asset, np.array([], dtype=times.dtype))
        start = prev = times[0]
        for t in times[1:]:
            closed = ((closes > prev) & (closes <= t)).any()
            if went_quiet(prev, t, gap) or closed:
                out.append((asset, start, prev))
                start = t
            prev = t
        out.append((asset, start, prev))
    return pd.DataFrame(out, columns=["asset_id", "opened", "last"])


def event_figures(
    scored: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    threshold: float | np.ndarray,
    horizon_hours: float,
    min_lead_hours: float,
    costs: Costs | None = None,
    renewals: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Caught failures, lead times, false cases per asset-year and cost of the alarms ``p >= threshold`` among
    ``scored`` rows (``asset_id, ts, p``); ``failures`` (``asset_id, ts``) are those inside the scored spans.

    ``alarm_share`` is the share of scored rows in alarm: where failures come about as often as the horizon, an
    alarm that never clears catches them all in cases no failure leaves false, so the case figures need it beside
    them (an alarm on 99 % of the rows is not a forecast)."""
    costs = costs or Costs()
    alarm = scored["p"].to_numpy(dtype="float64") >= np.asarray(threshold, dtype="float64")
    alarms = scored.loc[alarm, ["asset_id", "ts"]]
    closers = (
        pd.concat([failures[["asset_id", "ts"]], renewals[["asset_id", "ts"]]])
        if renewals is not None
        else failures[["asset_id", "ts"]]
    )
    opened = (
        cases(alarms, horizon_hours, closers) if len(alarms) else pd.DataFrame(columns=["asset_id", "opened", "last"])
    )
    by_asset = {a: np.sort(g["ts"].to_numpy()) for a, g in alarms.groupby("asset_id")}
    leads = []
    for failure in failures.itertuples():
        times = by_asset.get(failure.asset_id)
        if times is None:
            continue
        before = (failure.ts - pd.to_datetime(times, utc=True)) / HOUR
        inside = (before >= min_lead_hours) & (before <= horizon_hours)
        if inside.any():
            leads.append(float(np.max(before[inside])))
    fails = {a: np.sort(g["ts"].to_numpy()) for a, g in failures.groupby("asset_id")}
    false_cases = 0
    for case in opened.itertuples():
        times = fails.get(case.asset_id)
        follows = times is not None and (
            ((times >= case.opened) & (times <= case.last + pd.Timedelta(hours=horizon_hours))).any()
        )
        false_cases += int(not follows)
    spans = scored.groupby("asset_id")["ts"].agg(["min", "max"])
    asset_years = float(((spans["max"] - spans["min"]) / HOUR).sum() / YEAR_HOURS)
    n_failures, caught = len(failures), len(leads)
    cost = (
        (n_failures - caught) * costs.missed_failure + false_cases * costs.false_alarm + len(opened) * costs.inspection
    )
    return {
        "failures": n_failures,
        "caught": caught,
        "caught_share": caught / n_failures if n_failures else None,
        "lead_time_hours_median": float(np.median(leads)) if leads else None,
        "cases": len(opened),
        "false_cases": false_cases,
        "asset_years": asset_years,
        "false_cases_per_asset_year": false_cases / asset_years if asset_years > 0 else None,
        "cost": float(cost),
        "cost_run_to_failure": float(n_failures * costs.missed_failure),
        "alarm_share": float(alarm.mean()) if len(alarm) else None,
    }


def time_based_cost(
    scored: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    horizon_hours: float,
    min_lead_hours: float,
    costs: Costs | None = None,
    periods_hours: tuple[float, ...] = (168, 336, 720, 1440, 2160, 4320),
) -> dict[str, float]:
    """The best time-based policy of a grid: inspect each asset every ``period``; a visit between ``horizon`` and
    ``min_lead`` before a failure catches it. Returns the cost and the period.

    The grid also holds ``horizon - min_lead`` (the longest period whose visits catch every failure) and its
    doubles below the grid's shortest period: where failures come every day or two, inspecting daily is the fair
    baseline, not weekly.

    >>> t = pd.date_range("2024-01-01", periods=20 * 24, freq="1h", tz="UTC")
    >>> scored = pd.DataFrame({"asset_id": "a", "ts": t})
    >>> failures = pd.DataFrame({"asset_id": "a", "ts": t[30::36]})  # a failure every 36 h
    >>> time_based_cost(scored, failures, horizon_hours=24, min_lead_hours=12)["time_based_period_hours"]
    12.0
    """
    costs = costs or Costs()
    spans = scored.groupby("asset_id")["ts"].agg(["min", "max"])
    best = {"cost_time_based": float("inf"), "time_based_period_hours": float("nan")}
    shortest = horizon_hours - min_lead_hours
    shorter = []
    while 0 < shortest < min(periods_hours):
        shorter.append(float(shortest))
        shortest *= 2
    for period in (*shorter, *periods_hours):
        visits = missed = 0
        for asset, span in spans.iterrows():
            length = (span["max"] - span["min"]) / HOUR
            visits += int(length // period) + 1
            for failure in failures.loc[failures["asset_id"] == asset, "ts"]:
                since = (failure - span["min"]) / HOUR
                last_visit = np.floor((since - min_lead_hours) / period) * period
                missed += int(not (since - last_visit <= horizon_hours and last_visit >= 0))
        cost = missed * costs.missed_failure + visits * costs.inspection
        if cost < best["cost_time_based"]:
            best = {"cost_time_based": float(cost), "time_based_period_hours": float(period)}
    return best


def threshold_grid(p: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """Candidate thresholds: the scores at the top 0.01 % ... 100 % of ``p`` (log-spaced, failures are rare)."""
    grid = np.quantile(p, 1.0 - np.logspace(-4, 0, 30))
    return np.unique(grid if extra is None else np.concatenate([grid, np.asarray(extra, dtype="float64")]))


def cost_optimal_threshold(
    scored: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    horizon_hours: float,
    min_lead_hours: float,
    costs: Costs | None = None,
    renewals: pd.DataFrame | None = None,
) -> tuple[float, dict[str, Any]]:
    """The threshold of :func:`threshold_grid` whose cases cost least on ``scored`` rows (ties: the higher
    threshold, fewer visits), with its figures."""
    best: tuple[float, dict[str, Any]] | None = None
    for threshold in threshold_grid(scored["p"].to_numpy(dtype="float64"))[::-1]:
        figures = event_figures(
            scored,
            failures,
            threshold=float(threshold),
            horizon_hours=horizon_hours,
            min_lead_hours=min_lead_hours,
            costs=costs,
            renewals=renewals,
        )
        if best is None or figures["cost"] < best[1]["cost"]:
            best = (float(threshold), figures)
    assert best is not None
    return best


def failures_in(scored: pd.DataFrame, events: pd.DataFrame, *, slack_hours: float = 0.0) -> pd.DataFrame:
    """The failures (``asset_id, ts``) of the scored assets that fall inside their scored spans (up to
    ``slack_hours`` after an asset's last scored row: its bucket's width)."""
    spans = scored.groupby("asset_id")["ts"].agg(["min", "max"])
    failures = (
        events[events["kind"] == "failure"][["asset_id", "ts"]]
        if len(events)
        else pd.DataFrame(columns=["asset_id", "ts"])
    )
    failures = failures[failures["asset_id"].isin(spans.index)]
    inside = (failures["ts"] > failures["asset_id"].map(spans["min"])) & (
        failures["ts"] <= failures["asset_id"].map(spans["max"]) + pd.Timedelta(hours=slack_hours)
    )
    return failures[inside].reset_index(drop=True)
