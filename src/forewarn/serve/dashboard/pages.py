"""The dashboard: HTML pages served by the API process, drawn in the browser as SVG by our own ``charts.js``.

Pages are thin HTML shells (Jinja2, autoescaped) that fetch their data from the same service's
``/api/v1`` and draw it with ``static/charts.js`` (line, band, scatter and bar charts, event marks, small
multiples; a few hundred lines of our own, no charting package), so nothing comes from a CDN or npm:

* ``/``: fleet grid coloured by risk, filtered by site and line, with each asset's channels, last reading and
  events (so a plant whose store has readings but no model yet still shows its assets);
* ``/assets/{asset_id}``: health, RUL with what its interval means (the coverage measured on held-out assets; "or
  more" at the model's cap), recommended action, risk and RUL trends (the current life, said), sensor trends as small
  multiples (one chart per channel on one time axis, the whole history: means over the finest bucket that keeps
  2,000 points, said in the title), failures and maintenance marked on every time chart, contributing sensors,
  events and the open case (with the model that raised it), the case actions and a form to record an event; without
  a model for the asset, its readings and events. An asset the store does not know gets a 404 page (the event form
  would otherwise file a failure under a mistyped id, and the store creates an asset it does not know);
* ``/alerts``: alert timeline, cases with the case actions, every alert with its source (service or stream), and the stream's outbox;
* ``/risk``: risk distribution over the fleet;
* ``/models``: model versions, their metrics, the live one and its sampling interval;
* ``/backtests`` and ``/backtests/{id}``: the backtests in ``<models>/backtests/``, newest first, and one of them:
  metrics, the threshold sweep (caught share against false cases per asset-year, the chosen threshold marked),
  the reliability diagram and the folds.

Every page passes axe-core's checks with no serious or critical violation (the browser tests run it): risk
colours keep AA contrast with their text, and every table header has a name.

Each page sets ``data-ready="1"`` on ``<body>`` when it has drawn everything (``"error"`` when a request
failed), which is what the browser tests wait for.

The alerts page and the asset page also act on cases (``case_actions.html``): acknowledge, and close with a
note. These call the same write endpoints as any client, with ``Authorization: Bearer <token>``: the page asks
for the token when a first write needs it and keeps it in the tab's ``sessionStorage`` (never in the HTML the
server renders, never in a cookie, so there is nothing for a cross-site request to ride on). A refused write
shows the API's message (field by field for 422) and changes nothing; a successful one redraws the view.

>>> from fastapi.testclient import TestClient
>>> from forewarn.serve import ServeSettings, create_app
>>> page = TestClient(create_app(ServeSettings(token="s3cret-token-123"))).get("/alerts").text
>>> 'id="case-panel"' in page, 's3cret-token-123' in page
(True, False)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from forewarn.bundles.bundle import INTERVAL
from forewarn.exceptions import DataNotFoundError
from forewarn.serve.labels import trained_labels

HERE = Path(__file__).parent
PAGES = {"fleet": "Fleet", "alerts": "Alerts", "risk": "Risk", "models": "Models", "backtests": "Backtests"}
#: the RUL interval's coverage in percent (the bundle's 5 % and 95 % residual quantiles)
RUL_LEVEL = round(100 * (INTERVAL[1] - INTERVAL[0]))
BacktestId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]

_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _render(page: str, title: str, request: Request | None = None, **context: object) -> HTMLResponse:
    """A page; with the ``request``, its ``<body>`` lists the live models trained on a stored label column and
    their labels (``data-trained-labels``, :func:`~forewarn.serve.labels.trained_labels`), so the pages word a
    probability as that label being set, not as a failure within the horizon."""
    service = None if request is None else getattr(request.app.state, "service", None)
    labels = trained_labels(getattr(service, "registry", None))
    html = _templates.get_template(f"{page}.html").render(
        page=page, title=title, pages=PAGES, trained_labels=json.dumps(labels) if labels else "", **context
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _known(request: Request, asset_id: str) -> bool:
    """Whether the served store knows ``asset_id`` (True without a service, as in a page test of the shell)."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return True
    try:
        service.asset(asset_id)
    except DataNotFoundError:
        return False
    return True


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard pages and their static files to ``app``."""
    app.mount("/static/dashboard", StaticFiles(directory=HERE / "static"), name="dashboard-static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    def fleet(request: Request) -> HTMLResponse:
        return _render("fleet", "Fleet", request)

    @app.get("/assets/{asset_id:path}", include_in_schema=False)
    def asset(request: Request, asset_id: Annotated[str, PathParam(min_length=1, max_length=200)]) -> HTMLResponse:
        if not _known(request, asset_id):  # a mistyped link: a 404 page, not an event form that would create it
            page = _render("missing", f"No asset {asset_id}", request, asset_id=asset_id)
            page.status_code = 404
            return page
        return _render("asset", f"Asset {asset_id}", request, asset_id=asset_id, rul_level=RUL_LEVEL)

    @app.get("/alerts", include_in_schema=False)
    def alerts(request: Request) -> HTMLResponse:
        return _render("alerts", "Alerts", request)

    @app.get("/risk", include_in_schema=False)
    def risk(request: Request) -> HTMLResponse:
        return _render("risk", "Risk", request)

    @app.get("/models", include_in_schema=False)
    def models(request: Request) -> HTMLResponse:
        return _render("models", "Models")

    @app.get("/backtests", include_in_schema=False)
    def backtests(request: Request) -> HTMLResponse:
        return _render("backtests", "Backtests", backtest_id=None)

    @app.get("/backtests/{backtest_id}", include_in_schema=False)
    def backtest(request: Request, backtest_id: BacktestId) -> HTMLResponse:
        return _render("backtests", f"Backtest {backtest_id}", backtest_id=backtest_id)
