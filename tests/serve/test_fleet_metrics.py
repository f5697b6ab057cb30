"""The per-asset gauges of /metrics (forewarn.serve.fleet_metrics): the same figures as the health API."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from forewarn.exceptions import DataNotFoundError
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.fleet_metrics import FleetCollector
from forewarn.serve.sample import ORIGIN

API = "/api/v1"


def _samples(text: str) -> dict[str, dict[str, float]]:
    """``{metric name: {asset_id: value}}`` of the forewarn_asset_* gauges."""
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("forewarn_asset_") or s.name == "forewarn_fleet_scrape_ok":
                out.setdefault(s.name, {})[s.labels.get("asset_id", "")] = s.value
    return out


class _Cases:
    def __init__(self, open_ids: dict[str, int]):
        self.open_ids = open_ids

    def open_case_id(self, asset_id: str) -> int | None:
        return self.open_ids.get(asset_id)


class _Fleet:
    """A service that answers two assets by hand (one scored with an open case, one without readings)."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.casebook = _Cases({"P-1": 7})

    def fleet(self) -> list[dict]:
        if self.fail:
            raise DataNotFoundError("bundle rul/v3 is missing its state file")
        scored = {
            "asset_id": "P-1",
            "asset_class": "pump",
            "site_id": "north",
            "line_id": None,
            "model_id": "rul",
            "horizon": 48.0,
            "unit": "hours",
            "health": 62.5,
            "probability": 0.375,
            "rul": 30.0,
            "rul_low": 12.5,
            "rul_high": 55.0,
            "open_case": 7,
        }
        unscored = {**scored, "asset_id": "P-2", "open_case": None}
        unscored.update(health=None, probability=None, rul=None, rul_low=None, rul_high=None)
        return [scored, unscored]

    def assets(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"asset_class": ["pump", "fan"], "site_id": ["north", None], "line_id": [None, "L2"]},
            index=pd.Index(["P-1", "F-9"], name="asset_id"),
        )


def _scrape(service: object) -> str:
    registry = CollectorRegistry()
    registry.register(FleetCollector(service))
    return generate_latest(registry).decode()


def test_gauges_of_a_hand_made_fleet() -> None:
    text = _scrape(_Fleet())
    labelled = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    place = (("asset_class", "pump"), ("asset_id", "P-1"), ("line_id", ""), ("model_id", "rul"), ("site_id", "north"))
    hours = tuple(sorted((*place, ("unit", "hours"))))
    assert labelled[("forewarn_asset_health_score", place)] == 62.5
    assert labelled[("forewarn_asset_failure_probability", tuple(sorted((*place, ("horizon", "48")))))] == 0.375
    assert labelled[("forewarn_asset_rul", hours)] == 30.0
    assert labelled[("forewarn_asset_rul_low", hours)] == 12.5
    assert labelled[("forewarn_asset_rul_high", hours)] == 55.0
    got = _samples(text)
    assert got["forewarn_asset_open_cases"] == {"P-1": 1.0, "P-2": 0.0}
    # P-2 has no readings: no model samples at all
    assert "P-2" not in got["forewarn_asset_health_score"] and "P-2" not in got["forewarn_asset_rul"]
    assert got["forewarn_fleet_scrape_ok"] == {"": 1.0}


def test_a_failing_model_still_reports_open_cases() -> None:
    got = _samples(_scrape(_Fleet(fail=True)))
    assert got["forewarn_fleet_scrape_ok"] == {"": 0.0}
    assert got["forewarn_asset_open_cases"] == {"P-1": 1.0, "F-9": 0.0}
    assert "forewarn_asset_health_score" not in got


def test_metrics_match_the_health_api_and_follow_changes(sample, auth) -> None:  # type: ignore[no-untyped-def]
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token="test-token-0123456789")
    with TestClient(create_app(settings)) as client:
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
        got = _samples(client.get("/metrics").text)
        assert set(got["forewarn_asset_open_cases"]) == set(fleet)
        for asset_id, answer in fleet.items():
            assert got["forewarn_asset_health_score"][asset_id] == answer["health"]
            assert got["forewarn_asset_failure_probability"][asset_id] == answer["probability"]
            assert got["forewarn_asset_rul"][asset_id] == answer["rul"]
            assert got["forewarn_asset_open_cases"][asset_id] == (answer["open_case"] is not None)
        opened = [a for a, v in got["forewarn_asset_open_cases"].items() if v == 1.0]
        assert len(opened) >= 3  # the start-up evaluation opened cases for the pumps near failure

        # a closed case leaves the gauge at once
        case_id = fleet[opened[0]]["open_case"]
        closed = client.post(f"{API}/cases/{case_id}/close", headers=auth, json={"note": "bearing replaced"})
        assert closed.status_code == 200, closed.text
        assert _samples(client.get("/metrics").text)["forewarn_asset_open_cases"][opened[0]] == 0.0

        # readings of a failing pump move the healthiest pump's gauges
        healthy = max(fleet.values(), key=lambda a: a["health"])
        start = pd.Timestamp(healthy["ts"]) + pd.Timedelta(hours=1)
        values = {"bearing_temp": 95.0, "vibration": 12.0, "suction_pressure": 1.5}
        rows = [
            {
                "asset_id": healthy["asset_id"],
                "ts": (start + pd.Timedelta(hours=h)).isoformat(),
                "channel": channel,
                "value": value + h * 0.5,
            }
            for h in range(14)
            for channel, value in values.items()
        ]
        posted = client.post(f"{API}/readings", headers=auth, json={"readings": rows})
        assert posted.status_code in (200, 201), posted.text
        after = _samples(client.get("/metrics").text)
        now = client.get(f"{API}/assets/{healthy['asset_id']}/health").json()
        assert after["forewarn_asset_health_score"][healthy["asset_id"]] == now["health"] < healthy["health"]
        assert start > ORIGIN
