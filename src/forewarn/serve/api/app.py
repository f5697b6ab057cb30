"""The FastAPI application: ``create_app(settings)`` builds the API (``/api/v1``), docs, metrics and dashboard.

* ``/api/v1/...``: assets, readings ingest, health, predictions, what-if (digital twin), alerts and cases,
  model registry, backtests (read from ``<models>/backtests/``);
* ``/healthz`` (liveness and readiness), ``/metrics`` (Prometheus text format);
* ``/docs``: Swagger UI from the installed ``swagger-ui-bundle`` package, ``/openapi.json``;
* ``/`` and the other dashboard pages (see :mod:`forewarn.serve.dashboard`).

Nothing is fetched from a CDN. Errors are JSON: 4xx with a message or field-level details.

>>> from fastapi.testclient import TestClient
>>> client = TestClient(create_app(ServeSettings()))
>>> client.get("/healthz").json()["status"]
'ok'
>>> client.post("/api/v1/alerts/evaluate", json={}).status_code   # no token configured: writes refused
403
>>> client.get("/healthz").json()["store"]   # anonymous callers: a store file by its name only, no server path
':memory:'
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

import forewarn
from forewarn.exceptions import (
    DataNotFoundError,
    ForewarnError,
    NotFittedError,
    RegistryError,
    SchemaError,
    StateError,
)
from forewarn.serve.api import (
    routes_assets,
    routes_backtests,
    routes_cases,
    routes_kpi,
    routes_models,
    routes_plan,
    routes_predict,
    routes_quality,
    routes_whatif,
)
from forewarn.serve.api.bodies import body_components
from forewarn.serve.api.deps import has_token, service_of
from forewarn.serve.api.direct import DirectRoute, DirectRoutes
from forewarn.serve.api.middleware import BodyLimitMiddleware, FieldError, Metrics, MetricsMiddleware, StreamCollector
from forewarn.serve.api.routes_whatif import Slots
from forewarn.serve.drift_metrics import DriftCollector
from forewarn.serve.fleet_metrics import FleetCollector
from forewarn.serve.service import HealthService, check_ready
from forewarn.serve.settings import ServeSettings

API_PREFIX = "/api/v1"
#: how long start-up waits for the fleet's evaluation before answering requests while it goes on
STARTUP_WAIT_SECONDS = 2.0
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
log = logging.getLogger("forewarn.serve")


def _error_status(err: ForewarnError) -> int:
    if isinstance(err, DataNotFoundError | RegistryError):
        return 404
    if isinstance(err, StateError):
        return 409
    if isinstance(err, SchemaError | NotFittedError):
        return 422
    return 400


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FieldError)
    async def field_error(request: Request, err: FieldError) -> JSONResponse:
        return JSONResponse({"detail": err.detail()}, status_code=err.status)

    @app.exception_handler(ForewarnError)
    async def forewarn_error(request: Request, err: ForewarnError) -> JSONResponse:
        status = _error_status(err)
        if isinstance(err, SchemaError):
            loc: list[Any] = ["body"] + ([err.column] if err.column else [])
            detail: Any = [{"loc": loc, "msg": str(err), "type": "value_error"}]
        else:
            detail = str(err)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if err.status_code == 400 and err.detail == "There was an error parsing the body":
            detail = [
                {
                    "loc": ["body"],
                    "msg": "the body could not be read (send UTF-8 JSON with Content-Type application/json)",
                    "type": "body_unreadable",
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return await http_exception_handler(request, err)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in err.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)


def _install_docs_and_ops(app: FastAPI, metrics: Metrics) -> None:
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Forewarn API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness and readiness: store reachable, model loadable "
        "(server paths by name only, unless the API token is sent)",
    )
    def healthz(request: Request) -> JSONResponse:
        status = check_ready(service_of(request), reveal_paths=has_token(request))
        return JSONResponse(status, status_code=200 if status["status"] == "ok" else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _document_raw_bodies(app: FastAPI) -> None:
    """Routes that parse their own JSON bodies (the predict endpoints) refer to their pydantic models in the
    OpenAPI document; FastAPI does not list those models by itself, so add them to its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(body_components())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class StartupEvaluation:
    """The fleet's evaluation at start-up (alerts, and the failure cases of down assets, with or without a model),
    in a thread that start-up waits for at most :data:`STARTUP_WAIT_SECONDS`: on a small store it is done before
    the first request (as before), on a large one (a first start filing hundreds of failure cases, a cold fleet
    scored) the API answers while it goes on. A bad model is logged, never keeps the API from starting; any other
    error within the wait stops the start, as it did when the evaluation ran inline."""

    def __init__(self, svc: HealthService):
        self.svc = svc
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="forewarn-startup-evaluation", daemon=True)

    def start(self) -> StartupEvaluation:
        self.thread.start()
        self.thread.join(STARTUP_WAIT_SECONDS)
        if self.thread.is_alive():
            log.info("the start-up evaluation goes on in the background (over %.0f s)", STARTUP_WAIT_SECONDS)
        elif self.error is not None:
            raise self.error
        return self

    def _run(self) -> None:
        try:
            opened = self.svc.evaluate()
            log.info("evaluated the fleet at start-up: %d new alert(s)", len(opened))
        except ForewarnError as err:  # a bad model must not keep the API from starting
            log.warning("could not evaluate the fleet at start-up: %s", err)
        except Exception as err:  # noqa: BLE001 - raised by start() within the wait, logged after it
            self.error = err
            log.error("the start-up evaluation failed: %s", err)


