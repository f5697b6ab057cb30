"""The default detector (a sequential ``ensemble``) as a ``[[models]]`` entry: each asset's rows scored in time order
after its context, equal to the detector on the whole series, across a restart; its alarms through the alarm rule
into the case book."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.base import create, load, save
from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

from .conftest import CHANNELS, assets_config, long_rows, make_fleet


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _series(wide: pd.DataFrame, asset: str) -> pd.DataFrame:
    part = wide[wide["asset_id"] == asset]
    return pd.DataFrame(part[list(CHANNELS)].to_numpy(), columns=list(CHANNELS), index=pd.DatetimeIndex(part["ts"]))


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return make_fleet(assets=3, steps=240, seed=5, anomaly="P-2")  # P-2: vibration +6 over its last 40 minutes


@pytest.fixture(scope="module")
def ensemble_dir(fleet: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default detector fitted on P-0's first 150 minutes (the class's normal), saved."""
    model = create("ensemble").fit(_series(fleet, "P-0").iloc[:150])
    return save(model, tmp_path_factory.mktemp("ens") / "pump-default")


def _config(folder: Path, **model: object) -> dict:
    return {
        "pipeline": {"idle_release": "10s"},
        "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
        "assets": assets_config(),
        "models": [{"path": str(folder), "model_id": "default", "alarm": {}, **model}],
    }


def _feed(pipe: OnlinePipeline, rows: list, clock: Clock, chunk: int = 150) -> None:
    for lo in range(0, len(rows), chunk):
        cols = ReadingColumns()
        for row in rows[lo : lo + chunk]:
            cols.add(*row)
        pipe.process(cols, [])
        clock.now += 0.05


@pytest.mark.parametrize("restart", [False, True])
def test_stream_scores_equal_the_detector_on_the_whole_series(
    fleet: pd.DataFrame, ensemble_dir: Path, tmp_path: Path, restart: bool
) -> None:
    rows = long_rows(fleet)
    cfg = parse_config(_config(ensemble_dir, context=1000))  # longer than the history: exact
    clock = Clock()
    path = tmp_path / "plant.duckdb"
    with Store(path) as store:
        pipe = OnlinePipeline(store, cfg, clock=clock)
        half = len(rows) // 2
        _feed(pipe, rows[:half], clock)
        if restart:  # a new process continues each asset's series from its checkpointed context
            pipe.close()
            pipe = OnlinePipeline(store, cfg, clock=clock)
        _feed(pipe, rows[half:], clock)
        clock.now += 60
        pipe.tick()
        pipe.close()
        scores = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us, score FROM stream_scores ORDER BY 1, 2")
        raised = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us, explanation FROM stream_alerts ORDER BY 1, 2")
    model = load(ensemble_dir)
    expected_alarms = []
    for asset, part in scores.groupby("asset_id"):
        offline = model.score(_series(fleet, str(asset)))
        assert len(part) == len(offline) == 240
        np.testing.assert_allclose(part["score"].to_numpy(), offline, rtol=1e-9, atol=1e-12)
        alarms, _ = find_alarms(part["score"].to_numpy(), AlarmRule())
        expected_alarms += [(str(asset), int(t)) for t in part["ts_us"].to_numpy()[alarms == 1]]
    got = [(str(a), int(t)) for a, t in zip(raised["asset_id"], raised["ts_us"], strict=True)]
    assert got == expected_alarms and "P-2" in {a for a, _ in got}  # the one alarm rule, the anomaly found
    p2 = raised[raised["asset_id"] == "P-2"]
    assert any(next(iter(json.loads(e))) == "vib" for e in p2["explanation"])  # the jumping channel first
    book = CaseBook(casebook_path_for(path))
    try:
        assert {(a["asset_id"], a["source"], a["model_id"]) for a in book.alerts()} >= {("P-2", "stream", "default")}
    finally:
        book.close()


def test_a_short_context_is_kept_short_and_still_finds_the_jump(
    fleet: pd.DataFrame, ensemble_dir: Path, tmp_path: Path
) -> None:
    clock = Clock()
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(_config(ensemble_dir, context=64)), clock=clock)
        _feed(pipe, long_rows(fleet), clock)
        assert {len(ts) for ts, _ in pipe.runners[0].series.held.values()} == {64}
        top = store.sql("SELECT asset_id, max(score) AS s FROM stream_scores GROUP BY 1 ORDER BY 1")["s"].to_numpy()
        pipe.close()
    assert top[2] > 0.9 and top[2] > top[:2].max()  # P-2's jump scores highest


def test_the_runner_reads_the_detectors_channels(ensemble_dir: Path) -> None:
    from forewarn.stream.scoring import ModelRunner

    runner = ModelRunner(parse_config(_config(ensemble_dir)).models[0])
    assert runner.series is not None and runner.channels == list(CHANNELS)
