"""A small synthetic plant with a trained, servable RUL model: to try the service (and test it) without data.

Pumps degrade along ``d = (age / life) ** 2``: bearing temperature and vibration rise with ``d`` (plus
noise and a load-driven swing), suction pressure carries only noise. A *training* fleet runs to failure
(failure events mark the end of life); an *in-service* fleet stops at a random point of its life, so some
pumps are healthy and a few are close to failure. A LightGBM RUL model is trained on window features of
the training fleet, and bundled (:func:`~forewarn.bundles.bundle.make_bundle`) with residuals and a
calibrator fitted on held-out training pumps.

>>> import tempfile
>>> paths = build_sample(tempfile.mkdtemp(), n_assets=6, n_train=8, seed=1, versions=1)
>>> sorted(p.name for p in paths.models.iterdir())
['rul']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import make_bundle
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store import Store

CHANNELS = ("bearing_temp", "vibration", "suction_pressure")
STATS = ("mean", "std", "last", "slope", "ewm")
WINDOW = 12
ORIGIN = pd.Timestamp("2024-01-01", tz="UTC")
COSTS = {
    "default": {"missed_failure": 20000.0, "inspection": 500.0, "false_alarm": 1500.0},
    "pump": {"missed_failure": 40000.0, "inspection": 500.0, "false_alarm": 1500.0},
}


@dataclass(frozen=True)
class SamplePaths:
    store: Path
    models: Path


def simulate(asset_ids: list[str], rng: np.random.Generator, *, run_to_failure: bool) -> tuple[pd.DataFrame, dict]:
    """Hourly wide readings of pumps, and each pump's life in hours."""
    frames, lives = [], {}
    for asset_id in asset_ids:
        life = int(rng.integers(120, 260))
        seen = life if run_to_failure else int(life * rng.uniform(0.35, 0.98))
        age = np.arange(seen)
        d = (age / life) ** 2
        load = np.sin(2 * np.pi * age / 24.0)
        frames.append(
            pd.DataFrame(
                {
                    "asset_id": asset_id,
                    "ts": ORIGIN + pd.to_timedelta(age, unit="h"),
                    "age": age,
                    "bearing_temp": 55 + 3 * load + 30 * d + rng.normal(0, 0.8, seen),
                    "vibration": 2.0 + 0.2 * load + 7 * d + rng.normal(0, 0.25, seen),
                    "suction_pressure": 1.5 + rng.normal(0, 0.05, seen),
                }
            )
        )
        lives[asset_id] = life
    return pd.concat(frames, ignore_index=True), lives


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return window_features(frame, group="asset_id", order="ts", columns=list(CHANNELS), window=WINDOW, stats=STATS)


def build_sample(
    folder: str | os.PathLike[str], *, n_assets: int = 24, n_train: int = 30, seed: int = 0, versions: int = 2
) -> SamplePaths:
    """Write ``plant.duckdb`` (in-service pumps on two sites) and ``models/rul/v1..`` under ``folder``."""
    root = Path(folder)
    rng = np.random.default_rng(seed)
    train_ids = [f"train-{i:03d}" for i in range(n_train)]
    train, lives = simulate(train_ids, rng, run_to_failure=True)
    rul = np.asarray([lives[a] for a in train["asset_id"]]) - 1 - train["age"].to_numpy()
    X = _features(train)
    fitted = train["asset_id"].isin(train_ids[: int(n_train * 0.6)]).to_numpy()
    models = root / "models"
    for version in range(1, versions + 1):
        model = LightGBMRUL(
            n_estimators=40 + 20 * version, learning_rate=0.1, num_leaves=15, max_rul=None, seed=seed + version
        ).fit(X[fitted], rul[fitted])
        predicted = model.predict(X[~fitted])
        metrics = {
            "rmse": float(np.sqrt(np.mean((predicted - rul[~fitted]) ** 2))),
            "mae": float(np.mean(np.abs(predicted - rul[~fitted]))),
        }
        make_bundle(
            model,
            models / "rul" / f"v{version}",
            channels=CHANNELS,
            window=WINDOW,
            stats=STATS,
            horizon=48.0,
            X_holdout=X[~fitted],
            y_holdout=rul[~fitted],
            groups=train["asset_id"].to_numpy()[~fitted],
            costs=COSTS,
            metrics=metrics,
            training_data=X[fitted],
            unit="hours",
            calibration="platt",
        )
    store_path = root / "plant.duckdb"
    in_service = [f"P-{i:03d}" for i in range(n_assets)]
    readings, _ = simulate(in_service, rng, run_to_failure=False)
    with Store(store_path) as store:
        store.add_sites([Site("north", name="North works"), Site("south", name="South works")])
        store.add_lines([Line("N1", "north"), Line("N2", "north"), Line("S1", "south")])
        lines = ("N1", "N2", "S1")
        store.add_assets(
            Asset(
                asset_id,
                asset_class="pump",
                line_id=lines[i % 3],
                site_id="south" if lines[i % 3] == "S1" else "north",
                channels=(
                    Channel("bearing_temp", "degC"),
                    Channel("vibration", "mm/s"),
                    Channel("suction_pressure", "bar"),
                ),
            )
            for i, asset_id in enumerate(in_service)
        )
        store.ingest_readings(readings.drop(columns="age"), source="sample")
        first = in_service[0]
        store.ingest_events(
            pd.DataFrame(
                {
                    "asset_id": [first],
                    "ts": [ORIGIN + pd.Timedelta(hours=5)],
                    "kind": ["maintenance"],
                    "action": ["lubricated bearing"],
                }
            ),
            source="sample",
        )
    return SamplePaths(store_path, models)
