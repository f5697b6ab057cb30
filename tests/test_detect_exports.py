"""``forewarn detect`` on exports as plants write them: marks for no value inside a column of numbers, text
columns, local clock times of the night the clocks go back, doubled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.detect import detect_frame
from forewarn.exceptions import SchemaError


def _series(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ts": pd.date_range("2024-10-26 00:00", periods=n, freq="10min").strftime("%Y-%m-%d %H:%M:%S"),
            "temp": (70 + rng.normal(0, 0.5, n)).round(3).astype(str),
            "flow": (12 + rng.normal(0, 0.1, n)).round(3).astype(str),
            "state": np.where(np.arange(n) % 7 == 0, "STOP", "RUN"),
        }
    )


def test_a_column_with_a_few_error_cells_is_scored_and_the_cells_are_named():
    frame = _series()
    frame.loc[[5, 50, 200], "flow"] = ["#DIV/0!", "---", "#DIV/0!"]
    result = detect_frame(frame)
    assert "flow" in result.features and "temp" in result.features  # before: 'flow' left out, unsaid
    assert "column 'flow': 3 cell(s) of text read as missing ('#DIV/0!', '---')" in result.notes
    assert "state" not in result.features
    assert len(result.scores) == len(frame) and result.scores["anomaly_score"].notna().all()


def test_a_column_mostly_of_text_is_not_a_channel():
    frame = _series()
    frame["code"] = np.where(np.arange(len(frame)) % 3 == 0, "17", "E-OK")
    assert "code" not in detect_frame(frame).features


def test_the_repeated_hour_of_local_clock_times_is_named_as_such():
    frames = []
    for asset in ("P-1", "P-2"):
        one = _series(n=48)
        local = pd.date_range("2024-10-27 00:00", periods=48, freq="10min", tz="UTC").tz_convert("Europe/Berlin")
        one["ts"] = local.strftime("%Y-%m-%d %H:%M:%S")
        one.insert(0, "asset_id", asset)
        frames.append(one)
    with pytest.raises(SchemaError, match=r"asset 'P-1' has 12 rows sharing a timestamp.*clocks go back"):
        detect_frame(pd.concat(frames, ignore_index=True))


def test_a_doubled_row_is_named_as_such():
    frame = _series()
    doubled = pd.concat([frame, frame.iloc[[30]]], ignore_index=True)
    with pytest.raises(SchemaError, match=r"lines 32 and 242.*repeat each other exactly"):
        detect_frame(doubled)


def test_a_utf16_export_with_a_byte_order_mark_is_read(tmp_path):
    from forewarn.detect import read_table

    path = tmp_path / "unicode.csv"
    _series(n=30).rename(columns={"temp": "temp °C"}).to_csv(path, index=False, encoding="utf-16")
    frame = read_table(path)
    assert list(frame.columns) == ["ts", "temp °C", "flow", "state"] and len(frame) == 30


def test_day_first_dates_keep_their_order():
    iso = _series(n=24 * 6 * 20, seed=3).drop(columns="state")  # 20 days of 10-minute rows from 26 October
    iso["ts"] = pd.to_datetime(iso["ts"]).dt.strftime("%Y-%m-%d %H:%M")
    day_first = iso.assign(ts=pd.to_datetime(iso["ts"]).dt.strftime("%d.%m.%Y %H:%M"))
    assert day_first["ts"].iloc[-1] == "14.11.2024 23:50" and day_first["ts"].iloc[1000] == "01.11.2024 22:40"
    expected = detect_frame(iso).scores
    got = detect_frame(day_first).scores  # before: 02.11 read as 11 February, 14.11 as 14 November
    np.testing.assert_allclose(got["anomaly_score"], expected["anomaly_score"])
    assert got["alarm"].tolist() == expected["alarm"].tolist()


def test_an_empty_time_is_called_missing_not_unparseable():
    frame = _series(n=40).drop(columns="state")
    units = pd.DataFrame([{"ts": None, "temp": "°C", "flow": "m3/h"}])
    with pytest.raises(SchemaError, match=r"line 2, column 'ts': missing timestamp"):
        detect_frame(pd.concat([units, frame], ignore_index=True))
