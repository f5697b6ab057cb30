"""Several Forewarn processes on one PostgreSQL store at once (issue 20): an ingest writer, the service (scoring and
filing cases) and a training job, each its own process, on one database of the session's server (``pg_server``).

The plant: a run-to-failure twin fleet, its first 30 days in the database before anything starts (and a model
trained on them), the last 15 days in a Parquet file the writer ingests one day per transaction while the service
answers and evaluates and ``forewarn train`` fits a second version. Then: every reading is stored once (the count
equals the fleet's), every request was answered (no 5xx), the service's cases are one open case per asset, the
training job filed its version, and the service sees the writer's readings within its refresh interval.

``shared_plant`` (the database URL, the models folder and the late readings) and :func:`start_service` are meant
to be reused by a test that adds ``forewarn stream`` to the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import forewarn.train
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres
from forewarn.twin.fleet import FleetConfig, simulate_fleet
from testkit import free_port

pytestmark = pytest.mark.slow
TOKEN = "many-processes-token-0123"
FLEET = FleetConfig(
    sites=1, assets=12, days=45, interval="1h", degradation_scale=5.0, policies=("run_to_failure",), start="2024-03-01"
)
CUT = pd.Timestamp("2024-03-31T00:00:00Z")
TRAIN = ("--task", "failure", "--horizon", "72h", "--interval", "3h", "--model", "logistic-failure", "--seed", "1")

WRITER = """
import sys, pandas as pd
from forewarn.store import Store
url, parquet = sys.argv[1], sys.argv[2]
late = pd.read_parquet(parquet)
written = 0
with Store(url) as store:
    for _, day in late.groupby(late["ts"].dt.floor("1D")):
        written += store.ingest_readings(day, source="writer").written
print(written)
"""


@dataclass
class SharedPlant:
    url: str
    models: Path
    late: Path  # the readings after CUT, as Parquet (asset_id, ts, channel, value)
    n_early: int
    n_late: int


@pytest.fixture(scope="module")
def shared_plant(pg_server: LocalPostgres, tmp_path_factory: pytest.TempPathFactory) -> SharedPlant:
    """The fleet's first 30 days in a fresh database with a model trained on them (``models/failure/v1``)."""
    folder = tmp_path_factory.mktemp("shared")
    fleet = simulate_fleet(FLEET, seed=5)
    with Store(folder / "all.duckdb") as duck:
        fleet.to_store(duck)
        readings = duck.sql("SELECT asset_id, ts, channel, value FROM readings")
        events = duck.events()
    url = pg_server.create_database("shared_plant")
    early, late = readings[readings["ts"] < CUT], readings[readings["ts"] >= CUT]
    with Store(url) as store:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
        assert store.ingest_readings(early, source="setup").written == len(early)
        store.ingest_events(events[events["ts"] < CUT], source="setup")
    late.to_parquet(folder / "late.parquet")
    models = folder / "models"
    forewarn.train(url, models, task="failure", horizon="72h", interval="3h", model="logistic-failure", seed=1)
    return SharedPlant(url, models, folder / "late.parquet", len(early), len(late))


def _get(url: str, *, data: bytes | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {TOKEN}"})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def start_service(url: str, models: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``forewarn serve --store URL`` in its own process; returns it and its base URL once /healthz answers."""
    port = free_port()
    env = {**os.environ, "FOREWARN_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "forewarn.cli.main", "serve", "--store", url, "--models", str(models)]
    command += ["--close-quiet", "0"]  # cases stay open till the end: what is checked is one per asset, not the rule
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return process, base
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the service did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


def test_ingest_service_and_training_run_at_once_on_one_database(shared_plant: SharedPlant, tmp_path: Path) -> None:
    plant = shared_plant
    service, base = start_service(plant.url, plant.models, tmp_path / "serve.log")
    writer = training = None
    try:
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, plant.url, str(plant.late)], stdout=subprocess.PIPE, text=True
        )
        train = [sys.executable, "-m", "forewarn.cli.main", "train", "--store", plant.url, "--models"]
        training = subprocess.Popen([*train, str(plant.models), *TRAIN], stdout=subprocess.PIPE, text=True)
        statuses: list[int] = []
        while writer.poll() is None or training.poll() is None:  # the service answers while both write and read
            statuses.append(_get(f"{base}/api/v1/alerts/evaluate", data=b"{}")[0])
            statuses.append(_get(f"{base}/api/v1/fleet/health")[0])
            time.sleep(0.2)
        written, trained = writer.communicate()[0], training.communicate()[0]
        assert writer.returncode == 0 and int(written.strip()) == plant.n_late
        assert training.returncode == 0, trained
        log = (tmp_path / "serve.log").read_text()
        assert statuses and set(statuses) == {200}, (sorted(set(statuses)), log[-3000:])

        with Store(plant.url, read_only=True) as store:
            assert store.count_readings() == plant.n_early + plant.n_late  # each reading once: none lost, none twice
            open_cases = store.sql(
                "SELECT asset_id, count(*) AS n FROM cases WHERE status <> 'closed' AND kind = 'health' GROUP BY 1"
            )
        assert len(open_cases) and (open_cases["n"] == 1).all()
        code, cases = _get(f"{base}/api/v1/cases")
        assert code == 200 and sorted(c["asset_id"] for c in cases) == sorted(open_cases["asset_id"])
        card = json.loads((plant.models / "failure" / "v2" / "card.json").read_text())
        assert card["data"]["rows"] > 0  # the training job filed its version (not promoted: v1 still serves)

        deadline = time.monotonic() + 90  # the service's answers age out (serve.shared): it sees the last day
        while True:
            code, fleet = _get(f"{base}/api/v1/fleet/health")
            assert code == 200
            latest = max(pd.Timestamp(a["ts"]) for a in fleet if a["ts"])  # type: ignore[union-attr]
            if latest >= CUT + pd.Timedelta(days=14):
                break
            assert time.monotonic() < deadline, f"the service still answers from {latest}"
            time.sleep(1)
        assert _get(f"{base}/healthz")[1]["readings"] == plant.n_early + plant.n_late  # type: ignore[index]
    finally:
        for process in (writer, training, service):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.communicate(timeout=30)  # reaped, its pipe closed
        log = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in log, log[-3000:]
