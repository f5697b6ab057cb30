"""forewarn train / backtest / score on a simulated plant store, through the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import forewarn.backtest
import forewarn.train
from forewarn.bundles.bundle import Bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.store import Store
from forewarn.train import card as cards
from forewarn.train.dataset import load_dataset
from forewarn.train.labels import life_table, targets
from forewarn.train.score import score
from forewarn.train.spec import TrainSpec
from forewarn.twin.demo import demo_fleet


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    with Store(path) as db:
        demo_fleet(seed=3).to_store(db)
    return path


FAST = {"horizon": "72h", "interval": "3h", "model": "logistic-failure"}


def _failed_assets(plant: Path, n: int) -> str:
    """``n`` assets that failed, one of each failure mode first (comma-separated, as ``assets=`` takes them): a
    smaller plant for tests whose assertions do not need the whole one."""
    with Store(plant, read_only=True) as db:
        failures = db.events().query("kind == 'failure'")
    by_mode = failures.sort_values(["failure_mode", "asset_id"]).drop_duplicates("failure_mode")["asset_id"]
    few = list(dict.fromkeys([*by_mode, *sorted(failures["asset_id"])]))[:n]
    assert set(failures.query("asset_id in @few")["failure_mode"]) == set(failures["failure_mode"])
    return ",".join(few)


def test_train_files_a_version_with_a_card_and_does_not_promote_a_second(plant: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = forewarn.train(plant, models, task="failure", horizon="72h", interval="3h", model="logistic-failure")
    assert (first.version, first.promoted) == ("v1", True)  # the only version serves
    card = json.loads((first.folder / "card.json").read_text())
    assert card["recipe"]["interval"] == "3h" and card["data"]["failures"] > 5
    assert 0 <= card["metrics"]["ece"] <= 0.2 and card["metrics"]["roc_auc"] > 0.6
    spec = json.loads((first.folder / "serving.json").read_text())
    assert spec["interval"] == "3h" and spec["calibration"] is not None
    assert (spec["horizon"], spec["unit"]) == (72.0, "hours")  # the horizon's unit (was '': "within 72" shown)
    few = _failed_assets(plant, 6)  # versions and promotion do not depend on the data: a smaller plant from here
    second = forewarn.train(plant, models, task="failure", assets=few, **FAST)
    assert (second.version, second.promoted) == ("v2", False)
    assert ModelRegistry(models).active_version("failure") == "v1"
    third = forewarn.train(plant, models, task="failure", assets=few, promote=True, **FAST)
    assert third.promoted and ModelRegistry(models).active_version("failure") == "v3"


def test_score_ranks_the_fleet_with_the_live_model(plant: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    # every 3 h (a third of the hourly rows): ranking and intervals read the same whatever the interval
    forewarn.train(plant, models, task="rul", horizon="72h", interval="3h", max_rul="240h", model="lightgbm-rul")
    ranked = score(plant, models)
    assert len(ranked) == 30 and ranked["rank"].tolist() == list(range(1, 31))
    probability = ranked["probability"].to_numpy(dtype="float64")
    assert (np.diff(probability) <= 1e-12).all()
    assert (ranked["rul_low"] <= ranked["rul_high"]).all() and (ranked["rul"] >= 0).all()
    assert ranked["rul_high"].max() <= 240 * 1.5  # intervals stay near the cap the model was trained with


def test_rul_intervals_cover_held_out_truth(plant: Path, tmp_path: Path) -> None:
    result = forewarn.train(
        plant, tmp_path / "m", task="rul", horizon="72h", interval="1h", max_rul="240h", model="lightgbm-rul"
    )
    assert 0.7 <= result.metrics["interval_coverage"] <= 1.0
    assert result.metrics["interval_width_median"] > 0
    assert result.card["recipe"]["window_rows"] == 200  # RUL's window spans twice the cap (480 rows), at most 200


def test_the_filed_model_is_refit_on_every_asset(plant: Path, tmp_path: Path) -> None:
    result = forewarn.train(plant, tmp_path / "m", task="failure", **FAST)
    with Store(plant) as db:
        data = load_dataset(db, TrainSpec(task="failure", **FAST))
    usable = int((data.labelled & ~data.down).sum())
    assert result.card["recipe"]["training_rows"] == usable  # held-out assets included
    assert "refit on all" in result.card["metrics"]["protocol"]
    assert result.card["recipe"]["window_rows"] == 24


def test_backtest_by_asset_writes_the_contract_keys(plant: Path, tmp_path: Path) -> None:
    result = forewarn.backtest(
        plant,
        by="asset",
        folds=3,
        task="failure",
        models=tmp_path / "models",
        json_path=tmp_path / "bt.json",
        report_dir=tmp_path / "report",
        **FAST,
    )
    on_disk = json.loads((tmp_path / "bt.json").read_text())
    assert set(on_disk["rows"]) >= {"f1", "precision", "recall", "far", "roc_auc", "pr_auc", "ece"}
    assert set(on_disk["events"]) >= {
        "failures",
        "caught",
        "caught_share",
        "lead_time_hours_median",
        "false_cases_per_asset_year",
    }
    assert on_disk["events"]["failures"] > 5 and 0 <= on_disk["events"]["caught"] <= on_disk["events"]["failures"]
    # each left-out group's own event figures; the groups split the assets, so they add up to the whole
    folds = [f["events"] for f in on_disk["per_fold"] if "events" in f]
    assert len(folds) == sum("rows" in f for f in on_disk["per_fold"]) >= 2
    for key in ("failures", "caught"):
        assert sum(f[key] for f in folds) == on_disk["events"][key]
    assert on_disk["sweep"] and on_disk["reliability"]
    assert (tmp_path / "models" / "backtests" / f"{result['id']}.json").is_file()
    page = (tmp_path / "report" / "index.html").read_text()
    assert page.count("<svg") >= 3 and "Risk timelines" in page and "Reliability" in page


def test_walk_forward_trains_only_on_what_was_known(plant: Path, tmp_path: Path) -> None:
    result = forewarn.backtest(plant, by="time", folds=2, task="failure", **FAST)
    assert result["by"] == "time" and len(result["per_fold"]) == 2


def test_cli_train_score_backtest(plant: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    models = tmp_path / "models"
    trained = runner.invoke(
        app,
        [
            "train",
            "--store",
            str(plant),
            "--models",
            str(models),
            "--horizon",
            "72h",
            "--interval",
            "3h",
            "--model",
            "logistic-failure",
            "--class",
            "pump,motor",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "filed failure v1" in trained.output
    scored = runner.invoke(app, ["score", "--store", str(plant), "--models", str(models), "--format", "json"])
    assert scored.exit_code == 0, scored.output
    table = runner.invoke(app, ["score", "--store", str(plant), "--models", str(models)], env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert "…" not in table.output and max(len(line) for line in table.output.splitlines()) <= 80
    assert "probability" in table.output and "drivers" in table.output  # every column, in parts if need be
    rows = json.loads(scored.output)
    assert rows and {"asset_id", "probability", "risk", "status"} <= set(rows[0])
    out = tmp_path / "bt.json"
    backtested = runner.invoke(
        app,
        [
            "backtest",
            "--store",
            str(plant),
            "--by",
            "asset",
            "--folds",
            "2",
            "--horizon",
            "72h",
            "--interval",
            "3h",
            "--model",
            "logistic-failure",
            "--json",
            str(out),
        ],
    )
    assert backtested.exit_code == 0, backtested.output
    assert json.loads(out.read_text())["folds"] == 2


def test_clear_errors(plant: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        forewarn.train(tmp_path / "typo.duckdb", tmp_path / "m")
    with pytest.raises(DataNotFoundError, match="--site nowhere"):
        forewarn.train(plant, tmp_path / "m", sites="nowhere")
    with pytest.raises(ConfigError, match="task"):
        forewarn.train(plant, tmp_path / "m", task="weather")
    with pytest.raises(DataNotFoundError, match=r"labelled rows at the 30d interval .* shorter --interval"):
        with Store(plant) as db:
            three = ",".join(db.assets()["asset_id"].astype(str).head(3))
        forewarn.train(plant, tmp_path / "m", assets=three, interval="30d", horizon="72h", model="logistic-failure")
    with pytest.raises(ConfigError, match="rul model, not one for task 'failure'"):
        forewarn.train(plant, tmp_path / "m", model="lightgbm-rul", **{k: v for k, v in FAST.items() if k != "model"})
    with Store(plant) as db:  # assets that never failed: an anomaly model is pointed to detect
        failed = set(db.events().query("kind == 'failure'")["asset_id"])
        never = ",".join(a for a in db.assets()["asset_id"].astype(str) if a not in failed)
    with pytest.raises(DataNotFoundError, match="0 failure row.*forewarn detect --store finds what is odd"):
        forewarn.train(plant, tmp_path / "m", task="anomaly", assets=never, horizon="72h", interval="3h")


def test_labels_censor_and_renew() -> None:
    ts = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    rows = pd.DataFrame({"asset_id": "a", "ts": ts})
    events = pd.DataFrame(
        {
            "asset_id": ["a", "a", "a"],
            "kind": ["maintenance", "failure", "maintenance"],
            "action": ["oil_change", None, "replace_bearing"],
            "result": ["planned", None, "corrective"],
            "failure_mode": [None, "bearing", None],
            "ts": [ts[1], ts[3] + pd.Timedelta(hours=12), ts[4] + pd.Timedelta(hours=12)],
        }
    )
    life = life_table(rows, events)
    # the oil change renews nothing; the failure ends the life; the asset is down until the bearing is replaced
    assert life["ttf_hours"].tolist()[:4] == [84.0, 60.0, 36.0, 12.0]
    assert life["down"].tolist() == [False, False, False, False, True, False]
    y = targets(life, task="failure", horizon_hours=48.0)
    assert y[:4].tolist() == [0.0, 0.0, 1.0, 1.0] and np.isnan(y[4]) and np.isnan(y[5])  # the last row: censored


def test_backtest_with_the_twins_physics_features(plant: Path) -> None:
    result = forewarn.backtest(plant, by="asset", folds=2, task="failure", features="hybrid", **FAST)
    assert result["features"] == "hybrid" and result["rows"]["roc_auc"] is not None


def test_anomaly_from_a_spec_file_and_failure_modes(plant: Path, tmp_path: Path) -> None:
    spec = tmp_path / "plant.toml"
    spec.write_text(
        '[train]\ntask = "anomaly"\nhorizon = "72h"\ninterval = "3h"\nmodel = "pca-t2q"\n'
        "[costs.pump]\nmissed_failure = 50000\ninspection = 500\nfalse_alarm = 1500\n"
    )
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--store", str(plant), "--models", str(tmp_path / "m"), "--spec", str(spec)])
    assert trained.exit_code == 0, trained.output
    card = json.loads((tmp_path / "m" / "anomaly" / "v1" / "card.json").read_text())
    assert card["model"] == "pca-t2q" and card["costs"]["pump"]["missed_failure"] == 50000
    assert score(plant, tmp_path / "m")["probability"].notna().all()  # channels a class lacks read as training means
    # the failure-mode zoo is LightGBM fitted five times (three folds, held-out, refit): on six failed assets, one of
    # each failure mode among them, not the whole plant (a minute of the suite's time before)
    modes = forewarn.train(
        plant, tmp_path / "m", task="failure-mode", horizon="72h", interval="3h", assets=_failed_assets(plant, 6)
    )
    assert modes.model_id == "failure-mode" and not modes.promoted and "macro_f1" in modes.metrics


def test_backtest_of_a_rul_model(plant: Path) -> None:
    result = forewarn.backtest(
        plant, by="asset", folds=2, task="rul", horizon="72h", interval="3h", max_rul="240h", model="knn-rul"
    )
    assert result["task"] == "rul" and result["rows"]["roc_auc"] > 0.5 and result["events"]["failures"] > 5


def test_a_row_at_a_renewals_time_begins_the_new_life() -> None:
    """A reading stamped at the very time of a renewal belongs to the new life: its label is known (it was lost
    as censored when the renewal counted as this row's next one)."""
    ts = pd.date_range("2024-01-01", periods=5, freq="1D", tz="UTC")
    rows = pd.DataFrame({"asset_id": "a", "ts": ts})
    events = pd.DataFrame(
        {
            "asset_id": ["a", "a", "a"],
            "kind": ["maintenance", "failure", "maintenance"],
            "action": ["replace_seal", None, "replace_seal"],
            "result": ["planned", None, "corrective"],
            "failure_mode": [None, "seal", None],
            "ts": [ts[1], ts[3], ts[4]],
        }
    )
    life = life_table(rows, events)
    assert life["ttf_hours"].tolist()[1:4] == [48.0, 24.0, 0.0]  # ts[1] was censored (NaN) before
    assert np.isnan(life["ttf_hours"][0]) and life["future_hours"][0] == 24.0  # watched until the renewal
    assert not life["down"].any()  # failed at ts[3], renewed at ts[4]: the row at ts[4] is the new life
    assert life["future_hours"][4] == 0.0  # the end of the readings
    y = targets(life, task="failure", horizon_hours=36.0)
    assert y[1:4].tolist() == [0.0, 1.0, 1.0]


def test_backtest_reads_rows_against_each_assets_own_baseline(plant: Path, tmp_path: Path) -> None:
    spec = TrainSpec(baseline="4d", **FAST)
    with Store(plant, read_only=True) as db:
        data = load_dataset(db, spec)
    X = data.features(spec.resolved(data.interval))
    assert {"base__t2", "base__q", f"{data.channels[0]}__base_z"} <= set(X.columns)
    # nothing before an asset's baseline (4 days from its first row, or from a renewal) is complete
    first = data.frame.groupby("asset_id")["ts"].transform("min")
    early = (data.frame["ts"] < first + pd.Timedelta(days=4)).to_numpy()
    assert X.loc[early, "base__t2"].isna().all() and X.loc[~early, "base__t2"].notna().mean() > 0.5
    result = forewarn.backtest(plant, by="asset", folds=2, task="failure", baseline="4d", **FAST)
    assert result["baseline"] == "4d" and result["rows"]["roc_auc"] is not None
    # forewarn train --baseline files such a model for forewarn score: tests/train/test_baseline_serving.py


def test_a_plant_of_three_assets_trains_with_one_held_out(plant: Path, tmp_path: Path) -> None:
    """Three assets hold one out: its rows are split alternately for the bundle's fit (one asset cannot be split by
    asset), where they were split into an empty half and the bundle's fit raised a NumPy traceback."""
    with Store(plant) as db:
        events = db.events()
    failed = events[events["kind"] == "failure"]["asset_id"].value_counts().index[:3].tolist()
    trained = forewarn.train(plant, tmp_path / "models", assets=",".join(failed), **FAST)
    card = json.loads((trained.folder / "card.json").read_text())
    assert "judged on 1 held-out assets" in card["metrics"]["protocol"]
    assert (trained.folder / "serving.json").exists()
    assert card["warnings"] == cards.skill_warnings("failure", card["metrics"], card["data"]["failures"], False)


def test_train_says_when_a_filed_model_shows_no_skill(plant: Path, tmp_path: Path) -> None:
    """Three assets with one failure each: the model is filed (the plant asked for it) and the card and the command
    say what a plant engineer must know before trusting it: few failures, chance-level held-out figures."""
    with Store(plant) as db:
        events = db.events()
    once = events[events["kind"] == "failure"]["asset_id"].value_counts()
    few = ",".join(sorted(once[once == 1].index[:3]))
    args = ["train", "--store", str(plant), "--models", str(tmp_path / "m"), "--assets", few, "--horizon", "72h",
            "--interval", "3h", "--model", "logistic-failure"]  # fmt: skip
    printed = CliRunner().invoke(app, args)
    assert printed.exit_code == 0, printed.output
    card = json.loads(next((tmp_path / "m").glob("*/v1/card.json")).read_text())
    assert card["warnings"][0] == "only 3 failure(s) in the data: the held-out figures rest on very few events"
    assert all(f"warning: {w}" in " ".join(printed.output.split()) for w in card["warnings"])
    shown = Bundle(next((tmp_path / "m").glob("*/v1"))).describe()  # what GET /api/v1/models shows
    assert shown["warnings"] == card["warnings"] and shown["input"] == "window statistics"
    full = forewarn.train(plant, tmp_path / "all", **FAST)  # the whole plant: enough failures, skill shown
    assert full.card["warnings"] == [] and full.card["metrics"]["roc_auc"] > 0.6


def test_score_does_not_rank_an_asset_without_the_models_channels(plant: Path, tmp_path: Path) -> None:
    import shutil

    models, copy = tmp_path / "models", tmp_path / "plant.duckdb"
    shutil.copy(plant, copy)
    forewarn.train(copy, models, task="failure", assets=_failed_assets(plant, 6), **FAST)  # scores the whole plant
    frame = pd.DataFrame({"asset_id": "K-9 (alt)", "ts": pd.date_range("2024-03-01", periods=30, freq="h", tz="UTC")})
    with Store(copy) as db:
        db.ingest_readings(frame.assign(**{"Temp °C": 40.0}))
    ranked = score(copy, models).set_index("asset_id")
    odd = ranked.loc["K-9 (alt)"]  # before: in_service, health 99, "no action; keep monitoring", from no data
    assert odd["status"] == "not scored" and pd.isna(odd["probability"]) and pd.isna(odd["health"])
    assert odd["action"].startswith("not scored: no readings of the model's channels (") and odd["rank"] == len(ranked)
    assert (ranked.drop(index="K-9 (alt)")["status"] != "not scored").all()
