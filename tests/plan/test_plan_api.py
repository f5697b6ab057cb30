"""/api/v1/kpi and /api/v1/plan: the worked examples over HTTP, and malformed requests answered 4xx, never 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app

TOKEN = "s3cret-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(ServeSettings(token=TOKEN)))


def _record(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"asset_id": "P1", "line_id": "L1", "planned_busy_h": 8, "down_failure_h": 1}
    return (
        base
        | {"down_changeover_h": 0.5, "down_starvation_h": 0.5, "produced": 480, "good": 456, "ideal_rate": 100}
        | kw
    )


def test_kpi_worked_example(client: TestClient) -> None:
    events = [{"asset_id": "P1", "start": "2024-01-01T06:30:00Z", "end": "2024-01-01T07:00:00Z", "reason": "failure"}]
    answer = client.post("/api/v1/kpi", json={"records": [_record()], "events": events, "by": "asset"})
    assert answer.status_code == 200, answer.text
    group = answer.json()["groups"][0]
    # A = 6/8, P = 4.8/6, Q = 456/480, OEE 0.57; MTBF 6 h of operation / 1 failure
    assert [group[k] for k in ("availability", "performance", "quality", "oee", "mtbf_h", "mttr_h")] == pytest.approx(
        [0.75, 0.8, 0.95, 0.57, 6.0, 0.5]
    )


@pytest.mark.parametrize(
    "body",
    [
        {"records": [_record(good=500)]},  # more good than produced
        {"records": [_record(planned_busy_h=-1)]},
        {"records": [_record(down_failure_h=20)]},  # stops beyond the busy time
        {"records": []},
        {"records": [_record()], "by": "planet"},
        {"records": [_record()], "events": [{"asset_id": "P1", "start": "x", "end": "y", "reason": "failure"}]},
        {"records": [_record(extra=1)]},
    ],
)
def test_kpi_bad_requests_are_4xx(client: TestClient, body: dict[str, object]) -> None:
    answer = client.post("/api/v1/kpi", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]


def test_kpi_on_a_simulated_fleet(client: TestClient) -> None:
    answer = client.get("/api/v1/kpi/twin", params={"assets": 4, "days": 3, "by": "site"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {g["site_id"] for g in report["groups"]} == {"S1", "S2"}
    assert 0 < report["total"]["oee"] < 1
    assert client.get("/api/v1/kpi/twin", params={"assets": 1000}).status_code == 422


def _plan_body(**kw: object) -> dict[str, object]:
    asset = {"asset_id": "A", "line_id": "L1", "cdf": [0.1, 0.3, 0.6], "failure_cost": 10000, "failure_downtime_h": 10}
    asset |= {"job_cost": 1000, "job_hours": 20}
    return {"horizon_days": 3, "crew_hours": {"mechanical": 24}, "downtime_cost_h": 100, "assets": [asset]} | kw


def test_plan_needs_the_token_and_takes_the_planned_stop(client: TestClient) -> None:
    assert client.post("/api/v1/plan", json=_plan_body()).status_code in (401, 403)
    answer = client.post("/api/v1/plan", json=_plan_body(planned_stops={"L1": [1]}), headers=AUTH)
    assert answer.status_code == 200, answer.text
    order = answer.json()["orders"][0]
    # 20 h job: 3000 normally, 1000 on the stop of day 1: day 1 saves 6600 - (1100 + 900) = 4600 > 3600 on day 0
    assert (order["day"], order["saving"], order["planned_stop"]) == (1, 4600.0, True)
    assert answer.json()["summary"]["status"] == "optimal"


@pytest.mark.parametrize(
    "change",
    [
        {"horizon_days": 5},  # cdf of 3 values for 5 days
        {"assets": [{"asset_id": "A"}]},  # no risk given
        {"crew_hours": {"electrical": 8}},  # no crew for the asset's skill
        {"time_limit_s": 60},
        {"assets": [{"asset_id": "A", "cdf": [0.5, 0.2, 0.9]}]},  # decreasing
    ],
)
def test_plan_bad_requests_are_4xx(client: TestClient, change: dict[str, object]) -> None:
    answer = client.post("/api/v1/plan", json=_plan_body(**change), headers=AUTH)
    assert 400 <= answer.status_code < 500, answer.text


def test_plan_waits_for_a_part(client: TestClient) -> None:
    asset = {"asset_id": "A", "cdf": [0.3, 0.5, 0.7, 0.8], "part": "seal", "failure_downtime_h": 10, "job_hours": 2}
    body = {"horizon_days": 4, "assets": [asset], "parts": {"seal": {"on_hand": 0, "lead_days": 2}}}
    answer = client.post("/api/v1/plan", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert [(o["day"], o["part"]) for o in answer.json()["orders"]] == [(2, "seal")]


def test_production_pages_and_the_demo_plan(client: TestClient) -> None:
    for path, marker in (("/kpi", 'id="pareto-chart"'), ("/plan", 'id="gantt"')):
        page = client.get(path)
        assert page.status_code == 200 and marker in page.text and "/static/dashboard/production.js" in page.text
        assert '<a href="/kpi"' in page.text  # the nav link
    assert client.get("/static/dashboard/production.js").status_code == 200
    demo = client.get("/api/v1/plan/demo", params={"assets": 20, "days": 7})
    assert demo.status_code == 200, demo.text
    plan = demo.json()
    assert plan["summary"]["jobs"] == len(plan["orders"]) > 0
    # no day's jobs exceed the crew hours of their skill
    for skill, hours in plan["crew_hours"].items():
        for day in range(7):
            used = sum(o["duration_h"] for o in plan["orders"] if o["skill"] == skill and o["day"] == day)
            assert used <= hours[day] + 1e-9
    assert client.get("/api/v1/plan/demo", params={"assets": 5000}).status_code == 422