def create_app(settings: ServeSettings, *, service: HealthService | None = None) -> FastAPI:
    """The service as an ASGI app. ``service`` lets tests pass one built around an existing store."""
    svc = service if service is not None else HealthService(settings)
    metrics = Metrics()
    metrics.registry.register(StreamCollector(svc))
    metrics.registry.register(FleetCollector(svc))  # per-asset gauges (health, probability, RUL, open cases)
    metrics.registry.register(DriftCollector(svc))  # per-model drift gauges (forewarn monitor's last run)
    svc.cases.on_alert.append(lambda alert: metrics.alerts.labels(alert.risk_level).inc())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # With no model too: a down asset's failure case follows its events alone (one events query), so a service
        # started without models (or with none servable yet) lists it at once, not after a POST /alerts/evaluate.
        starting = StartupEvaluation(svc) if settings.evaluate_on_start else None
        try:
            if starting is not None:
                starting.start()
            if settings.stream is not None:  # the MQTT / OPC UA connector, on this process's store
                svc.attach_stream(settings.stream)
        except BaseException:
            if starting is not None and starting.thread.is_alive():
                starting.thread.join()
            if service is None:
                svc.close()
            raise
        # Everything loaded so far (modules, models, the store) lives as long as the service. A full garbage
        # collection walks all of it: ~150 ms with the API loaded, a pause every request behind it waits for.
        # Frozen objects are left out of collections (garbage among them waits until the shutdown unfreezes them).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
        if starting is not None:
            starting.thread.join()  # a long one may still be filing cases: the case book stays open until it ends
        if svc.stream is not None:
            svc.stream.stop()  # finishes and acknowledges the batch in hand
        if service is None:
            svc.close()

    app = FastAPI(
        title="Forewarn",
        version=forewarn.__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
        description="Predictive maintenance: which machine will fail, why, and how soon. "
        "Write endpoints need `Authorization: Bearer <token>`.",
    )
    app.state.settings = settings
    app.state.service = svc
    app.state.metrics = metrics
    app.state.what_if_slots = Slots(settings.what_if_concurrency)
    for router in (
        routes_assets.router,
        routes_predict.router,
        routes_whatif.router,
        routes_cases.router,
        routes_models.router,
        routes_backtests.router,
        routes_kpi.router,
        routes_plan.router,
        routes_quality.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    _install_error_handlers(app)
    _install_docs_and_ops(app, metrics)
    _document_raw_bodies(app)
    from forewarn.serve.dashboard.pages import install_dashboard

    install_dashboard(app)
    from forewarn.serve.dashboard.production import install_production_pages

    install_production_pages(app)
    app.include_router(routes_quality.pages)
    # innermost of the app's middleware, so that CORS, the body limit and the metrics apply to it too
    app.add_middleware(DirectRoutes, routes=[DirectRoute("POST", f"{API_PREFIX}/predict", routes_predict.predict)])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, metrics=metrics)
    if settings.cors_origins:  # outside the body limit: a browser can read the 413 too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics, prefixes=(API_PREFIX,))
    return app
