"""An alarm that never clears is not a forecast: where failures come about as often as the horizon it catches
every failure in cases no failure leaves false, so the case figures carry the share of rows in alarm, and the
time-based baseline tries periods short enough to catch such failures too."""

from __future__ import annotations

import pandas as pd
import pytest

from forewarn.decide.thresholds import Costs
from forewarn.evaluate.cases import event_figures, time_based_cost


def _frequent_failures() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.date_range("2024-01-01", periods=30 * 24, freq="1h", tz="UTC")
    scored = pd.DataFrame({"asset_id": "m1", "ts": t, "p": 0.9})  # always in alarm
    failures = pd.DataFrame({"asset_id": "m1", "ts": t[30::36]})  # a failure every 36 h
    return scored, failures


def test_an_alarm_that_never_clears_says_so() -> None:
    scored, failures = _frequent_failures()
    always = event_figures(scored, failures, threshold=0.5, horizon_hours=24, min_lead_hours=12)
    assert always["caught"] == len(failures) and always["false_cases"] == 0  # the case figures look perfect
    assert always["alarm_share"] == 1.0  # and this says why they mean little
    half = scored.assign(p=[0.9 if k % 2 else 0.1 for k in range(len(scored))])
    assert event_figures(half, failures, threshold=0.5, horizon_hours=24, min_lead_hours=12)["alarm_share"] == 0.5
    assert (
        event_figures(scored.iloc[:0], failures.iloc[:0], threshold=0.5, horizon_hours=24, min_lead_hours=12)[
            "alarm_share"
        ]
        is None
    )


def test_the_time_based_baseline_inspects_as_often_as_failures_need() -> None:
    scored, failures = _frequent_failures()
    costs = Costs(missed_failure=10_000.0, inspection=100.0, false_alarm=0.0)
    best = time_based_cost(scored, failures, horizon_hours=24, min_lead_hours=12, costs=costs)
    assert best["time_based_period_hours"] == 12.0  # horizon - min_lead: every visit lands ahead of a failure
    visits = (len(scored) - 1) // 12 + 1  # over 719 h: at 0, 12, ..., 708 h
    assert best["cost_time_based"] == pytest.approx(visits * costs.inspection)  # nothing missed
    # the grid starts at a week otherwise: a weekly visit catches at most one failure in four here
    assert best["cost_time_based"] < (len(failures) * 3 / 4) * costs.missed_failure
