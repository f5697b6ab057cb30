"""``--engine ray`` on train (window features), detect (one model per asset or pool), bench (models and seeds) and
lake-score (plain actors, one killed mid-job): the same results as in this process, on the session's cluster (a
head and a worker node on 127.0.0.1, conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray import cloudpickle as ray_cloudpickle
from typer.testing import CliRunner

import forewarn.train
from conftest import FAST, Cluster, Plant
from forewarn.base.executor import LocalExecutor, map_groups
from forewarn.base.persistence import load, read_manifest
from forewarn.cli.main import app
from forewarn.detect import detect_store
from forewarn.distributed import RayExecutor
from forewarn.distributed.fleet import BatchScorer, fleet_score, ranked
from forewarn.exceptions import ConfigError
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.spec import TrainSpec

ray_cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_map_groups_puts_the_pieces_back_in_row_order() -> None:
    frame = pd.DataFrame({"g": ["b", "a", "b", "c", "a"], "x": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=[7, 3, 9, 1, 5])
    seen = []

    def running_sum(part: pd.DataFrame) -> pd.DataFrame:
        seen.append(sorted(set(part["g"])))
        return part[["x"]].cumsum().rename(columns={"x": "sum"})

    got = map_groups(LocalExecutor(), running_sum, frame, "g")
    assert seen == [["a"], ["b"], ["c"]]  # one unit a group
    assert list(got.index) == [7, 3, 9, 1, 5] and got["sum"].tolist() == [1.0, 2.0, 4.0, 4.0, 7.0]


def test_train_features_on_ray_equal_local_and_so_does_the_model(
    ray_cluster: Cluster, plant: Plant, tmp_path: Path
) -> None:
    spec = TrainSpec().with_options(**{k: v for k, v in FAST.items() if k != "model"})
    with opened(plant.store) as db:
        data = load_dataset(db, spec)
    spec = spec.resolved(data.interval)
    local = data.window_features(spec)
    on_ray = data.window_features(spec, RayExecutor(ray_cluster.address))
    assert local.shape[0] == len(data.frame) and local.notna().to_numpy().any()
    pd.testing.assert_frame_equal(on_ray, local)  # bit for bit, in the frame's row order and index
    runs = [
        forewarn.train(plant.store, tmp_path / name, executor=executor, **FAST)
        for name, executor in (("local", None), ("ray", RayExecutor(ray_cluster.address)))
    ]
    assert runs[0].metrics == runs[1].metrics and runs[0].metrics["roc_auc"] is not None
    manifests = [read_manifest(run.folder) for run in runs]
    assert manifests[0]["data_hash"] == manifests[1]["data_hash"]
    states = [load(run.folder).get_state() for run in runs]
    assert sorted(states[0]) == sorted(states[1]) and states[0]
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key])


def test_detect_on_ray_equals_local(ray_cluster: Cluster, plant: Plant) -> None:
    options = {"detector": "pca-t2q", "train_fraction": 0.2, "interval": "3h"}
    local = detect_store(plant.store, **options)
    on_ray = detect_store(plant.store, executor=RayExecutor(ray_cluster.address), **options)
    assert local.fits["asset_id"].nunique() == 16 and local.alarms > 0  # one model an asset, and something found
    pd.testing.assert_frame_equal(on_ray.scores, local.scores)
    pd.testing.assert_frame_equal(on_ray.fits, local.fits)
    assert on_ray.episodes == local.episodes and on_ray.notes == local.notes
    assert (on_ray.features, on_ray.n_train, on_ray.dropped) == (local.features, local.n_train, local.dropped)
    # pooled per class: assets with too few rows each share one model with their class
    short = {**options, "train_fraction": 0.02}
    pooled = detect_store(plant.store, **short)
    assert pooled.fits["model"].str.startswith("pooled").all() and pooled.notes
    pooled_ray = detect_store(plant.store, executor=RayExecutor(ray_cluster.address), **short)
    pd.testing.assert_frame_equal(pooled_ray.scores, pooled.scores)
    assert pooled_ray.episodes == pooled.episodes and pooled_ray.notes == pooled.notes


def test_cli_train_and_detect_take_the_engine(ray_cluster: Cluster, plant: Plant, tmp_path: Path) -> None:
    runner = CliRunner()
    ray = ["--engine", "ray", "--ray-address", ray_cluster.address]
    base = ["detect", "--store", str(plant.store), "--detector", "pca-t2q", "--interval", "3h"]
    done = [runner.invoke(app, [*base, "--out", str(tmp_path / f"{k}.csv"), *e]) for k, e in (("l", []), ("r", ray))]
    assert done[0].exit_code == 0 and done[1].exit_code == 0, done[1].output
    assert (tmp_path / "r.csv").read_text() == (tmp_path / "l.csv").read_text()
    args = ["train", "--store", str(plant.store), "--models", str(tmp_path / "m"), "--task", "failure"]
    args += ["--horizon", "72h", "--interval", "3h", "--model", "logistic-failure"]
    trained = runner.invoke(app, [*args, *ray])
    assert trained.exit_code == 0, trained.output
    assert "filed failure v1" in trained.output
    bad = runner.invoke(app, ["bench", "neu", "--engine", "ray"])
    assert isinstance(bad.exception, ConfigError) and "neu runs in this process" in str(bad.exception)
    assert "cmapss, ai4i, skab, cwru, femto, fleet take --engine ray" in str(bad.exception)


def test_bench_models_and_seeds_on_ray_equal_local(ray_cluster: Cluster, shared_data_dir: Path) -> None:
    from forewarn.bench import cmapss

    if not (shared_data_dir / "cmapss").is_dir():
        pytest.skip("C-MAPSS is not in the data directory")
    options = {"subset": "FD001", "max_units": 10, "window": 20, "model_params": {"lightgbm-rul": {"n_estimators": 20}}}
    local = cmapss.run(["lightgbm-rul"], 2, shared_data_dir, **options)
    on_ray = cmapss.run(["lightgbm-rul"], 2, shared_data_dir, executor=RayExecutor(ray_cluster.address), **options)
    timings = ("fit_s", "predict_s", "fit_s_std", "predict_s_std")
    strip = [{k: v for k, v in row.items() if k not in timings} for row in local["results"]]
    assert strip == [{k: v for k, v in row.items() if k not in timings} for row in on_ray["results"]]
    assert local["results"][0]["seeds"] == 2 and np.isfinite(local["results"][0]["rmse"])


def test_ai4i_bench_on_ray_equals_local(ray_cluster: Cluster, shared_data_dir: Path, tmp_path: Path) -> None:
    from forewarn.bench import ai4i

    source = shared_data_dir / "ai4i2020" / "ai4i2020.csv"
    if not source.is_file():
        pytest.skip("AI4I 2020 is not in the data directory")
    (tmp_path / "ai4i2020").mkdir()  # its first 2,500 machines (64 failures): the same protocol, a quarter the time
    lines = source.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    (tmp_path / "ai4i2020" / "ai4i2020.csv").write_text("".join(lines[:2501]), encoding="utf-8")
    local = ai4i.run(["logistic-failure"], 2, tmp_path)
    on_ray = ai4i.run(["logistic-failure"], 2, tmp_path, executor=RayExecutor(ray_cluster.address))
    timings = ("fit_s", "predict_s", "fit_s_std", "predict_s_std")
    strip = [{k: v for k, v in row.items() if k not in timings} for row in local["results"]]
    assert strip == [{k: v for k, v in row.items() if k not in timings} for row in on_ray["results"]]
    assert local["results"][0]["seeds"] == 2 and 0 < local["results"][0]["f1"] <= 1


def test_skab_and_fleet_benches_on_ray_equal_local(ray_cluster: Cluster, shared_data_dir: Path) -> None:
    from forewarn.bench import fleet, skab

    timings = ("fit_s", "predict_s", "fit_s_std", "predict_s_std")
    strip = lambda payload: [{k: v for k, v in r.items() if k not in timings} for r in payload["results"]]  # noqa: E731
    small = {"sites": 2, "assets": 12, "days": 60, "degradation_scale": 6.0}
    local = fleet.run(["pca-t2q"], 2, None, **small)
    on_ray = fleet.run(["pca-t2q"], 2, None, executor=RayExecutor(ray_cluster.address), **small)
    assert strip(on_ray) == strip(local) and on_ray["fleets"] == local["fleets"]
    assert local["results"][0]["seeds"] == 2 and [f["seed"] for f in local["fleets"]] == [0, 1]
    if not (shared_data_dir / "skab").is_dir():
        pytest.skip("SKAB is not in the data directory")
    options = {"files": ["valve1/3"]}
    local = skab.run(["pca-t2q", "isolation-forest"], 2, shared_data_dir, **options)
    on_ray = skab.run(
        ["pca-t2q", "isolation-forest"], 2, shared_data_dir, executor=RayExecutor(ray_cluster.address), **options
    )
    assert strip(on_ray) == strip(local) and len(local["results"]) == 4  # each with and without the on-delay
    assert [r["seeds"] for r in local["results"]] == [1, 1, 2, 2]  # pca-t2q once, isolation-forest per seed


class DiesOnce(BatchScorer):
    """A scorer whose process is killed (SIGKILL) on its first batch, once in the whole job (a marker file)."""

    def score(self, span: tuple[int, int]) -> dict[str, float]:
        try:
            fd = os.open(Path(self.out).parent / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().score(span)
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def test_lake_score_actors_survive_a_killed_worker(ray_cluster: Cluster, plant: Plant, tmp_path: Path) -> None:
    local = fleet_score(plant.lake, plant.models, tmp_path / "local", batch_size=3)
    killed = fleet_score(
        plant.lake,
        plant.models,
        tmp_path / "ray",
        engine="ray",
        address=ray_cluster.address,
        batch_size=3,
        workers=2,
        scorer=DiesOnce,
    )
    assert (tmp_path / "killed").exists()  # an actor did die mid-job
    assert (killed["assets"], killed["batches"], killed["readings"]) == (16, 6, local["readings"])
    assert killed["cpu_seconds"] > 0 and killed["busy_seconds"] > 0
    pd.testing.assert_frame_equal(ranked(tmp_path / "ray"), ranked(tmp_path / "local"))
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    assert json.dumps(killed)  # the summary is plain JSON


def test_lake_score_writes_its_rows_into_the_store(plant: Plant, tmp_path: Path) -> None:
    import shutil

    from forewarn.exceptions import DataNotFoundError
    from forewarn.store import Store

    db = tmp_path / "plant.duckdb"
    shutil.copy(plant.store, db)
    runner = CliRunner()
    args = ["lake-score", "--lake", str(plant.lake), "--models", str(plant.models), "--store", str(db)]
    done = [runner.invoke(app, [*args, "--out", str(tmp_path / name), "--batch-size", "7"]) for name in ("a", "b")]
    assert done[0].exit_code == 0 and done[1].exit_code == 0, done[1].output
    summaries = [json.loads(d.output) for d in done]
    assert [s["stored"] for s in summaries] == [16, 16] and summaries[0]["scored_at"] < summaries[1]["scored_at"]
    with Store(db, read_only=True) as store:
        rows = store.sql(
            "SELECT scored_at, model_id, version, asset_id, probability, risk, action FROM fleet_scores "
            "ORDER BY scored_at, asset_id"
        )
    assert len(rows) == 32 and rows["scored_at"].nunique() == 2 and set(rows["version"]) == {"v1"}
    first = rows.head(16).reset_index(drop=True)
    expected = ranked(tmp_path / "a").sort_values("asset_id", ignore_index=True)
    assert list(first["asset_id"]) == list(expected["asset_id"]) and list(first["risk"]) == list(expected["risk"])
    np.testing.assert_array_equal(first["probability"].to_numpy(float), expected["probability"].to_numpy(float))
    assert list(first["action"]) == list(expected["action"])
    with pytest.raises(DataNotFoundError, match="does not exist"):  # refused before the job, nothing written
        fleet_score(plant.lake, plant.models, tmp_path / "c", store=tmp_path / "nowhere.duckdb")
    assert not (tmp_path / "c").exists()


def test_lake_score_writes_its_rows_into_a_postgres_store(plant: Plant, tmp_path: Path) -> None:
    from forewarn.store import Store
    from forewarn.store.pg_local import LocalPostgres, binaries

    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    with LocalPostgres(tmp_path / "pg", durable=False) as server:  # on 127.0.0.1, a free port; stopped on exit
        url = server.create_database("fleet")
        runner = CliRunner()
        args = ["lake-score", "--lake", str(plant.lake), "--models", str(plant.models), "--store", url]
        done = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--batch-size", "7"])
        assert done.exit_code == 0, done.output
        summary = json.loads(done.output)
        assert summary["stored"] == 16
        again = fleet_score(plant.lake, plant.models, tmp_path / "b", store=url, batch_size=16)
        assert again["stored"] == 16
        with Store(url, read_only=True) as store:
            rows = store.sql(
                "SELECT scored_at, model_id, version, asset_id, status, last_reading, probability, health, risk, "
                "rul, unit, drivers, action FROM fleet_scores ORDER BY scored_at, asset_id"
            )
        with pytest.raises(ConfigError, match="cannot"):  # the same run twice: refused by the key, nothing added
            from forewarn.distributed.fleet import to_store

            to_store(tmp_path / "b", url, model_id="failure", version="v1", scored_at=again["scored_at"])
        with Store(url, read_only=True) as store:
            assert int(store.sql("SELECT count(*) AS n FROM fleet_scores")["n"].iloc[0]) == 32
        # the lake exported from a PostgreSQL store holds what the DuckDB one's lake holds
        from forewarn.store.copy import copy_store

        plant_url = server.create_database("plant")
        with Store(plant.store, read_only=True) as source, Store(plant_url) as target:
            copy_store(source, target)
        exported = runner.invoke(app, ["export", "--store", plant_url, "--out", str(tmp_path / "lake")])
        assert exported.exit_code == 0, exported.output
        manifest, base = json.loads(exported.output), json.loads((plant.lake / "lake.json").read_text())
        assert {k: manifest[k] for k in ("readings", "files", "assets", "events")} == {
            k: base[k] for k in ("readings", "files", "assets", "events")
        }
        from_pg = fleet_score(tmp_path / "lake", plant.models, tmp_path / "c")
        assert from_pg["readings"] == again["readings"]
        pd.testing.assert_frame_equal(ranked(tmp_path / "c"), ranked(tmp_path / "b"))
    assert len(rows) == 32 and rows["scored_at"].nunique() == 2 and set(rows["version"]) == {"v1"}
    first = rows.head(16).reset_index(drop=True)
    expected = ranked(tmp_path / "a").sort_values("asset_id", ignore_index=True)
    for column in ("asset_id", "status", "risk", "unit", "drivers", "action"):
        assert list(first[column]) == list(expected[column]), column
    np.testing.assert_array_equal(first["probability"].to_numpy(float), expected["probability"].to_numpy(float))
    np.testing.assert_array_equal(first["health"].to_numpy(float), expected["health"].to_numpy(float))
    assert first["rul"].isna().all() and expected["rul"].isna().all()  # a failure model: no RUL, NULL in the store
    assert list(pd.to_datetime(first["last_reading"], utc=True)) == list(expected["last_reading"])
    assert (pd.to_datetime(first["scored_at"], utc=True) == pd.Timestamp(summary["scored_at"])).all()
