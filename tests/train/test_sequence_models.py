"""``forewarn train --model lstm-attention-failure``: a sequence model of the zoo is filed as a sequence bundle, and
``forewarn score``, the stream and the training pipeline's own sequence rows give each asset the same failure
probability (train/serve skew: none)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import forewarn.train
from forewarn.bundles.bundle import Bundle
from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.stream.config import ModelConfig
from forewarn.stream.scoring import ModelRunner
from forewarn.train import zoo
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.score import score
from forewarn.train.spec import TrainSpec
from forewarn.twin.demo import DEMO_CONFIG
from forewarn.twin.fleet import simulate_fleet

pytestmark = pytest.mark.slow
OPTIONS = {"task": "failure", "horizon": "72h", "interval": "3h", "window": 8, "model": "lstm-attention-failure"}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plant") / "plant.duckdb"
    with Store(path) as db:
        simulate_fleet(replace(DEMO_CONFIG, sites=2, assets=16, days=60), seed=4).to_store(db)
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
    # the training pipeline's own sequence rows, last row of each asset, through the filed bundle
    spec = TrainSpec().with_options(**OPTIONS)
    with opened(plant) as db:
        data = load_dataset(db, spec)
    X = data.features(spec.resolved(data.interval), sequence=True)
    last = X.groupby(data.frame["asset_id"].to_numpy()).tail(1)
    want = dict(
        zip(data.frame.loc[last.index, "asset_id"], bundle.predict(last[bundle.feature_names]).probability, strict=True)
    )
    ranked = score(plant, models)
    scored = ranked[ranked["status"] == "in_service"]
    assert len(scored) >= 4
    for row in scored.itertuples():
        assert row.probability == pytest.approx(want[row.asset_id], abs=1e-9), row.asset_id
    # the stream: one asset's raw readings in micro-batches, bucketed at 3 h
    asset = str(scored["asset_id"].iloc[0])
    with Store(plant) as db:
        raw = db.readings(asset, wide=True).sort_values("ts")
        runner = ModelRunner(ModelConfig(path=result.folder, model_id=result.model_id), db)
        ts_us = raw["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").astype("int64")
        values = raw.reindex(columns=runner.channels).to_numpy(dtype="float64")
        names = np.full(len(raw), asset, dtype=object)
        for lo in range(0, len(raw), 700):
            table, _, _ = runner.run(names[lo : lo + 700], ts_us[lo : lo + 700], values[lo : lo + 700], now_us=0)
    assert table.column("probability")[-1].as_py() == pytest.approx(want[asset], abs=1e-9)


def test_a_sequence_model_refuses_window_statistics_options(plant: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not window statistics"):
        forewarn.train(plant, tmp_path / "m", **{**OPTIONS, "features": "hybrid"})
