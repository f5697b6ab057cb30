"""Thresholds from held-out cases: the one whose cases cost least, per class when a class has enough failures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.evaluate.cases import cost_optimal_threshold, event_figures
from forewarn.train.holdout import choose_thresholds


def _fleet(n_assets: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hourly rows of assets that each fail once; the probability climbs over the 5 days before the failure, with
    noise that makes a low threshold raise false cases."""
    rng = np.random.default_rng(seed)
    rows, failures = [], []
    for i in range(n_assets):
        ts = pd.date_range("2024-01-01", periods=24 * 60, freq="1h", tz="UTC")
        fail = ts[int(rng.integers(24 * 20, 24 * 59))]
        hours_left = (fail - ts) / pd.Timedelta(hours=1)
        p = np.where((hours_left > 0) & (hours_left < 120), 0.6 - hours_left / 400, 0.02) + rng.uniform(
            0, 0.25, len(ts)
        )
        keep = ts < fail
        rows.append(pd.DataFrame({"asset_id": f"a{i}", "ts": ts[keep], "p": p[keep], "asset_class": "pump"}))
        failures.append((f"a{i}", fail))
    return pd.concat(rows, ignore_index=True), pd.DataFrame(failures, columns=["asset_id", "ts"])


def test_the_cost_optimal_threshold_catches_failures_without_false_cases() -> None:
    cases, failures = _fleet(12, seed=0)
    threshold, figures = cost_optimal_threshold(cases, failures, horizon_hours=168, min_lead_hours=24)
    assert figures["caught"] >= 10 and figures["false_cases"] <= 1 and threshold > 0.25  # above the noise
    too_high = event_figures(cases, failures, threshold=0.8, horizon_hours=168, min_lead_hours=24)
    assert too_high["cost"] > figures["cost"]  # a high threshold misses failures


def test_thresholds_come_from_cases_only_with_enough_failures() -> None:
    cases, failures = _fleet(12, seed=1)
    outcome = np.zeros(len(cases))
    policy, figures = choose_thresholds(
        cases["p"].to_numpy(),
        outcome,
        cases["asset_class"].to_numpy(),
        {},
        cases=cases,
        failures=failures,
        horizon_hours=168,
        min_lead_hours=24,
    )
    chosen = policy.threshold_for("pump")
    assert 0.25 < chosen < 0.9 and figures["thresholds"]["pump"] == chosen
    few, _ = choose_thresholds(
        cases["p"].to_numpy(),
        outcome,
        cases["asset_class"].to_numpy(),
        {},
        cases=cases,
        failures=failures.head(3),
        horizon_hours=168,
        min_lead_hours=24,
    )
    assert few.threshold_for("pump") == ThresholdPolicy().threshold_for("pump")  # no failure rows: Bayes threshold
