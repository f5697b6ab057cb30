"""``forewarn serve`` on a PostgreSQL store answers as it does on DuckDB for the same data (issue 20).

One PostgreSQL server for the module (Debian's initdb and pg_ctl on 127.0.0.1, a free port), stopped at the end
even when a test fails. The synthetic plant of ``conftest`` is copied into a database with ``copy_store``; the
service runs on each store with its own case book (the DuckDB file beside the store; tables in the PostgreSQL
database) and every answer is compared: health of the fleet, cases filed at start-up, alerts, a prediction, the
dashboard, acknowledging and closing a case. The windows the service reads at a bundle's interval (one query
for many assets) are compared on both backends too, with a renewal cutting a window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from forewarn.schema import Asset, Channel
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.recent import RecentReadings
from forewarn.serve.sample import SamplePaths
from forewarn.store import Store
from forewarn.store.copy import copy_store
from forewarn.store.pg_local import LocalPostgres, binaries
from forewarn.store.window_queries import last_reading_us
from testkit import free_port

pytestmark = pytest.mark.slow
API = "/api/v1"
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    server = LocalPostgres(tmp_path_factory.mktemp("pg"), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def plant_url(pg: LocalPostgres, sample_template: SamplePaths) -> str:
    """The sample plant copied into a PostgreSQL database (readings, hierarchy, events)."""
    url = pg.create_database("plant")
    with Store(sample_template.store, read_only=True) as source, Store(url) as target:
        report = copy_store(source, target)
    assert report.readings > 0
    return url


def _client(store: str, models: Path, **extra: object) -> TestClient:
    settings = ServeSettings(store=store, models=str(models), token=TOKEN, evaluate_on_start=True, extra=extra)
    return TestClient(create_app(settings))


def _fleet(client: TestClient) -> dict[str, dict]:
    return {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}


def _cases(client: TestClient) -> list[tuple]:
    return sorted(
        (c["asset_id"], c["status"], c["risk_level"], c["n_alerts"], c["opened_ts"], tuple(c["top_sensors"]))
        for c in client.get(f"{API}/cases").json()
    )


def test_the_service_on_postgres_answers_as_on_duckdb(sample: SamplePaths, plant_url: str) -> None:
    window = [{"bearing_temp": 60.0 + i, "vibration": 2.0 + 0.1 * i, "suction_pressure": 1.0} for i in range(30)]
    with _client(str(sample.store), sample.models) as duck, _client(plant_url, sample.models) as pg:
        duck_ready, pg_ready = duck.get("/healthz").json(), pg.get("/healthz").json()
        assert duck_ready["status"] == pg_ready["status"] == "ok"
        assert duck_ready["readings"] == pg_ready["readings"] > 0
        assert "postgresql" not in json.dumps(pg_ready)  # an anonymous caller sees no server address

        want, got = _fleet(duck), _fleet(pg)
        assert set(got) == set(want) and len(want) == 24
        for asset_id, answer in want.items():
            other = got[asset_id]
            for key in ("health", "probability", "rul", "rul_low", "rul_high"):
                assert other[key] == pytest.approx(answer[key], rel=1e-9, abs=1e-9), (asset_id, key)
            for key in ("ts", "risk_level", "status", "recommended_action"):
                assert other[key] == answer[key], (asset_id, key)
            assert (other["open_case"] is None) == (answer["open_case"] is None)
            assert [c["sensor"] for c in other["contributions"]] == [c["sensor"] for c in answer["contributions"]]

        filed = _cases(duck)
        assert filed and _cases(pg) == filed  # the same cases filed at start-up, in the PostgreSQL database
        assert len(pg.get(f"{API}/alerts").json()) == len(duck.get(f"{API}/alerts").json())

        body = json.dumps({"rows": window})
        headers = {"content-type": "application/json"}
        assert pg.post(f"{API}/predict", content=body, headers=headers).json() == (
            duck.post(f"{API}/predict", content=body, headers=headers).json()
        )
        for page in ("/", "/alerts", "/risk", "/assets/P-004"):  # pages that draw the answers compared above
            shown = [client.get(page) for client in (duck, pg)]
            assert [r.status_code for r in shown] == [200, 200] and shown[1].text == shown[0].text

        case_id = pg.get(f"{API}/cases").json()[0]["case_id"]
        acked = pg.post(f"{API}/cases/{case_id}/acknowledge", json={"by": "ana"}, headers=AUTH)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        closed = pg.post(f"{API}/cases/{case_id}/close", json={"note": "bearing replaced", "by": "ana"}, headers=AUTH)
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        again = pg.post(f"{API}/cases/{case_id}/close", json={"note": "twice"}, headers=AUTH)
        assert again.status_code == 409  # a closed case stays closed, the same answer as on DuckDB
        assert pg.get(f"{API}/cases/{case_id}").json()["note"] == "bearing replaced"
    with _client(plant_url, sample.models) as restarted:  # a restarted service files no second case
        assert [c for c in _cases(restarted) if c[1] != "closed"] == [
            c for c in filed if c[0] != closed.json()["asset_id"]
        ]


START = pd.Timestamp("2026-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def minute_plant(pg: LocalPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    """Minute readings of three pumps (some missing, offsets not on the hour) in a DuckDB and a PostgreSQL store."""
    rng = np.random.default_rng(3)
    duck = Store(tmp_path_factory.mktemp("minutes") / "plant.duckdb")
    server = Store(pg.create_database("minutes"))
    for store in (duck, server):
        store.add_assets(
            [Asset(a, asset_class="pump", channels=(Channel("temp"), Channel("vib"))) for a in ("P-1", "P-2", "P-3")]
        )
    for asset, hours, offset in (("P-1", 50.5, 7), ("P-2", 40.25, 0), ("P-3", 30, 13)):
        n = int(hours * 60)
        ts = START + pd.to_timedelta(offset + np.arange(n), unit="min")
        wide = pd.DataFrame({"ts": ts, "temp": 50 + rng.normal(0, 1, n), "vib": 2 + rng.normal(0, 0.3, n)})
        wide.loc[rng.random(n) < 0.05, "vib"] = np.nan
        long = wide.melt(id_vars="ts", var_name="channel", value_name="value").dropna().assign(asset_id=asset)
        for store in (duck, server):
            store.ingest_readings(long, source="test")
    yield duck, server
    duck.close()
    server.close()


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for asset_id, (times, values) in a.items():
        assert list(b[asset_id][0]) == list(times), asset_id
        np.testing.assert_allclose(b[asset_id][1], values, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_many_assets_windows_are_the_same_on_both_backends(minute_plant: tuple[Store, Store]) -> None:
    duck, server = (RecentReadings(s) for s in minute_plant)
    assets, channels = ["P-1", "P-2", "P-3"], ("temp", "vib")
    renewed = {"P-2": START + pd.Timedelta(hours=38, minutes=30)}  # cuts P-2's window: fewer rows than asked
    for rows in (1, 24, 200):
        want = duck.recent_buckets(assets, channels, rows, "1h", renewed)
        _same(want, server.recent_buckets(assets, channels, rows, "1h", renewed))
        assert len(want["P-1"][0]) == min(rows, 51) and len(want["P-2"][0]) <= 3
        _same(duck.query(assets, channels, rows, None), server.query(assets, channels, rows, None))
        since = START + pd.Timedelta(hours=29, minutes=50)
        _same(duck.query(assets, channels, rows, since), server.query(assets, channels, rows, since))
    for asset in assets:  # the newest reading (the single-asset read at an interval starts from it)
        assert last_reading_us(minute_plant[1], asset) == last_reading_us(minute_plant[0], asset)
    assert last_reading_us(minute_plant[1], "P-3") == (START + pd.Timedelta(minutes=13 + 1799)).value // 1000
    last = duck.query(assets, channels, 5, None)["P-3"][0]
    assert list(last) == list(START + pd.to_timedelta(13 + np.arange(1795, 1800), unit="min"))  # worked by hand


def test_forewarn_serve_runs_on_a_postgres_url(plant_url: str, sample: SamplePaths, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "forewarn.cli.main", "serve", "--store", plant_url, "--models", str(sample.models)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    ready = json.loads(response.read())
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no answer within 90 s"
                time.sleep(0.3)
        assert ready["status"] == "ok" and ready["readings"] > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{API}/assets/P-004/health", timeout=30) as response:
            assert 0 <= json.loads(response.read())["health"] <= 100
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_forewarn_store_names_the_servers_store(monkeypatch: pytest.MonkeyPatch) -> None:
    import forewarn.serve.server as server
    from forewarn.cli.main import app

    seen: dict[str, ServeSettings] = {}
    monkeypatch.setattr(server, "run_server", lambda settings, **kwargs: seen.update(settings=settings))
    monkeypatch.setenv("FOREWARN_STORE", "postgresql://svc@db.plant:5432/plant")
    result = CliRunner().invoke(app, ["serve", "--read-only"])
    assert result.exit_code == 0, result.output
    assert seen["settings"].store == "postgresql://svc@db.plant:5432/plant"  # not refused as a missing file
    assert seen["settings"].extra["read_only"] is True
