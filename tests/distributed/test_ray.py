"""The same pipelines on a Ray cluster (head and worker on 127.0.0.1): Ray and local give identical outputs, a
killed worker does not change them, and the lake reads back what the store holds."""

from __future__ import annotations

import json
import os
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray import cloudpickle as ray_cloudpickle
from typer.testing import CliRunner

import forewarn.backtest
from conftest import FAST, Cluster, Plant
from forewarn.base.executor import LocalExecutor
from forewarn.cli.main import app
from forewarn.distributed import RayExecutor, executor_for
from forewarn.distributed.fleet import fleet_score, ranked
from forewarn.distributed.lake import asset_days, asset_tail, read_readings
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.store import Store
from forewarn.train.score import score

# the workers cannot import this test module: its functions travel by value
ray_cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Ray's node processes are started with /dev/null handles that Ray leaves to the garbage collector
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _where(meeting: str, unit: int) -> tuple[int, str, int]:
    """A unit's square, node and process; it waits (at most a minute) until units run on two nodes, so the node
    whose CPU is free first cannot take them all while the other's worker process is still starting."""
    import time

    import ray

    node = ray.get_runtime_context().get_node_id()
    (Path(meeting) / node).touch()
    waited = time.monotonic()
    while len(list(Path(meeting).iterdir())) < 2:
        if time.monotonic() - waited > 60:  # the other node never took a unit: the rest need not wait
            (Path(meeting) / "gave-up").touch()
        time.sleep(0.05)
    return unit * unit, node, os.getpid()


def test_units_run_on_the_head_and_the_worker_node_in_order(ray_cluster: Cluster, tmp_path: Path) -> None:
    import ray

    done = RayExecutor(ray_cluster.address).map(partial(_where, str(tmp_path)), range(8))
    assert [square for square, _, _ in done] == [k * k for k in range(8)]
    nodes = {node for _, node, _ in done}
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(alive) == 2 and nodes == alive  # both processes of the cluster worked
    assert os.getpid() not in {pid for _, _, pid in done}  # not in the driver


def _die_once(marker: str, fn: Any, unit: Any) -> Any:
    """Kill this worker process (SIGKILL, mid-job) the first time any unit runs; later runs work."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return fn(unit)
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


class KilledOnce(RayExecutor):
    """A RayExecutor whose first unit's worker is killed mid-job."""

    def __init__(self, address: str, marker: Path) -> None:
        super().__init__(address)
        self.marker = marker

    def map(self, fn: Any, items: Any) -> Any:
        return super().map(partial(_die_once, str(self.marker), fn), items)


def test_fleet_score_on_ray_equals_local_even_when_a_worker_is_killed(
    ray_cluster: Cluster, plant: Plant, tmp_path: Path
) -> None:
    local = score(plant.store, plant.models)
    assert len(local) == 16 and local["probability"].notna().all()
    on_ray = score(plant.store, plant.models, executor=RayExecutor(ray_cluster.address))
    pd.testing.assert_frame_equal(on_ray, local)
    killed = score(plant.store, plant.models, executor=KilledOnce(ray_cluster.address, tmp_path / "killed"))
    assert (tmp_path / "killed").exists()  # a worker did die
    pd.testing.assert_frame_equal(killed, local)


def test_backtest_folds_on_ray_equal_local(ray_cluster: Cluster, plant: Plant) -> None:
    options = {**FAST, "by": "asset", "folds": 2}
    local = forewarn.backtest.backtest(plant.store, executor=LocalExecutor(), **options)
    on_ray = forewarn.backtest.backtest(plant.store, executor=RayExecutor(ray_cluster.address), **options)
    for key in ("rows", "events", "per_fold", "sweep", "threshold", "reliability"):
        assert on_ray[key] == local[key], key
    assert all("rows" in fold for fold in local["per_fold"])  # both folds trained and scored


def test_lake_layout_and_readers_give_back_the_store(plant: Plant) -> None:
    manifest = json.loads((plant.lake / "lake.json").read_text())
    with Store(plant.store, read_only=True) as db:
        assert manifest["readings"] == db.count_readings() and manifest["assets"] == 16
        assets = db.assets()
        one = assets.iloc[3]
        truth = db.readings(one.asset_id, start="2024-03-10", end="2024-03-12 06:00")
    sites = sorted(p.name for p in (plant.lake / "readings").iterdir())
    assert sites == [f"site_id={s}" for s in sorted(assets["site_id"].unique())]
    days = asset_days(plant.lake, one.site_id, one.asset_id)
    assert days[0] == "2024-03-01" and len(days) >= 39
    got = read_readings(plant.lake, assets=[one.asset_id], start="2024-03-10", end="2024-03-12 06:00")
    assert (got["site_id"] == one.site_id).all() and len(got) == len(truth)
    assert got["ts"].min() == pd.Timestamp("2024-03-10", tz="UTC")
    assert got["ts"].max() == pd.Timestamp("2024-03-12 05:00", tz="UTC")
    np.testing.assert_array_equal(got["value"].to_numpy(), truth["value"].to_numpy())
    other = assets[assets["site_id"] != one.site_id]["site_id"].iloc[0]
    assert set(read_readings(plant.lake, sites=[other], start="2024-03-05", end="2024-03-06")["site_id"]) == {other}


