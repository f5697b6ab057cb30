"""A failed asset that no maintenance has renewed (health ``down``) opens a case of kind ``failure`` in the service's
case book (the alerts page and ``/api/v1/cases`` list it); the renewing maintenance closes it. Before, a down asset
was critical on the fleet page but opened no case: the case book was silent about the fleet's most urgent fact."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import SamplePaths

from .test_down_answers import _event, _last_reading

API = "/api/v1"
TOKEN = "test-token-0123456789"  # conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(sample: SamplePaths) -> TestClient:
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN)
    return TestClient(create_app(settings))  # evaluates the fleet at start-up, as `forewarn serve` does


def test_a_down_asset_opens_one_failure_case_that_its_repair_closes(sample: SamplePaths) -> None:
    failed = _last_reading(sample.store, "P-004") + pd.Timedelta(hours=1)
    _event(sample.store, "P-004", failed, "failure", failure_mode="bearing")
    with _client(sample) as client:
        health = client.get(f"{API}/assets/P-004/health").json()
        cases = client.get(f"{API}/cases", params={"asset_id": "P-004"}).json()
        alerts = client.get(f"{API}/alerts", params={"asset_id": "P-004"}).json()
        again = client.post(f"{API}/alerts/evaluate", json={}, headers=AUTH).json()
        after = client.get(f"{API}/cases", params={"asset_id": "P-004"}).json()
    assert health["status"] == "down"
    assert [(c["kind"], c["status"], c["risk_level"], c["model_id"]) for c in cases] == [
        ("failure", "open", "critical", "events")
    ]
    assert health["open_case"] == cases[0]["case_id"]  # the asset's answer names its case
    assert [(a["source"], pd.Timestamp(a["ts"])) for a in alerts] == [("failure", failed)]
    assert "P-004" not in {a["asset_id"] for a in again}  # filed once: a second evaluation files nothing new
    assert after == cases

    repaired = failed + pd.Timedelta(hours=5)
    _event(sample.store, "P-004", repaired, "maintenance", action="replaced bearing")
    with _client(sample) as client:  # the service that starts next (or evaluates the asset next) closes the case
        health = client.get(f"{API}/assets/P-004/health").json()
        case = client.get(f"{API}/cases/{cases[0]['case_id']}").json()
        opened = client.get(f"{API}/cases", params={"asset_id": "P-004", "status": "open"}).json()
    assert health["status"] != "down" and health["open_case"] is None  # no readings since the repair yet: not scored
    assert case["status"] == "closed" and case["closed_by"] == "forewarn"
    assert case["note"] == (
        f"renewed: maintenance recorded at {repaired:%Y-%m-%d %H:%M} UTC after the failure at {failed:%Y-%m-%d %H:%M} UTC"
    )
    assert opened == []


def test_a_case_closed_by_hand_while_the_asset_is_down_is_not_reopened(sample: SamplePaths) -> None:
    failed = _last_reading(sample.store, "P-002") + pd.Timedelta(hours=2)
    _event(sample.store, "P-002", failed, "failure")
    with _client(sample) as client:
        case_id = client.get(f"{API}/cases", params={"asset_id": "P-002"}).json()[0]["case_id"]
        closed = client.post(
            f"{API}/cases/{case_id}/close", json={"note": "waiting for the spare motor", "by": "ana"}, headers=AUTH
        )
        assert closed.status_code == 200, closed.text
        client.post(f"{API}/alerts/evaluate", json={"asset_ids": ["P-002"]}, headers=AUTH)
        cases = client.get(f"{API}/cases", params={"asset_id": "P-002"}).json()
    assert [(c["case_id"], c["status"]) for c in cases] == [(case_id, "closed")]


def test_a_down_asset_opens_its_case_without_a_model(sample: SamplePaths) -> None:
    # a store served with no model yet: the failure case follows the events alone
    failed = _last_reading(sample.store, "P-005") + pd.Timedelta(hours=1)
    _event(sample.store, "P-005", failed, "failure", failure_mode="seal")
    settings = ServeSettings(store=str(sample.store), token=TOKEN, evaluate_on_start=False)  # start-up files it too:
    with TestClient(create_app(settings)) as client:  # tests/serve/test_down_answers.py
        opened = client.post(f"{API}/alerts/evaluate", json={}, headers=AUTH)
        cases = client.get(f"{API}/cases").json()
    assert opened.status_code == 200, opened.text
    assert [(a["asset_id"], a["source"]) for a in opened.json()] == [("P-005", "failure")]
    assert [(c["asset_id"], c["kind"], c["status"]) for c in cases] == [("P-005", "failure", "open")]


def test_the_fleet_says_a_down_asset_without_a_model(sample: SamplePaths) -> None:
    # no model: nothing is scored, but the event log still says which asset is down (the dashboard, the API and
    # the fleet gauges agree with the case book)
    failed = _last_reading(sample.store, "P-006") + pd.Timedelta(hours=1)
    _event(sample.store, "P-006", failed, "failure", failure_mode="seal")
    settings = ServeSettings(store=str(sample.store), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
    down = fleet["P-006"]
    assert (down["status"], down["risk_level"], down["health"], down["probability"]) == ("down", "critical", 0.0, None)
    assert down["recommended_action"].startswith(f"down since {failed:%Y-%m-%d %H:%M} UTC")
    assert pd.Timestamp(down["ts"]) == failed
    others = [a for a in fleet.values() if a["asset_id"] != "P-006"]
    assert others and {(a["status"], a["risk_level"]) for a in others} == {(None, "unknown")}
