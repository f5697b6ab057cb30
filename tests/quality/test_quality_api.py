"""/api/v1/quality: SPC (and its alerts in the case book), inspections, the review queue, the page."""

import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app

TOKEN = "quality-token-12345"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def client(tmp_path):
    from PIL import Image

    Image.new("L", (20, 20), 128).save(tmp_path / "u2.png")
    settings = ServeSettings(token=TOKEN, extra={"quality_reviews": str(tmp_path / "q.duckdb")})
    with TestClient(create_app(settings)) as c:
        c.image = str(tmp_path / "u2.png")
        yield c


def test_spc_chart_and_alerts_into_cases(client):
    body = {"chart": "imr", "values": [10, 12, 11, 13, 12, 30], "baseline": 5, "lsl": 5, "usl": 20}
    out = client.post("/api/v1/quality/spc", json=body).json()
    assert out["charts"][0]["beyond_limits"] == [5] and out["capability"]["cp"] is not None
    assert client.post("/api/v1/quality/spc/alerts", json={**body, "asset_id": "line-7"}).status_code == 401
    filed = client.post("/api/v1/quality/spc/alerts", json={**body, "asset_id": "line-7"}, headers=AUTH).json()
    assert len(filed["cases"]) == 1
    alerts = client.get("/api/v1/alerts", params={"asset_id": "line-7"}).json()
    assert [(a["model_id"], a["risk_level"], a["source"]) for a in alerts] == [("spc-imr", "critical", "spc")]


@pytest.mark.parametrize(
    "body",
    [
        {"chart": "imr", "values": [1]},
        {"chart": "nope", "values": [1, 2, 3]},
        {"chart": "p", "values": [1, 2, 3]},
        {"chart": "imr", "values": [1, 2, 3], "lam": 0.2},
        {"chart": "imr", "values": [1, 2, 3], "baseline": 9},
        {"chart": "xbar-r", "values": [1, 2, 3], "subgroup": 5},
        {"chart": "imr", "values": "abc"},
        {"chart": "p", "values": [1, 2, 3], "sizes": [10, 10]},
        {"chart": "imr", "values": [1e300, -1e300, 1]},
    ],
)
def test_malformed_spc_requests_are_4xx(client, body):
    response = client.post("/api/v1/quality/spc", json=body)
    assert 400 <= response.status_code < 500, response.text


def test_inspection_review_verdict_and_report(client):
    base = {"line": "L1", "defect_type": "scratches"}
    a = client.post("/api/v1/quality/inspections", json={**base, "unit": "u1", "probability": 0.9}, headers=AUTH)
    b = client.post(
        "/api/v1/quality/inspections",
        json={**base, "unit": "u2", "probability": 0.6, "image": client.image},
        headers=AUTH,
    )
    assert a.json()["decision"] == "reject" and b.json()["decision"] == "review"
    pending = client.get("/api/v1/quality/reviews").json()
    assert [p["unit"] for p in pending] == ["u2"]
    image = client.get(f"/api/v1/quality/reviews/{pending[0]['inspection_id']}/image")
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert client.get(f"/api/v1/quality/reviews/{a.json()['inspection_id']}/image").status_code == 404
    url = f"/api/v1/quality/reviews/{pending[0]['inspection_id']}/verdict"
    assert client.post(url, json={"verdict": "good"}).status_code == 401
    assert client.post(url, json={"verdict": "maybe"}, headers=AUTH).status_code == 422
    assert client.post(url, json={"verdict": "good", "by": "ana"}, headers=AUTH).json()["verdict"] == "good"
    assert client.post(url, json={"verdict": "good"}, headers=AUTH).status_code == 409
    assert client.get("/api/v1/quality/reviews").json() == []
    (line,) = client.get("/api/v1/quality/report").json()
    assert (line["units"], line["reject"], line["review"], line["reject_rate"]) == (2, 1, 1, 0.5)
    assert client.get("/api/v1/quality/reviews/999").status_code == 404
    page = client.get("/quality")
    assert page.status_code == 200 and 'id="review-table"' in page.text and "/static/dashboard/quality.js" in page.text