def test_asset_tail_resamples_as_the_store_does(plant: Plant) -> None:
    with Store(plant.store, read_only=True) as db:
        one = db.assets().iloc[5]
        truth = db.readings(one.asset_id, start="2024-03-20", resample="3h", wide=True).tail(50)
    tail, read = asset_tail(plant.lake, one.site_id, one.asset_id, interval="3h", rows=50, since="2024-03-20")
    assert read > 0 and list(tail["ts"]) == list(truth["ts"])
    channels = [c for c in truth.columns if c not in ("asset_id", "ts")]
    np.testing.assert_allclose(tail[channels].to_numpy(), truth[channels].to_numpy(), rtol=1e-12)


def test_lake_fleet_score_is_the_same_locally_on_ray_and_from_the_store(
    ray_cluster: Cluster, plant: Plant, tmp_path: Path
) -> None:
    summary = fleet_score(plant.lake, plant.models, tmp_path / "local", batch_size=5)
    assert (summary["assets"], summary["batches"]) == (16, 4) and summary["readings"] > 0
    on_ray = fleet_score(
        plant.lake, plant.models, tmp_path / "ray", engine="ray", address=ray_cluster.address, batch_size=5
    )
    assert on_ray["readings"] == summary["readings"] and on_ray["assets"] == 16
    local_rows, ray_rows = ranked(tmp_path / "local"), ranked(tmp_path / "ray")
    pd.testing.assert_frame_equal(ray_rows, local_rows)
    store_rows = score(plant.store, plant.models).sort_values("asset_id", ignore_index=True)
    lake_rows = local_rows.sort_values("asset_id", ignore_index=True)
    np.testing.assert_allclose(
        lake_rows["probability"].astype(float), store_rows["probability"].astype(float), rtol=1e-9
    )
    assert list(lake_rows["risk"]) == list(store_rows["risk"]) and list(lake_rows["action"]) == list(
        store_rows["action"]
    )
    # the coverage rule expects of each class the channels it sends, in the lake as in the store
    missing = [[list(m) for m in rows["channels_missing"]] for rows in (lake_rows, store_rows)]
    assert missing[0] == missing[1]


def test_lake_class_channels_are_the_stores(plant: Plant) -> None:
    from forewarn.distributed.lake import class_channel_pairs
    from forewarn.features.coverage import class_channels, store_class_channels

    with Store(plant.store, read_only=True) as db:
        truth = store_class_channels(db)
    assert class_channels(class_channel_pairs(plant.lake)) == truth and len(truth) >= 2
    assert len(set(truth.values())) > 1  # the classes send different channels: the case the rule is for


def test_cli_export_and_lake_score_on_the_cluster(ray_cluster: Cluster, plant: Plant, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app, ["export", "--store", str(plant.store), "--out", str(tmp_path / "lake"), "--start", "2024-03-20"]
    )
    assert done.exit_code == 0, done.output
    manifest = json.loads(done.output)
    assert manifest["format"] == "forewarn-lake/1" and manifest["assets"] == 16 and manifest["readings"] > 0
    again = runner.invoke(app, ["export", "--store", str(plant.store), "--out", str(tmp_path / "lake")])
    assert isinstance(again.exception, ConfigError) and "not empty" in str(again.exception)
    args = ["lake-score", "--lake", str(tmp_path / "lake"), "--models", str(plant.models)]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "s"), "--top", "3"])  # on Ray: test_engines.py
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[: done.output.index("}") + 1])["assets"] == 16
    assert len(ranked(tmp_path / "s")) == 16 and "rank" in done.output
    scored = [
        runner.invoke(app, ["score", "--store", str(plant.store), "--models", str(plant.models), "--format", "csv",
                            *engine])
        for engine in ([], ["--engine", "ray", "--ray-address", ray_cluster.address])
    ]  # fmt: skip
    assert scored[0].exit_code == 0 and scored[1].exit_code == 0, scored[1].output
    assert scored[1].output == scored[0].output and len(scored[0].output.strip().splitlines()) == 17
    bad = runner.invoke(app, [*args, "--out", str(tmp_path / "t"), "--engine", "spark"])
    assert isinstance(bad.exception, ConfigError) and "spark" in str(bad.exception)
    bad = runner.invoke(app, [*args, "--out", str(tmp_path / "u"), "--ray-address", "127.0.0.1:1"])
    assert isinstance(bad.exception, ConfigError) and "only for --engine ray" in str(bad.exception)


def test_bad_engine_and_lake_inputs_are_clear_errors(tmp_path: Path, plant: Plant) -> None:
    with pytest.raises(ConfigError, match="not one of local, ray"):
        executor_for("dask")
    with pytest.raises(ConfigError, match="only for --engine ray"):
        executor_for("local", "127.0.0.1:6379")
    with pytest.raises(DataNotFoundError, match="not a lake"):
        read_readings(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(ConfigError, match="not empty"):
        fleet_score(plant.lake, plant.models, tmp_path / "full")
