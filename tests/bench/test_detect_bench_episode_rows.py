"""benchmarks/detect.py --episode-rows K[,K...]: one rule per value, each on the same scores, computed once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location("detect_bench", Path(__file__).parents[2] / "benchmarks" / "detect.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_several_rules_score_each_series_once_and_a_cap_alarms_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def high_after_a_third(frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        calls.append(len(frame))
        return np.where(np.arange(len(frame)) >= len(frame) // 3, 0.9, 0.1)

    monkeypatch.setattr(bench, "load_detector", lambda spec: high_after_a_third)
    argv = ["--parts", "nab", "--seeds", "1", "--corpus-rows", "600", "--episode-rows", "0,48"]
    report = bench.main(argv)
    assert list(report["rules"]) == ["on>=0.5", "on>=0.5 episode_rows=48"]
    assert report["rules"]["on>=0.5 episode_rows=48"]["rule"]["episode_rows"] == 48
    plain, capped = (report["rules"][label]["nab"] for label in report["rules"])
    assert plain["alarms_per_series_median"] == 1 and capped["alarms_per_series_median"] == 9  # 400 rows / 48
    series = sum(family["series"] for family in plain["by_family"].values())
    assert len(calls) == series  # once per series, not once per rule
    calls.clear()
    bench.main(argv[:-2])  # one rule, as before the flag
    assert len(calls) == series


def test_remembered_scores_a_frame_once_and_hands_out_copies() -> None:
    calls = []

    def detector(frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        calls.append(n_train)
        return frame["x"].to_numpy(dtype="float64") / 10

    scores = bench.remembered(detector)
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"), "x": range(5)})
    first = scores(frame, None)
    first[:] = -1
    assert scores(frame.copy(), None).tolist() == [0.0, 0.1, 0.2, 0.3, 0.4] and calls == [None]
    scores(frame, 3)
    scores(frame.assign(x=frame["x"] + 1), None)
    assert calls == [None, 3, None]
