"""``FITTED_EPISODE_ROWS``: the one switch that makes the fit-tied cap the default of the faces that score with fits
(``detect_frame`` without a rule, the stream with a folder of detect fits and no ``episode_rows``), and of those
only: a rule made elsewhere keeps no limit; ``episode_rows = 0`` is no limit whatever the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_only_new import ROWS, _fleet, _load, _rows

import forewarn.decide.alarms as alarms
from forewarn.decide.alarms import AlarmRule, fitted_rule
from forewarn.detect import detect_frame, detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import read_marks, write_marks


def _shifted() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    parts = []
    for asset, rows in (("long", 1400), ("short", 500)):
        x = rng.normal(0, 1, rows)
        x[-300:] += 8.0  # a shift that lasts: announced again every K rows under a cap
        parts.append(
            pd.DataFrame(
                {
                    "asset_id": asset,
                    "timestamp": pd.date_range("2024-01-01", periods=rows, freq="10min").astype(str),
                    "x": x,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_the_switch_reaches_the_faces_with_fits_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _shifted()
    monkeypatch.setattr(alarms, "FITTED_EPISODE_ROWS", None)  # no limit
    plain = detect_frame(frame, timestamp_column="timestamp")
    assert plain.rule == AlarmRule() and fitted_rule() == AlarmRule()
    monkeypatch.setattr(alarms, "FITTED_EPISODE_ROWS", "auto")
    assert fitted_rule().tied and AlarmRule().episode_rows is None and fitted_rule(episode_rows=0) == AlarmRule()
    switched = detect_frame(frame, timestamp_column="timestamp")
    tied = detect_frame(frame, timestamp_column="timestamp", rule=AlarmRule(episode_rows="auto"))
    assert switched.rule.tied and switched.scores["alarm"].tolist() == tied.scores["alarm"].tolist()
    assert switched.alarms > plain.alarms  # the lasting shifts are announced again
    unlimited = detect_frame(frame, timestamp_column="timestamp", rule=AlarmRule(episode_rows=0))
    assert unlimited.scores["alarm"].tolist() == plain.scores["alarm"].tolist()


def test_nights_under_the_switch_need_no_rule_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(alarms, "FITTED_EPISODE_ROWS", "auto")
    fleet = _fleet()
    assets = sorted(fleet["asset_id"].unique())
    store, fits = tmp_path / "plant.duckdb", tmp_path / "fits"
    _load(store, _rows(fleet, 0, 1400), assets)
    first = detect_store(store, keep_models=True, since={})
    save_fits(first, fits)
    write_marks(fits, {**first.previous, **(first.marks or {})})
    _load(store, _rows(fleet, 1400, ROWS), assets)
    night = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))  # the default rule, as the marks'
    assert night.rule.tied and night.marks is not None
    assert all(m.rule == AlarmRule(episode_rows="auto").settings() for m in night.marks.values())
