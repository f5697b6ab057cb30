"""What the service says of an asset that a failure model serves, beyond its probability: a down asset's answer
holds the model's threshold for its class (the risk trend's threshold line; it was null), and an asset with an open
case that a stream detector raised, which the model reads as low risk, is told to review that case (it read "no
action; keep monitoring", the case unsaid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.schema import Asset
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.train import train

API = "/api/v1"


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Seven pumps, 300 hourly rows of two channels; P0-P5 fail after a 30-hour rise and are repaired two hours
    later, P5 fails again in its last hours without a repair (down); P6 never fails. A logistic model (about 1 s)."""
    root = tmp_path_factory.mktemp("down-and-case")
    rng = np.random.default_rng(2)
    ts = pd.date_range("2024-03-01", periods=300, freq="1h", tz="UTC")
    rows, events = [], []
    for k in range(7):
        temp, vibration = rng.normal(60, 1.5, 300), rng.normal(1, 0.05, 300)
        for hour in (120 + 12 * k, 296) if k == 5 else ((120 + 12 * k,) if k < 6 else ()):
            temp[hour - 30 : hour] += np.linspace(0, 12, 30)
            vibration[hour - 30 : hour] += np.linspace(0, 0.6, 30)
            events.append({"asset_id": f"P{k}", "ts": ts[hour], "kind": "failure", "failure_mode": "bearing"})
            if hour != 296:
                events.append({"asset_id": f"P{k}", "ts": ts[hour + 2], "kind": "maintenance", "action": "replace"})
        rows.append(pd.DataFrame({"asset_id": f"P{k}", "ts": ts, "temp": temp, "vibration": vibration}))
    store, models = root / "plant.duckdb", root / "models"
    with Store(store) as db:
        db.add_assets([Asset(f"P{k}", asset_class="pump") for k in range(7)])
        db.ingest_readings(pd.concat(rows), source="test")
        db.ingest_events(pd.DataFrame(events), source="test")
    train(store, models, horizon="24h", model="logistic-failure", promote=True)
    return store, models


def _client(store: Path, models: Path) -> TestClient:
    return TestClient(create_app(ServeSettings(store=str(store), models=str(models), evaluate_on_start=False)))


def test_a_down_asset_s_answer_holds_the_model_s_threshold(plant: tuple[Path, Path]) -> None:
    with _client(*plant) as client:
        down = client.get(f"{API}/assets/P5/health").json()
        running = client.get(f"{API}/assets/P6/health").json()
        fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    assert down["status"] == "down" and running["status"] == "in_service"
    assert running["threshold"] is not None and 0.0 < running["threshold"] < 1.0
    assert down["threshold"] == running["threshold"]  # the model's threshold for pumps, with or without a probability
    assert fleet["P5"]["threshold"] == running["threshold"]


def test_an_open_stream_case_is_named_beside_a_low_risk(plant: tuple[Path, Path]) -> None:
    store, models = plant
    with _client(store, models) as client:
        before = client.get(f"{API}/assets/P6/health").json()
    assert before["risk_level"] == "low" and before["recommended_action"] == "no action; keep monitoring"
    book = CaseBook(casebook_path_for(store))  # a stream detector's alarm, filed as `serve --stream` files it
    try:
        alarm = pd.Timestamp("2024-03-13T10:00:00Z")
        case_id = book.file_alerts([Alert("P6", alarm, "detect", 0.97, "high", {"vibration": 4.0}, source="stream")])[0]
    finally:
        book.close()
    with _client(store, models) as client:
        after = client.get(f"{API}/assets/P6/health").json()
        fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    assert after["risk_level"] == "low" and after["open_case"] == case_id
    action = after["recommended_action"]
    assert action.startswith(f"review open case {case_id} (high, 1 alert(s) of model detect since 2024-03-13 10:00 UTC")
    assert action.endswith("this model: no action; keep monitoring")
    assert fleet["P6"]["recommended_action"] == action
