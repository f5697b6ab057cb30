"""The stream follows the channel coverage rule of the service: an instant whose window holds too few of its
asset's channels is written without a score (NaN score, no probability or RUL, status "insufficient data", the
missing channels), raises no alert, and is not counted as scored; a class that does not send a channel is not
expected to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.features.coverage import INSUFFICIENT, MIN_SHARE_ENV
from forewarn.serve.sample import CHANNELS, WINDOW, build_sample
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

START_US = int(pd.Timestamp("2026-03-01T00:00:00Z").value // 1000)
HOUR_US = 3_600_000_000


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample(tmp_path_factory.mktemp("sample"), n_assets=2, n_train=12, versions=1).models / "rul" / "v1"


def _config(models: Path) -> object:
    return parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [
                {"asset_id": "P-1", "asset_class": "pump", "channels": dict.fromkeys(CHANNELS, "")},
                {"asset_id": "P-2", "asset_class": "pump", "channels": dict.fromkeys(CHANNELS, "")},
                {"asset_id": "F-1", "asset_class": "fan", "channels": dict.fromkeys(CHANNELS[:2], "")},
            ],
            # every scored row is over the threshold: each asset with a score opens an alert
            "models": [{"path": str(models), "model_id": "rul", "alert": {"threshold": 0.0, "min_consecutive": 1}}],
        }
    )


def _send(pipe: OnlinePipeline, hours: range, sends: dict[str, tuple[str, ...]]) -> None:
    cols = ReadingColumns()
    for h in hours:
        for asset, channels in sends.items():
            for k, channel in enumerate(channels):
                cols.add(asset, channel, START_US + h * HOUR_US, 40.0 + k + 0.01 * h)
    pipe.process(cols, [])


def test_too_few_channels_is_written_without_a_score_and_raises_no_alert(models: Path, tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, _config(models))
        # P-1 sends every channel; P-2 only bearing_temp; F-1 (a fan) the two channels fans have
        _send(pipe, range(WINDOW + 4), {"P-1": CHANNELS, "P-2": CHANNELS[:1], "F-1": CHANNELS[:2]})
        pipe.tick()
        pipe.close()
        scores = store.sql("SELECT * FROM stream_scores ORDER BY asset_id, ts")
        alerts = store.sql("SELECT DISTINCT asset_id FROM stream_alerts")
    short = scores[scores["asset_id"] == "P-2"]
    assert len(short) >= WINDOW and (short["status"] == INSUFFICIENT).all()
    assert short["score"].isna().all() and short["probability"].isna().all() and short["rul"].isna().all()
    assert {json.dumps(["vibration", "suction_pressure"])} == set(short["channels_missing"])
    for asset in ("P-1", "F-1"):  # complete, the fan against its class's channels
        rows = scores[scores["asset_id"] == asset]
        assert (rows["status"] == "in_service").all() and (rows["channels_missing"] == "[]").all()
        assert np.isfinite(rows["score"]).all() and rows["probability"].notna().all()
    assert sorted(alerts["asset_id"]) == ["F-1", "P-1"]  # none for P-2
    assert pipe.metrics.snapshot()["rows_unscored"] == len(short)


def test_a_missing_channel_is_listed_on_a_scored_row_and_the_gap_ends(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIN_SHARE_ENV, "0.6")  # 2 of 3 channels is enough
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, _config(models))
        _send(pipe, range(WINDOW), {"P-1": CHANNELS, "P-2": CHANNELS[:2]})
        _send(pipe, range(WINDOW, WINDOW + 3), {"P-1": CHANNELS[:1], "P-2": CHANNELS})
        pipe.tick()
        pipe.close()
        scores = store.sql("SELECT * FROM stream_scores ORDER BY asset_id, ts")
    p2 = scores[scores["asset_id"] == "P-2"]
    assert (p2["status"] == "in_service").all() and p2["probability"].notna().all()
    assert list(p2["channels_missing"].iloc[:WINDOW]) == [json.dumps(["suction_pressure"])] * WINDOW
    assert p2["channels_missing"].iloc[-1] == "[]"  # suction pressure read since: nothing missing
    p1 = scores[scores["asset_id"] == "P-1"]  # bearing_temp only for 3 hours: the window still holds the others
    assert (p1["status"] == "in_service").all() and (p1["channels_missing"] == "[]").all()
