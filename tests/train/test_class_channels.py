"""A channel only some asset classes send (a pump's ``seal_leak``; motors have no seal) is read where it exists:
``forewarn train`` with the channels named trains on a mixed fleet (it refused before: ``asset ... has no
channel(s) seal_leak``), the motor's rows hold it as missing (NaN, never 0), the pump's leak moves its risk, and
``forewarn score`` scores the motor without it, not as "insufficient data"."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forewarn.train
from forewarn.bundles.registry import ModelRegistry
from forewarn.exceptions import SchemaError
from forewarn.store import Store
from forewarn.train.dataset import load_wide, own_channels
from forewarn.train.score import score
from forewarn.twin.fleet import FleetConfig, simulate_fleet

#: pumps and motors run to failure, hourly: seed 2 holds 4 seal failures among 9 failures, 7 pumps and 5 motors
FLEET = FleetConfig(
    sites=1,
    assets=12,
    days=60,
    interval="1h",
    degradation_scale=5.0,
    policies=("run_to_failure",),
    classes=("pump", "motor"),
    start="2024-03-01",
)
CHANNELS = ("seal_leak", "vib_rms", "bearing_temp", "winding_temp")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("class_channels")
    store, models = folder / "plant.duckdb", folder / "models"
    fleet = simulate_fleet(FLEET, seed=2)
    with Store(store) as db:
        fleet.to_store(db)
    forewarn.train(store, models, task="failure", horizon="72h", model="lightgbm-failure", channels=CHANNELS, seed=0)
    return store, models, fleet.events


def _classes(store: Path) -> pd.Series:
    with Store(store, read_only=True) as db:
        return db.assets().set_index("asset_id")["asset_class"].astype(str)


def test_each_asset_is_asked_for_its_own_channels(trained: tuple[Path, Path, pd.DataFrame]) -> None:
    store, _, _ = trained
    classes = _classes(store)
    with Store(store, read_only=True) as db:
        ids = classes.index.tolist()
        has = own_channels(db, ids, CHANNELS)
        frame = load_wide(db, ids, "3h", CHANNELS)
        with pytest.raises(SchemaError, match="not in the selected assets"):
            forewarn.train(db, Path("unused"), task="failure", horizon="72h", channels=("no_such_channel",))
    pump, motor = classes[classes == "pump"].index[0], classes[classes == "motor"].index[0]
    assert has[pump] == list(CHANNELS) and has[motor] == list(CHANNELS[1:])
    motor_rows, pump_rows = frame[frame["asset_id"] == motor], frame[frame["asset_id"] == pump]
    assert len(motor_rows) and motor_rows["seal_leak"].isna().all()  # missing, not zero
    assert pump_rows["seal_leak"].notna().mean() > 0.9 and motor_rows["vib_rms"].notna().all()


def test_the_seal_leak_is_a_feature_of_the_bundle(trained: tuple[Path, Path, pd.DataFrame]) -> None:
    _, models, _ = trained
    bundle = ModelRegistry(models).bundle("failure")
    assert bundle.spec.channels == tuple(sorted(CHANNELS))
    assert "seal_leak__mean" in bundle.feature_names
    booster = bundle.model.model_  # type: ignore[attr-defined]
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert sum(v for k, v in gain.items() if k.startswith("seal_leak__")) > 0  # the model splits on it


def test_the_motor_is_scored_without_it(trained: tuple[Path, Path, pd.DataFrame]) -> None:
    store, models, _ = trained
    classes = _classes(store)
    ranked = score(store, models).set_index("asset_id")
    motors = ranked.loc[classes[classes == "motor"].index]
    assert (motors["status"] != "insufficient data").all()
    assert all(len(m) == 0 for m in motors["channels_missing"])
    live = motors[motors["status"] == "in_service"]
    assert len(live) and live["probability"].between(0.0, 1.0).all() and live["risk"].notna().all()


def _with_leak(store: Path, copy: Path, asset_id: str, leak: float) -> float:
    """``copy`` of the store where ``asset_id`` then runs 4 more days with its last readings and ``leak`` L/min."""
    shutil.copy(store, copy)
    with Store(copy) as db:
        last = db.readings(asset_id, wide=True).dropna(subset=["vib_rms"]).iloc[-1]
        ts = pd.date_range(last["ts"] + pd.Timedelta("1h"), periods=96, freq="1h")
        values = {c: float(last[c]) for c in db.channels(asset_id)["channel"] if c != "seal_leak"}
        db.ingest_readings(pd.DataFrame({"asset_id": asset_id, "ts": ts, **values, "seal_leak": leak}))
    return float(last["seal_leak"])


def test_the_pump_s_leak_moves_its_risk(trained: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    store, models, events = trained
    classes = _classes(store)
    failed_seals = events.query("kind == 'failure' and failure_mode == 'seal_leak'")["asset_id"]
    with Store(store, read_only=True) as db:
        before_seal = pd.concat(
            [db.readings(a, wide=True, channels=["seal_leak"]) for a in failed_seals.unique()], ignore_index=True
        )
    worn = float(np.nanquantile(before_seal["seal_leak"], 0.99))  # a leak seal failures reached
    pump = next(a for a in classes[classes == "pump"].index if a not in set(failed_seals))
    _with_leak(store, tmp_path / "tight.duckdb", pump, 0.0)
    _with_leak(store, tmp_path / "worn.duckdb", pump, worn)
    tight = score(tmp_path / "tight.duckdb", models).set_index("asset_id").loc[pump]
    leaking = score(tmp_path / "worn.duckdb", models).set_index("asset_id").loc[pump]
    assert tight["status"] == leaking["status"] == "in_service"
    assert float(leaking["probability"]) > float(tight["probability"])
    assert "seal_leak" in str(leaking["drivers"])
