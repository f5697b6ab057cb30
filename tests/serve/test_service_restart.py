"""A restarted service carries on: alert-policy state, open cases, acknowledgements and closures survive.

Each test runs the service (the FastAPI app, in process) on the sample plant's store file, stops it (the
lifespan closes the store and the case book) and starts a new one on the same files.
"""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import ORIGIN

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(sample, **overrides) -> TestClient:  # type: ignore[no-untyped-def]
    values = {"store": str(sample.store), "models": str(sample.models), "token": TOKEN, "evaluate_on_start": True}
    values.update(overrides)
    return TestClient(create_app(ServeSettings(**values)))


def _hot(asset_id: str, start_hour: int, hours: int) -> list[dict]:
    return [
        {
            "asset_id": asset_id,
            "ts": (ORIGIN + pd.Timedelta(hours=start_hour + h)).isoformat(),
            "values": {"bearing_temp": 95.0 + h * 0.5, "vibration": 12.0 + h * 0.2, "suction_pressure": 1.5},
        }
        for h in range(hours)
    ]


def _open_cases(c: TestClient) -> dict[str, list[int]]:
    by_asset: dict[str, list[int]] = {}
    for case in c.get(f"{API}/cases", params={"status": "open"}).json():
        by_asset.setdefault(case["asset_id"], []).append(case["case_id"])
    return by_asset


def test_restart_does_not_realert_and_keeps_case_work(sample) -> None:  # type: ignore[no-untyped-def]
    with _client(sample) as c:
        first = c.get(f"{API}/alerts", params={"limit": 5000}).json()
        opened = _open_cases(c)
        assert len(opened) >= 3 and all(len(ids) == 1 for ids in opened.values())
        acked_asset, closed_asset = sorted(opened)[:2]
        ack = c.post(f"{API}/cases/{opened[acked_asset][0]}/acknowledge", headers=AUTH, json={"by": "ana"})
        assert ack.status_code == 200, ack.text
        done = c.post(
            f"{API}/cases/{opened[closed_asset][0]}/close",
            headers=AUTH,
            json={"note": "replaced the bearing", "by": "ana"},
        )
        assert done.status_code == 200, done.text

    with _client(sample) as c:  # the start-up evaluation scores the same assets again
        assert c.get(f"{API}/alerts", params={"limit": 5000}).json() == first  # no alert raised again
        again = _open_cases(c)
        assert set(again) == set(opened) - {closed_asset}
        assert all(len(ids) == 1 and ids == opened[a] for a, ids in again.items())
        assert c.post(f"{API}/alerts/evaluate", headers=AUTH, json={}).json() == []
        acked = c.get(f"{API}/cases/{opened[acked_asset][0]}").json()
        assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "ana"
        closed = c.get(f"{API}/cases/{opened[closed_asset][0]}").json()
        assert closed["status"] == "closed" and closed["note"] == "replaced the bearing"
        # the closed asset is still above its threshold: the same episode, so no new case
        assert [k["status"] for k in c.get(f"{API}/cases", params={"asset_id": closed_asset}).json()] == ["closed"]
        health = c.get(f"{API}/assets/{acked_asset}/health").json()
        assert health["open_case"] == opened[acked_asset][0]


def test_asset_in_alert_before_restart_does_not_alert_after(sample) -> None:  # type: ignore[no-untyped-def]
    with _client(sample, evaluate_on_start=False) as c:
        healthy = min(c.get(f"{API}/fleet/health").json(), key=lambda a: a["probability"])
        asset_id = healthy["asset_id"]
        hour = int((pd.Timestamp(healthy["ts"]) - ORIGIN) / pd.Timedelta(hours=1)) + 1
        opened = 0
        for _ in range(3):
            result = c.post(f"{API}/readings", headers=AUTH, json={"rows": _hot(asset_id, hour, 15)})
            assert result.status_code == 200, result.text
            opened += result.json()["alerts_opened"]
            hour += 15
        assert opened == 1
        case_id = _open_cases(c)[asset_id]

    with _client(sample, evaluate_on_start=False) as c:
        for _ in range(2):  # still hot after the restart: the hysteresis state says it is the same alert
            result = c.post(f"{API}/readings", headers=AUTH, json={"rows": _hot(asset_id, hour, 15)})
            assert result.status_code == 200, result.text
            assert result.json()["alerts_opened"] == 0
            hour += 15
        assert _open_cases(c)[asset_id] == case_id
        assert len(c.get(f"{API}/alerts", params={"asset_id": asset_id}).json()) == 1
