"""forewarn score: an asset whose scoring window holds too few of its channels is "insufficient data" (no
probability, never ranked as low risk), one with most of them is scored with the missing channels listed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import forewarn.train
from forewarn.cli.main import app, run
from forewarn.exceptions import SchemaError
from forewarn.features.coverage import MIN_SHARE_ENV, channel_coverage, expected_channels, min_channel_share
from forewarn.store import Store
from forewarn.train.score import score
from forewarn.twin.demo import demo_fleet

FAST = {"horizon": "72h", "interval": "3h", "model": "logistic-failure"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("coverage")
    store, models = folder / "plant.duckdb", folder / "models"
    with Store(store) as db:
        demo_fleet(seed=3).to_store(db)
    forewarn.train(store, models, task="failure", **FAST)
    return store, models


def _with_only(store: Path, copy: Path, asset_id: str, keep: int) -> list[str]:
    """``copy`` of the store where ``asset_id`` then sends 4 days of readings of only its first ``keep``
    channels (the window of 24 rows at 3 h); returns the channels it stops sending."""
    shutil.copy(store, copy)
    with Store(copy) as db:
        channels = sorted(db.channels(asset_id)["channel"])
        last = db.fleet_summary().set_index("asset_id").loc[asset_id, "last_ts"]
        ts = pd.date_range(last + pd.Timedelta("10min"), periods=6 * 96, freq="10min")
        db.ingest_readings(pd.DataFrame({"asset_id": asset_id, "ts": ts, **dict.fromkeys(channels[:keep], 1.0)}))
    return channels[keep:]


def test_one_channel_is_insufficient_data_and_never_ranked_low(trained: tuple[Path, Path], tmp_path: Path) -> None:
    store, models = trained
    stopped = _with_only(store, tmp_path / "one.duckdb", "S1-P004", keep=1)
    ranked = score(tmp_path / "one.duckdb", models).set_index("asset_id")
    row = ranked.loc["S1-P004"]
    assert row["status"] == "insufficient data"
    assert pd.isna(row["probability"]) and pd.isna(row["health"]) and row["risk"] is None and pd.isna(row["rul"])
    assert sorted(row["channels_missing"]) == sorted(stopped) and len(stopped) >= 13
    assert row["action"].startswith("insufficient data: 1 of ") and "read in the scoring window" in row["action"]
    assert row["rank"] > ranked["probability"].notna().sum()  # after every scored asset
    assert (ranked.drop(index="S1-P004")["status"] != "insufficient data").all()
    complete = ranked.drop(index="S1-P004")
    assert all(len(m) == 0 for m in complete["channels_missing"])  # each class's own channels, none missing


def test_most_channels_are_scored_with_the_missing_ones_listed(trained: tuple[Path, Path], tmp_path: Path) -> None:
    store, models = trained
    with Store(store) as db:
        n = len(db.channels("S1-P004"))
    stopped = _with_only(store, tmp_path / "most.duckdb", "S1-P004", keep=n - 2)
    row = score(tmp_path / "most.duckdb", models).set_index("asset_id").loc["S1-P004"]
    assert row["status"] == "in_service" and 0.0 <= float(row["probability"]) <= 1.0 and row["risk"] is not None
    assert sorted(row["channels_missing"]) == sorted(stopped)


def test_the_minimum_share_is_a_setting(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store, models = trained
    _with_only(store, tmp_path / "one.duckdb", "S1-P004", keep=1)
    monkeypatch.setenv(MIN_SHARE_ENV, "0")  # the rule off: scored from one channel, the missing ones listed
    row = score(tmp_path / "one.duckdb", models).set_index("asset_id").loc["S1-P004"]
    assert row["status"] == "in_service" and len(row["channels_missing"]) >= 13
    monkeypatch.setenv(MIN_SHARE_ENV, "most")
    with pytest.raises(SystemExit) as stopped:
        run(["score", "--store", str(tmp_path / "one.duckdb"), "--models", str(models)])
    said = capsys.readouterr().err
    assert stopped.value.code == 2 and "FOREWARN_MIN_CHANNEL_SHARE" in said and "Traceback" not in said


def test_score_json_carries_the_status_and_the_missing_channels(trained: tuple[Path, Path], tmp_path: Path) -> None:
    store, models = trained
    _with_only(store, tmp_path / "one.duckdb", "S1-P004", keep=1)
    result = CliRunner().invoke(
        app, ["score", "--store", str(tmp_path / "one.duckdb"), "--models", str(models), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads(result.output) if r["asset_id"] == "S1-P004")
    assert row["status"] == "insufficient data" and row["probability"] is None and row["risk"] is None
    assert isinstance(row["channels_missing"], list) and len(row["channels_missing"]) >= 13


def test_the_rule_counts_the_window_and_the_class() -> None:
    window = np.array([[1.0, np.nan, np.nan]] * 3 + [[np.nan, 2.0, np.nan]])
    assert channel_coverage(window, ["a", "b", "c"], window=1, min_share=0.5).missing == ("a", "c")
    assert channel_coverage(window, ["a", "b", "c"], window=4, min_share=0.5).missing == ("c",)
    assert channel_coverage(np.empty((0, 3)), ["a", "b", "c"], window=4, min_share=0.5).share == 0.0
    two = channel_coverage(window, ["a", "b", "c"], window=4, expected=expected_channels(["a", "b", "c"], {"a", "b"}))
    assert (two.share, two.sufficient) == (1.0, True)
    at = channel_coverage(np.column_stack([window, window[:, 2]]), ["a", "b", "c", "d"], window=4, min_share=0.5)
    assert at.sufficient and at.share == 0.5  # at the minimum: scored
    assert min_channel_share(0) == 0.0
    with pytest.raises(SchemaError, match="rows x 4 channels"):
        channel_coverage(window, ["a", "b", "c", "d"], window=4)
