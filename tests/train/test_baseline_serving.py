"""A model trained with rows against each asset life's baseline (``forewarn train --baseline``) is scored by
``forewarn score`` from the life's baseline rows read back from the store: the baseline features of each asset's
last row equal training's to 1e-9 (lives that start at the first reading and lives that start at a renewal
between two buckets alike); the service refuses such a model with a clear error instead of misreading columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.bundles.bundle import ServingSpec
from forewarn.cli.main import app
from forewarn.exceptions import StateError
from forewarn.features.baseline import baseline_names
from forewarn.store import Store
from forewarn.train.dataset import load_dataset
from forewarn.train.labels import renewals
from forewarn.train.score import _bucket, fleet_features, life_start, live_bundle, score
from forewarn.train.spec import TrainSpec
from forewarn.twin.demo import demo_fleet

FAST = {"horizon": "72h", "interval": "3h", "model": "logistic-failure"}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "plant.duckdb"
    with Store(path) as db:
        demo_fleet(seed=3).to_store(db)
    return path


@pytest.fixture(scope="module")
def trained(plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``forewarn train --baseline 4d``: the CLI files a model that reads the baseline features."""
    models = tmp_path_factory.mktemp("baseline_models")
    result = CliRunner().invoke(
        app,
        ["train", "--store", str(plant), "--models", str(models), "--baseline", "4d", "--promote"]
        + [f"--{k}={v}" for k, v in FAST.items()],
    )
    assert result.exit_code == 0, result.output
    return models


def test_bucket_edges_are_the_stores() -> None:
    t = pd.Timestamp("2024-03-04 00:32", tz="UTC")
    assert _bucket(t, "3h") == pd.Timestamp("2024-03-04 00:00", tz="UTC")
    assert _bucket(t, "3h", up=True) == pd.Timestamp("2024-03-04 03:00", tz="UTC")
    assert _bucket(pd.Timestamp("2024-03-04 03:00", tz="UTC"), "3h", up=True) == pd.Timestamp(
        "2024-03-04 03:00", tz="UTC"
    )
    assert _bucket(t, "") == t
    assert life_start(None, t) is None


def test_the_bundle_records_the_baseline_and_the_card_says_so(trained: Path) -> None:
    bundle = live_bundle(trained)
    assert bundle.spec.baseline_hours == 96.0
    card = json.loads((bundle.folder / "card.json").read_text())
    assert card["recipe"]["baseline"] == "4d"
    names = bundle.spec.feature_names
    window, base = bundle.spec.window_feature_names, baseline_names(bundle.spec.channels)
    assert names[: len(window)] == window and names[len(window) : len(window) + len(base)] == base
    assert set(base) <= set(bundle.feature_names)  # the model reads them
    # an old serving.json (no baseline_hours) still loads, with no baseline features
    assert ServingSpec.from_json({"channels": ["t"], "window": 2}).baseline_hours == 0.0


def test_score_gives_trainings_baseline_features_to_1e9(plant: Path, trained: Path) -> None:
    bundle = live_bundle(trained)
    spec = TrainSpec(baseline="4d", **FAST)
    with Store(plant, read_only=True) as db:
        data = load_dataset(db, spec)
        rows, features = fleet_features(db, bundle, TrainSpec())
        events = db.events()
    X = data.features(spec.resolved(data.interval))
    names = baseline_names(bundle.spec.channels)
    at = len(bundle.spec.window_feature_names)
    served = {r["asset_id"]: f[at : at + len(names)] for r, f in zip(rows, features, strict=True)}
    last = data.frame.reset_index(drop=True).groupby("asset_id")["ts"].idxmax()
    renewed = renewals(events).groupby("asset_id")["ts"].max()
    compared = renewed_lives = 0
    for asset, row in last.items():
        if asset in renewed.index and renewed[asset] > data.frame["ts"].iloc[row]:
            # renewed inside its last bucket: score reads the new life (from the renewal on), training's last row
            # is the old life's (it starts before the renewal); the window statistics differ there as well
            continue
        expected = X.iloc[row][names].to_numpy(dtype="float64")
        got = served[str(asset)]
        assert np.array_equal(np.isnan(expected), np.isnan(got)), asset
        assert np.allclose(got, expected, rtol=0, atol=1e-9, equal_nan=True), asset
        compared += int(np.isfinite(expected).any())
        renewed_lives += int(asset in renewed.index and np.isfinite(expected).any())
    assert compared >= 20 and renewed_lives >= 5  # complete baselines, from first readings and from renewals


def test_score_and_the_cli_rank_with_a_baseline_model(plant: Path, trained: Path) -> None:
    table = score(plant, trained)
    scored = table[table["status"] == "in_service"]
    assert len(scored) >= 20 and scored["probability"].notna().all()
    out = CliRunner().invoke(app, ["score", "--store", str(plant), "--models", str(trained), "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert set(table["asset_id"]) <= set(out.output.replace(",", " ").split())


def test_a_path_without_the_baseline_rows_is_refused(trained: Path) -> None:
    bundle = live_bundle(trained)
    width = len(bundle.spec.window_feature_names) + int(bool(bundle.spec.age_feature))
    with pytest.raises(StateError, match="baseline .* only forewarn score computes"):
        bundle.feature_frame(np.zeros((1, width)))


def test_the_service_answers_409_naming_the_baseline_not_500(plant: Path, trained: Path) -> None:
    from fastapi.testclient import TestClient

    from forewarn.serve import ServeSettings, create_app

    settings = ServeSettings(store=str(plant), models=str(trained), token="t" * 20, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/v1/assets/S1-P001/health")
    assert answer.status_code == 409, answer.text
    assert "baseline" in answer.json()["detail"]
