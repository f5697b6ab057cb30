"""The dashboard on a store that a plant's CSV export fed (``forewarn ingest --label-columns``), in Debian's Chromium:
the asset page lists the stored labels and shades where one is set on the risk, RUL and sensor charts; a down asset
(a failure with no repair since) has its case at the top of the alerts page. axe-core finds no serious or critical
problem on either page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.serve.sample import ORIGIN, SamplePaths
from forewarn.store import Store

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _api, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


def _export(path: Path, store: Path) -> None:
    """P-003's hours as a plant exports them: its own column names, a `state` column (run / fault) and a
    `fails_24h` column (yes / no), each set over one stretch of the pump's last 60 hours."""
    with Store(store) as db:
        wide = db.readings("P-003", wide=True)
    last = wide.tail(60).reset_index(drop=True)
    k = np.arange(len(last))
    frame = pd.DataFrame(
        {
            "machine": "P-003",
            "time": last["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "bearing_temp": last["bearing_temp"],
            "state": np.where((k >= 20) & (k < 30), "fault", "run"),
            "fails_24h": np.where(k >= 36, "yes", "no"),
        }
    )
    frame.to_csv(path, index=False)


def test_labels_and_a_down_asset_on_the_dashboard(sample: SamplePaths, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from forewarn.cli.main import app

    export = tmp_path / "export.csv"
    _export(export, sample.store)
    args = ["ingest", str(export), "--store", str(sample.store), "--asset-column", "machine", "--time-column", "time"]
    out = CliRunner().invoke(app, [*args, "--label-columns", "state,fails_24h"])
    assert out.exit_code == 0, out.output
    with Store(sample.store) as db:
        repaired = db.readings("P-010", wide=True)["ts"].max() + pd.Timedelta("2h")
        events = [
            {"asset_id": "P-007", "ts": ORIGIN + pd.Timedelta("400h"), "kind": "failure"},
            {"asset_id": "P-010", "ts": repaired - pd.Timedelta("1h"), "kind": "failure"},
            {"asset_id": "P-010", "ts": repaired, "kind": "maintenance", "action": "replaced seal"},
        ]
        db.ingest_events(pd.DataFrame(events), source="t")
    with serving(sample.store, sample.models, tmp_path / "server.log") as url:
        info = _api(f"{url}/api/v1/assets/P-003")
        assert info["labels"] == [
            {"name": "fails_24h", "rows": 60, "set_rows": 24},
            {"name": "state", "rows": 60, "set_rows": 10},
        ]
        labels = _api(f"{url}/api/v1/assets/P-003/labels")
        set_spans = [(s["name"], s["value"], s["rows"]) for s in labels["spans"] if s["set"]]
        assert sorted(set_spans) == [("fails_24h", "yes", 24), ("state", "fault", 10)]

        _visit(page, f"{url}/", tmp_path / "fleet.png")
        down = page.inner_text("#fleet-grid .cell[data-asset-id='P-007']")
        assert "down since 2024-01-17 16:00" in down and "open case #" in down, down
        repaired_cell = page.inner_text("#fleet-grid .cell[data-asset-id='P-010']")
        assert f"not scored since its maintenance {repaired:%Y-%m-%d}" in repaired_cell, (
            repaired_cell
        )  # was "(no model)"

        _visit(page, f"{url}/assets/P-003", tmp_path / "asset.png")
        table = page.inner_text("#labels")
        assert "fails_24h" in table and "yes (24)" in table and "fault (10)" in table, table
        for chart in ("#risk-trend", "#rul-trend", "#sensor-trends"):
            assert page.locator(f"{chart} .spans rect.span").count() == 2, chart
            legend = page.locator(f"{chart} .legend").text_content()
            assert "label state" in legend and "label fails_24h" in legend, legend
        if AXE.exists():
            assert _blocking(_axe(page)) == []

        _visit(page, f"{url}/assets/P-001", tmp_path / "no-labels.png")  # an asset without labels says so
        assert "no labels stored" in page.inner_text("#labels")
        assert page.locator("#sensor-trends .spans").count() == 0

        # repaired, with no readings since: the charts say why they are empty (they were blank axes)
        _visit(page, f"{url}/assets/P-010", tmp_path / "repaired.png")
        assert f"No score since the maintenance of {repaired:%Y-%m-%d %H:%M}" in page.inner_text("#risk-trend")
        assert page.locator("#risk-trend svg").count() == 0 and page.is_hidden("#contributions")

        _visit(page, f"{url}/alerts", tmp_path / "alerts.png")
        assert "recorded failure" in page.locator("#alert-timeline .legend").text_content()
        stars = page.locator("#alert-timeline .series[data-name='recorded failure'] path.point")
        assert stars.count() == 1  # P-007's failure, a star on the timeline
        first = page.locator("#cases tbody tr").first
        stars.first.click()  # a star opens its case like a dot does
        page.wait_for_selector(f"#case-panel[data-case-id='{first.get_attribute('data-case-id')}']")
        assert "P-007" in first.inner_text() and "failure (down)" in first.inner_text(), first.inner_text()
        case_id = first.get_attribute("data-case-id")
        first.locator("button.select-case").click()
        page.wait_for_selector(f"#case-panel[data-case-id='{case_id}']")
        assert "recorded failure" in page.inner_text("#case-panel")
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []
