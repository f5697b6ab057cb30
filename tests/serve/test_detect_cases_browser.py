"""A plant without labels that loads CSV exports in batches (issue 14 item 4): ``forewarn ingest`` -> ``forewarn detect
--store --cases`` -> ``forewarn serve --store``: the dashboard's alerts page lists detect's cases with their channels
and alerts of source ``detect``, the asset page shows its case, axe-core finds no serious or critical problem; and
``serve --models`` on detect's fits names the batch path in its one-line refusal."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.schema import Asset
from forewarn.store import Store
from testkit import run_cli

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page  # the same Chromium page fixture (console errors, failed and outside requests recorded)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (make test installs it: apt-get install chromium)",
)


def _api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three hourly pumps ingested from a CSV export; K-2's bearing temperature jumps twice; detect files its cases."""
    root = tmp_path_factory.mktemp("batch_plant")
    rng = np.random.default_rng(15)
    ts = pd.date_range("2026-02-01", periods=400, freq="h", tz="UTC")
    parts = []
    for k in range(3):
        bearing = 60 + k + rng.normal(0, 0.5, len(ts))
        if k == 2:
            bearing[250:300] += 6
            bearing[360:380] += 6
        parts.append(
            pd.DataFrame(
                {"asset_id": f"K-{k}", "ts": ts, "bearing_temp": bearing, "flow": 12 + rng.normal(0, 0.2, 400)}
            )
        )
    export = root / "export.csv"
    pd.concat(parts).to_csv(export, index=False)
    store = root / "plant.duckdb"
    with Store(store) as db:
        db.add_assets([Asset(f"K-{k}", "pump") for k in range(3)])
    assert run_cli(["ingest", str(export), "--store", str(store)]) == 0
    assert run_cli(["detect", "--store", str(store), "--out", str(root / "scores.csv"), "--cases"]) == 0
    models = root / "models"
    models.mkdir()
    return store, models


@needs_chromium
def test_the_dashboard_lists_detects_cases(plant: tuple[Path, Path], page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, models = plant
    book = CaseBook(casebook_path_for(store), close_quiet=None)
    filed = book.cases(limit=1000)
    alerts = book.alerts(limit=1000)
    book.close()
    assert filed and {c["model_id"] for c in filed} == {"detect"} and {a["source"] for a in alerts} == {"detect"}
    worst = next(c for c in filed if c["asset_id"] == "K-2")
    assert "bearing_temp" in worst["top_sensors"]
    with serving(store, models, tmp_path / "server.log") as url:
        listed = _api(f"{url}/api/v1/cases?limit=1000")
        assert sorted(c["case_id"] for c in listed) == sorted(c["case_id"] for c in filed)
        _visit(page, f"{url}/alerts", tmp_path / "alerts.png")
        rows = page.locator("#cases tbody tr")
        assert rows.count() == len(filed)
        row = page.inner_text(f"#cases tbody tr[data-case-id='{worst['case_id']}']")
        assert "K-2" in row and "health · detect" in row and ", ".join(worst["top_sensors"]) in row, row
        sources = page.locator("#alerts tbody tr td:nth-child(3)").all_inner_texts()
        assert len(sources) == len(alerts) and set(sources) == {"detect"}
        if AXE.exists():
            assert _blocking(_axe(page)) == []
        _visit(page, f"{url}/assets/K-2", tmp_path / "asset.png")
        panel = page.inner_text("#case-panel")
        latest = max((c for c in filed if c["asset_id"] == "K-2"), key=lambda c: (c["opened_ts"], c["case_id"]))
        assert f"Case #{latest['case_id']}" in panel and "raised by model detect" in panel, panel
        if AXE.exists():
            assert _blocking(_axe(page)) == []
    assert page.problems == []


def test_serve_models_on_detects_fits_names_the_batch_path(
    plant: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = plant
    fits = tmp_path / "fits"
    assert run_cli(["detect", "--store", str(store), "--out", str(tmp_path / "s.csv"), "--save-models", str(fits)]) == 0
    capsys.readouterr()
    assert run_cli(["serve", "--store", str(tmp_path / "other.duckdb"), "--create", "--models", str(fits)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "serve --stream CONFIG" in line
    assert f"'forewarn detect --store DB --models {fits} --cases'" in line and "without --models" in line
