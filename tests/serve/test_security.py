"""Security details of the service, over a real uvicorn on 127.0.0.1 where the transport matters.

* a body over the size limit sent chunked (no Content-Length) gets 413 on every endpoint that reads a body;
* write endpoints check the token before they read the body (an anonymous caller's body is never waited for);
* the what-if endpoint needs the token and runs at most ``what_if_concurrency`` at once (429 + Retry-After);
* ``/healthz`` shows anonymous callers no path on the server;
* malformed requests never get a 5xx.
"""

from __future__ import annotations

import http.client
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from testkit import serving

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 2048
#: every endpoint that reads a body; the write ones need the token
BODY_ENDPOINTS = [
    f"{API}/readings",
    f"{API}/alerts/evaluate",
    f"{API}/cases/1/acknowledge",
    f"{API}/cases/1/close",
    f"{API}/models/rul/promote",
    f"{API}/assets/P-001/what-if",
    f"{API}/predict",
    f"{API}/predict/batch",
    f"{API}/predict/batch/arrow",
]
WRITES = BODY_ENDPOINTS[:6] + [f"{API}/models/rul/rollback"]


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    chunks: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; ``chunks``: the body sent with chunked transfer encoding."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = dict(headers or {})
        if chunks is not None:
            conn.request(method, path, body=iter(chunks), headers=sent, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def app_for(sample: Any, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {
        "store": str(sample.store),
        "models": str(sample.models),
        "token": TOKEN,
        "evaluate_on_start": False,
        "max_body_bytes": LIMIT,
    }
    values.update(overrides)
    return create_app(ServeSettings(**values))


def test_a_chunked_body_over_the_limit_is_413_on_every_endpoint_that_reads_one(sample) -> None:  # type: ignore[no-untyped-def]
    big = [b'{"readings": [' + b" " * 1000] + [b" " * 1000] * 4 + [b"]}"]
    with serving(app_for(sample)) as port:
        for path in BODY_ENDPOINTS:
            content_type = "application/vnd.apache.arrow.stream" if path.endswith("arrow") else "application/json"
            status, headers, answer = request(
                port, "POST", path, chunks=big, headers={**AUTH, "Content-Type": content_type}
            )
            assert status == 413, (path, status, answer)
            assert b"limit of 2048 bytes" in answer and headers["content-type"] == "application/json"
        # a body under the limit, chunked, is read as usual
        status, _, answer = request(
            port,
            "POST",
            f"{API}/alerts/evaluate",
            chunks=[b'{"asset_ids":', b' ["P-001"]}'],
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert status == 200, answer


def test_writes_check_the_token_before_reading_the_body(sample) -> None:  # type: ignore[no-untyped-def]
    with serving(app_for(sample)) as port:
        for path in WRITES:
            # headers of a chunked body that never comes: the answer cannot wait for the body
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.putrequest("POST", path)
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                response = conn.getresponse()
                assert response.status == 401, (path, response.status)
                assert response.getheader("www-authenticate") == "Bearer"
                response.read()
            finally:
                conn.close()
            # a malformed body without the token: 401 (not 422), and 413 only for a declared size over the limit
            assert (
                request(port, "POST", path, body=b"{not json", headers={"Content-Type": "application/json"})[0] == 401
            )
            status, _, _ = request(port, "POST", path, chunks=[b"x" * 1500] * 3, headers={"Content-Type": "text/plain"})
            assert status == 401, path
    with TestClient(app_for(sample, token=None)) as no_token:
        refused = no_token.post(f"{API}/readings", content=b"{not json", headers={"Content-Type": "application/json"})
        assert refused.status_code == 403 and "FOREWARN_API_TOKEN" in refused.json()["detail"]


def test_the_token_is_still_in_the_openapi_document(sample) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app_for(sample)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in WRITES:
        assert paths[
            path.replace("/1/", "/{case_id}/").replace("/rul/", "/{model_id}/").replace("/P-001/", "/{asset_id}/")
        ]["post"]["security"] == [{"HTTPBearer": []}], path


def test_what_if_needs_the_token_and_runs_at_most_the_cap_at_once(sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from forewarn.serve.api import routes_whatif

    started, release = threading.Event(), threading.Event()

    def slow_what_if(svc: Any, asset_id: str, body: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(30)
        return {"asset_id": asset_id}

    monkeypatch.setattr(routes_whatif, "_what_if", slow_what_if)
    path = f"{API}/assets/P-001/what-if"
    headers = {**AUTH, "Content-Type": "application/json"}
    with serving(app_for(sample, what_if_concurrency=1)) as port:
        assert request(port, "POST", path, body=b"{}", headers={"Content-Type": "application/json"})[0] == 401
        first: list[tuple[int, dict[str, str], bytes]] = []
        running = threading.Thread(
            target=lambda: first.append(request(port, "POST", path, body=b"{}", headers=headers))
        )
        running.start()
        try:
            assert started.wait(30)
            status, answer_headers, answer = request(port, "POST", path, body=b"{}", headers=headers)
            assert status == 429 and answer_headers["retry-after"] == str(routes_whatif.RETRY_AFTER_S), answer
            assert b"what-if" in answer
            status, _, _ = request(port, "GET", f"{API}/assets/P-001/health")  # reads go on meanwhile
            assert status == 200
        finally:
            release.set()
            running.join(30)
        assert first[0][0] == 200
        assert request(port, "POST", path, body=b"{}", headers=headers)[0] == 200  # the slot is free again


def test_what_if_slots_answer_429_and_free_themselves_after_an_error(sample) -> None:  # type: ignore[no-untyped-def]
    app = app_for(sample, what_if_concurrency=2)
    slots = app.state.what_if_slots
    with TestClient(app, headers=AUTH) as client:
        with slots.taken(), slots.taken():
            busy = client.post(f"{API}/assets/P-001/what-if", json={"runs": 5, "horizon_days": 5})
            assert busy.status_code == 429 and busy.headers["retry-after"]
        for _ in range(3):  # a what-if that fails (a pump the twin does not model) frees its slot
            assert (
                400 <= client.post(f"{API}/assets/P-001/what-if", json={"runs": 5, "horizon_days": 5}).status_code < 500
            )
        with slots.taken():
            assert client.post(f"{API}/assets/ghost/what-if", json={}).status_code == 404  # one slot left


def test_healthz_shows_server_paths_only_to_token_holders(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app_for(sample)) as client:
        anonymous = client.get("/healthz")
        holder = client.get("/healthz", headers=AUTH)
        wrong = client.get("/healthz", headers={"Authorization": "Bearer wrong-token-123456"})
    assert anonymous.status_code == holder.status_code == 200
    assert anonymous.json()["store"] == sample.store.name and str(sample.store.parent) not in anonymous.text
    assert wrong.json() == anonymous.json()
    assert holder.json()["store"] == str(sample.store)
    empty = tmp_path / "empty-models"
    empty.mkdir()
    with TestClient(app_for(sample, models=str(empty))) as client:  # a warning that names the models folder
        warned = client.get("/healthz").json()
        assert "empty-models" in warned["warning"] and str(tmp_path) not in str(warned)
        assert str(empty) in client.get("/healthz", headers=AUTH).json()["warning"]


MALFORMED = [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # nesting deeper than any parser's recursion limit
    (b'{"readings": "many"}', "application/json"),
    (
        b'{"rows": [{"asset_id": "P-001", "ts": "2030-01-01T00:00:00Z", "values": {"vibration": 1e999}}]}',
        "application/json",
    ),
    (b"<xml/>", "application/xml"),
    (b"", "application/json"),
]


def test_malformed_requests_never_get_a_5xx(sample) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app_for(sample, max_body_bytes=1024 * 1024), headers=AUTH) as client:
        for path in BODY_ENDPOINTS:
            for body, content_type in MALFORMED:
                response = client.post(path, content=body, headers={"Content-Type": content_type})
                assert 400 <= response.status_code < 500, (path, body[:40], response.status_code, response.text)
    with serving(app_for(sample)) as port:  # broken framing, answered by the server itself
        for raw in (
            b"POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            b"GET /api/v1/assets/%00%ff/health HTTP/1.1\r\nHost: x\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(raw)
                reply = conn.recv(65536)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply[:200]
