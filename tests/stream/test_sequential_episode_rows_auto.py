"""``forewarn detect --store DB --save-models DIR --episode-rows auto`` and the stream: the printed ``[[models]]`` entry
carries ``alarm = { episode_rows = "auto" }``, and the stream, restarted or not, resolves each asset's rule against
its own fit's training rows as detect does: the same alarm rows, a lasting jump announced again every K rows with K
per asset. A tied rule on a model without per-asset fits, or a bad ``--episode-rows``, is refused."""

from __future__ import annotations

import contextlib
import io
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forewarn.decide.alarms as alarms
from forewarn.base import create, save
from forewarn.cli.main import run
from forewarn.detect.saved import SavedFits
from forewarn.exceptions import ConfigError
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.pipeline import OnlinePipeline
from forewarn.stream.scoring import ModelRunner

from .conftest import assets_config, long_rows, make_fleet
from .test_sequential_saved_fits import Clock, _feed

CAPS = {"P-0": 52, "P-1": 48}  # 1,400 rows: 210 training rows; 500 rows: 75


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    wide = make_fleet(assets=2, steps=1400, seed=5)
    wide = wide[(wide["asset_id"] == "P-0") | (wide.groupby("asset_id").cumcount() >= 900)].reset_index(drop=True)
    last = wide.groupby("asset_id").cumcount(ascending=False) < 150
    wide.loc[last, "vib"] += 6.0  # both: a jump that lasts their last 150 rows
    return wide


def _cli(argv: list[str]) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        try:
            run(argv)
        except SystemExit as exit_:
            assert not exit_.code
    return stdout.getvalue()


@pytest.fixture(scope="module")
def saved(fleet: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str, Path]:
    root = tmp_path_factory.mktemp("detect_tied")
    with Store(root / "plant.duckdb") as db:
        db.add_assets([Asset(f"P-{i}", "pump") for i in range(2)])
        db.ingest_readings(fleet)
    out, folder = root / "scores.csv", root / "fits"
    argv = ["detect", "--store", str(root / "plant.duckdb"), "--out", str(out), "--save-models", str(folder)]
    stdout = _cli([*argv, "--episode-rows", "auto"])
    scores = pd.read_csv(out)
    scores["ts_us"] = pd.DatetimeIndex(pd.to_datetime(scores["timestamp"], utc=True)).as_unit("us").asi8
    return scores, stdout, folder


def _config(entry: dict) -> object:
    return parse_config(
        {
            "pipeline": {"idle_release": "10s"},
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": assets_config(),
            "models": [entry],
        }
    )


@pytest.mark.parametrize("restart", [False, True])
def test_the_streams_tied_alarms_equal_detects(
    fleet: pd.DataFrame, saved: tuple[pd.DataFrame, str, Path], tmp_path: Path, restart: bool
) -> None:
    offline, stdout, folder = saved
    assert "at most a quarter of each fit's training rows each" in stdout
    entry = tomllib.loads(stdout[stdout.index("[[models]]") :])["models"][0]
    assert entry["alarm"] == ({} if alarms.fitted_rule().tied else {"episode_rows": "auto"})  # {}: auto, the default
    assert {a: SavedFits(folder).training_rows(a) for a in CAPS} == {"P-0": 210, "P-1": 75}
    entry["context"] = 2000  # longer than each asset's history: the stream sees what detect saw
    cfg = _config(entry)
    clock = Clock()
    rows = long_rows(fleet)
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, clock=clock)
        middle = rows[int(len(rows) * 0.95)][2]  # a restart inside the jumps' episodes
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
    for asset, cap in CAPS.items():  # the lasting jump, announced again every K rows of the asset's own
        jump = expected.loc[expected["asset_id"] == asset, "ts_us"].to_numpy()[-2:]
        assert np.diff(jump).tolist() == [cap * 60_000_000]


def test_a_tied_rule_needs_a_folder_of_fits_and_a_bad_value_is_refused(
    fleet: pd.DataFrame,
    saved: tuple[pd.DataFrame, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, folder = saved
    runner = ModelRunner(_config({"path": str(folder), "alarm": {"episode_rows": "auto"}}).models[0])
    assert runner.alarms is not None
    assert {a: runner.alarms.state(a).rule.episode_rows for a in CAPS} == CAPS
    one = save(
        create("ensemble").fit(fleet.loc[fleet["asset_id"] == "P-0", ["temp", "vib"]].iloc[:150]), tmp_path / "m"
    )
    with pytest.raises(ConfigError, match=r"episode_rows = \"auto\" .*forewarn detect --save-models"):
        ModelRunner(_config({"path": str(one), "alarm": {"episode_rows": "auto"}}).models[0])
    assert ModelRunner(_config({"path": str(one), "alarm": {"episode_rows": 48}}).models[0]).alarms is not None
    monkeypatch.setattr(alarms, "FITTED_EPISODE_ROWS", "auto")  # the switch: detect's default, for its folders only
    for table, caps in (({}, CAPS), ({"episode_rows": 0}, {"P-0": None, "P-1": None})):
        tracker = ModelRunner(_config({"path": str(folder), "alarm": table}).models[0]).alarms
        assert tracker is not None and {a: tracker.state(a).rule.episode_rows for a in CAPS} == caps
    tracker = ModelRunner(_config({"path": str(one), "alarm": {}}).models[0]).alarms
    assert tracker is not None and tracker.rule.episode_rows is None
    code = run_cli(["detect", str(tmp_path / "none.csv"), "--out", str(tmp_path / "s.csv"), "--episode-rows", "half"])
    assert code == 2 and "'half' is neither a row count" in capsys.readouterr().err


def run_cli(argv: list[str]) -> int:
    try:
        run(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
