"""Every dashboard page in Debian's Chromium, driven by Playwright: drawn, no errors, nothing from outside.

The service runs as a real process (``python -m forewarn serve``, uvicorn on 127.0.0.1 and a free port);
each page is screenshotted into the test's temporary folder. Skips only when /usr/bin/chromium is missing
(``make test`` installs it).

A planner's case actions are driven through the pages too: a wrong token is refused with a message and changes
nothing, a field the API refuses shows the API's field-level message, and acknowledging and closing (from the
alerts page and from an asset page) are checked through the API afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from testkit import free_port

from .backtest_samples import write_backtests
from .conftest import write_stream_alerts

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (make test installs it: apt-get install chromium)",
)


@contextmanager
def serving(store: Path, models: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``python -m forewarn serve`` on ``store`` and ``models`` (a free port on 127.0.0.1) until the block ends."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "forewarn",
                "serve",
                "--store",
                str(store),
                "--models",
                str(models),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(f"the server exited: {log.read_text()}") from None
                if time.monotonic() > deadline:
                    raise AssertionError("the server did not answer /healthz within 60 s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def server(sample, token: str, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    write_stream_alerts(sample.store)  # as if a stream's own models had raised alerts on this plant
    write_backtests(sample.models)  # as if forewarn backtest had run twice (and left one broken file)
    with serving(sample.store, sample.models, tmp_path / "server.log", {"FOREWARN_API_TOKEN": token}) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on(
            "request",
            lambda r: (
                not r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
                and page.problems.append(f"outside request: {r.url}")
            ),
        )
        yield page
        context.close()
        browser.close()


def _visit(page, url: str, shot: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.wait_for_selector("body[data-ready='1'], body[data-ready='error']", timeout=30_000)
    assert page.get_attribute("body", "data-ready") == "1", page.inner_text("#error")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_every_page_renders_in_chromium(server: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shots = tmp_path / "screenshots"
    shots.mkdir()

    _visit(page, f"{server}/", shots / "fleet.png")
    assert page.inner_text("#time-zone") == "times in UTC"  # said on every page (base.html)
    assert page.evaluate("fmtTime('2024-10-27T03:30:00+02:00')") == "2024-10-27 01:30:00"  # shown in UTC
    assert page.evaluate("fmtTime('2024-10-27T01:30:00')") == "2024-10-27 01:30:00"
    cells = page.locator("#fleet-grid .cell")
    assert cells.count() == 24
    risks = set(page.locator("#fleet-grid .cell").evaluate_all("cells => cells.map(c => c.dataset.risk)"))
    assert risks & {"high", "critical"} and risks & {"low", "medium"}
    colour = page.locator("#fleet-grid .cell[data-risk='critical']").first.evaluate(
        "c => getComputedStyle(c).backgroundColor"
    )
    assert colour == "rgb(200, 32, 47)"
    page.select_option("#site-filter", "south")
    assert 0 < cells.count() < 24
    page.select_option("#line-filter", "S1")
    assert cells.count() == 8
    page.screenshot(path=str(shots / "fleet-south.png"))

    worst = page.locator("#fleet-grid .cell").first.get_attribute("data-asset-id")
    _visit(page, f"{server}/assets/{worst}", shots / "asset.png")
    for chart in ("#risk-trend", "#rul-trend", "#contributions", "#sensor-trends"):
        assert page.locator(f"{chart} svg.chart-svg").count() >= 1, chart
    assert page.locator("#sensor-trends .series-line").count() == 3  # one small chart per channel
    assert page.locator("#sensor-trends .panel").count() == 3
    # drawn, not just placed: the probability line has a point per scored row, RUL its interval band, bars per sensor
    assert page.get_attribute("#risk-trend .series-line path", "d").count("L") >= 10
    assert page.locator("#rul-trend .series-band path").count() == 1
    assert page.locator("#contributions .series-bar rect.point").count() >= 2
    rul = page.inner_text("#rul-card")
    assert "90 % interval" in rul and "9 in 10 assets like this fail inside it" in rul, rul
    assert "interval comes from the model's errors" in (page.get_attribute("#rul-card", "title") or "")
    assert "inspect" in page.inner_text("#recommended-action") or "plan" in page.inner_text("#recommended-action")

    _visit(page, f"{server}/assets/P-000", shots / "asset-events.png")
    assert "maintenance" in page.inner_text("#events")
    for chart in ("#risk-trend", "#rul-trend", "#sensor-trends"):  # the maintenance is marked on each time chart
        assert page.locator(f"{chart} .marks .mark").count() >= 1, chart
        assert "maintenance" in page.locator(f"{chart} .legend").text_content(), chart

    _visit(page, f"{server}/alerts", shots / "alerts.png")
    assert page.locator("#alert-timeline svg.chart-svg").count() >= 1
    assert page.locator("#cases tbody tr").count() >= 3  # the start-up evaluation opened cases
    streamed = page.locator("#stream-alerts tbody tr")
    assert streamed.count() == 3
    assert "P-001" in streamed.nth(0).inner_text() and "iforest" in streamed.nth(0).inner_text()
    assert "vibration, bearing_temp" in streamed.nth(2).inner_text()  # top sensors, largest first

    _visit(page, f"{server}/risk", shots / "risk.png")
    for chart in ("#risk-levels", "#probability-histogram", "#rul-vs-probability"):
        assert page.locator(f"{chart} svg.chart-svg").count() >= 1, chart
    assert page.locator("#risk-levels rect.point").count() >= 1
    assert page.locator("#rul-vs-probability circle.point").count() >= 1

    _visit(page, f"{server}/models", shots / "models.png")
    assert "v2" in page.inner_text("#models") and "rmse" in page.inner_text("#models")
    assert "sampling interval:" in page.inner_text("#models .model-spec")

    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.screenshot(path=str(shots / "docs.png"))
    assert page.locator(".swagger-ui .opblock").count() >= 18

    assert page.problems == []
    print(f"screenshots in {shots}")


# -- case actions from the dashboard ---------------------------------------------------------------------------
EXPECTED_REFUSALS = (
    "HTTP 401",
    "HTTP 422",
    "console: Failed to load resource: the server responded with a status of 4",
)


def _api(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _wait_message(page, state: str, text: str) -> str:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "([state, text]) => { const m = document.getElementById('action-message');"
        " return m.dataset.state === state && m.textContent.includes(text); }",
        arg=[state, text],
        timeout=30_000,
    )
    return str(page.inner_text("#action-message"))


def test_planner_acknowledges_and_closes_cases_in_the_dashboard(
    server: str,
    page,
    token: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    api = f"{server}/api/v1"
    open_cases = _api(f"{api}/cases?status=open")
    assert isinstance(open_cases, list) and len(open_cases) >= 2
    first, second = open_cases[0], open_cases[1]
    before = _api(f"{api}/cases?limit=5000")

    _visit(page, f"{server}/alerts", shots / "alerts-actions.png")
    # a click on an alert of the timeline picks its case
    box = page.locator("#alert-timeline .point").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#case-panel:not([data-case-id=''])")
    picked = page.get_attribute("#case-panel", "data-case-id")
    asset = page.inner_text("#case-panel .case-head").split(" · ")[1]
    alerts = _api(f"{api}/alerts?case_id={picked}")
    assert isinstance(alerts, list) and alerts and alerts[0]["asset_id"] == asset
    assert page.get_attribute("#cases tbody tr.selected", "data-case-id") == picked
    page.click(f"#cases tbody tr[data-case-id='{first['case_id']}'] button.select-case")
    page.wait_for_selector(f"#case-panel[data-case-id='{first['case_id']}']")
    assert page.inner_text("#case-status") == "open"

    # a wrong token: a clear message, the token is forgotten, nothing changes
    page.click("#ack-button")
    page.wait_for_selector("#token-form:not([hidden])")
    page.fill("#token-input", "wrong-token-0000000")
    page.click("#token-save")
    message = _wait_message(page, "error", "401")
    assert "wrong API token" in message and "Enter the token again" in message
    page.screenshot(path=str(shots / "alerts-wrong-token.png"), full_page=True)
    assert _api(f"{api}/cases?limit=5000") == before
    assert page.evaluate("sessionStorage.getItem('forewarn-api-token')") is None
    assert page.is_visible("#token-form")

    # a field the API refuses: its field-level message is shown
    page.fill("#token-input", token)
    page.click("#token-save")
    page.wait_for_selector("#token-form", state="hidden")
    page.evaluate("document.getElementById('case-by').removeAttribute('maxlength')")
    page.fill("#case-by", "x" * 300)
    page.click("#ack-button")
    message = _wait_message(page, "error", "422")
    assert "by: " in message and "200" in message
    assert _api(f"{api}/cases?limit=5000") == before

    # acknowledge, then close with a note (the token is asked for once per tab)
    page.fill("#case-by", "ana")
    page.click("#ack-button")
    _wait_message(page, "ok", f"Case #{first['case_id']} acknowledged")
    assert page.inner_text("#case-status") == "acknowledged"
    assert _api(f"{api}/cases/{first['case_id']}")["acknowledged_by"] == "ana"  # type: ignore[index]
    page.click("#close-button")
    assert "note" in _wait_message(page, "error", "required")
    page.fill("#close-note", "replaced the drive-end bearing")
    page.click("#close-button")
    _wait_message(page, "ok", f"Case #{first['case_id']} closed")
    page.screenshot(path=str(shots / "alerts-closed.png"), full_page=True)
    closed = _api(f"{api}/cases/{first['case_id']}")
    assert closed["status"] == "closed" and closed["note"] == "replaced the drive-end bearing"  # type: ignore[index]
    row = page.locator(f"#cases tbody tr[data-case-id='{first['case_id']}']")
    assert "closed" in row.inner_text() and "replaced the drive-end bearing" in row.inner_text()
    assert token not in page.content()  # the token lives in sessionStorage only

    # the asset page acts on that asset's open case
    _visit(page, f"{server}/assets/{second['asset_id']}", shots / "asset-case.png")
    page.wait_for_selector(f"#case-panel[data-case-id='{second['case_id']}']")
    page.click("#ack-button")
    _wait_message(page, "ok", "acknowledged")
    page.fill("#close-note", "cleaned the strainer")
    page.click("#close-button")
    _wait_message(page, "ok", "closed")
    page.screenshot(path=str(shots / "asset-case-closed.png"), full_page=True)
    done = _api(f"{api}/cases/{second['case_id']}")
    assert done["status"] == "closed" and done["note"] == "cleaned the strainer"  # type: ignore[index]
    assert done["acknowledged_by"] == "ana" and done["closed_by"] == "ana"  # type: ignore[index]
    assert "none" in page.inner_text("#asset-summary")  # the open-case card after the refresh
    assert page.inner_text("#case-status") == "closed"
    assert token not in page.content()

    unexpected = [p for p in page.problems if not p.startswith(EXPECTED_REFUSALS)]
    assert unexpected == [], unexpected
    print(f"screenshots in {shots}")
