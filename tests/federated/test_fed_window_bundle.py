"""``forewarn federate --model window``: the window model trained across a simulated two-site plant is filed as a
``cnn-rul`` bundle that the registry makes live, and ``forewarn score`` and the service's ``/predict`` give, for an
asset's last rows, the RUL the filed model predicts on the training pipeline's own sequence rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from forewarn.base.persistence import load
from forewarn.bundles.bundle import Bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError, StateError
from forewarn.federated.federate import federate
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.stream.config import ModelConfig
from forewarn.stream.scoring import ModelRunner
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.score import score
from forewarn.train.spec import TrainSpec
from forewarn.twin.demo import DEMO_CONFIG
from forewarn.twin.fleet import simulate_fleet

TOKEN = "test-token-0123456789"
SMALL = {"window_filters": 4, "window_kernel": 3, "window_layers": 1, "window_hidden": 16, "window_dropout": 0.0}
OPTIONS = {"task": "rul", "classes": "pump", "horizon": "72h", "interval": "3h", "window": 8}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plants") / "plants.duckdb"
    with Store(path) as db:
        simulate_fleet(replace(DEMO_CONFIG, sites=2, assets=24, days=45), seed=2).to_store(db)
    return path


def _training_last_rows(plant: Path, model: Any) -> tuple[dict[str, float], pd.DataFrame]:
    """Each pump's RUL by the filed model on the last row of the training pipeline's own sequence features."""
    spec = TrainSpec().with_options(**OPTIONS)
    with opened(plant) as db:
        data = load_dataset(db, spec)
    X = data.features(spec.resolved(data.interval), sequence=True)
    last = X.groupby(data.frame["asset_id"].to_numpy()).tail(1)
    predicted = model.predict(last[list(model.feature_names_in_)])
    return dict(zip(data.frame.loc[last.index, "asset_id"], predicted, strict=True)), data.frame


@pytest.mark.slow
def test_federated_window_model_is_filed_scored_and_served(plant: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with Store(plant) as db:
        sites = sorted(db.assets()["site_id"].unique())
    result = federate(
        models,
        store=plant,
        sites=sites,
        rounds=2,
        local_epochs=1,
        engine="inprocess",
        model="window",
        window_settings=SMALL,
        **OPTIONS,
    )
    card = json.loads((result.folder / "card.json").read_text())
    assert card["model"] == "cnn-rul" and card["federation"]["model"] == "window"
    assert card["federation"]["window"]["window_length"] == 8 and card["recipe"]["stats"] == []
    assert ModelRegistry(models).active_version("rul") == result.version == "v1"
    bundle = Bundle(result.folder)
    assert bundle.spec.sequence and bundle.spec.window == 8 and bundle.task == "rul"
    assert bundle.feature_names == bundle.spec.feature_names  # every channel's last 8 rows, channel-major
    assert bundle.feature_names[:2] == [f"{bundle.spec.channels[0]}__t0", f"{bundle.spec.channels[0]}__t1"]
    model = load(result.folder)
    want, frame = _training_last_rows(plant, model)
    # forewarn score: the registry's live bundle reads each asset's recent rows at 3 h from the store
    ranked = score(plant, models, classes="pump")
    scored = ranked[ranked["status"] == "in_service"]
    assert len(scored) >= 4
    for row in scored.itertuples():
        assert row.rul == pytest.approx(max(want[row.asset_id], 0.0), rel=1e-9, abs=1e-9), row.asset_id
    # the service: POST /predict with an asset's last rows (oldest first), as a plant would send them
    asset = str(scored["asset_id"].iloc[0])
    rows = frame[frame["asset_id"] == asset].tail(8)[list(bundle.spec.channels)]
    body = {"rows": [{k: (None if v != v else float(v)) for k, v in r.items()} for r in rows.to_dict("records")]}
    settings = ServeSettings(store=str(plant), models=str(models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/v1/predict", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_id"] == "rul" and answer.json()["rul"] == pytest.approx(want[asset], rel=1e-6)
    # the stream: the asset's raw 10-minute readings in micro-batches, bucketed at 3 h, read the last 8 buckets
    with Store(plant) as db:
        raw = db.readings(asset, wide=True).sort_values("ts")
        runner = ModelRunner(ModelConfig(path=result.folder, model_id="rul"), db)
        ts_us = raw["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").astype("int64")
        values = raw.reindex(columns=runner.channels).to_numpy(dtype="float64")
        names = np.full(len(raw), asset, dtype=object)
        for lo in range(0, len(raw), 500):
            part = slice(lo, lo + 500)
            table, _, _ = runner.run(names[part], ts_us[part], values[part], now_us=int(ts_us[-1]))
    assert table.column("rul")[-1].as_py() == pytest.approx(want[asset], rel=1e-6)
    with pytest.raises(StateError, match="last 8 rows of each channel"):  # statistics are not its input
        bundle.select(np.zeros((1, len(bundle.spec.channels) * 5)))
    # the command line files the next version with --model window
    out = CliRunner().invoke(
        app,
        [
            "federate", "--store", str(plant), "--sites", ",".join(sites), "--models", str(models), "--task", "rul",
            "--class", "pump", "--horizon", "72h", "--interval", "3h", "--rounds", "1", "--local-epochs", "1",
            "--engine", "inprocess", "--model", "window", "--window", "6",
        ],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "filed rul v2 (cnn-rul, not live)" in out.output
    assert Bundle(models / "rul" / "v2").spec.window == 6


def test_federate_window_refuses_what_it_cannot_train(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="predicts RUL"):
        federate(tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], task="failure", model="window")
    with pytest.raises(ConfigError, match="not one of mlp, window"):
        federate(tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], task="rul", model="gru")
    with pytest.raises(ConfigError, match="perceptron"):
        federate(
            tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], task="rul", model="window",
            secure_aggregation=True, engine="inprocess",
        )  # fmt: skip
