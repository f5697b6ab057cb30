"""The warm pool (``forewarn ray-pool``): named, detached scoring actors that outlive a job; a lake-score on them
equals the local one, reuses their processes and bundles, and survives one of them SIGKILLed mid-job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
from ray import cloudpickle as ray_cloudpickle
from typer.testing import CliRunner

from conftest import Cluster, Plant
from forewarn.cli.main import app
from forewarn.distributed.fleet import BatchScorer, fleet_score, pool_status, ranked, start_pool, stop_pool
from forewarn.exceptions import ConfigError

ray_cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


class KillsItsActor(BatchScorer):
    """Kills its own process (SIGKILL) on its first batch, once in the whole job (a marker file beside ``out``)."""

    def score(self, span: tuple[int, int]) -> dict[str, float]:
        try:
            fd = os.open(Path(self.out).parent / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().score(span)
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def test_warm_pool_scores_like_local_and_outlives_jobs(ray_cluster: Cluster, plant: Plant, tmp_path: Path) -> None:
    local = fleet_score(plant.lake, plant.models, tmp_path / "local", batch_size=3)
    assert local["actors"] == "local"
    with pytest.raises(ConfigError, match="no warm pool"):
        fleet_score(plant.lake, plant.models, tmp_path / "x", engine="ray", address=ray_cluster.address, pool="warm")
    try:
        started = start_pool(ray_cluster.address, 2)
        pids = {row["pid"] for row in started["actors"]}
        assert [row["name"] for row in started["actors"]] == ["scorer-0", "scorer-1"] and len(pids) == 2
        assert all(row["kept"] == 0 and row["import_seconds"] > 0 for row in started["actors"])
        assert os.getpid() not in pids
        import ray

        alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        assert {row["node"] for row in started["actors"]} <= alive  # placed over the nodes: a preference only
        runs = []
        for name in ("a", "b"):
            runs.append(
                fleet_score(
                    plant.lake, plant.models, tmp_path / name, engine="ray", address=ray_cluster.address, batch_size=3
                )
            )
            pd.testing.assert_frame_equal(ranked(tmp_path / name), ranked(tmp_path / "local"))
        assert [run["actors"] for run in runs] == ["warm", "warm"]
        assert all((run["assets"], run["batches"], run["readings"]) == (16, 6, local["readings"]) for run in runs)
        assert all(run["cpu_seconds"] > 0 for run in runs)
        after = pool_status(ray_cluster.address)["actors"]
        assert {row["pid"] for row in after} == pids  # the same processes served both jobs
        assert all(row["kept"] == 1 for row in after)  # one bundle each, loaded by the first job, kept for the next
        assert [row["loads"] for row in after] == [1, 1]
        # kept by the bundle's digest: the same files in another folder are not loaded again; changed files are
        copy = tmp_path / "copy"
        shutil.copytree(plant.models, copy)
        same = fleet_score(plant.lake, copy, tmp_path / "c", engine="ray", address=ray_cluster.address, batch_size=3)
        pd.testing.assert_frame_equal(ranked(tmp_path / "c"), ranked(tmp_path / "local"))
        assert [row["loads"] for row in pool_status(ray_cluster.address)["actors"]] == [1, 1]
        [card] = copy.glob("*/*/card.json")
        card.write_text(card.read_text() + "\n")  # a changed byte: another digest, the same model
        fleet_score(plant.lake, copy, tmp_path / "d", engine="ray", address=ray_cluster.address, batch_size=3)
        pd.testing.assert_frame_equal(ranked(tmp_path / "d"), ranked(tmp_path / "local"))
        assert [row["loads"] for row in pool_status(ray_cluster.address)["actors"]] == [2, 2]
        assert same["actors"] == "warm" and same["assets"] == 16
        # a warm actor SIGKILLed mid-job: Ray restarts it (imports again) and runs its batch again
        killed = fleet_score(
            plant.lake,
            plant.models,
            tmp_path / "k" / "out",
            engine="ray",
            address=ray_cluster.address,
            batch_size=3,
            scorer=KillsItsActor,
            pool="warm",
        )
        assert (tmp_path / "k" / "killed").exists() and killed["assets"] == 16
        pd.testing.assert_frame_equal(ranked(tmp_path / "k" / "out"), ranked(tmp_path / "local"))
        again = pool_status(ray_cluster.address)["actors"]
        assert len(again) == 2 and len({row["pid"] for row in again} - pids) == 1  # one new process
    finally:
        stopped = stop_pool(ray_cluster.address)
    assert stopped["stopped"] == ["scorer-0", "scorer-1"]
    assert pool_status(ray_cluster.address)["actors"] == []


def test_cli_ray_pool_and_lake_score_on_it(ray_cluster: Cluster, plant: Plant, tmp_path: Path) -> None:
    runner = CliRunner()
    address = ["--ray-address", ray_cluster.address]
    try:
        done = runner.invoke(app, ["ray-pool", "start", *address, "--workers", "1"])
        assert done.exit_code == 0, done.output
        assert [row["name"] for row in json.loads(done.output)["actors"]] == ["scorer-0"]
        args = ["lake-score", "--lake", str(plant.lake), "--models", str(plant.models), "--engine", "ray", *address]
        scored = runner.invoke(app, [*args, "--out", str(tmp_path / "s"), "--pool", "warm"])
        assert scored.exit_code == 0, scored.output
        summary = json.loads(scored.output)
        assert summary["actors"] == "warm" and summary["assets"] == 16
        status = runner.invoke(app, ["ray-pool", "status", *address])
        assert status.exit_code == 0 and json.loads(status.output)["actors"][0]["kept"] == 1
        bad = runner.invoke(app, [*args, "--out", str(tmp_path / "t"), "--pool", "hot"])
        assert isinstance(bad.exception, ConfigError) and "not one of auto, warm, job" in str(bad.exception)
    finally:
        stopped = runner.invoke(app, ["ray-pool", "stop", *address])
    assert stopped.exit_code == 0 and json.loads(stopped.output) == {"stopped": ["scorer-0"]}
