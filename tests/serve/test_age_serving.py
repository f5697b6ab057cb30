"""The age since renewal is one feature everywhere: training rows, forewarn score, the service (health, fleet, trend,
/predict, /predict/batch) and the stream give the same ``age_h`` for the same asset and time (no skew), and a bundle
without it behaves as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import forewarn.train
from forewarn.bundles.bundle import SPEC_FILE, Bundle, make_bundle
from forewarn.exceptions import DataNotFoundError
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.schema import Asset, Channel
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.train.dataset import load_dataset
from forewarn.train.score import score
from forewarn.train.spec import TrainSpec

API = "/api/v1"
TOKEN = "t" * 20
START = pd.Timestamp("2026-01-01T00:00:00Z")
RECIPE = {"task": "rul", "horizon": "24h", "interval": "1h", "max_rul": "48h", "window": 6, "model": "lightgbm-rul"}
#: serving assets: readings until ``end`` hours, renewals (hours), the hand-computed age at the last bucket
SERVED = {
    "S-1": (50 + 20 / 60, (2.0, 30.5), 50.0 - 30.5),  # last bucket 50:00; an oil change at 45 h does not renew
    "S-2": (40 + 50 / 60, (5.0,), 40.0 - 5.0),
    "S-3": (20.0, (), np.nan),  # no renewal recorded: the age is unknown
}


def h(hours: float) -> pd.Timestamp:
    return START + pd.Timedelta(hours=hours)


def _readings(rng: np.random.Generator, asset: str, start: float, end: float) -> pd.DataFrame:
    """Ten-minute readings of one channel that carry no information (noise): only the age can tell the RUL."""
    ts = pd.date_range(h(start), h(end), freq="10min", inclusive="left")
    return pd.DataFrame({"asset_id": asset, "ts": ts, "channel": "temp", "value": rng.normal(50.0, 1.0, len(ts))})


def _events() -> pd.DataFrame:
    rows = []
    for k in range(5):  # T-k: installed at k h, fails 100 h later; an oil change halfway does not renew it
        rows += [
            (f"T-{k}", h(k), "maintenance", "install", None),
            (f"T-{k}", h(k + 50), "maintenance", "oil_change", None),
            (f"T-{k}", h(k + 100), "failure", None, "wear"),
        ]
    for asset, (_, renewals, _) in SERVED.items():
        rows += [(asset, h(t), "maintenance", "replace_pump", None) for t in renewals]
    rows.append(("S-1", h(45), "maintenance", "oil_change", None))
    return pd.DataFrame(rows, columns=["asset_id", "ts", "kind", "action", "failure_mode"])


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("age")
    rng = np.random.default_rng(4)
    readings = pd.concat(
        [_readings(rng, f"T-{k}", k, k + 100) for k in range(5)]
        + [_readings(rng, a, 0.0, end) for a, (end, _, _) in SERVED.items()],
        ignore_index=True,
    )
    path = root / "plant.duckdb"
    with Store(path) as store:
        store.add_assets(
            [
                Asset(a, asset_class="pump", channels=(Channel("temp", "degC"),))
                for a in sorted(readings["asset_id"].unique())
            ]
        )
        store.ingest_readings(readings, source="test")
        store.ingest_events(_events(), source="test")
    forewarn.train(path, root / "models", **RECIPE)
    yield path, root / "models", readings


def _offline(store_path: Path, bundle: Bundle, asset: str, age: float) -> tuple[pd.DataFrame, float]:
    """What serving must compute, made here by hand: the window features of the hourly resample since the latest
    renewal, last row, with the hand-computed age; and Bundle.predict's RUL of it."""
    renewals = SERVED[asset][1]
    since = h(renewals[-1]) if renewals else None
    with Store(store_path) as store:
        hourly = store.readings(asset, since, resample="1h", wide=True)
    spec = bundle.spec
    features = window_features(
        hourly, group="asset_id", order="ts", columns=list(spec.channels), window=spec.window, stats=spec.stats
    )
    last = features.tail(1).reset_index(drop=True).assign(age_h=age)[bundle.feature_names]
    return last, float(bundle.predict(last).rul[0])  # type: ignore[index]


