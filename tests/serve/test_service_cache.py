"""The health cache follows every change with no invalidation call from outside the service.

Each test reads health first (so the answers are cached, and the next read would take the fast path), changes
something through the API (or the service's own parts), and checks the very next read shows the change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.decide.alerts import Alert
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.cache import HealthCache, HealthKey
from forewarn.serve.sample import ORIGIN
from forewarn.serve.service import HealthService

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(sample) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as c:
        yield c


def _warm(client: TestClient) -> dict[str, dict]:
    """Every asset's health, read twice: the second read comes from the cache."""
    fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    for asset_id in fleet:
        assert client.get(f"{API}/assets/{asset_id}/health").json() == fleet[asset_id]
    service: HealthService = client.app.state.service  # type: ignore[attr-defined]
    assert all(service.scores.cached_json(a) is not None for a in fleet)  # the fast path would answer
    return fleet


def test_cases_opened_acknowledged_and_closed_through_the_api_are_in_the_next_health_read(client: TestClient) -> None:
    before = _warm(client)
    assert all(h["open_case"] is None for h in before.values())
    opened = client.post(f"{API}/alerts/evaluate", headers=AUTH, json={})
    assert opened.status_code == 200, opened.text
    cases = {a["asset_id"]: a["case_id"] for a in opened.json()}
    assert len(cases) >= 3
    fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    for asset_id in before:
        one = client.get(f"{API}/assets/{asset_id}/health").json()
        assert one["open_case"] == fleet[asset_id]["open_case"] == cases.get(asset_id), asset_id
    alerts = client.get(f"{API}/alerts").json()
    assert {a["case_id"] for a in alerts} == set(cases.values())

    acked, closed = sorted(cases)[:2]
    _warm(client)
    assert client.post(f"{API}/cases/{cases[acked]}/acknowledge", headers=AUTH, json={"by": "ana"}).status_code == 200
    assert (
        client.post(
            f"{API}/cases/{cases[closed]}/close", headers=AUTH, json={"note": "replaced the bearing", "by": "ana"}
        ).status_code
        == 200
    )
    assert client.get(f"{API}/assets/{closed}/health").json()["open_case"] is None
    assert client.get(f"{API}/assets/{acked}/health").json()["open_case"] == cases[acked]
    fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    assert fleet[closed]["open_case"] is None and fleet[acked]["open_case"] == cases[acked]
    assert [c["status"] for c in client.get(f"{API}/cases", params={"asset_id": closed}).json()] == ["closed"]


def test_readings_posted_through_the_api_are_in_the_next_health_read(client: TestClient) -> None:
    before = _warm(client)
    asset_id = min(before.values(), key=lambda h: h["probability"])["asset_id"]
    hour = int((pd.Timestamp(before[asset_id]["ts"]) - ORIGIN) / pd.Timedelta(hours=1)) + 1
    rows = [
        {
            "asset_id": asset_id,
            "ts": (ORIGIN + pd.Timedelta(hours=hour + h)).isoformat(),
            "values": {"bearing_temp": 95.0 + h, "vibration": 12.0 + h, "suction_pressure": 1.5},
        }
        for h in range(30)
    ]
    written = client.post(f"{API}/readings", headers=AUTH, json={"rows": rows}).json()
    assert written["written"] == 90
    after = client.get(f"{API}/assets/{asset_id}/health").json()
    assert after["ts"] == rows[-1]["ts"] and after["probability"] > before[asset_id]["probability"]
    if written["alerts_opened"]:  # the ingest's own evaluation filed a case: the same read shows it
        assert after["open_case"] is not None
    fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    assert fleet[asset_id]["ts"] == rows[-1]["ts"]


def test_a_promotion_and_a_cost_table_are_in_the_next_health_read(client: TestClient) -> None:
    before = _warm(client)
    asset_id = sorted(before)[0]
    assert before[asset_id]["version"] == "v2"
    assert client.post(f"{API}/models/rul/promote", json={"version": "v1"}, headers=AUTH).status_code == 200
    assert client.get(f"{API}/assets/{asset_id}/health").json()["version"] == "v1"
    assert client.get(f"{API}/fleet/health").json()[0]["version"] == "v1"
    service: HealthService = client.app.state.service  # type: ignore[attr-defined]
    service.set_costs({"default": {"missed_failure": 100.0, "false_alarm": 1.0}})
    threshold = client.get(f"{API}/assets/{asset_id}/health").json()["threshold"]
    assert threshold != before[asset_id]["threshold"]


def test_a_case_changed_through_the_service_parts_is_in_the_next_health_read(sample) -> None:  # type: ignore[no-untyped-def]
    service = HealthService(ServeSettings(store=str(sample.store), models=str(sample.models)))
    try:
        asset_id = sorted(service.store.assets()["asset_id"])[0]
        assert service.health(asset_id)["open_case"] is None
        case_id = service.cases.file([Alert(asset_id, pd.Timestamp("2026-01-01", tz="UTC"), "rul:v2", 0.9, "high")])[0]
        assert service.scores.cached_json(asset_id) is None
        assert service.health(asset_id)["open_case"] == case_id
        assert service.scores.cached_json(asset_id) is not None
        service.cases.close(case_id, note="checked, nothing found")
        assert service.scores.cached_json(asset_id) is None
        assert service.health(asset_id)["open_case"] is None
    finally:
        service.close()


def test_the_cache_key_is_taken_before_reading_and_names_what_it_depends_on() -> None:
    cache = HealthCache()
    key = cache.key("P-1", "rul", "v2")
    assert key == HealthKey(readings=0, cases=0, epoch=0, model_id="rul", version="v2")
    cache.readings_changed(["P-1"])  # readings arrived while the answer was computed from older ones
    cache.put("P-1", key, {"asset_id": "P-1"})  # type: ignore[typeddict-item]
    assert cache.get("P-1", "rul", "v2") is None
    fresh = cache.key("P-1", "rul", "v2")
    cache.put("P-1", fresh, {"asset_id": "P-1"})  # type: ignore[typeddict-item]
    assert cache.get("P-1", "rul", "v2") == {"asset_id": "P-1"}
    assert cache.json("P-1", lambda model_id: "v2") == b'{"asset_id":"P-1"}'
    assert cache.json("P-1", lambda model_id: "v3") is None  # another version went live
    assert cache.get("P-1", "rul", "v1") is None
    cache.readings_changed(["P-2"])
    assert cache.get("P-1", "rul", "v2") is not None  # another asset's readings change nothing here
    cache.clear()
    assert cache.get("P-1", "rul", "v2") is None and cache.key("P-1", "rul", "v2").epoch == 1
