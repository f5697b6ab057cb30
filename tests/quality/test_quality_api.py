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


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chart": "ewma", "values": [5, 5, 5, 5]}, "values"),  # was loc ["body", "x"]
        ({"chart": "imr", "values": [5, 5, 5, 5], "lsl": 1, "usl": 9}, "values"),  # was "data"
        ({"chart": "c", "values": [1.5, 2, 3]}, "values"),  # measurements as counts were charted silently
        ({"chart": "np", "values": [2, 30, 1], "sizes": [5, 5, 5]}, "values"),  # was a 500 (math domain error)
        ({"chart": "np", "values": [2, 3, 1], "sizes": [50, 60, 40]}, "sizes"),  # read the first size only
        ({"chart": "u", "values": [2, 3, 1], "sizes": [1, 0, 1]}, "sizes"),  # was "units"
    ],
)
def test_spc_errors_name_the_requests_own_fields(client, body, field):
    response = client.post("/api/v1/quality/spc", json=body)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", field] and f"column {field!r}" in detail["msg"], detail


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


def test_review_map_draws_the_models_defect_map(tmp_path):
    """The review page's map: the unit's image at its own size, redder where the model's map is higher."""
    import io

    import numpy as np
    from PIL import Image

    from forewarn.quality.images import decode
    from forewarn.quality.inspection import defect_map
    from forewarn.quality.vision import DefectClassifier

    rng = np.random.default_rng(0)
    X = rng.random((8, 1, 16, 16), dtype=np.float32) * 0.2
    X[4:, :, 2:6, 2:6] += 0.8  # a bright square, top left, on the "defect" images
    model = DefectClassifier(size=16, width=4, epochs=3, seed=0)  # no head: the class activation map, in [0, 1]
    model.fit(X, ["good"] * 4 + ["spot"] * 4).save(tmp_path / "model")
    pixels = (np.kron(X[5, 0], np.ones((2, 2))) * 255).astype(np.uint8)  # 32 x 32, not the model's size
    Image.fromarray(pixels).save(tmp_path / "unit.png")
    settings = ServeSettings(
        token=TOKEN, extra={"quality_model": str(tmp_path / "model"), "quality_images": str(tmp_path)}
    )
    with TestClient(create_app(settings)) as c:
        body = {"line": "L1", "unit": "u1", "probability": 0.6, "image": str(tmp_path / "unit.png")}
        review = c.post("/api/v1/quality/inspections", json=body, headers=AUTH).json()
        answer = c.get(f"/api/v1/quality/reviews/{review['inspection_id']}/map")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(answer.content)) as shown:
            rgb = np.asarray(shown.convert("RGB"), dtype=float)
        assert rgb.shape == (32, 32, 3)
        heat = defect_map(model, decode(tmp_path / "unit.png", 16)[None, None])[0]
        redness = (rgb[..., 0] - rgb[..., 1])[::2, ::2] / 255  # back on the model's 16 x 16 grid: 0.75 x the map
        assert (heat.min(), heat.max()) == (0.0, 1.0) and np.abs(redness - 0.75 * heat).max() < 1.5 / 255
        no_image = c.post("/api/v1/quality/inspections", json={**body, "image": ""}, headers=AUTH).json()
        assert c.get(f"/api/v1/quality/reviews/{no_image['inspection_id']}/map").status_code == 404


def test_review_map_without_a_model_is_404(client):
    body = {"line": "L1", "unit": "u2", "probability": 0.6, "image": client.image}
    review = client.post("/api/v1/quality/inspections", json=body, headers=AUTH).json()
    answer = client.get(f"/api/v1/quality/reviews/{review['inspection_id']}/map")
    assert answer.status_code == 404 and "quality_model" in answer.text