def test_training_rows_count_from_the_latest_renewal(plant: tuple[Path, Path, pd.DataFrame]) -> None:
    path, _, _ = plant
    spec = TrainSpec(**RECIPE)
    with Store(path, read_only=True) as db:
        data = load_dataset(db, spec)
    X = data.features(spec)
    age = pd.Series(X["age_h"].to_numpy(), index=pd.MultiIndex.from_frame(data.frame[["asset_id", "ts"]]))
    assert age[("S-1", h(1))] != age[("S-1", h(1))]  # before the first renewal: NaN
    assert age[("S-1", h(20))] == 18.0 and age[("S-1", h(30))] == 28.0  # 30:30's renewal comes after 30:00
    assert age[("S-1", h(31))] == 0.5 and age[("S-1", h(50))] == SERVED["S-1"][2]  # 45 h's oil change renews nothing
    assert age[("S-2", h(40))] == 35.0 and np.isnan(age.loc["S-3"].to_numpy()).all()
    assert age[("T-3", h(3 + 60))] == 60.0
    assert data.uses_age(spec) and not data.uses_age(TrainSpec(**{**RECIPE, "age": "off"}))


def test_the_bundle_and_card_record_the_age(plant: tuple[Path, Path, pd.DataFrame]) -> None:
    _, models, _ = plant
    folder = models / "rul" / "v1"
    card = json.loads((folder / "card.json").read_text())
    assert card["recipe"]["age"] == {"used": True, "feature": "age_h", "option": "auto", "renewals": 8}
    assert json.loads((folder / SPEC_FILE).read_text())["age_feature"] == "age_h"
    bundle = Bundle(folder)
    assert bundle.feature_names[-1] == "age_h" and bundle.describe()["age_feature"] == "age_h"
    last, rul = _offline(plant[0], bundle, "S-1", SERVED["S-1"][2])
    older = float(bundle.predict(last.assign(age_h=90.0)).rul[0])  # type: ignore[index]
    assert rul - older > 20.0  # the model reads the age (the readings are noise): a wrong age would show


