"""The production pages (issue 16) in Debian's Chromium: ``/kpi`` and ``/plan`` draw their tables and charts from
``/api/v1/kpi/twin`` and ``/api/v1/plan/demo``, make no outside request, log no console error, and axe-core finds
no serious or critical accessibility problem on them (the same check as ``test_dashboard_a11y.py``; it skips only
when ``node_modules/axe-core`` is missing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forewarn.store import Store

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page  # the same Chromium page fixture (console errors, failed and outside requests recorded)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (make test installs it: apt-get install chromium)",
    ),
]


def test_kpi_and_plan_pages_render_and_pass_axe(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, models = tmp_path / "plant.duckdb", tmp_path / "models"
    models.mkdir()
    Store(store).close()  # the pages read the simulated demo, not the store
    problems: dict[str, list[str]] = {}
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/kpi", tmp_path / "kpi.png")
        lines = page.locator("#oee-table tbody tr")
        assert lines.count() >= 2  # the lines and the 'all' row
        last = lines.nth(lines.count() - 1).inner_text()
        assert last.startswith("all") and "%" in last, last
        assert page.locator("#pareto-chart svg").count() >= 1
        assert page.locator("#opportunities-table tbody tr").count() >= 1
        assert "not this plant's data" in page.inner_text("#kpi-source")
        if AXE.exists():
            problems["/kpi"] = _blocking(_axe(page))

        _visit(page, f"{url}/plan", tmp_path / "plan.png")
        orders = page.locator("#orders-table tbody tr").count()
        assert orders >= 1
        assert page.locator("#gantt svg rect").count() == orders  # one bar per work order
        assert "optimality gap" in page.inner_text("#plan-summary")
        assert "not this plant's assets" in page.inner_text("#plan-source")  # a demonstration, said so
        if AXE.exists():
            problems["/plan"] = _blocking(_axe(page))
    assert {k: v for k, v in problems.items() if v} == {}, json.dumps(problems, indent=1)
    assert page.problems == []
