"""``POST /api/v1/predict`` answered below FastAPI's router (serve/api/direct.py) answers exactly what FastAPI's
route answers: the same status, body and headers for good and bad requests, with the body limit, CORS and the
request metrics still applied; the route is still documented."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.api.direct import DirectRoute, DirectRoutes
from forewarn.serve.sample import CHANNELS

PATH = "/api/v1/predict"
WINDOW = [{c: 1.0 + 0.1 * i for c in CHANNELS} for i in range(30)]
REQUESTS: list[tuple[bytes, str | None]] = [
    (json.dumps({"rows": WINDOW}).encode(), "application/json"),
    (json.dumps({"rows": WINDOW, "asset_class": "pump"}).encode(), "application/json"),
    (json.dumps({"rows": [{"bearing_temp": None, "vibration": 2}] * 5}).encode(), "application/json"),
    (json.dumps({"rows": WINDOW, "model_id": "nope"}).encode(), "application/json"),  # unknown model: 404
    (json.dumps({"rows": [{"ambient": 1.0}]}).encode(), "application/json"),  # no model channel: 422
    (json.dumps({"rows": [{"vibration": "loud"}]}).encode(), "application/json"),  # schema: 422 naming the field
    (json.dumps({"rows": []}).encode(), "application/json"),
    (b'{"rows": [', "application/json"),  # not JSON
    (b"", "application/json"),
    (json.dumps({"rows": WINDOW}).encode(), "text/plain"),
    (json.dumps({"rows": WINDOW}).encode(), None),
    (b"x" * 9000, "application/json"),  # over the body limit: 413
]


def _apps(sample, direct: bool) -> FastAPI:  # type: ignore[no-untyped-def]
    settings = ServeSettings(
        store=str(sample.store),
        models=str(sample.models),
        token="t" * 20,
        evaluate_on_start=False,
        max_body_bytes=8192,
        cors_origins=("http://plant.example",),
    )
    app = create_app(settings)
    if not direct:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectRoutes]
    return app


@pytest.fixture
def clients(sample) -> Iterator[tuple[TestClient, TestClient]]:  # type: ignore[no-untyped-def]
    with TestClient(_apps(sample, True)) as fast, TestClient(_apps(sample, False)) as routed:
        yield fast, routed


def test_direct_route_answers_what_fastapi_answers(clients: tuple[TestClient, TestClient]) -> None:
    fast, routed = clients
    statuses = set()
    for body, content_type in REQUESTS:
        headers = {"origin": "http://plant.example"} | ({"content-type": content_type} if content_type else {})
        a = fast.post(PATH, content=body, headers=headers)
        b = routed.post(PATH, content=body, headers=headers)
        assert (a.status_code, a.content) == (b.status_code, b.content), body[:80]
        assert a.headers == b.headers
        assert a.headers["access-control-allow-origin"] == "http://plant.example"  # a 413 too
        statuses.add(a.status_code)
    assert statuses == {200, 404, 413, 422}
    assert fast.get(PATH).status_code == routed.get(PATH).status_code == 405  # other methods: FastAPI's answer


def test_direct_route_is_measured_and_documented(clients: tuple[TestClient, TestClient]) -> None:
    fast, _ = clients
    for _ in range(3):
        assert fast.post(PATH, json={"rows": WINDOW}).status_code == 200
    metrics = fast.get("/metrics").text
    line = next(
        x
        for x in metrics.splitlines()
        if x.startswith("forewarn_http_request_duration_seconds_count")
        and f'route="{PATH}"' in x
        and 'status="200"' in x
    )
    assert float(line.rsplit(" ", 1)[1]) == 3.0
    assert "post" in fast.get("/openapi.json").json()["paths"][PATH]


def test_direct_route_refuses_endpoints_it_cannot_answer_alike() -> None:
    def blocking(request):  # type: ignore[no-untyped-def]
        return None

    async def two(request, other):  # type: ignore[no-untyped-def]
        return None

    async def one(request):  # type: ignore[no-untyped-def]
        return None

    for endpoint in (blocking, two):
        with pytest.raises(TypeError, match="async function of the request alone"):
            DirectRoute("POST", "/x", endpoint)
    with pytest.raises(TypeError, match="no path parameters"):
        DirectRoute("GET", "/assets/{asset_id}", one)
