"""A channel recorded on change (forewarn.store.hold) on the PostgreSQL store is bucketed alike offline, by
``forewarn score`` and by the service (asset and fleet health): the served prediction equals the offline one, and
equals the DuckDB store's (``test_hold_serving``'s plant and model). One server per session (``pg_server``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_hold_serving import ASSETS, CHANNELS, WINDOW, _features, _recorded

from forewarn.bundles.bundle import Bundle, make_bundle
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres
from forewarn.train.score import score

pytestmark = pytest.mark.slow


def test_served_and_scored_predictions_of_a_held_channel_equal_the_offline_one_on_postgres(
    pg_server: LocalPostgres, tmp_path: Path
) -> None:
    url = pg_server.create_database("fw_hold_serving")
    rng = np.random.default_rng(1)
    with Store(url) as pg, Store() as duck:
        for asset, (hours, offset) in ASSETS.items():
            readings = _recorded(rng, hours, offset).assign(asset_id=asset)
            for store in (pg, duck):
                store.ingest_readings(readings, source="test")
                store.set_hold(asset, ["temp"], "12h")
        frames = [_features(pg.readings(a, resample="1h", wide=True)) for a in ASSETS]
        for asset, frame in zip(ASSETS, frames, strict=True):  # the DuckDB store's buckets, to 1e-9
            pd.testing.assert_frame_equal(frame, _features(duck.readings(asset, resample="1h", wide=True)), atol=1e-9)
    X = pd.concat(frames, ignore_index=True)
    y = np.concatenate([np.arange(len(f), dtype="float64")[::-1] for f in frames])
    model = LightGBMRUL(n_estimators=20, learning_rate=0.1, num_leaves=7, max_rul=None, seed=0).fit(X, y)
    models = tmp_path / "models"
    make_bundle(
        model,
        models / "rul-1h" / "v1",
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
    bundle = Bundle(models / "rul-1h" / "v1")
    wanted = {}
    with Store(url) as store:
        for asset in ASSETS:
            hourly = store.readings(asset, resample="1h", wide=True)
            assert hourly["temp"].notna().all()  # held through the flat hours (without the hold: gaps)
            last = _features(hourly[["ts", *CHANNELS]])[bundle.feature_names].tail(1).reset_index(drop=True)
            wanted[asset] = (float(bundle.predict(last).rul[0]), pd.Timestamp(hourly["ts"].iloc[-1]).isoformat())
    app = create_app(ServeSettings(store=url, models=str(models), token="t" * 20, evaluate_on_start=False))
    with TestClient(app) as client:
        # the fleet first: its answers are computed (the service's window query), not the asset answers' cache
        fleet = {h["asset_id"]: h for h in client.get("/api/v1/fleet/health").json()}
        for asset, (rul, ts) in wanted.items():
            body = client.get(f"/api/v1/assets/{asset}/health").json()
            assert body["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9) and body["ts"] == ts
    ranked = score(url, models).set_index("asset_id")
    for asset, (rul, _) in wanted.items():
        assert fleet[asset]["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert float(ranked.loc[asset, "rul"]) == pytest.approx(rul, abs=1e-9, rel=1e-9)
