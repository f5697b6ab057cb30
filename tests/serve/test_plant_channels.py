"""An asset whose channels the live model does not read (a plant's new machine, another naming): not scored, and
every answer says so alike: /health, /trend and the fleet (before: /health said "no readings yet" of an asset with
readings, and /trend scored it on no data, health 99)."""

from __future__ import annotations

import pandas as pd

from forewarn.serve.sample import ORIGIN

from .test_api import API, AUTH, make_client


def test_an_asset_without_the_models_channels_is_not_scored_anywhere(sample) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"asset_id": "K-9 (alt)", "ts": (ORIGIN + pd.Timedelta(hours=h)).isoformat(), "values": {"Temp °C": 40.0 + h}}
        for h in range(30)
    ]
    with make_client(sample) as client:
        assert client.post(f"{API}/readings", headers=AUTH, json={"rows": rows}).status_code == 200
        health = client.get(f"{API}/assets/K-9 (alt)/health").json()
        assert health["risk_level"] == "unknown" and health["probability"] is None
        assert health["recommended_action"].startswith("not scored: no readings of the model's channels (")
        assert "bearing_temp" in health["recommended_action"] or "+" in health["recommended_action"]
        trend = client.get(f"{API}/assets/K-9 (alt)/trend").json()
        assert trend["ts"] == [] and trend["probability"] == [] and trend["health"] == []
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
        assert fleet["K-9 (alt)"]["risk_level"] == "unknown"
        assert client.get(f"{API}/assets/K-9 (alt)/readings").json()  # its readings are there all the same


def test_an_asset_id_with_a_slash_is_reachable(sample) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"asset_id": "Line 2/Pump 3", "ts": (ORIGIN + pd.Timedelta(hours=h)).isoformat(), "values": {"vibration": 2.0}}
        for h in range(5)
    ]
    with make_client(sample) as client:
        assert client.post(f"{API}/readings", headers=AUTH, json={"rows": rows}).status_code == 200
        path = "Line%202%2FPump%203"  # before: 404 Not Found on every route (the id was stored all the same)
        assert client.get(f"{API}/assets/{path}").json()["asset_id"] == "Line 2/Pump 3"
        assert client.get(f"{API}/assets/{path}/health").json()["asset_id"] == "Line 2/Pump 3"
        assert client.get(f"{API}/assets/{path}/readings").json()["values"]["vibration"] == [2.0] * 5
        assert client.get(f"{API}/assets/{path}/trend").status_code == 200
        assert client.get(f"{API}/assets/{path}/events").json() == []
        page = client.get(f"/assets/{path}")
        assert page.status_code == 200 and "Line 2/Pump 3" in page.text
        assert client.get(f"{API}/assets/P-001/health").json()["asset_id"] == "P-001"  # the suffix routes still win
        assert client.get(f"{API}/assets/Line%202%2FNope/health").status_code == 404
