"""The dashboard in Debian's Chromium: axe-core finds no serious or critical accessibility problem on any page; a
store with readings and events but no model still shows the fleet and each asset; the backtests page.

axe-core comes from npm (``package-lock.json`` pins it; ``make test`` runs ``npm ci`` into ``node_modules/``). The
accessibility test skips, saying so, only when ``node_modules/axe-core`` is missing (``make test`` was not run);
the other tests here need only Chromium, like ``test_dashboard_browser.py``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forewarn.store import Store

from . import test_dashboard_browser as browser
from .backtest_samples import write_backtests
from .conftest import write_stream_alerts
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page  # the same Chromium page fixture (console errors, failed and outside requests recorded)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (make test installs it: apt-get install chromium)",
)


def _axe(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe-core's violations on the page as drawn, each with its impact and the elements it found."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
        .map(v => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')) }))""")


def _blocking(found: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}, {len(v['targets'])} elements: {', '.join(v['targets'][:5])}): {v['help']}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def _api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


# -- a plant with a model, cases, stream alerts and backtests ------------------------------------------------------
@pytest.fixture
def server(sample, token: str, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    write_stream_alerts(sample.store)
    write_backtests(sample.models)
    with serving(sample.store, sample.models, tmp_path / "server.log", {"FOREWARN_API_TOKEN": token}) as url:
        yield url


@pytest.mark.skipif(
    not AXE.exists(),
    reason="node_modules/axe-core is missing: run `make test` (it runs npm ci "
    "with the package-lock.json at the repository root)",
)
def test_no_page_has_a_serious_accessibility_violation(server: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worst = min(_api(f"{server}/api/v1/fleet/health"), key=lambda a: a["rul"])["asset_id"]
    open_case = _api(f"{server}/api/v1/cases?status=open")[0]["case_id"]
    pages = ["/", f"/assets/{worst}", "/assets/P-000", "/alerts", "/risk", "/models", "/backtests", "/backtests/bt-old"]
    problems = {}
    for path in pages:
        _visit(page, f"{server}{path}", tmp_path / f"{path.strip('/').replace('/', '-') or 'fleet'}.png")
        if path == "/alerts":  # the case panel and its form are part of the page too
            page.click(f"#cases tbody tr[data-case-id='{open_case}'] button.select-case")
            page.wait_for_selector(f"#case-panel[data-case-id='{open_case}']")
        found = _blocking(_axe(page))
        if found:
            problems[path] = found
    assert problems == {}, json.dumps(problems, indent=1)
    assert page.problems == []


# -- a store with readings and events, and no model yet ------------------------------------------------------------
@pytest.fixture
def unscored(tmp_path: Path) -> tuple[Path, Path]:
    """Two assets with three channels of hourly readings; F-1 failed and was maintained; an empty models folder."""
    store, models = tmp_path / "plant.duckdb", tmp_path / "models"
    models.mkdir()
    ts = pd.date_range("2026-01-01", periods=96, freq="h", tz="UTC")
    rows = [
        {"asset_id": asset, "ts": t, "temp": 50 + k + 0.1 * i, "vibration": 1 + 0.01 * i, "flow": 3.0}
        for k, asset in enumerate(["F-1", "F-2"])
        for i, t in enumerate(ts)
    ]
    with Store(store) as s:
        s.ingest_readings(pd.DataFrame(rows), source="test")
        s.ingest_events(
            pd.DataFrame(
                {
                    "asset_id": ["F-1", "F-1"],
                    "ts": [ts[40], ts[60]],
                    "kind": ["failure", "maintenance"],
                    "failure_mode": ["bearing seizure", None],
                    "action": [None, "replaced bearing"],
                }
            ),
            source="test",
        )
    return store, models


def test_a_store_without_a_model_shows_readings_and_events(
    unscored: tuple[Path, Path],
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    store, models = unscored
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/", tmp_path / "fleet.png")
        cells = page.locator("#fleet-grid .cell")
        assert cells.count() == 2
        assert page.is_visible("#fleet-note")
        failed = page.inner_text("#fleet-grid .cell[data-asset-id='F-1']")
        assert "not scored" in failed and "3 channels" in failed and "last 2026-01-04 23:00" in failed, failed
        assert "1 failure(s), last 2026-01-02" in failed and "maintained 2026-01-03" in failed, failed
        if AXE.exists():
            assert _blocking(_axe(page)) == []

        _visit(page, f"{url}/assets/F-1", tmp_path / "asset.png")
        assert "no model" in page.inner_text("#no-model")
        assert "2026-01-04 23:00" in page.inner_text("#asset-summary")
        for chart in ("#risk-trend", "#rul-trend", "#contributions"):
            assert page.is_hidden(chart), chart
        assert page.locator("#sensor-trends .series-line").count() >= 3
        assert page.locator("#sensor-trends .panel").count() == 3
        assert page.locator("#sensor-trends .marks .mark").count() == 2  # the failure and the maintenance
        legend = page.locator("#sensor-trends .legend").text_content()
        assert "failure" in legend and "maintenance" in legend
        events = page.inner_text("#events")
        assert "bearing seizure" in events and "replaced bearing" in events
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []


# -- backtests -------------------------------------------------------------------------------------------------
def test_backtests_page_lists_and_shows_one(server: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _visit(page, f"{server}/backtests", tmp_path / "backtests.png")
    rows = page.locator("#backtest-list tbody tr")
    assert [rows.nth(k).get_attribute("data-backtest-id") for k in range(3)] == ["bt-new", "bt-old", "broken"]
    assert "unreadable" in rows.nth(2).inner_text() and "not valid JSON" in rows.nth(2).inner_text()
    assert page.get_attribute("#backtest", "data-backtest-id") == "bt-new"  # the newest is shown
    metrics = page.inner_text("#backtest-metrics")
    assert "10 of 12 (83 %)" in metrics and "1.40" in metrics and "52,000" in metrics
    for chart in ("#threshold-sweep", "#reliability", "#costs"):
        assert page.locator(f"{chart} svg.chart-svg").count() >= 1, chart
    assert "chosen threshold 0.400" in page.locator("#threshold-sweep .legend").text_content()
    assert page.locator("#folds tbody tr").count() == 3

    page.click("#backtest-list a[href='/backtests/bt-old']")
    page.wait_for_selector("body[data-ready='1']")
    assert page.get_attribute("#backtest", "data-backtest-id") == "bt-old"
    assert "chosen threshold 0.600" in page.locator("#threshold-sweep .legend").text_content()
    page.screenshot(path=str(tmp_path / "backtest-old.png"), full_page=True)
    assert page.problems == []


# -- a long history, no model: the whole of it on the trends, a down asset said ---------------------------------
@pytest.fixture
def long_history(tmp_path: Path) -> tuple[Path, Path]:
    """Two pumps with 2,500 hourly rows of three channels (more than the page draws as rows); L-1 failed in its
    first day and its only maintenance since was a planned oil change (which renews nothing): it is down."""
    store, models = tmp_path / "long.duckdb", tmp_path / "models"
    models.mkdir()
    ts = pd.date_range("2025-01-01", periods=2500, freq="h", tz="UTC")
    frame = pd.concat(
        pd.DataFrame({"asset_id": asset, "ts": ts, "temp": 40.0 + k, "vibration": 1.0, "flow": 3.0 + k})
        for k, asset in enumerate(["L-1", "L-2"])
    )
    with Store(store) as s:
        s.ingest_readings(frame, source="test")
        s.ingest_events(
            pd.DataFrame(
                {
                    "asset_id": ["L-1", "L-1"],
                    "ts": [ts[10], ts[2400]],
                    "kind": ["failure", "maintenance"],
                    "failure_mode": ["seal leak", None],
                    "action": [None, "oil change"],
                    "result": [None, "planned"],
                }
            ),
            source="test",
        )
    return store, models


def test_a_long_history_is_drawn_whole_and_a_down_asset_is_said_without_a_model(
    long_history: tuple[Path, Path],
    page,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    store, models = long_history
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/", tmp_path / "fleet.png")
        down = page.locator("#fleet-grid .cell[data-asset-id='L-1']")
        assert down.get_attribute("data-risk") == "critical"  # the case book's failure case, not "not scored"
        assert "down since 2025-01-01 10:00" in down.inner_text()
        assert "not scored (no model)" in page.inner_text("#fleet-grid .cell[data-asset-id='L-2']")

        _visit(page, f"{url}/risk", tmp_path / "risk.png")
        levels = page.locator("#risk-levels .series-bar rect title").evaluate_all("els => els.map(e => e.textContent)")
        assert "critical: 1 assets" in levels and "unknown: 1 assets" in levels, levels  # as the fleet page counts
        assert "1 down asset" in page.inner_text("#risk-note")
        for chart in ("#probability-histogram", "#rul-vs-probability"):
            assert "None of the 2 assets has a probability" in page.inner_text(chart), chart
            assert page.locator(f"{chart} svg").count() == 0, chart  # no empty axes

        _visit(page, f"{url}/assets/L-1", tmp_path / "asset.png")
        assert "down since 2025-01-01 10:00" in page.inner_text("#down-card")
        trends = page.locator("#sensor-trends")
        assert trends.get_attribute("data-bucket") == "2h"  # 2,500 hours in at most 2,000 points
        assert "whole history, means over 2 hours" in trends.text_content()
        # the failure of the first day is on the charts (the last 2,000 rows, drawn before, began on day 21)
        assert page.locator("#sensor-trends .marks .mark").count() == 2
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []


def test_an_empty_store_says_how_data_gets_in(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, models = tmp_path / "new.duckdb", tmp_path / "models"
    models.mkdir()
    Store(store).close()  # as serve --create leaves it: the tables, no asset
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/", tmp_path / "fleet.png")
        assert "forewarn ingest FILE --store STORE" in page.inner_text("#fleet-empty")  # before: "0 assets" alone
        if AXE.exists():
            assert _blocking(_axe(page)) == []
        _visit(page, f"{url}/risk", tmp_path / "risk.png")
        assert page.locator(".chart svg").count() == 0  # no empty axes running from -1 to 1
        assert page.inner_text("#risk-levels") == "The store holds no asset yet."
        _visit(page, f"{url}/assets/P-1", tmp_path / "missing.png")  # no such asset: the 404 page
        assert "No asset P-1" in page.inner_text("h1")
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    expected = [p for p in page.problems if "404" in p and "/assets/P-1" in p or "status of 404" in p]
    assert expected and [p for p in page.problems if p not in expected] == []
