"""Plain ASGI middleware (no per-request task overhead): body size limit and Prometheus request metrics.

Also the token check of write endpoints. Writes need ``Authorization: Bearer <token>``; with no token
configured the service refuses every write with 403 (there is no default secret).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = dict[str, Any]

bearer = HTTPBearer(auto_error=False, description="the service's API token (FOREWARN_API_TOKEN)")


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Dependency of every write endpoint."""
    expected = request.app.state.settings.token
    if expected is None:
        raise HTTPException(403, "writes are disabled: no API token is configured; start the service with "
                                 "FOREWARN_API_TOKEN set (12+ random characters) and send "
                                 "'Authorization: Bearer <token>'")
    given = "" if credentials is None else credentials.credentials
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise HTTPException(401, "missing or wrong API token; send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})


class FieldError(Exception):
    """A 422 about one field of a request: ``loc`` as in FastAPI's validation errors."""

    def __init__(self, loc: list[Any], message: str, *, status: int = 422):
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.status = status

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.message, "type": "value_error"}]


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("forewarn_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route", "status"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.predictions = Counter("forewarn_predictions_total", "rows scored by a model", ["model_id", "endpoint"],
                                   registry=self.registry)
        self.alerts = Counter("forewarn_alerts_total", "alerts opened", ["risk_level"], registry=self.registry)
        self.readings = Counter("forewarn_readings_ingested_total", "readings written to the store",
                                registry=self.registry)
        self.rejected = Counter("forewarn_requests_rejected_total", "requests refused before reaching a route",
                                ["reason"], registry=self.registry)
        # labelled children, looked up once per set of labels (prometheus_client's labels() checks and locks on
        # every call, and these run on every request)
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def predicted(self, model_id: str, endpoint: str, rows: int = 1) -> None:
        """Count ``rows`` scored by ``model_id`` through ``endpoint``."""
        self._child(self.predictions, model_id, endpoint).inc(rows)

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        """Record the duration of one request."""
        self._child(self.latency, method, route, status).observe(seconds)


class StreamCollector:
    """The Prometheus counters of the stream connector running inside the service (``serve --stream``), the
    same ``forewarn_stream_*`` families ``forewarn stream --metrics-port`` serves, read from the runner's own
    registry at each scrape (nothing while none runs)."""

    def __init__(self, service: Any):
        self.service = service

    def describe(self) -> list[Any]:
        return []  # the families depend on whether a stream runs; checked at each scrape

    def collect(self) -> Any:
        stream = getattr(self.service, "stream", None)
        if stream is not None:
            yield from stream.collect()


async def _send_json(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 to bodies over ``max_bytes`` (declared by Content-Length, or counted while streaming)."""

    def __init__(self, app: Any, *, max_bytes: int, metrics: Metrics):
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than the limit of {self.max_bytes} bytes; send smaller batches"
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > self.max_bytes:
                    self.metrics.rejected.labels("too_large").inc()
                    await _send_json(send, 413, message)
                    return
        if declared is not None and declared >= 0:
            # the server reads exactly the declared length (more bytes would be the next request): nothing to count
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return event

        async def tracking_send(event: Any) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            self.metrics.rejected.labels("too_large").inc()
            if not started:
                await _send_json(send, 413, message)


class MetricsMiddleware:
    """Request latency per method, route template (never the raw path) and status."""

    def __init__(self, app: Any, *, metrics: Metrics, prefixes: tuple[str, ...] = ()):
        self.app = app
        self.metrics = metrics
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(event: Any) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = int(event["status"])
            await send(event)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            # routes of an included router may report their path without the router's prefix
            for prefix in self.prefixes:
                if scope.get("path", "").startswith(prefix + "/") and template.startswith("/") and \
                        not template.startswith(prefix + "/"):
                    template = prefix + template
            self.metrics.observe(scope.get("method", ""), template, str(status), time.perf_counter() - start)
