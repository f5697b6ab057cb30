"""The label-free detection benchmark's counting (benchmarks/detect.py, issue 14): why failures were missed,
where SKAB's false-positive rows lie, and the refit after each renewing maintenance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

_spec = importlib.util.spec_from_file_location("detect_bench", Path(__file__).parents[2] / "benchmarks" / "detect.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

T0 = pd.Timestamp("2024-03-01", tz="UTC")
DAY, HOUR = pd.Timedelta(days=1), pd.Timedelta(hours=1)


def _reasons(episodes: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]], failed_at: list[tuple[str, int]]):
    failures = pd.DataFrame({"asset_id": [a for a, _ in failed_at], "ts": [T0 + d * DAY for _, d in failed_at]})
    return bench.miss_reasons(failures, episodes, 7 * DAY, 24 * HOUR)


def test_each_failure_gets_one_reason_in_order_of_precedence() -> None:
    f = T0 + 20 * DAY  # the failure of asset "a"; its window runs from day 13 to day 19
    episodes = {
        # an episode open since day 5 through the window AND a start on day 15: forewarned wins
        "a": [(T0 + 5 * DAY, T0 + 16 * DAY), (T0 + 15 * DAY, T0 + 15 * DAY)],
        # open since day 5 and still open on day 13 (the window's start): open_before
        "b": [(T0 + 5 * DAY, T0 + 13 * DAY)],
        # closed the hour before the window opens, then a start 12 h before the failure: late
        "c": [(T0 + 5 * DAY, T0 + 13 * DAY - HOUR), (f - 12 * HOUR, f)],
        # a start exactly 7 days and exactly 24 h before count (both edges are inside)
        "d": [(f - 7 * DAY, f - 7 * DAY)],
        "e": [(f - 24 * HOUR, f - 24 * HOUR)],
        # a start after the failure: none
        "g": [(f + HOUR, f + 2 * HOUR)],
    }
    assets = ["a", "b", "c", "d", "e", "g", "h"]  # "h" has no episode at all
    assert _reasons(episodes, [(a, 20) for a in assets]) == {"forewarned": 3, "open_before": 1, "late": 1, "none": 2}


def test_a_second_failure_of_the_same_asset_is_judged_on_its_own_window() -> None:
    episodes = {"a": [(T0 + 2 * DAY, T0 + 2 * DAY), (T0 + 30 * DAY, T0 + 60 * DAY)]}
    # day 5: the day-2 start is 3 days ahead (forewarned); day 40: the day-30 episode is open from before its window
    assert _reasons(episodes, [("a", 5), ("a", 40)]) == {"forewarned": 1, "open_before": 1, "late": 0, "none": 0}


def test_false_rows_are_placed_before_between_or_after_the_anomalies() -> None:
    truth = np.array([0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0])
    predicted = np.array([0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0])
    # false positives at rows 1, 2 (before row 3), 5 (between 4 and 7), 8, 9 (after row 7)
    assert bench.false_rows_where(truth, predicted) == {"before": 2, "between": 1, "after": 2}
    assert bench.false_rows_where(np.zeros(4, dtype=int), np.array([1, 0, 1, 1])) == {
        "before": 3,
        "between": 0,
        "after": 0,
    }


def test_the_refit_fits_each_renewal_segment_on_its_own_first_rows() -> None:
    times = pd.date_range(T0, periods=200, freq="h")
    frame = pd.DataFrame({"timestamp": times, "x": np.arange(200.0)})
    calls: list[tuple[float, int, int]] = []

    def detector(part: pd.DataFrame, n_train: int | None) -> np.ndarray:
        assert n_train is not None
        calls.append((float(part["x"].iloc[0]), len(part), n_train))
        return np.full(len(part), float(len(calls)))

    # renewals cut the series before rows 60, 80 and 195 (the last segment: 5 rows, too short to fit)
    renewed = pd.Series([T0 + pd.Timedelta(minutes=59 * 60 + 30), T0 + 80 * HOUR, T0 + 195 * HOUR])
    scores = bench._refit_scores(detector, frame, renewed)
    # the whole series' default fit is int(0.15 * 200) = 30 rows; a segment fits on at most that many and at most
    # all but one of its own rows (20 rows: 19)
    assert calls == [(0.0, 60, 30), (60.0, 20, 19), (80.0, 115, 30)]
    assert scores[:60].tolist() == [1.0] * 60 and scores[60:80].tolist() == [2.0] * 20
    assert scores[80:195].tolist() == [3.0] * 115 and scores[195:].tolist() == [0.0] * 5


def test_rows_after_the_last_anomaly_split_by_the_episode_that_holds_them() -> None:
    truth = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    # the anomaly's episode runs on to row 5 (rows 4, 5: continuing); a new one covers rows 7-8; one before
    spans = [(0, 0), (2, 5), (7, 8)]
    assert bench.after_rows_split(truth, spans) == {"continuing": 2, "new": 2}
    assert bench.after_rows_split(np.zeros(5, dtype=int), [(0, 4)]) == {"continuing": 0, "new": 0}


def test_each_false_start_gets_the_first_cause_that_applies() -> None:
    stopped = np.zeros(100, dtype=bool)
    stopped[50] = True  # the machine stood still on row 50
    none = pd.Series([], dtype="datetime64[ns, UTC]")
    maint = pd.Series([T0 - 48 * HOUR])
    cause = bench.false_start_cause
    assert cause(10, T0, 15, stopped, maint, none) == "training"  # training wins over the maintenance
    assert cause(56, T0, 15, stopped, maint, none) == "switch"  # 6 rows after the stop still counts
    assert cause(57, T0, 15, stopped, maint, none) == "after_maintenance"  # 7 rows: no longer
    assert cause(57, T0, 15, stopped, pd.Series([T0 - 73 * HOUR]), none) == "other"  # over 72 h ago
    assert cause(57, T0, 15, None, none, pd.Series([T0 + 8 * DAY])) == "early"
    assert cause(57, T0, 15, None, none, pd.Series([T0 + 31 * DAY])) == "other"


def test_variant_persistent_keeps_the_default_at_one_of_one_and_delays_an_onset_at_three_of_three(monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location(
        "detect_variants", Path(__file__).parents[2] / "benchmarks" / "detect_variants.py"
    )
    assert spec is not None and spec.loader is not None
    variants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(variants)
    rng = np.random.default_rng(4)
    values = rng.normal(size=(900, 2))
    values[700:720, 0] += 12.0  # a level shift of 20 rows
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=900, freq="h", tz="UTC")})
    frame[["a", "b"]] = values
    default = variants.score_frame(frame, 300)
    monkeypatch.setenv("D14_KN", "1,1")
    assert np.allclose(variants.persistent(frame, 300), default)
    monkeypatch.setenv("D14_KN", "3,3")
    held = variants.persistent(frame, 300)
    first, first_held = (int(np.flatnonzero(s[700:] >= 0.5)[0]) for s in (default, held))
    assert first_held == first + 2  # 3 rows above the level needed: 2 rows later
