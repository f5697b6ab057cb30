"""The production pages of the dashboard: ``/kpi`` (OEE by line, the downtime Pareto, the opportunities) and
``/plan`` (the maintenance plan as a Gantt chart with each job's saving and reason). They are shells like the
other pages (:mod:`forewarn.serve.dashboard.pages`), drawn by ``static/production.js`` from
``/api/v1/kpi/twin`` and ``/api/v1/plan/demo``.

>>> from fastapi.testclient import TestClient
>>> from forewarn.serve import ServeSettings, create_app
>>> client = TestClient(create_app(ServeSettings()))
>>> 'id="gantt"' in client.get("/plan").text, 'id="oee-table"' in client.get("/kpi").text
(True, True)
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from forewarn.serve.dashboard.pages import _render

__all__ = ["install_production_pages"]


def install_production_pages(app: FastAPI) -> None:
    """Add ``/kpi`` and ``/plan`` to ``app``."""

    @app.get("/kpi", include_in_schema=False)
    def kpi_page() -> HTMLResponse:
        return _render("kpi", "Production KPIs")

    @app.get("/plan", include_in_schema=False)
    def plan_page() -> HTMLResponse:
        return _render("plan", "Maintenance plan")
