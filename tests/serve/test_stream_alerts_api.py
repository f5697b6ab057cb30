"""``GET /api/v1/stream/alerts``: the alerts a stream's own models raised, read from the store's ``stream_alerts``
table (written by ``forewarn stream`` / ``serve --stream``), newest first, with filters; an empty list for a store
that was never streamed into; 422 naming the parameter for bad filters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app

from .conftest import TOKEN, write_stream_alerts

API = "/api/v1"


def _client(sample) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(
        create_app(
            ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
        )
    )


def test_a_store_never_streamed_into_has_no_stream_alerts(sample) -> None:  # type: ignore[no-untyped-def]
    with _client(sample) as client:
        response = client.get(f"{API}/stream/alerts")
        assert response.status_code == 200 and response.json() == []


def test_stream_alerts_newest_first_with_filters(sample) -> None:  # type: ignore[no-untyped-def]
    write_stream_alerts(sample.store)
    with _client(sample) as client:
        alerts = client.get(f"{API}/stream/alerts").json()
        assert [(a["asset_id"], a["model_id"]) for a in alerts] == [
            ("P-001", "iforest"),
            ("P-002", "pca-t2q"),
            ("P-001", "pca-t2q"),
        ]
        newest = alerts[0]
        assert newest["ts"].startswith("2026-01-05T11:30:00") and newest["raised_at"].startswith("2026-01-05T12:00")
        assert newest["explanation"] == {"suction_pressure": 0.5} and newest["rul"] == 120.0
        assert alerts[1]["probability"] is None and alerts[1]["risk_level"] == "critical"

        def ids(**params: object) -> list[tuple[str, str]]:
            return [(a["asset_id"], a["model_id"]) for a in client.get(f"{API}/stream/alerts", params=params).json()]

        assert ids(asset_id="P-001") == [("P-001", "iforest"), ("P-001", "pca-t2q")]
        assert ids(model_id="pca-t2q") == [("P-002", "pca-t2q"), ("P-001", "pca-t2q")]
        assert ids(start="2026-01-05T10:30:00Z", end="2026-01-05T11:30:00Z") == [("P-002", "pca-t2q")]
        assert ids(limit=1) == [("P-001", "iforest")]
        assert ids(asset_id="P-999") == []
        for params, field in (
            ({"limit": 0}, "limit"),
            ({"start": "yesterday"}, "start"),
            ({"asset_id": "a\x01b"}, "asset_id"),
        ):
            response = client.get(f"{API}/stream/alerts", params=params)
            assert response.status_code == 422
            assert response.json()["detail"][0]["loc"] == ["query", field]
        # they open no case: the service's case book is its own
        assert client.get(f"{API}/cases").json() == []
