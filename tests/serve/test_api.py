"""The REST API on the synthetic plant: health, predictions, ingest, alerts and cases, registry, security."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import ORIGIN

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_client(sample, **overrides) -> TestClient:  # type: ignore[no-untyped-def]
    values = {"store": str(sample.store), "models": str(sample.models), "token": TOKEN, "evaluate_on_start": False}
    values.update(overrides)
    return TestClient(create_app(ServeSettings(**values)))


@pytest.fixture
def client(sample) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(sample) as c:
        yield c


def test_health_has_every_field_a_planner_needs(client: TestClient) -> None:
    body = client.get(f"{API}/assets/P-004/health").json()
    assert 0 <= body["health"] <= 100 and 0 <= body["probability"] <= 1
    assert body["health"] == pytest.approx(100 * (1 - body["probability"]), abs=0.05)
    assert body["rul_low"] <= body["rul"] <= body["rul_high"]
    assert body["risk_level"] in ("low", "medium", "high", "critical")
    assert body["unit"] == "hours" and body["horizon"] == 48.0
    assert {c["sensor"] for c in body["contributions"]} <= {"bearing_temp", "vibration", "suction_pressure"}
    assert body["recommended_action"]


def test_degraded_pumps_rank_above_healthy_ones(client: TestClient) -> None:
    fleet = client.get(f"{API}/fleet/health").json()
    assert len(fleet) == 24
    by_rul = sorted(fleet, key=lambda a: a["rul"])
    # the five shortest predicted lives are all at least "high" risk; the five longest are not
    assert all(a["risk_level"] in ("high", "critical") for a in by_rul[:5])
    assert all(a["risk_level"] in ("low", "medium") for a in by_rul[-5:])
    worst = by_rul[0]
    assert worst["contributions"][0]["sensor"] in ("vibration", "bearing_temp")  # degradation sensors, not noise


def test_fleet_filters_by_site_and_line(client: TestClient) -> None:
    south = client.get(f"{API}/fleet/health", params={"site_id": "south"}).json()
    line = client.get(f"{API}/fleet/health", params={"line_id": "N2"}).json()
    assert south and all(a["site_id"] == "south" for a in south)
    assert line and all(a["line_id"] == "N2" for a in line)
    assert len(south) + len(line) < 24


def test_assets_hierarchy_readings_events_trend(client: TestClient) -> None:
    assets = client.get(f"{API}/assets").json()
    assert len(assets) == 24 and all(a["n_channels"] == 3 for a in assets)
    tree = client.get(f"{API}/hierarchy").json()
    assert {s["site_id"] for s in tree} == {"north", "south"}
    readings = client.get(f"{API}/assets/P-000/readings", params={"limit": 10}).json()
    assert len(readings["ts"]) == 10 and set(readings["values"]) == {"bearing_temp", "vibration", "suction_pressure"}
    events = client.get(f"{API}/assets/P-000/events").json()
    assert events[0]["kind"] == "maintenance"
    trend = client.get(f"{API}/assets/P-004/trend", params={"points": 50}).json()
    assert len(trend["ts"]) == len(trend["rul"]) == 50
    assert trend["rul"][0] > trend["rul"][-1]  # the model sees the pump wearing out


def test_unknown_asset_is_404_with_message(client: TestClient) -> None:
    response = client.get(f"{API}/assets/nope/health")
    assert response.status_code == 404 and "unknown asset 'nope'" in response.json()["detail"]


def test_predict_window_matches_health_of_same_readings(client: TestClient) -> None:
    readings = client.get(f"{API}/assets/P-004/readings", params={"limit": 5000}).json()
    tail = 200
    rows = [{name: values[i] for name, values in readings["values"].items()} for i in range(len(readings["ts"]))][
        -tail:
    ]
    predicted = client.post(f"{API}/predict", json={"rows": rows}).json()
    health = client.get(f"{API}/assets/P-004/health").json()
    assert predicted["rul"] == pytest.approx(health["rul"], rel=1e-6)
    assert predicted["ignored_channels"] == []


def test_predict_field_errors(client: TestClient) -> None:
    bad = client.post(f"{API}/predict", json={"rows": [{"bearing_temp": "hot"}]})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:3] == ["body", "rows", 0]
    empty = client.post(f"{API}/predict", json={"rows": []})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "rows"]
    foreign = client.post(f"{API}/predict", json={"rows": [{"colour": 1.0}]})
    assert foreign.status_code == 422 and "bearing_temp" in foreign.json()["detail"][0]["msg"]
    unknown_model = client.post(f"{API}/predict", json={"model_id": "ghost", "rows": [{"vibration": 1.0}]})
    assert unknown_model.status_code == 404


def test_batch_predict_json_and_arrow_agree(client: TestClient) -> None:
    rng = np.random.default_rng(0)
    n = 300
    asset = np.repeat(["a", "b", "c"], n // 3)
    ts = [(ORIGIN + pd.Timedelta(hours=int(h))).isoformat() for h in np.tile(np.arange(n // 3), 3)]
    values = {
        "bearing_temp": rng.normal(60, 5, n).tolist(),
        "vibration": rng.normal(3, 1, n).tolist(),
        "suction_pressure": rng.normal(1.5, 0.05, n).tolist(),
    }
    body = client.post(
        f"{API}/predict/batch", json={"readings": {"asset_id": asset.tolist(), "ts": ts, "values": values}}
    ).json()
    assert body["n_rows"] == n and len(body["rul"]) == n and len(body["risk_level"]) == n
    table = pa.table({"asset_id": asset, "ts": pd.to_datetime(ts, utc=True), **values})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    response = client.post(
        f"{API}/predict/batch/arrow",
        params={"input": "readings"},
        content=sink.getvalue(),
        headers={"Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert response.status_code == 200
    out = pa.ipc.open_stream(response.content).read_all().to_pandas()
    np.testing.assert_allclose(out["rul"].to_numpy(), body["rul"], rtol=1e-9)
    garbage = client.post(f"{API}/predict/batch/arrow", content=b"not arrow")
    assert garbage.status_code == 422 and "Arrow IPC" in garbage.json()["detail"][0]["msg"]


def test_batch_predict_on_feature_columns(client: TestClient) -> None:
    model = client.get(f"{API}/models/rul").json()["live"]
    names = [f"{c}__{s}" for c in model["channels"] for s in ("mean", "std", "last", "slope", "ewm")]
    features = {name: [1.0, 2.0] for name in names}
    body = client.post(f"{API}/predict/batch", json={"features": features}).json()
    assert body["n_rows"] == 2
    missing = client.post(f"{API}/predict/batch", json={"features": {"vibration__mean": [1.0]}})
    assert missing.status_code == 422 and "missing feature column" in missing.json()["detail"][0]["msg"]
    both = client.post(f"{API}/predict/batch", json={"features": features, "readings": None})
    assert both.status_code == 200
    neither = client.post(f"{API}/predict/batch", json={})
    assert neither.status_code == 422 and "exactly one" in neither.json()["detail"][0]["msg"]


def _failing_readings(asset_id: str, start_hour: int, hours: int) -> list[dict]:
    rows = []
    for h in range(hours):
        ts = (ORIGIN + pd.Timedelta(hours=start_hour + h)).isoformat()
        rows.append(
            {
                "asset_id": asset_id,
                "ts": ts,
                "values": {"bearing_temp": 95.0 + h * 0.5, "vibration": 12.0 + h * 0.2, "suction_pressure": 1.5},
            }
        )
    return rows


def test_ingest_opens_one_case_per_degrading_asset_and_planner_closes_it(client: TestClient) -> None:
    healthy = min(client.get(f"{API}/fleet/health").json(), key=lambda a: a["probability"])
    asset_id = healthy["asset_id"]
    last_hour = int((pd.Timestamp(healthy["ts"]) - ORIGIN) / pd.Timedelta(hours=1))
    opened = 0
    for batch in range(4):  # four batches of a pump running hot: one case, however many alerts
        result = client.post(
            f"{API}/readings", headers=AUTH, json={"rows": _failing_readings(asset_id, last_hour + 1 + 15 * batch, 15)}
        )
        assert result.status_code == 200, result.text
        assert result.json()["written"] == 45
        opened += result.json()["alerts_opened"]
    assert opened == 1
    cases = client.get(f"{API}/cases", params={"asset_id": asset_id, "status": "open"}).json()
    assert len(cases) == 1 and cases[0]["risk_level"] in ("high", "critical")
    case_id = cases[0]["case_id"]
    assert client.get(f"{API}/assets/{asset_id}/health").json()["open_case"] == case_id
    alerts = client.get(f"{API}/alerts", params={"case_id": case_id}).json()
    assert len(alerts) == 1 and alerts[0]["explanation"]
    ack = client.post(f"{API}/cases/{case_id}/acknowledge", headers=AUTH, json={"by": "ana"}).json()
    assert ack["status"] == "acknowledged" and ack["acknowledged_by"] == "ana"
    no_note = client.post(f"{API}/cases/{case_id}/close", headers=AUTH, json={"note": "   "})
    assert no_note.status_code == 422 and no_note.json()["detail"][0]["loc"] == ["body", "note"]
    closed = client.post(f"{API}/cases/{case_id}/close", headers=AUTH, json={"note": "replaced bearing", "by": "ana"})
    assert closed.json()["status"] == "closed" and closed.json()["note"] == "replaced bearing"
    again = client.post(f"{API}/cases/{case_id}/close", headers=AUTH, json={"note": "twice"})
    assert again.status_code == 409
    assert client.get(f"{API}/assets/{asset_id}/health").json()["open_case"] is None
    assert client.get(f"{API}/cases/999999").status_code == 404


def test_ingest_rejects_bad_batches_whole_with_field_errors(client: TestClient) -> None:
    before = client.get(f"{API}/assets/P-001/readings", params={"limit": 100000}).json()
    bad_ts = client.post(
        f"{API}/readings",
        headers=AUTH,
        json={
            "readings": [
                {"asset_id": "P-001", "ts": "2030-01-01T00:00:00Z", "channel": "vibration", "value": 1.0},
                {"asset_id": "P-001", "ts": "yesterday", "channel": "vibration", "value": 1.0},
            ]
        },
    )
    assert bad_ts.status_code == 422
    assert bad_ts.json()["detail"][0]["loc"] == ["body", "readings", 1, "ts"]
    unknown = client.post(
        f"{API}/readings",
        headers=AUTH,
        json={
            "strict": True,
            "readings": [
                {"asset_id": "P-001", "ts": "2030-01-01T00:00:00Z", "channel": "vibration", "value": 1.0},
                {"asset_id": "ghost", "ts": "2030-01-01T00:00:00Z", "channel": "vibration", "value": 1.0},
            ],
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "readings", 1, "asset_id"]
    after = client.get(f"{API}/assets/P-001/readings", params={"limit": 100000}).json()
    assert after["ts"] == before["ts"]  # nothing half-written
    assert client.post(f"{API}/readings", headers=AUTH, json={}).status_code == 422


def test_writes_need_the_token(client: TestClient, sample) -> None:  # type: ignore[no-untyped-def]
    body = {"readings": [{"asset_id": "P-001", "ts": "2030-01-01T00:00:00Z", "channel": "vibration", "value": 1.0}]}
    assert client.post(f"{API}/readings", json=body).status_code == 401
    wrong = client.post(f"{API}/readings", json=body, headers={"Authorization": "Bearer wrong-token-123456"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post(f"{API}/models/rul/rollback").status_code == 401
    with make_client(sample, token=None) as no_token:
        refused = no_token.post(f"{API}/readings", json=body, headers=AUTH)
        assert refused.status_code == 403 and "FOREWARN_API_TOKEN" in refused.json()["detail"]
        assert no_token.get(f"{API}/assets/P-001/health").status_code == 200  # reads still work


def test_body_size_limit_and_closed_cors(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample, max_body_bytes=2048) as c:
        rows = [{"vibration": 1.0, "bearing_temp": 50.0}] * 200
        response = c.post(f"{API}/predict", json={"rows": rows})
        assert response.status_code == 413 and "limit of 2048 bytes" in response.json()["detail"]
        streamed = c.post(
            f"{API}/predict",
            content=iter([b'{"rows": [' + b" " * 1500, b" " * 1500 + b"]}"]),
            headers={"content-type": "application/json"},
        )  # chunked, no Content-Length: counted
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413 and "limit of 2048 bytes" in streamed.json()["detail"]
        preflight = c.options(
            f"{API}/readings", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers
        simple = c.get(f"{API}/assets", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
    with make_client(sample, cors_origins=("http://plant.local",)) as c:
        allowed = c.get(f"{API}/assets", headers={"Origin": "http://plant.local"})
        assert allowed.headers["access-control-allow-origin"] == "http://plant.local"


def test_fastapi_opentelemetry_reports_only_with_otel(sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry import trace

    spans: list[str] = []

    class Tracer(trace.NoOpTracer):
        def start_span(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
            spans.append(name)
            return super().start_span(name, *args, **kwargs)

    class Provider(trace.TracerProvider):  # a configured provider, as an OpenTelemetry SDK would install
        def get_tracer(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return Tracer()

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", Provider())  # the global provider, restored after the test
    with make_client(sample) as c:
        assert c.get(f"{API}/assets").status_code == 200
    assert spans == []  # off by default: the service's own metrics are at /metrics
    with make_client(sample, otel=True) as c:
        assert c.get(f"{API}/assets").status_code == 200
    assert spans and spans[0].startswith("GET")


def test_registry_promote_and_rollback(client: TestClient) -> None:
    model = client.get(f"{API}/models/rul").json()
    assert model["active"] == "v2" and [v["version"] for v in model["versions"]] == ["v1", "v2"]
    assert all("rmse" in v["metrics"] for v in model["versions"])
    assert client.post(f"{API}/models/rul/rollback", headers=AUTH).status_code == 409  # nothing promoted yet
    promoted = client.post(f"{API}/models/rul/promote", headers=AUTH, json={"version": "v1"}).json()
    assert promoted["active"] == "v1" and promoted["history"] == ["v2"]
    assert client.get(f"{API}/assets/P-004/health").json()["version"] == "v1"
    rolled = client.post(f"{API}/models/rul/rollback", headers=AUTH).json()
    assert rolled["active"] == "v2"
    missing = client.post(f"{API}/models/rul/promote", headers=AUTH, json={"version": "v9"})
    assert missing.status_code == 404
    bad_name = client.post(f"{API}/models/rul/promote", headers=AUTH, json={"version": "../x"})
    assert bad_name.status_code == 422 and bad_name.json()["detail"][0]["loc"] == ["body", "version"]


def test_startup_evaluation_files_cases_and_metrics_count_them(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample, evaluate_on_start=True) as c:
        fleet = c.get(f"{API}/fleet/health").json()
        at_risk = {a["asset_id"] for a in fleet if a["risk_level"] in ("high", "critical")}
        cases = c.get(f"{API}/cases", params={"status": "open"}).json()
        assert {case["asset_id"] for case in cases} == at_risk and len(cases) == len(at_risk)
        again = c.post(f"{API}/alerts/evaluate", headers=AUTH, json={}).json()
        assert again == []  # the same state raises no new alerts
        c.get(f"{API}/assets/P-004/health")
        text = c.get("/metrics").text
        assert (
            'forewarn_http_request_duration_seconds_bucket{le="0.005",method="GET",'
            'route="/api/v1/assets/{asset_id}/health"' in text
        )
        assert "forewarn_alerts_total{risk_level=" in text
        assert "forewarn_predictions_total" in text and "forewarn_readings_ingested_total" in text


def test_healthz_docs_and_openapi_are_served_locally(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"] == "rul:v2" and health["readings"] > 0
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/dashboard/charts.js").status_code == 200  # our own SVG charts, no charting package
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/assets",
        "/api/v1/hierarchy",
        "/api/v1/readings",
        "/api/v1/assets/{asset_id}/health",
        "/api/v1/predict",
        "/api/v1/predict/batch",
        "/api/v1/alerts",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}/close",
        "/api/v1/models/{model_id}/promote",
        "/healthz",
        "/metrics",
    ):
        assert path in paths


def test_what_if_through_the_twin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from forewarn.store import Store
    from forewarn.twin.fleet import simulate_fleet

    fleet = simulate_fleet(sites=1, assets=2, days=10, seed=2, interval="1h")
    path = tmp_path / "twin.duckdb"
    with Store(path) as store:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
        for chunk in fleet.iter_chunks():
            store.ingest_readings(chunk.readings_table())
    with TestClient(create_app(ServeSettings(store=str(path), token=TOKEN)), headers=AUTH) as c:
        asset = fleet.asset_ids[0]
        usual = c.post(f"{API}/assets/{asset}/what-if", json={"runs": 30, "horizon_days": 30}).json()
        harsh = c.post(
            f"{API}/assets/{asset}/what-if", json={"runs": 30, "horizon_days": 30, "load": 1.4, "cooling": 0.5}
        ).json()
        assert usual["runs"] == 30 and len(usual["days"]) == 31
        assert set(usual["trajectories"]) >= {"health", "bearing_temp"}
        assert harsh["fail_fraction"] >= usual["fail_fraction"]
        if usual["median_days"] is not None:
            assert harsh["median_days"] is not None and harsh["median_days"] <= usual["median_days"]
        bad = c.post(f"{API}/assets/{asset}/what-if", json={"load": 3})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "load"]
        assert c.post(f"{API}/assets/ghost/what-if", json={}).status_code == 404


def test_what_if_on_an_asset_the_twin_does_not_model_is_4xx(client: TestClient) -> None:
    response = client.post(f"{API}/assets/P-001/what-if", json={"runs": 5, "horizon_days": 5}, headers=AUTH)
    assert 400 <= response.status_code < 500, response.text


# -- backtests (files written by forewarn backtest --models DIR) ---------------------------------------------------
def test_backtests_are_listed_newest_first_and_read_one_by_one(sample) -> None:  # type: ignore[no-untyped-def]
    import json

    from .backtest_samples import backtest_result, write_backtests

    folder = write_backtests(sample.models)
    with make_client(sample) as client:
        listed = client.get(f"{API}/backtests").json()
        assert [b["id"] for b in listed] == ["bt-new", "bt-old", "broken"]
        assert listed[0]["caught"] == 10 and listed[0]["failures"] == 12 and listed[0]["error"] is None
        assert "not valid JSON" in listed[2]["error"]

        one = client.get(f"{API}/backtests/bt-old").json()
        assert one["threshold"] == 0.6 and one["task"] == "failure" and one["by"] == "time"
        assert len(one["sweep"]) == 11 and len(one["reliability"]) == 5 and len(one["per_fold"]) == 3
        assert one["events"]["cost_run_to_failure"] == 480_000.0 and one["rows"]["ece"] == 0.031

        missing = client.get(f"{API}/backtests/nope")
        assert missing.status_code == 404 and "no backtest 'nope'" in missing.json()["detail"]
        assert "bt-new" in missing.json()["detail"]  # the known ones are named
        broken = client.get(f"{API}/backtests/broken")
        assert (
            broken.status_code == 422 and "'broken.json' is not valid JSON (line 1" in broken.json()["detail"][0]["msg"]
        )
        assert client.get(f"{API}/backtests/..%2Fregistry").status_code in (404, 422)

        lacking = backtest_result("lacking")
        del lacking["events"]
        (folder / "lacking.json").write_text(json.dumps(lacking))
        answer = client.get(f"{API}/backtests/lacking")
        assert answer.status_code == 422 and "field 'events': Field required" in answer.json()["detail"][0]["msg"]
        wrong = {**backtest_result("wrong"), "task": "guess"}
        (folder / "wrong.json").write_text(json.dumps(wrong))
        assert "field 'task'" in client.get(f"{API}/backtests/wrong").json()["detail"][0]["msg"]
        (folder / "list.json").write_text("[1, 2]")
        assert "must hold a JSON object" in client.get(f"{API}/backtests/list").json()["detail"][0]["msg"]

        with_nan = backtest_result("with-nan")
        with_nan["rows"]["roc_auc"] = float("nan")  # json.dumps writes NaN; the API answers null
        (folder / "with-nan.json").write_text(json.dumps(with_nan))
        assert client.get(f"{API}/backtests/with-nan").json()["rows"]["roc_auc"] is None
        assert {b["id"] for b in client.get(f"{API}/backtests").json() if b["error"]} == {
            "broken",
            "lacking",
            "wrong",
            "list",
        }


def test_backtests_without_a_models_folder(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample, models=None) as client:
        assert client.get(f"{API}/backtests").json() == []
        answer = client.get(f"{API}/backtests/bt-new")
        assert answer.status_code == 404 and "--models DIR" in answer.json()["detail"]


# -- a store with readings and events but no model -----------------------------------------------------------------
def test_assets_readings_and_events_are_served_without_a_model(sample, tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "no-models"
    empty.mkdir()
    with make_client(sample, models=str(empty), evaluate_on_start=True) as client:
        assert client.get("/healthz").status_code == 200
        fleet = client.get(f"{API}/fleet/health").json()
        assert len(fleet) == 24 and {a["risk_level"] for a in fleet} == {"unknown"}
        one = client.get(f"{API}/assets/P-000").json()
        assert one["n_channels"] == 3 and one["last_ts"] and one["last_maintenance_ts"].startswith("2024-01-01T05:00")
        assert client.get(f"{API}/assets/nope").status_code == 404
        assert len(client.get(f"{API}/assets/P-000/readings", params={"limit": 5}).json()["ts"]) == 5
        assert client.get(f"{API}/assets/P-000/events").json()[0]["kind"] == "maintenance"
        health = client.get(f"{API}/assets/P-000/health")
        assert health.status_code == 404 and "holds no servable model" in health.json()["detail"]
        assert client.get(f"{API}/models").json() == []
        for path in ("/", "/assets/P-000", "/backtests", "/backtests/x"):
            assert client.get(path).status_code == 200, path
