"""A sequence model's absent channels read the asset class's training mean on every path that scores it: the
backtest's folds (each fold's own class means, as ``forewarn train`` would file them from that fold's data),
``POST /predict/batch`` with readings (the body's class, else the store's) and the policy bench's scorer. A pump
copied without its bearing temperature sensor (a channel pumps report) reads the pumps' mean there, not the fleet's (nor 0):
each path's probability equals the offline prediction with the class means for the same asset and time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import forewarn.backtest
import forewarn.backtest.output
import forewarn.train
from forewarn.backtest import runner
from forewarn.bench.policy_model import CHANNELS, OBSERVED, BundleScorer, Observer
from forewarn.bundles.bundle import Bundle, ServingSpec
from forewarn.schema import Asset
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.train import zoo
from forewarn.train.dataset import Dataset
from forewarn.train.score import asset_history, score
from forewarn.twin.demo import DEMO_CONFIG
from forewarn.twin.fleet import simulate_fleet

NO_BEARING = "S1-P009"  # a pump without its bearing temperature sensor
OPTIONS: dict[str, Any] = {
    "task": "failure",
    "horizon": "72h",
    "interval": "6h",
    "window": 4,
    "model": "lstm-attention-failure",
    "channels": CHANNELS,  # the channels the policy bench observes
    "seed": 0,
}


@pytest.fixture(scope="module")
def quick_net() -> Iterator[None]:
    """A small LSTM, one epoch, no internal calibration folds: the paths are tested, not the network's skill."""
    built = zoo.build
    small = {"epochs": 1, "hidden": 8, "attention_units": 8, "dense": 8, "batch_size": 256, "calibration": None}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zoo, "build", lambda name, **kw: built(name, **kw).set_params(**small))
        yield


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    config = replace(DEMO_CONFIG, sites=2, assets=12, days=45, interval="1h", degradation_scale=10.0)
    with Store(path) as db:
        simulate_fleet(config, seed=1).to_store(db)
        wide = db.readings("S1-P001", wide=True).drop(columns=["asset_id", "bearing_temp"])
        db.add_assets([Asset(NO_BEARING, asset_class="pump", site_id="S1")])
        long = wide.melt(id_vars="ts", var_name="channel", value_name="value").dropna()
        db.ingest_readings(long.assign(asset_id=NO_BEARING), source="test")
    return path


