"""``forewarn detect --store DB --save-models DIR --episode-rows K`` and the stream: the printed ``[[models]]`` entry
carries ``alarm = { episode_rows = K }``, and the stream, restarted or not, raises detect's alarms: a jump that lasts
is announced again every K rows by both."""

from __future__ import annotations

import contextlib
import io
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from forewarn.cli.main import run
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.pipeline import OnlinePipeline

from .conftest import assets_config, long_rows, make_fleet
from .test_sequential_saved_fits import Clock, _feed

K = 12


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return make_fleet(assets=3, steps=240, seed=5, anomaly="P-2")  # P-2: vibration +6 over its last 40 rows


@pytest.fixture(scope="module")
def saved(fleet: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    root = tmp_path_factory.mktemp("detect_capped")
    with Store(root / "plant.duckdb") as db:
        db.add_assets([Asset(f"P-{i}", "pump") for i in range(3)])
        db.ingest_readings(fleet)
    out, folder = root / "scores.csv", root / "fits"
    argv = ["detect", "--store", str(root / "plant.duckdb"), "--out", str(out), "--save-models", str(folder)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        try:
            run([*argv, "--episode-rows", str(K)])
        except SystemExit as exit_:
            assert not exit_.code
    scores = pd.read_csv(out)
    scores["ts_us"] = pd.DatetimeIndex(pd.to_datetime(scores["timestamp"], utc=True)).as_unit("us").asi8
    return scores, stdout.getvalue()


@pytest.mark.parametrize("restart", [False, True])
def test_the_streams_capped_alarms_equal_detects(
    fleet: pd.DataFrame, saved: tuple[pd.DataFrame, str], tmp_path: Path, restart: bool
) -> None:
    offline, stdout = saved
    entry = tomllib.loads(stdout[stdout.index("[[models]]") :])["models"][0]
    assert entry["alarm"] == {"episode_rows": K}
    entry["context"] = 1000  # longer than each asset's history: the stream sees what detect saw
    cfg = parse_config(
        {
            "pipeline": {"idle_release": "10s"},
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": assets_config(),
            "models": [entry],
        }
    )
    clock = Clock()
    rows = long_rows(fleet)
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, clock=clock)
        middle = rows[int(len(rows) * 0.9)][2]  # a restart inside the jump's episodes
        half = next(i for i, r in enumerate(rows) if r[2] >= middle) if restart else len(rows)
        _feed(pipe, rows[:half], clock)
        if restart:
            pipe.close()
            pipe = OnlinePipeline(store, cfg, clock=clock)
            _feed(pipe, rows[half:], clock)
        clock.now += 60
        pipe.tick()
        pipe.close()
        raised = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us FROM stream_alerts ORDER BY 1, 2")
    expected = offline.loc[offline["alarm"] == 1, ["asset_id", "ts_us"]].sort_values(["asset_id", "ts_us"])
    assert list(map(tuple, raised.to_numpy().tolist())) == list(map(tuple, expected.to_numpy().tolist()))
    assert (expected["asset_id"] == "P-2").sum() >= 3  # the lasting jump, announced again every K rows
