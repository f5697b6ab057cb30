"""The dashboard on a plant served by a failure model (trained on failure events, ``forewarn train``), in Chromium:
what a plant engineer read wrong on such a plant (BENCHMARKS.md, issue 12, 2026-12-05 21:25 UTC).

* a down asset's probability card says "down", not "100.0 % within 24 hours" (a state, not a forecast);
* a failure model estimates no remaining life: the asset page says so, the fleet tiles leave RUL out (not "RUL –");
* a case a stream detector opened says whose it is (beside a failure model's "low"), the trends say they begin at
  the asset's last renewal, and health is drawn on 0-100 (98.7-98.8 made a 0.1 dip look like a crash);
* a RUL at the model's cap reads "120 h or more" (it was "120 h" with an interval above the cap), and the interval
  says the coverage measured on held-out assets, not the nominal "9 in 10" (a plant's model covered 75 %);
* the risk page leaves a down asset's 100 % out of the probability histogram (said), and says a failure model gives
  no RUL to plot instead of an empty scatter;
* the models page lists counts (rows, calibration levels) as whole numbers, and its chart compares versions on the
  0-1 figures only, each legend swatch in its bar's colour (1,940 rows on one axis flattened every AUC before, and
  every swatch was the first colour).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.store import Store
from forewarn.train import train

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _axe, _blocking
from .test_dashboard_a11y import _api as browser_json
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Nine machines, 400 hourly rows of two channels; M0-M7 fail twice after a 30-hour rise and are repaired two
    hours later, except M7, whose second failure (the last hours) has no repair: it is down; M8 never fails. A
    logistic failure model trained on the events (about 1 s)."""
    root = tmp_path_factory.mktemp("failure-model")
    rng = np.random.default_rng(5)
    ts = pd.date_range("2024-03-01", periods=400, freq="1h", tz="UTC")
    rows, events = [], []
    for k in range(8):
        temp, vibration = rng.normal(60, 1.5, 400), rng.normal(1, 0.05, 400)
        for hour in (150 + 10 * k, 330 + 5 * k if k < 7 else 390):
            temp[hour - 30 : hour] += np.linspace(0, 12, 30)
            vibration[hour - 30 : hour] += np.linspace(0, 0.6, 30)
            events.append({"asset_id": f"M{k}", "ts": ts[hour], "kind": "failure", "failure_mode": "bearing"})
            if (k, hour) != (7, 390):
                events.append(
                    {"asset_id": f"M{k}", "ts": ts[hour + 2], "kind": "maintenance", "action": "replace bearing"}
                )
        rows.append(pd.DataFrame({"asset_id": f"M{k}", "ts": ts, "temp": temp, "vibration": vibration}))
    healthy = {"temp": rng.normal(58, 1.5, 400), "vibration": rng.normal(0.95, 0.05, 400)}
    rows.append(pd.DataFrame({"asset_id": "M8", "ts": ts, **healthy}))  # never failed
    store, models = root / "plant.duckdb", root / "models"
    with Store(store) as db:
        db.ingest_readings(pd.concat(rows), source="test")
        db.ingest_events(pd.DataFrame(events), source="test")
    train(store, models, horizon="24h", model="logistic-failure", promote=True)
    book = CaseBook(casebook_path_for(store))  # a stream detector's alarm, filed as `serve --stream` files it
    try:
        book.file_alerts([Alert("M0", ts[395], "detect", 0.97, "high", {"vibration": 4.0}, source="stream")])
    finally:
        book.close()
    return store, models


