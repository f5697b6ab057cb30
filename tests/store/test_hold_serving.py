"""A channel recorded on change (forewarn.store.hold) is bucketed alike offline, by ``forewarn score`` and by the
service (asset and fleet health): the served prediction equals the offline one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.bundles.bundle import Bundle, make_bundle
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.train.score import score

CHANNELS = ("temp", "vib")
WINDOW = 6
START = pd.Timestamp("2026-01-01T00:00:00Z")
ASSETS = {"P-1": (50.5, "7min"), "P-2": (40.25, "0min"), "P-3": (30.0, "13min")}


def _features(hourly: pd.DataFrame) -> pd.DataFrame:
    return window_features(
        hourly.assign(asset_id="a"), group="asset_id", order="ts", columns=list(CHANNELS), window=WINDOW
    )


def _recorded(rng: np.random.Generator, hours: float, offset: str) -> pd.DataFrame:
    """Long minute readings of a wearing pump; ``temp`` kept only when it moves by more than 1 (a deadband)."""
    n = int(hours * 60)
    ts = START + pd.Timedelta(offset) + pd.to_timedelta(np.arange(n), unit="min")
    wear = np.linspace(0.0, 1.0, n)
    temp = 50 + 8 * wear + rng.normal(0, 0.2, n)
    keep, last = np.zeros(n, bool), np.inf
    for i, v in enumerate(temp):
        if abs(v - last) > 1.0:
            keep[i], last = True, v
    vib = 2 + 5 * wear**2 + rng.normal(0, 0.3, n)
    return pd.concat(
        [
            pd.DataFrame({"ts": ts[keep], "channel": "temp", "value": temp[keep]}),
            pd.DataFrame({"ts": ts, "channel": "vib", "value": vib}),
        ],
        ignore_index=True,
    )


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    rng = np.random.default_rng(1)
    store_path = tmp_path / "plant.duckdb"
    with Store(store_path) as store:
        for asset, (hours, offset) in ASSETS.items():
            store.ingest_readings(_recorded(rng, hours, offset).assign(asset_id=asset), source="test")
            store.set_hold(asset, ["temp"], "12h")
        frames = [_features(store.readings(a, resample="1h", wide=True)) for a in ASSETS]
    X = pd.concat(frames, ignore_index=True)
    y = np.concatenate([np.arange(len(f), dtype="float64")[::-1] for f in frames])
    model = LightGBMRUL(n_estimators=20, learning_rate=0.1, num_leaves=7, max_rul=None, seed=0).fit(X, y)
    make_bundle(
        model,
        tmp_path / "models" / "rul-1h" / "v1",
        channels=CHANNELS,
        window=WINDOW,
        interval="1h",
        history_rows=200,
        horizon=24.0,
        X_holdout=X,
        y_holdout=y,
        unit="hours",
        calibration=None,
    )
    yield store_path, tmp_path / "models"


def test_served_and_scored_predictions_of_a_held_channel_equal_the_offline_one(plant: tuple[Path, Path]) -> None:
    store_path, models = plant
    bundle = Bundle(models / "rul-1h" / "v1")
    wanted = {}
    with Store(store_path) as store:
        for asset in ASSETS:
            hourly = store.readings(asset, resample="1h", wide=True)
            assert hourly["temp"].notna().all()  # held through the flat hours (without the hold: gaps)
            last = _features(hourly[["ts", *CHANNELS]])[bundle.feature_names].tail(1).reset_index(drop=True)
            wanted[asset] = (float(bundle.predict(last).rul[0]), pd.Timestamp(hourly["ts"].iloc[-1]).isoformat())
    app = create_app(ServeSettings(store=str(store_path), models=str(models), token="t" * 20, evaluate_on_start=False))
    with TestClient(app) as client:
        # the fleet first: its answers are computed (the service's window query), not the asset answers' cache
        fleet = {h["asset_id"]: h for h in client.get("/api/v1/fleet/health").json()}
        for asset, (rul, ts) in wanted.items():
            body = client.get(f"/api/v1/assets/{asset}/health").json()
            assert body["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9) and body["ts"] == ts
    ranked = score(store_path, models).set_index("asset_id")
    for asset, (rul, _) in wanted.items():
        assert fleet[asset]["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert float(ranked.loc[asset, "rul"]) == pytest.approx(rul, abs=1e-9, rel=1e-9)