def test_inspections_carry_the_novelty_score(tmp_path):
    """POST /inspections: the server's texture detector scores the unit's image (the same score as the detector
    itself), a novel unit that would pass goes to review; a score in the request is used as given."""
    import numpy as np
    from PIL import Image

    from forewarn.quality.images import decode
    from forewarn.quality.texture import TextureDetector

    rng = np.random.default_rng(3)
    for i in range(20):  # good units: fine grey noise
        pixels = (rng.normal(0.5, 0.05, (32, 32)).clip(0, 1) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"good{i}.png")
    detector = TextureDetector().fit(np.stack([decode(tmp_path / f"good{i}.png", 32)[None] for i in range(20)]))
    detector.save(tmp_path / "model", size=32)
    stripes = np.tile(np.repeat([0.1, 0.9], 4), (32, 4))  # bars 4 px wide: nothing like the good noise
    Image.fromarray((stripes * 255).astype(np.uint8)).save(tmp_path / "novel.png")
    Image.open(tmp_path / "good0.png").save(tmp_path / "ok.png")  # a good unit again: its nearest good image is itself
    (tmp_path / "bad.png").write_bytes(b"not an image")
    expected = detector.score(np.stack([decode(tmp_path / n, 32)[None] for n in ("novel.png", "ok.png")]))
    assert expected[0] > 100.0 and expected[1] == 0.0
    settings = ServeSettings(
        token=TOKEN, extra={"quality_model": str(tmp_path / "model"), "quality_images": str(tmp_path)}
    )
    url = "/api/v1/quality/inspections"
    with TestClient(create_app(settings)) as c:
        base = {"line": "L1", "unit": "u", "probability": 0.05}
        novel = c.post(url, json={**base, "image": str(tmp_path / "novel.png")}, headers=AUTH).json()
        assert novel["novel"] is True and novel["decision"] == "review"
        assert abs(novel["novelty_score"] - expected[0]) < 1e-5
        ok = c.post(url, json={**base, "image": str(tmp_path / "ok.png")}, headers=AUTH).json()
        assert (ok["novel"], ok["decision"]) == (False, "pass") and abs(ok["novelty_score"] - expected[1]) < 1e-5
        high = {**base, "image": str(tmp_path / "novel.png"), "novelty_threshold": float(expected[0]) + 1.0}
        assert c.post(url, json=high, headers=AUTH).json()["decision"] == "pass"  # the threshold is the request's
        given = c.post(url, json={**base, "novelty_score": 0.4, "image": str(tmp_path / "novel.png")}, headers=AUTH)
        assert (given.json()["novelty_score"], given.json()["novel"], given.json()["decision"]) == (0.4, False, "pass")
        assert len(c.get("/api/v1/quality/reviews").json()) == 1  # the novel unit waits for review
        logged = c.get("/api/v1/quality/reviews", params={"status": "all"}).json()  # the log keeps score and flag
        assert [(r["novelty_score"], r["novel"]) for r in logged] == [
            (novel["novelty_score"], True), (ok["novelty_score"], False), (round(float(expected[0]), 6), False),
            (0.4, False)]  # fmt: skip
        bad = c.post(url, json={**base, "image": str(tmp_path / "bad.png")}, headers=AUTH)
        assert bad.status_code == 422 and "bad.png" in bad.text
        assert c.post(url, json={**base, "novelty_score": -1}, headers=AUTH).status_code == 422


def test_inspections_without_a_detector_take_the_requests_score(client):
    url = "/api/v1/quality/inspections"
    base = {"line": "L1", "unit": "u", "probability": 0.05, "image": client.image}
    plain = client.post(url, json=base, headers=AUTH).json()
    assert (plain["novelty_score"], plain["novel"], plain["decision"]) == (None, None, "pass")
    flagged = client.post(url, json={**base, "novelty_score": 2.5}, headers=AUTH).json()
    assert (flagged["novelty_score"], flagged["novel"], flagged["decision"]) == (2.5, True, "review")
    rejected = client.post(url, json={**base, "probability": 0.95, "novelty_score": 2.5}, headers=AUTH).json()
    assert rejected["decision"] == "reject"  # novelty only ever lifts a pass to review


def test_images_outside_the_servers_image_folders_are_refused(client, tmp_path):
    """An inspection cannot make the server read (and then serve) a file outside its image folders: the review
    queue file's folder by default, ``extra['quality_images']`` when set."""
    from PIL import Image

    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    Image.new("L", (20, 20), 10).save(elsewhere / "secret.png")
    url = "/api/v1/quality/inspections"
    base = {"line": "L1", "unit": "u", "probability": 0.6}
    for image in (str(elsewhere / "secret.png"), str(tmp_path / ".." / elsewhere.name / "secret.png")):
        refused = client.post(url, json={**base, "image": image}, headers=AUTH)
        assert refused.status_code == 422 and "outside the server's image folders" in refused.text, refused.text
    assert client.get("/api/v1/quality/reviews", params={"status": "all"}).json() == []  # nothing logged
    inside = client.post(url, json={**base, "image": client.image}, headers=AUTH).json()
    assert client.get(f"/api/v1/quality/reviews/{inside['inspection_id']}/image").status_code == 200
    settings = ServeSettings(token=TOKEN)  # a queue in memory and no image folder: no image is read
    with TestClient(create_app(settings)) as c:
        assert c.post(url, json={**base, "image": client.image}, headers=AUTH).status_code == 422
        assert c.post(url, json={**base, "image": ""}, headers=AUTH).status_code == 200
