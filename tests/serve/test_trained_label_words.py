"""A model trained on a stored label column (``train --label NAME``) is worded as that label on the dashboard: the
asset page's probability card and risk chart and the risk page's histogram say "the label NAME", not "failure
within <horizon>", from the bundle's model card, and the API's health answers name the label (`label`) for clients to
word it; a model trained on failure events keeps the failure wording (`label` null)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.bundles.registry import ModelRegistry
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.labels import trained_labels
from forewarn.store import Store
from forewarn.train import train

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Six machines, 240 hourly rows each, a flag `Ausfall` set where the temperature runs high; a logistic model
    trained on it (``train --label Ausfall``)."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(3)
    frames = []
    for k in range(6):
        temp = rng.normal(60, 2, 240)
        flag = np.zeros(240, dtype=int)
        for h in rng.choice(np.arange(30, 230), size=4, replace=False):
            temp[h - 3 : h + 1] += 8
            flag[h] = 1
        ts = pd.date_range("2024-03-01", periods=240, freq="1h", tz="UTC").strftime("%Y-%m-%dT%H:%MZ")
        frames.append(pd.DataFrame({"machine": f"M{k}", "time": ts, "temp": temp, "Ausfall": flag}))
    path = root / "export.csv"
    pd.concat(frames).to_csv(path, index=False)
    store, models = root / "plant.duckdb", root / "models"
    with Store(store) as db:
        db.ingest_file(path, asset_column="machine", time_column="time", label_columns="Ausfall")
    train(store, models, label="Ausfall", horizon="24h", model="logistic-failure", promote=True)
    return store, models


def test_the_label_a_model_learned_is_read_from_its_card(labelled: tuple[Path, Path], sample) -> None:  # type: ignore[no-untyped-def]
    store, models = labelled
    found = trained_labels(ModelRegistry(models))
    assert list(found.values()) == ["Ausfall"]
    assert trained_labels(ModelRegistry(sample.models)) == {}  # trained on failures: no label, failure wording
    with TestClient(create_app(ServeSettings(store=str(store), models=str(models), evaluate_on_start=False))) as c:
        html = c.get("/assets/M0").text
        assert "data-trained-labels" in html and json.dumps(found).replace('"', "&#34;") in html
        assert "Ausfall" in c.get("/risk").text
        health = c.get("/api/v1/assets/M0/health").json()
        assert health["label"] == "Ausfall" and health["probability"] is not None, health
        assert {a["label"] for a in c.get("/api/v1/fleet/health").json()} == {"Ausfall"}
    with TestClient(create_app(ServeSettings(store=str(sample.store), models=str(sample.models)))) as c:
        assert "data-trained-labels" not in c.get("/assets/P-001").text
        assert c.get("/api/v1/assets/P-001/health").json()["label"] is None  # failures: within the horizon


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_the_dashboard_words_the_probability_as_the_label(labelled: tuple[Path, Path], page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, models = labelled
    with serving(store, models, tmp_path / "server.log") as url:
        _visit(page, f"{url}/assets/M0", tmp_path / "asset.png")
        card = page.inner_text("#probability-card")
        assert 'probability of "Ausfall"' in card and "failure" not in card.lower(), card
        chart = page.locator("#risk-trend").text_content() or ""
        assert 'Probability that the label "Ausfall" is set' in chart and "Failure probability" not in chart, chart
        if AXE.exists():
            assert _blocking(_axe(page)) == []
        _visit(page, f"{url}/risk", tmp_path / "risk.png")
        histogram = page.locator("#probability-histogram").text_content() or ""
        assert 'the label "Ausfall"' in histogram and "within the horizon" not in histogram, histogram
    assert page.problems == []
