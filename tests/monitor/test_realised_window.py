"""The realised record counts a failure logged one interval after the last reading (a failed machine stops
reporting), as a backtest does, and its counts are counts."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from forewarn.monitor.performance import realised


def test_a_failure_at_the_windows_end_is_counted_and_counts_are_integers() -> None:
    ts = pd.date_range("2024-10-30 00:00", "2024-10-31 04:00", freq="1h", tz="UTC")  # the last reading 04:00
    scores = pd.DataFrame({"asset_id": "E002", "ts": ts, "p": [0.1] * (len(ts) - 6) + [0.9] * 6, "asset_class": "x"})
    bundle = SimpleNamespace(
        spec=SimpleNamespace(horizon=24.0), thresholds=SimpleNamespace(threshold_for=lambda asset_class: 0.5)
    )
    card = {"recipe": {"horizon_hours": 24.0}, "metrics": {}}
    events = pd.DataFrame(
        {"asset_id": ["E002"], "ts": [pd.Timestamp("2024-10-31 05:00", tz="UTC")], "kind": ["failure"]}
    )
    stop = ts[-1] + pd.Timedelta(hours=1)  # as the monitor sets it: one interval after the last reading
    record = realised(bundle, card, scores, events, ts[0], stop)["realised"]
    assert record["failures"] == 1 and record["caught"] == 1 and isinstance(record["failures"], int)
    later = events.assign(ts=[stop + pd.Timedelta(hours=1)])  # after the window: the next window's
    assert realised(bundle, card, scores, later, ts[0], stop)["realised"]["failures"] == 0
    assert record["catch_rate"] == 1.0


def test_a_window_without_failures_has_no_catch_rate() -> None:
    """It read 1.0 ("every failure caught") on the /metrics gauge and the models page when none happened."""
    ts = pd.date_range("2024-10-30 00:00", periods=30, freq="1h", tz="UTC")
    scores = pd.DataFrame({"asset_id": "E002", "ts": ts, "p": 0.9, "asset_class": "x"})
    bundle = SimpleNamespace(
        spec=SimpleNamespace(horizon=24.0), thresholds=SimpleNamespace(threshold_for=lambda asset_class: 0.5)
    )
    card = {"recipe": {"horizon_hours": 24.0}, "metrics": {}}
    events = pd.DataFrame({"asset_id": [], "ts": pd.to_datetime([], utc=True), "kind": []})
    record = realised(bundle, card, scores, events, ts[0], ts[-1] + pd.Timedelta(hours=1))["realised"]
    assert record["failures"] == 0 and record["catch_rate"] is None and record["false_alarms"] >= 1