def test_score_and_service_give_the_offline_prediction(plant: tuple[Path, Path, pd.DataFrame]) -> None:
    path, models, _ = plant
    bundle = Bundle(models / "rul" / "v1")
    wanted = {a: _offline(path, bundle, a, age)[1] for a, (_, _, age) in SERVED.items()}
    ranked = score(path, models, assets=list(SERVED)).set_index("asset_id")
    settings = ServeSettings(store=str(path), models=str(models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
        for asset, rul in wanted.items():
            assert float(ranked.loc[asset, "rul"]) == pytest.approx(rul, abs=1e-9, rel=1e-9)
            health = client.get(f"{API}/assets/{asset}/health").json()
            assert health["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
            assert fleet[asset]["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
            trend = client.get(f"{API}/assets/{asset}/trend").json()
            assert trend["rul"][-1] == pytest.approx(rul, abs=1e-9, rel=1e-9)


def test_predict_endpoints_take_or_count_the_age(plant: tuple[Path, Path, pd.DataFrame]) -> None:
    path, models, _ = plant
    bundle = Bundle(models / "rul" / "v1")
    age = SERVED["S-1"][2]
    last, rul = _offline(path, bundle, "S-1", age)
    with Store(path, read_only=True) as store:
        hourly = store.readings("S-1", h(30.5), resample="1h", wide=True)
    rows = [{"temp": float(v)} for v in hourly["temp"]]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    settings = ServeSettings(store=str(path), models=str(models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        given = client.post(f"{API}/predict", json={"rows": rows, "age_h": age}, headers=auth).json()
        unknown = client.post(f"{API}/predict", json={"rows": rows}, headers=auth).json()
        gaps = client.post(f"{API}/predict", json={"rows": [*rows[:-1], {"temp": None}], "age_h": age}, headers=auth)
        bad = client.post(f"{API}/predict", json={"rows": rows, "age_h": -1}, headers=auth)
        text = client.post(f"{API}/predict", json={"rows": rows, "age_h": "old"}, headers=auth)
        readings = {
            "asset_id": ["S-1"] * len(hourly),
            "ts": [t.isoformat() for t in hourly["ts"]],
            "values": {"temp": hourly["temp"].tolist()},
        }
        batch = client.post(f"{API}/predict/batch", json={"readings": readings}, headers=auth).json()
    assert given["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
    nan_rul = float(bundle.predict(last.assign(age_h=np.nan)).rul[0])  # type: ignore[index]
    assert unknown["rul"] == pytest.approx(nan_rul, abs=1e-9, rel=1e-9) and abs(unknown["rul"] - rul) > 1e-6
    assert gaps.status_code == 200
    assert bad.status_code == 422 and text.status_code == 422  # never a 500
    assert batch["rul"][-1] == pytest.approx(rul, abs=1e-9, rel=1e-9)  # the age counted from the store's events


def test_stream_rows_carry_the_same_age(plant: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    _, models, readings = plant
    served = readings[readings["asset_id"].isin(list(SERVED))].sort_values(["ts", "asset_id"], ignore_index=True)
    config = parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": a, "asset_class": "pump", "channels": {"temp": "degC"}} for a in SERVED],
            "models": [{"path": str(models / "rul" / "v1"), "model_id": "rul"}],
        }
    )
    seen: dict[tuple[str, int], float] = {}
    column = Bundle(models / "rul" / "v1").feature_names.index("age_h")

    def keep(model_id: str, assets: np.ndarray, ts: np.ndarray, feats: np.ndarray) -> None:
        seen.update({(str(a), int(t)): float(f[column]) for a, t, f in zip(assets, ts, feats, strict=True)})

    with Store(tmp_path / "stream.duckdb") as store:
        pipe = OnlinePipeline(store, config, clock=lambda: 1_000.0, on_features=keep)
        events = _events()
        store.ingest_events(events[events["asset_id"].isin(list(SERVED))], source="test")
        ts_us = pd.DatetimeIndex(served["ts"]).as_unit("us").asi8
        for lo in range(0, len(served), 100):
            cols = ReadingColumns()
            for i in range(lo, min(lo + 100, len(served))):
                cols.add(served.at[i, "asset_id"], "temp", int(ts_us[i]), float(served.at[i, "value"]))
            pipe.process(cols, [])
        pipe.close()
    hour = 3_600_000_000
    checked = 0
    for (asset, t), age in seen.items():
        bucket = t - t % hour
        before = [r for r in SERVED[asset][1] if h(r).value // 1000 <= bucket]
        wanted = (bucket - h(before[-1]).value // 1000) / hour if before else np.nan
        np.testing.assert_equal(age, wanted)
        checked += 1
    assert checked > 500
    last = max(t for a, t in seen if a == "S-1")
    assert seen[("S-1", last)] == SERVED["S-1"][2]  # the age training, score and the service give


def test_a_bundle_without_age_is_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"temp__mean": rng.normal(size=80), "temp__last": rng.normal(size=80)})
    y = rng.uniform(0, 40, 80)
    model = LightGBMRUL(n_estimators=5, num_leaves=3, max_rul=None, seed=0).fit(X, y)
    folder = make_bundle(
        model,
        tmp_path / "b",
        channels=("temp",),
        window=3,
        stats=("mean", "last"),
        horizon=10.0,
        X_holdout=X,
        y_holdout=y,
        unit="hours",
        calibration=None,
    )
    spec = json.loads((folder / SPEC_FILE).read_text())
    assert spec["age_feature"] == ""
    del spec["age_feature"]  # a bundle written before the age feature existed
    (folder / SPEC_FILE).write_text(json.dumps(spec))
    bundle = Bundle(folder)
    assert bundle.spec.age_feature == "" and bundle.spec.feature_names == ["temp__mean", "temp__last"]
    np.testing.assert_allclose(bundle.predict(X).rul, model.predict(X), rtol=1e-12)  # type: ignore[arg-type]


def test_age_options(plant: tuple[Path, Path, pd.DataFrame], tmp_path: Path) -> None:
    path, _, _ = plant
    off = forewarn.train(path, tmp_path / "m", **{**RECIPE, "age": "off"})
    assert "age_h" not in Bundle(off.folder).feature_names and off.card["recipe"]["age"]["used"] is False
    bare = tmp_path / "bare.duckdb"
    trained = [f"T-{k}" for k in range(5)]
    with Store(path, read_only=True) as source, Store(bare) as store:  # failures only: no renewal recorded
        store.add_assets([Asset(a, asset_class="pump", channels=(Channel("temp", "degC"),)) for a in trained])
        for asset in trained:
            store.ingest_readings(source.readings(asset), source="test")
        events = _events()
        store.ingest_events(events[events["kind"] == "failure"], source="test")
    with pytest.raises(DataNotFoundError, match="--age on: the selected assets' events hold no renewal"):
        forewarn.train(bare, tmp_path / "m2", **{**RECIPE, "age": "on"})
