"""benchmarks/detect.py --episode-rows auto: the tied rule resolved per series against its training rows (detect's
default share of a corpus series, the protocol's n_train on SKAB), as ``forewarn detect`` resolves it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alarms import AlarmRule

_spec = importlib.util.spec_from_file_location("detect_bench", Path(__file__).parents[2] / "benchmarks" / "detect.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_auto_on_the_corpus_is_the_fixed_cap_of_its_length(monkeypatch: pytest.MonkeyPatch) -> None:
    def high_after_a_third(frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        return np.where(np.arange(len(frame)) >= len(frame) // 3, 0.9, 0.1)

    monkeypatch.setattr(bench, "load_detector", lambda spec: high_after_a_third)
    argv = ["--parts", "nab", "--seeds", "1", "--corpus-rows", "2000", "--episode-rows", "0,75,auto"]
    report = bench.main(argv)
    assert list(report["rules"]) == ["on>=0.5", "on>=0.5 episode_rows=75", "on>=0.5 episode_rows=auto"]
    fixed, tied = report["rules"]["on>=0.5 episode_rows=75"]["nab"], report["rules"]["on>=0.5 episode_rows=auto"]["nab"]
    assert tied["alarms_per_series_median"] == fixed["alarms_per_series_median"] == 18  # 1,334 rows / 75
    assert tied["per_seed"] == fixed["per_seed"]


def test_fitted_resolves_against_the_given_training_rows_or_detects_share() -> None:
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=4000, freq="min", tz="UTC")})
    tied = AlarmRule(episode_rows="auto")
    assert bench.fitted(tied, frame, None).episode_rows == 150  # 600 training rows
    assert bench.fitted(tied, frame, 400).episode_rows == 100  # SKAB's n_train
    assert bench.fitted(AlarmRule(episode_rows=12), frame, None) == AlarmRule(episode_rows=12)