def test_a_failure_model_s_plant_reads_as_it_is(plant: tuple[Path, Path], page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, models = plant
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/", tmp_path / "fleet.png")
        assert "down since 2024-03-17 06:00" in page.inner_text("#fleet-grid .cell[data-asset-id='M7']")
        tile = page.inner_text("#fleet-grid .cell[data-asset-id='M0']")
        assert "health" in tile and "RUL" not in tile, tile

        _visit(page, f"{url}/assets/M7", tmp_path / "down.png")
        card = page.inner_text("#probability-card")
        assert "down" in card and "%" not in card, card
        _visit(page, f"{url}/assets/M0", tmp_path / "in-service.png")
        assert "%" in page.inner_text("#probability-card")
        rul = page.inner_text("#rul-card")
        assert "not estimated" in rul and "train --task rul" in rul, rul
        # the stream detector's case beside the failure model's low risk: whose it is, said on the card and panel
        assert "high · 1 alert(s) of model detect" in page.inner_text("#open-case-card")
        assert "raised by model detect" in page.inner_text("#case-panel")
        # the trends score M0's current life (after its repair at hour 332), its readings go back to hour 0
        note = page.inner_text("#trend-note")
        assert "current life: from 2024-03-14" in note and "since 2024-03-01 00:00" in note, note
        assert "Health (0-100)" in (page.locator("#rul-trend").text_content() or "")
        if AXE.exists():
            assert _blocking(_axe(page)) == []

        _visit(page, f"{url}/alerts", tmp_path / "alerts.png")  # the case says which model opened it
        headers = page.locator("#cases thead th").all_inner_texts()
        row = page.locator("#cases tbody tr", has_text="M0").first.locator("td").all_inner_texts()
        assert row[headers.index("opened by")] == "health · detect", row

        _visit(page, f"{url}/risk", tmp_path / "risk.png")  # M7's 100 % is a state: left out of the histogram, said
        assert "1 down asset (failed, not repaired) is counted as critical" in page.inner_text("#risk-note")
        assert "Failure probability within 24 hours" in (page.locator("#probability-histogram").text_content() or "")
        tips = page.locator("#probability-histogram .series-bins rect title").evaluate_all(
            "els => els.map(e => e.textContent)"
        )
        assert sum(int(t.split(": ")[1].split()[0]) for t in tips) == 8  # M0-M6 and M8; M7 (down) left out
        assert "train --task rul" in page.inner_text("#rul-vs-probability")

        _visit(page, f"{url}/models", tmp_path / "models.png")
        heads = page.locator(".model table thead th").all_inner_texts()
        cells = dict(
            zip(heads, page.locator(".model table tbody tr").first.locator("td").all_inner_texts(), strict=True)
        )
        assert cells["rows"].isdigit() and cells["roc_auc"].startswith(("0.", "1.")), cells
        legend = page.locator(".model .chart .legend text").evaluate_all("els => els.map(e => e.textContent)")
        assert "roc_auc" in legend and "rows" not in legend and "calibration_levels" not in legend, legend
        swatches = page.locator(".model .chart .legend rect").evaluate_all(
            "els => els.map(e => e.getAttribute('fill'))"
        )
        bars = page.locator(".model .chart .series-bar").evaluate_all(
            "els => els.map(g => g.querySelector('rect').getAttribute('fill'))"
        )
        assert swatches == bars and len(set(bars)) > 1, (swatches, bars)
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []


@pytest.fixture(scope="module")
def rul_models(plant: tuple[Path, Path]) -> Path:
    """A LightGBM RUL model of the same plant, lives cut at 120 h (about 3 s): M8, which never failed, reads the cap."""
    store, models = plant
    folder = models.parent / "models_rul"
    train(store, folder, horizon="24h", task="rul", model="lightgbm-rul", max_rul="120h", promote=True)
    return folder


def test_a_rul_says_its_cap_and_its_measured_coverage(
    plant: tuple[Path, Path], rul_models: Path, page, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store, _ = plant
    with serving(store, rul_models, tmp_path / "server.log") as url:
        live = browser_json(f"{url}/api/v1/models")[0]["live"]
        assert live["max_rul_hours"] == 120.0
        covered = round(100 * live["metrics"]["interval_coverage"])
        _visit(page, f"{url}/assets/M8", tmp_path / "capped.png")
        rul = page.inner_text("#rul-card")
        assert "120 h or more" in rul and "at the model's cap" in rul, rul
        _visit(page, f"{url}/assets/M0", tmp_path / "rul.png")
        rul = page.inner_text("#rul-card")
        assert "90 % interval" in rul and f"held the real RUL for {covered} % of readings" in rul, rul
        assert "9 in 10" not in rul
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []
