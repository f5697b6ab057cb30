"""The backtests page says what a backtest's event figures cannot (its ``events_note``: alarms on most of the
time, or no failure log to judge cases by), shows the share of rows in alarm beside the caught share, and writes
counts as whole numbers (it wrote ``rows 10000.000``); a backtest whose folds carry row figures only (as ``forewarn
backtest`` writes them) shows no per-fold event columns of dashes. In Debian's Chromium, axe-core clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forewarn.serve.sample import SamplePaths

from . import test_dashboard_browser as browser
from .backtest_samples import backtest_result
from .test_dashboard_a11y import AXE, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


def test_a_backtest_note_and_the_time_in_alarm_are_shown(sample: SamplePaths, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = sample.models / "backtests"
    folder.mkdir(parents=True, exist_ok=True)
    noted = backtest_result("bt-always")
    noted["rows"] = {**noted["rows"], "rows": 10000}
    noted["events"] = {**noted["events"], "alarm_share": 0.99}
    noted["events_note"] = "alarms are on for 99% of the scored rows: the caught share says little here"
    (folder / "bt-always.json").write_text(json.dumps(noted))
    (folder / "bt-plain.json").write_text(json.dumps(backtest_result("bt-plain", created="2026-01-02T08:00:00+00:00")))
    rows_only = backtest_result("bt-rows", created="2026-01-01T08:00:00+00:00")
    rows_only["per_fold"] = [{k: v for k, v in fold.items() if k != "events"} for fold in rows_only["per_fold"]]
    (folder / "bt-rows.json").write_text(json.dumps(rows_only))
    with serving(sample.store, sample.models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/backtests/bt-always", tmp_path / "noted.png")
        page.wait_for_selector("#backtest[data-backtest-id='bt-always']")
        assert page.is_visible("#backtest-note")
        assert "alarms are on for 99% of the scored rows" in page.inner_text("#backtest-note")
        metrics = page.inner_text("#backtest-metrics")
        assert "time in alarm" in metrics and "99 %" in metrics, metrics
        assert "10000" in metrics and "10000.000" not in metrics, metrics
        if AXE.exists():
            assert _blocking(_axe(page)) == []
        _visit(page, f"{url}/backtests/bt-plain", tmp_path / "plain.png")
        page.wait_for_selector("#backtest[data-backtest-id='bt-plain']")
        assert page.is_hidden("#backtest-note") and "time in alarm" not in page.inner_text("#backtest-metrics")
        assert page.is_visible("#folds th:has-text('failures')") and page.is_hidden("#folds-note")  # per fold
        _visit(page, f"{url}/backtests/bt-rows", tmp_path / "rows.png")  # as forewarn backtest writes its folds
        page.wait_for_selector("#backtest[data-backtest-id='bt-rows']")
        assert page.is_visible("#folds-note") and page.is_hidden("#folds th:has-text('failures')")
        assert "–" not in page.inner_text("#folds tbody"), page.inner_text("#folds tbody")  # no columns of dashes
    assert page.problems == []
