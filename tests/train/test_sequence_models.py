"""``forewarn train --model lstm-attention-failure``: a sequence model of the zoo is filed as a sequence bundle, and
``forewarn score``, the API's health and predict, the stream and the training pipeline's own sequence rows give every
asset the same failure probability (train/serve skew: none), motors and fans, which lack ``seal_leak``, ``flow`` and
``discharge_pressure``, reading those channels as their class's training means."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import forewarn.train
from forewarn.bundles.bundle import SPEC_FILE, Bundle
from forewarn.exceptions import ConfigError
from forewarn.schema import Asset
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.stream.config import ModelConfig
from forewarn.stream.scoring import ModelRunner
from forewarn.train import zoo
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.score import asset_history, score
from forewarn.train.spec import TrainSpec
from forewarn.twin.demo import DEMO_CONFIG
from forewarn.twin.fleet import simulate_fleet

pytestmark = pytest.mark.slow
NO_FLOW = "S1-F009"
OPTIONS = {"task": "failure", "horizon": "72h", "interval": "3h", "window": 8, "model": "lstm-attention-failure"}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    with Store(path) as db:
        simulate_fleet(replace(DEMO_CONFIG, sites=2, assets=16, days=60), seed=4).to_store(db)
        # a fan without a flow sensor: a channel its class reports, absent here (reads the fans' mean, not the fleet's)
        wide = db.readings("S1-F001", wide=True).drop(columns=["asset_id", "flow"])
        db.add_assets([Asset(NO_FLOW, asset_class="fan", site_id="S1")])
        long = wide.melt(id_vars="ts", var_name="channel", value_name="value").dropna()
        db.ingest_readings(long.assign(asset_id=NO_FLOW), source="test")
    return path


def test_a_sequence_model_is_filed_and_scored_alike_everywhere(
    plant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = zoo.build
    monkeypatch.setattr(zoo, "build", lambda name, **kw: built(name, **kw).set_params(epochs=2))  # a quick net
    models = tmp_path / "models"
    result = forewarn.train(plant, models, **OPTIONS)
    bundle = Bundle(result.folder)
    assert bundle.spec.sequence and bundle.spec.window == 8 and bundle.spec.interval == "3h"
    assert bundle.describe()["input"] == "sequence"  # what GET /api/v1/models shows
    assert bundle.feature_names == [f"{c}__t{k}" for c in bundle.spec.channels for k in range(8)]
    card = json.loads((result.folder / "card.json").read_text())
    assert card["model"] == "lstm-attention-failure" and card["recipe"]["input"] == "sequence"
    assert card["recipe"]["stats"] == [] and 0.0 <= card["metrics"]["roc_auc"] <= 1.0  # 2 epochs: any skill
    # absent channels read their class's training means: motors and fans lack the pump's channels
    spec = bundle.spec
    assert {"seal_leak", "flow", "discharge_pressure"} <= set(spec.channels)
    assert {"motor", "fan", "pump"} <= set(spec.class_means)
    leak = spec.channels.index("seal_leak")
    assert spec.class_means["motor"][leak] == 0.0 != spec.channel_means[leak]  # never reported: 0, not applicable
    flow = spec.channels.index("flow")
    assert spec.class_means["fan"][flow] != spec.channel_means[flow]  # the flow-less fan reads the fans' own mean
    # the training pipeline's own sequence rows, last row of each asset, through the filed bundle
    train_spec = TrainSpec().with_options(**OPTIONS)
    with opened(plant) as db:
        data = load_dataset(db, train_spec)
    X = data.features(train_spec.resolved(data.interval), sequence=True, absent=(spec.class_means, spec.channel_means))
    last = X.groupby(data.frame["asset_id"].to_numpy()).tail(1)
    want = dict(
        zip(data.frame.loc[last.index, "asset_id"], bundle.predict(last[bundle.feature_names]).probability, strict=True)
    )
    last_index = dict(zip(data.frame.loc[last.index, "asset_id"], last.index, strict=True))
    classes = dict(zip(data.assets["asset_id"], data.assets["asset_class"], strict=True))
    ranked = score(plant, models)
    scored = ranked[ranked["status"] == "in_service"]
    assert {"motor", "fan"} <= {classes[a] for a in scored["asset_id"]} and NO_FLOW in set(scored["asset_id"])
    for row in scored.itertuples():
        assert row.probability == pytest.approx(want[row.asset_id], abs=1e-9), row.asset_id
    # the API: health of the fleet, and POST /predict of each asset's last buckets with its class
    token = "t" * 20
    settings = ServeSettings(store=str(plant), models=str(models), token=token, evaluate_on_start=False)
    with Store(plant, read_only=True) as db:
        histories = {a: asset_history(db, a, bundle) for a in scored["asset_id"]}
    with TestClient(create_app(settings)) as client:
        fleet = {h["asset_id"]: h for h in client.get("/api/v1/fleet/health").json()}
        for asset, history in histories.items():
            assert fleet[asset]["probability"] == pytest.approx(want[asset], abs=1e-9), asset
            rows = [
                {c: None if v != v else float(v) for c, v in row.items()}
                for row in history[list(spec.channels)].to_dict("records")
            ]
            body = {"rows": rows, "asset_class": classes[asset]}
            said = client.post("/api/v1/predict", json=body, headers={"Authorization": f"Bearer {token}"}).json()
            # one row through the float32 network: the same features as the batch's row, the output within float32
            # rounding of the batched one (torch's kernels differ by batch size)
            alone = float(bundle.predict(last.loc[last_index[asset], bundle.feature_names].to_frame().T).probability[0])
            assert said["probability"] == pytest.approx(alone, abs=1e-9), asset
            assert alone == pytest.approx(want[asset], rel=1e-5), asset
    # the stream: every asset's raw readings in micro-batches, bucketed at 3 h, the class read from the store
    with Store(plant) as db:
        raw = pd.concat([db.readings(a, wide=True) for a in scored["asset_id"]]).sort_values(
            ["ts", "asset_id"], kind="stable"
        )
        runner = ModelRunner(ModelConfig(path=result.folder, model_id=result.model_id), db)
        ts_us = raw["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").astype("int64")
        values = raw.reindex(columns=runner.channels).to_numpy(dtype="float64")
        names = raw["asset_id"].astype(str).to_numpy(dtype=object)
        last_of: dict[str, float] = {}
        for lo in range(0, len(raw), 5000):  # micro-batches in time order, each grouped by asset as the stream sends
            part = lo + np.lexsort((ts_us[lo : lo + 5000], names[lo : lo + 5000]))
            table, _, _ = runner.run(names[part], ts_us[part], values[part], now_us=0)
            got = table.to_pydict()
            last_of.update(zip(got["asset_id"], got["probability"], strict=True))
    for asset in scored["asset_id"]:
        assert last_of[asset] == pytest.approx(want[asset], abs=1e-9), asset
    # the same bundle without its class means (as written before them) reads absent channels as 0 again
    old = tmp_path / "old"
    shutil.copytree(result.folder, old)
    saved = json.loads((old / SPEC_FILE).read_text())
    del saved["class_means"], saved["channel_means"]
    (old / SPEC_FILE).write_text(json.dumps(saved))
    zero = data.features(train_spec.resolved(data.interval), sequence=True).loc[last.index, bundle.feature_names]
    old_bundle = Bundle(old)
    with Store(plant, read_only=True) as db:
        for asset in scored["asset_id"]:
            served = old_bundle.spec.window_frame(asset_history(db, asset, old_bundle)).iloc[-1]
            offline = zero[data.frame.loc[zero.index, "asset_id"].to_numpy() == asset].iloc[0]
            np.testing.assert_array_equal(served[bundle.feature_names].to_numpy(float), offline.to_numpy(float))


def test_a_sequence_model_refuses_window_statistics_options(plant: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not window statistics"):
        forewarn.train(plant, tmp_path / "m", **{**OPTIONS, "features": "hybrid"})
