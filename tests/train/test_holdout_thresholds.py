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


def test_a_few_failures_keep_the_bayes_threshold_as_events_and_as_label_episodes() -> None:
    """Worked example: 3 assets fail; their last 4 rows read p = 0.01, every other row 0.001. A row fit alarms on
    those 12 rows (cost 12 x 500 against 12 x 10,000 missed), threshold 0.01, far under the Bayes threshold of the
    default costs, (500 + 1,000) / (10,000 + 1,000) = 0.1364. With the 3 failures given as events, or as a stored
    label column (3 label episodes, no events), fewer than EVENT_MIN_FAILURES: the Bayes threshold is kept."""
    cases, failures = _fleet(3, seed=2)
    last = cases.groupby("asset_id").cumcount(ascending=False) < 4
    cases = cases.assign(p=np.where(last, 0.01, 0.001))
    outcome = last.to_numpy(dtype=float)
    classes = cases["asset_class"].to_numpy()
    groups = cases["asset_id"].to_numpy()
    common = {"cases": cases, "horizon_hours": 168.0, "min_lead_hours": 24.0}
    bayes = 1500 / 11000
    few, _ = choose_thresholds(cases["p"].to_numpy(), outcome, classes, {}, failures=failures, **common)
    assert abs(few.threshold_for("pump") - bayes) < 1e-12
    labelled, _ = choose_thresholds(
        cases["p"].to_numpy(), outcome, classes, {}, groups=groups, failures=failures.head(0), **common
    )
    assert abs(labelled.threshold_for("pump") - bayes) < 1e-12
    unlabelled, _ = choose_thresholds(cases["p"].to_numpy(), outcome, classes, {}, groups=groups)  # no cases at all
    assert abs(unlabelled.threshold_for("pump") - bayes) < 1e-12


def test_a_label_column_with_enough_episodes_fits_its_rows_per_class() -> None:
    """12 pumps fail (12 label episodes of 4 rows, p = 0.01 there) and 3 fans (3 episodes): the pumps' rows decide
    their threshold (0.01, as the row fit above), the fans keep the Bayes threshold: too few episodes of their own.
    Without asset ids the 15 runs read as one asset's: still 15 episodes."""
    cases, _ = _fleet(15, seed=3)
    cases["asset_class"] = np.where(cases["asset_id"].isin(["a0", "a1", "a2"]), "fan", "pump")
    last = cases.groupby("asset_id").cumcount(ascending=False) < 4
    p = np.where(last, 0.01, 0.001)
    outcome = last.to_numpy(dtype=float)
    classes = cases["asset_class"].to_numpy()
    policy, figures = choose_thresholds(p, outcome, classes, {}, groups=cases["asset_id"].to_numpy())
    assert policy.threshold_for("pump") == 0.01
    assert abs(policy.threshold_for("fan") - 1500 / 11000) < 1e-12
    assert figures["thresholds"] == {"fan": policy.threshold_for("fan"), "pump": 0.01}
    whole, _ = choose_thresholds(p, outcome, classes, {})
    assert whole.threshold_for("pump") == 0.01
