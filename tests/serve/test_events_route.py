"""``POST /api/v1/events``: a running service records what happened to an asset (a failure, a maintenance, an
inspection), as a CMMS or a technician reports it. Before, a service on DuckDB had no way to learn of a failure or a
repair: a down asset opened no case and a repair closed none until someone ingested events into the store and the
service was restarted."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import SamplePaths
from forewarn.store import Store

API = "/api/v1"
TOKEN = "test-token-0123456789"  # conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _last_reading(sample: SamplePaths, asset_id: str) -> pd.Timestamp:
    with Store(sample.store) as store:
        return pd.Timestamp(store.readings(asset_id, wide=True)["ts"].max())


@pytest.fixture
def client(sample: SamplePaths) -> TestClient:
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN)
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_failure_recorded_opens_its_case_and_the_repair_recorded_closes_it(
    client: TestClient, sample: SamplePaths
) -> None:
    failed = _last_reading(sample, "P-004") + pd.Timedelta(hours=1)
    event = {"asset_id": "P-004", "ts": failed.isoformat(), "kind": "failure", "failure_mode": "bearing"}
    answer = client.post(f"{API}/events", json={"events": [event]}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "source": "request",
        "rows_read": 1,
        "written": 1,
        "duplicates": 0,
        "assets_created": [],
        "alerts_opened": 1,
        "cases_closed": [],
    }
    health = client.get(f"{API}/assets/P-004/health").json()
    cases = client.get(f"{API}/cases", params={"asset_id": "P-004", "status": "open"}).json()
    assert health["status"] == "down"
    assert [c["case_id"] for c in cases] == [health["open_case"]]  # on the asset's open case (or a new one)
    alerts = client.get(f"{API}/alerts", params={"asset_id": "P-004"}).json()
    assert ("failure", failed) in [(a["source"], pd.Timestamp(a["ts"])) for a in alerts]
    events = client.get(f"{API}/assets/P-004/events").json()
    assert {"kind": "failure", "failure_mode": "bearing"}.items() <= events[-1].items()

    again = client.post(f"{API}/events", json={"events": [event]}, headers=AUTH).json()
    assert (again["written"], again["duplicates"], again["alerts_opened"]) == (0, 1, 0)  # stored and filed once

    repair = {"asset_id": "P-004", "ts": (failed + pd.Timedelta(hours=6)).isoformat(), "kind": "maintenance",
              "action": "replaced bearing", "parts": "6205-2RS", "note": "outer race spalled"}  # fmt: skip
    closed = client.post(f"{API}/events", json={"events": [repair]}, headers=AUTH).json()
    assert closed["cases_closed"] == [cases[0]["case_id"]]
    assert client.get(f"{API}/cases/{cases[0]['case_id']}").json()["status"] == "closed"
    assert client.get(f"{API}/assets/P-004/health").json()["status"] != "down"


def test_bad_events_are_refused_whole_and_named(client: TestClient, sample: SamplePaths) -> None:
    ts = _last_reading(sample, "P-001").isoformat()
    good = {"asset_id": "P-001", "ts": ts, "kind": "inspection", "result": "ok"}
    bad_kind = client.post(f"{API}/events", json={"events": [good, {**good, "kind": "repair"}]}, headers=AUTH)
    assert bad_kind.status_code == 422
    assert ["body", "events", 1, "kind"] in [e["loc"] for e in bad_kind.json()["detail"]]
    unknown = client.post(
        f"{API}/events", json={"events": [good, {**good, "asset_id": "P-999"}], "strict": True}, headers=AUTH
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["detail"][0]["loc"] == ["body", "events", 1, "asset_id"]
    assert "P-999" in unknown.json()["detail"][0]["msg"]
    far = client.post(f"{API}/events", json={"events": [{**good, "ts": "9999-01-01T00:00:00Z"}]}, headers=AUTH)
    assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["body", "events", 0, "ts"]
    assert client.post(f"{API}/events", json={"events": []}, headers=AUTH).status_code == 422
    assert client.post(f"{API}/events", content=b"{not json", headers=AUTH).status_code == 422
    assert client.post(f"{API}/events", json={"events": [good]}).status_code == 401  # writes need the token
    assert client.get(f"{API}/assets/P-001/events").json() == []  # nothing of the refused batches was stored
