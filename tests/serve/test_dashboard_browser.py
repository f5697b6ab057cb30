"""Every dashboard page in Debian's Chromium, driven by Playwright: drawn, no errors, nothing from outside.

The service runs as a real process (``python -m forewarn.serve``, uvicorn on 127.0.0.1 and a free port);
each page is screenshotted into the test's temporary folder. Skips only when /usr/bin/chromium is missing
(``make test`` installs it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                             "(make test installs it: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(sample, token: str, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "FOREWARN_API_TOKEN": token}
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "forewarn.serve", "--store", str(sample.store), "--models", str(sample.models),
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
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
        page.on("request", lambda r: not r.url.startswith(("http://127.0.0.1:", "data:", "blob:"))
                and page.problems.append(f"outside request: {r.url}"))
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
    cells = page.locator("#fleet-grid .cell")
    assert cells.count() == 24
    risks = set(page.locator("#fleet-grid .cell").evaluate_all("cells => cells.map(c => c.dataset.risk)"))
    assert risks & {"high", "critical"} and risks & {"low", "medium"}
    colour = page.locator("#fleet-grid .cell[data-risk='critical']").first.evaluate(
        "c => getComputedStyle(c).backgroundColor")
    assert colour == "rgb(200, 32, 47)"
    page.select_option("#site-filter", "south")
    assert 0 < cells.count() < 24
    page.select_option("#line-filter", "S1")
    assert cells.count() == 8
    page.screenshot(path=str(shots / "fleet-south.png"))

    worst = page.locator("#fleet-grid .cell").first.get_attribute("data-asset-id")
    _visit(page, f"{server}/assets/{worst}", shots / "asset.png")
    for chart in ("#risk-trend", "#rul-trend", "#contributions", "#sensor-trends"):
        assert page.locator(f"{chart} .main-svg").count() >= 1, chart
    assert page.locator("#sensor-trends .scatterlayer .trace").count() == 3
    assert "inspect" in page.inner_text("#recommended-action") or "plan" in page.inner_text("#recommended-action")

    _visit(page, f"{server}/assets/P-000", shots / "asset-events.png")
    assert "maintenance" in page.inner_text("#events")

    _visit(page, f"{server}/alerts", shots / "alerts.png")
    assert page.locator("#alert-timeline .main-svg").count() >= 1
    assert page.locator("#cases tbody tr").count() >= 3  # the start-up evaluation opened cases

    _visit(page, f"{server}/risk", shots / "risk.png")
    for chart in ("#risk-levels", "#probability-histogram", "#rul-vs-probability"):
        assert page.locator(f"{chart} .main-svg").count() >= 1, chart

    _visit(page, f"{server}/models", shots / "models.png")
    assert "v2" in page.inner_text("#models") and "rmse" in page.inner_text("#models")

    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.screenshot(path=str(shots / "docs.png"))
    assert page.locator(".swagger-ui .opblock").count() >= 18

    assert page.problems == []
    print(f"screenshots in {shots}")
