"""``forewarn detect --store DB --save-models DIR`` and the stream: one ``[[models]]`` entry for the whole folder,
each asset scored by the fit ``detect`` scored it with; the stream's alarms and scores equal ``detect``'s on the same
rows (an asset of its own and a pooled short one, with gaps in the readings); an asset without a fit is not scored,
named once in the log, and nothing crashes."""

from __future__ import annotations

import contextlib
import io
import logging
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.cli.main import run
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

from .conftest import assets_config, long_rows, make_fleet


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _feed(pipe: OnlinePipeline, rows: list, clock: Clock, instants: int = 15) -> None:
    """Micro-batches of ``instants`` whole instants (an instant's readings never split across two batches)."""
    times = sorted({r[2] for r in rows})
    for lo in range(0, len(times), instants):
        first, last = times[lo], times[min(lo + instants, len(times)) - 1]
        cols = ReadingColumns()
        for row in rows:
            if first <= row[2] <= last:
                cols.add(*row)
        pipe.process(cols, [])
        clock.now += 0.05


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    wide = make_fleet(assets=5, steps=240, seed=5, anomaly="P-2", gaps=0.03)  # P-2: vibration +6 at the end
    short = (wide["asset_id"] == "P-3") & (wide.groupby("asset_id").cumcount() >= 100)
    return wide[~short].reset_index(drop=True)  # P-3: 100 rows, too few for a fit of its own (pooled)


@pytest.fixture(scope="module")
def saved(fleet: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """``detect --store --save-models`` on P-0..P-3 (P-4 is not in the store): the folder, the scores, stdout."""
    root = tmp_path_factory.mktemp("detect")
    with Store(root / "plant.duckdb") as db:
        db.add_assets([Asset(f"P-{i}", "pump") for i in range(4)])
        db.ingest_readings(fleet[fleet["asset_id"] != "P-4"])
    out, folder = root / "scores.csv", root / "fits"
    argv = ["detect", "--store", str(root / "plant.duckdb"), "--out", str(out), "--save-models", str(folder)]
    code = 0
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        try:
            run(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    assert code == 0
    scores = pd.read_csv(out)
    scores["ts_us"] = pd.DatetimeIndex(pd.to_datetime(scores["timestamp"], utc=True)).as_unit("us").asi8
    return folder, scores, stdout.getvalue()


def test_detect_prints_the_entry_and_keeps_one_fit_per_asset_or_pool(saved: tuple[Path, pd.DataFrame, str]) -> None:
    from forewarn.detect.saved import SavedFits

    folder, offline, stdout = saved
    assert "saved 4 fit(s) of 4 asset(s)" in stdout
    entry = tomllib.loads(stdout[stdout.index("[[models]]") :])["models"][0]
    assert entry == {"path": str(folder.resolve()), "model_id": "detect", "alarm": {}, "context": 512}
    fits = SavedFits(folder)
    assert fits.assets == ["P-0", "P-1", "P-2", "P-3"] and fits.channels == ["temp", "vib"]
    kinds = {f["assets"][0]: f["model"] for f in fits.index["fits"]}
    assert kinds == {"P-0": "own", "P-1": "own", "P-2": "own", "P-3": "pooled: pump"}
    p0 = next(f for f in fits.index["fits"] if f["assets"] == ["P-0"])
    assert p0["n_train"] == {"P-0": int(0.15 * (offline["asset_id"] == "P-0").sum())}
    assert p0["train_from"].startswith("2023-11-14T22:13:20")


@pytest.mark.parametrize("restart", [False, True])
def test_the_streams_alarms_equal_detects(
    fleet: pd.DataFrame,
    saved: tuple[Path, pd.DataFrame, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    restart: bool,
) -> None:
    folder, offline, stdout = saved
    entry = tomllib.loads(stdout[stdout.index("[[models]]") :])["models"][0]
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
    with caplog.at_level(logging.WARNING, logger="forewarn.stream.scoring"), Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, clock=clock)
        middle = rows[len(rows) // 2][2]  # a restart between two instants
        half = next(i for i, r in enumerate(rows) if r[2] >= middle) if restart else len(rows)
        _feed(pipe, rows[:half], clock)
        if restart:  # a new process continues each asset's series with its own fit
            pipe.close()
            pipe = OnlinePipeline(store, cfg, clock=clock)
            _feed(pipe, rows[half:], clock)
        clock.now += 60
        pipe.tick()
        unscored = pipe.metrics.snapshot()["rows_unscored"]
        pipe.close()
        scores = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us, score FROM stream_scores ORDER BY 1, 2")
        raised = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us FROM stream_alerts ORDER BY 1, 2")
    # P-4 has no fit: its rows are counted unscored and it is named once in the log
    assert set(scores["asset_id"]) == {"P-0", "P-1", "P-2", "P-3"}
    seen = rows[half:] if restart else rows  # the readings the last process saw
    assert unscored == len({r[2] for r in seen if r[0] == "P-4"}) > 0  # P-4's instants there
    named = [r for r in caplog.records if "no fit for asset 'P-4'" in r.getMessage()]
    assert len(named) == 1 + restart  # once per process
    # the same scores (every asset, the pooled one too, gaps filled as detect fills them) and the same alarms
    joined = offline.merge(scores, on=["asset_id", "ts_us"], how="outer", indicator=True)
    assert (joined["_merge"] == "both").all() and len(joined) == len(offline)
    np.testing.assert_allclose(joined["score"], joined["anomaly_score"], rtol=0, atol=5e-7)  # the CSV's 6 digits
    expected = offline.loc[offline["alarm"] == 1, ["asset_id", "ts_us"]].sort_values(["asset_id", "ts_us"])
    assert list(map(tuple, raised.to_numpy().tolist())) == list(map(tuple, expected.to_numpy().tolist()))
    assert "P-2" in set(expected["asset_id"])  # the jump is alarmed, by both
