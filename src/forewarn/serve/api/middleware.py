"""Plain ASGI middleware (no per-request task overhead): body size limit and Prometheus request metrics.

The token check of write endpoints is in :mod:`forewarn.serve.api.deps`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = dict[str, Any]


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
        self.latency = Histogram(
            "forewarn_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.predictions = Counter(
            "forewarn_predictions_total", "rows scored by a model", ["model_id", "endpoint"], registry=self.registry
        )
        self.alerts = Counter("forewarn_alerts_total", "alerts opened", ["risk_level"], registry=self.registry)
        self.readings = Counter(
            "forewarn_readings_ingested_total", "readings written to the store", registry=self.registry
        )
        self.rejected = Counter(
            "forewarn_requests_rejected_total",
            "requests refused before reaching a route",
            ["reason"],
            registry=self.registry,
        )
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
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """A body counted past the limit while it streamed in (no Content-Length): a 413.

    Raised from the ``receive`` that the app reads the body with. It is an ``HTTPException`` because FastAPI
    passes those on while reading a body (any other error there becomes its own 400 "error parsing the body",
    which the app answers as 422): the app's handler answers it, and :class:`BodyLimitMiddleware` does when it
    is raised outside FastAPI's routes."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"request body is larger than the limit of {max_bytes} bytes; send smaller batches")


class BodyLimitMiddleware:
    """Answer 413 to bodies over ``max_bytes`` (declared by Content-Length, or counted while streaming).

    A counted body over the limit answers 413 whatever the route does with the error on the way: once the
    limit is passed, a response the app starts is replaced by the 413."""

    def __init__(self, app: Any, *, max_bytes: int, metrics: Metrics):
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > self.max_bytes:
                    self.metrics.rejected.labels("too_large").inc()
                    await _send_json(send, 413, BodyTooLarge(self.max_bytes).detail)
                    return
        if declared is not None and declared >= 0:
            # the server reads exactly the declared length (more bytes would be the next request): nothing to count
            await self.app(scope, receive, send)
            return
        seen = 0
        too_large = False  # the body passed the limit: what the app answers after that is replaced by the 413
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, too_large
            if too_large:
                raise BodyTooLarge(self.max_bytes)
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    self.metrics.rejected.labels("too_large").inc()
                    raise BodyTooLarge(self.max_bytes)
            return event

        async def limited_send(event: Any) -> None:
            nonlocal started
            if too_large:
                if event["type"] == "http.response.start" and not started:
                    started = True
                    await _send_json(send, 413, BodyTooLarge(self.max_bytes).detail)
                return  # the app's own answer (or the rest of it) is dropped
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, limited_send)
        except Exception:
            if not too_large:
                raise
            if not started:  # whatever the body's size made the app raise, the answer is the 413
                started = True
                await _send_json(send, 413, BodyTooLarge(self.max_bytes).detail)


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
                if (
                    scope.get("path", "").startswith(prefix + "/")
                    and template.startswith("/")
                    and not template.startswith(prefix + "/")
                ):
                    template = prefix + template
            self.metrics.observe(scope.get("method", ""), template, str(status), time.perf_counter() - start)
