"""A Ray cluster on 127.0.0.1 for the session (a head node and one worker node, each its own raylet and worker
processes, one CPU each, dashboard off), and a small simulated plant (store, live failure model, lake) shared by
the distributed tests.

The nodes are started with ``ray.cluster_utils.Cluster`` (Ray's own way of starting a multi-node cluster on one
machine: ``ray start --address`` refuses a second node bound to loopback), and stopped by it: exactly the processes
the tests started, never ``ray stop``, which would stop every Ray on the machine."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import forewarn.distributed.engine  # noqa: F401 - sets Ray's loopback environment before ray is imported


@dataclass
class Cluster:
    address: str
    nodes: list[Any]
    handle: Any


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    """Head and one worker node on 127.0.0.1; this test process is connected to it as the driver."""
    import ray
    from ray.cluster_utils import Cluster as RayCluster

    from forewarn.distributed.engine import connect

    temp = Path(tempfile.mkdtemp(prefix="fwray-", dir="/tmp"))  # short: Ray's socket paths must stay < 108 bytes
    # Ray's test cluster writes its address into the default temp folder (/tmp/ray) whatever temp_dir says, and fails
    # on a machine where no Ray has run yet (a fresh CI machine, when these tests come before the federated ones)
    from ray._common.utils import get_ray_address_file

    Path(get_ray_address_file(None)).parent.mkdir(parents=True, exist_ok=True)
    ray.shutdown()
    cluster = RayCluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": str(temp)},
    )
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        connect(cluster.address)
        yield Cluster(cluster.address, [cluster.head_node, worker], cluster)
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@dataclass
class Plant:
    store: Path
    models: Path
    lake: Path


FAST = {"task": "failure", "horizon": "72h", "interval": "3h", "model": "logistic-failure"}


@pytest.fixture(scope="session")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Plant:
    """Two sites, 16 pumps and motors run to failure for 40 days at 1 h; a live logistic failure model; the lake."""
    import forewarn.train
    from forewarn.distributed.lake import export_lake
    from forewarn.store import Store
    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    root = tmp_path_factory.mktemp("plant")
    config = FleetConfig(
        sites=2,
        assets=16,
        days=40,
        interval="1h",
        degradation_scale=5.0,
        policies=("run_to_failure",),
        start="2024-03-01",
    )
    with Store(root / "plant.duckdb") as db:
        simulate_fleet(config, seed=4).to_store(db)
    forewarn.train(root / "plant.duckdb", root / "models", **FAST)
    export_lake(root / "plant.duckdb", root / "lake")
    return Plant(root / "plant.duckdb", root / "models", root / "lake")