def test_each_backtest_fold_reads_its_own_class_means(
    plant: Path, quick_net: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    means: list[Any] = []
    fitted: list[Any] = []
    judged: list[Any] = []
    kept: dict[str, Any] = {}
    own_means, own_refit, own_calibrate = Dataset.class_means, runner.refit, runner.held.calibrate_probabilities

    def spy_means(self: Dataset, rows: np.ndarray) -> Any:
        means.append((rows.copy(), own_means(self, rows)))
        return means[-1][1]

    def spy_refit(*a: Any, **kw: Any) -> Any:
        fitted.append(own_refit(*a, **kw))
        return fitted[-1]

    def spy_calibrate(*a: Any, **kw: Any) -> Any:
        judged.append(own_calibrate(*a, **kw))
        return judged[-1]

    monkeypatch.setattr(Dataset, "class_means", spy_means)
    monkeypatch.setattr(runner, "refit", spy_refit)
    monkeypatch.setattr(runner.held, "calibrate_probabilities", spy_calibrate)
    monkeypatch.setattr(
        forewarn.backtest.output, "write_outputs", lambda result, data, p, cut, **kw: kept.update(data=data, p=p)
    )
    forewarn.backtest.backtest(plant, by="asset", folds=2, **OPTIONS)
    data, p_all = kept["data"], kept["p"]
    assert len(means) == len(fitted) == len(judged) == 2  # one fit of the class means per fold, none before
    rows = (data.frame["asset_id"] == NO_BEARING).to_numpy()
    fold = next(k for k, (seen, _) in enumerate(means) if not seen[rows].any())  # the fold that held it out
    seen, (by_class, overall) = means[fold]
    bearing = data.channels.index("bearing_temp")
    assert by_class["pump"][bearing] not in (0.0, overall[bearing])  # the pumps' own mean, neither 0 nor the fleet's
    # the offline prediction: the serving spec's window frame with the fold's class means, the fold's model and map
    spec = ServingSpec(
        channels=tuple(data.channels),
        window=4,
        history_rows=4,
        sequence=True,
        class_means=by_class,
        channel_means=tuple(overall),
    )
    frame = data.frame.loc[rows, ["asset_id", "ts", *data.channels]]
    X = spec.window_frame(frame, {NO_BEARING: "pump"})[spec.window_feature_names]
    assert (X["bearing_temp__t3"] == by_class["pump"][bearing]).all()
    model, judge = fitted[fold][0], judged[fold]
    want = judge.probabilities(zoo.output(model, X), 72.0)
    scored = rows & ~np.isnan(p_all)
    assert scored.sum() == rows.sum() - data.down[rows].sum() > 0
    np.testing.assert_allclose(p_all[scored], want[~data.down[rows]], rtol=0, atol=1e-9)
    zero = replace(spec, class_means={}, channel_means=()).window_frame(frame)[spec.window_feature_names]
    assert np.abs(judge.probabilities(zoo.output(model, zero), 72.0) - want).max() > 1e-6  # 0 would read otherwise


@pytest.fixture(scope="module")
def models(plant: Path, quick_net: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    forewarn.train(plant, folder, **OPTIONS)
    return folder


def _offline(bundle: Bundle, frame: pd.DataFrame, classes: dict[str, Any]) -> np.ndarray:
    """The bundle's probability of every row of ``frame`` with the serving spec's window frame (one model call)."""
    X = bundle.spec.window_frame(frame, classes)
    return np.asarray(bundle.predict(X[bundle.feature_names]).probability, dtype="float64")


def test_predict_batch_readings_read_the_class_means(plant: Path, models: Path) -> None:
    bundle = Bundle(next(p for p in models.rglob("serving.json")).parent)
    bearing = bundle.spec.channels.index("bearing_temp")
    assert bundle.spec.class_means["pump"][bearing] not in (0.0, bundle.spec.channel_means[bearing])
    with Store(plant, read_only=True) as db:
        history = asset_history(db, NO_BEARING, bundle)
    assert history["bearing_temp"].isna().all() and len(history) > bundle.spec.window
    want = _offline(bundle, history, {NO_BEARING: "pump"})
    ranked = score(plant, models).set_index("asset_id")
    assert ranked.at[NO_BEARING, "status"] == "in_service"
    # forewarn score's batch holds every asset's last row; torch's kernels differ by batch size within float32
    assert float(ranked.at[NO_BEARING, "probability"]) == pytest.approx(want[-1], rel=1e-5)
    overall = _offline(bundle, history, {})  # what the batch read before: the fleet's means
    assert abs(overall[-1] - want[-1]) > 1e-6
    readings = {
        "asset_id": [NO_BEARING] * len(history),
        "ts": [t.isoformat() for t in history["ts"]],
        "values": {c: [None if v != v else float(v) for v in history[c]] for c in bundle.spec.channels},
    }
    token = "t" * 20
    settings = ServeSettings(store=str(plant), models=str(models), token=token, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        for body in ({"readings": readings}, {"readings": readings, "asset_class": "pump"}):  # the store's class
            said = client.post("/api/v1/predict/batch", json=body, headers=auth)
            assert said.status_code == 200, said.text
            got = np.array(said.json()["probability"], dtype="float64")
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_the_policy_bench_scorer_reads_the_class_means(models: Path) -> None:
    bundle = Bundle(next(p for p in models.rglob("serving.json")).parent)
    ids, classes = ["P-1", "P-2", "M-1"], ["pump", "pump", "motor"]
    hours = 96
    rng = np.random.default_rng(3)
    rec = {src: rng.uniform(0.5, 2.0, (3, hours)).astype(np.float32) for src in OBSERVED.values() if src}
    observer = Observer(np.full((3, hours), 20.0), seed=0)
    observer.observe(rec, 0, hours)
    observer.values[list(OBSERVED).index("bearing_temp"), 1, :] = np.nan  # P-2 has no bearing temperature sensor
    start = pd.Timestamp("2024-01-01", tz="UTC")
    got = BundleScorer(bundle, ids, start, classes=classes)(observer, hours)
    frame = observer.frame(ids, start, hours, rows=int(bundle.spec.history_rows), interval_h=6)
    last = frame.groupby("asset_id", sort=False).tail(1).index
    X = bundle.spec.window_frame(frame, dict(zip(ids, classes, strict=True)))
    want = np.asarray(bundle.predict(X.loc[last, bundle.feature_names]).probability, dtype="float64")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    bearing = bundle.spec.channels.index("bearing_temp")
    assert X.loc[last[1], "bearing_temp__t3"] == bundle.spec.class_means["pump"][bearing]
    unclassed = BundleScorer(bundle, ids, start)(observer, hours)  # no classes: the overall means
    assert abs(unclassed[1] - got[1]) > 1e-6 and unclassed[0] == got[0]
