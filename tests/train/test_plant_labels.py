"""A plant's own label column as it is written: yes/no and true/false flags are failure labels like 0/1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.store import Store
from forewarn.train.dataset import stored_label_targets
from forewarn.train.spec import TrainSpec


def _store(tmp_path: Path, flags: list[str]) -> Store:
    path = tmp_path / "flags.csv"
    ts = pd.date_range("2024-01-01", periods=len(flags), freq="1h", tz="UTC").strftime("%Y-%m-%dT%H:%MZ")
    pd.DataFrame({"asset_id": "P-1", "ts": ts, "temp": np.arange(len(flags)), "fails_24h": flags}).to_csv(
        path, index=False
    )
    db = Store(tmp_path / "plant.duckdb")
    db.ingest_file(path, label_columns="fails_24h")
    return db


def test_a_yes_no_failure_label_reads_as_one_and_zero(tmp_path: Path) -> None:
    with _store(tmp_path, ["no", "No", "YES", "yes", "true", "False", "1", "0"]) as db:
        frame = db.readings("P-1", wide=True).assign(asset_id="P-1")[["asset_id", "ts"]]
        y = stored_label_targets(db, frame, TrainSpec(label="fails_24h"), "1h")
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]


def test_other_text_in_a_label_is_still_an_error_and_a_rul_label_takes_no_words(tmp_path: Path) -> None:
    with _store(tmp_path, ["no", "maybe"]) as db:
        frame = db.readings("P-1", wide=True).assign(asset_id="P-1")[["asset_id", "ts"]]
        with pytest.raises(SchemaError, match="'maybe', not a number"):
            stored_label_targets(db, frame, TrainSpec(label="fails_24h"), "1h")
        with pytest.raises(SchemaError, match="'no', not a number"):
            stored_label_targets(db, frame, TrainSpec(task="rul", label="fails_24h"), "1h")


def test_channel_names_lightgbm_refuses_train_lightgbm_and_auto_compares_it() -> None:
    """Names with brackets or braces (AI4I's 'Air temperature [K]'): LightGBM trains under positional names inside
    the model (models/boosting.py) and the zoo keeps it (before: a SchemaError, and auto left LightGBM out)."""
    from forewarn.train import zoo

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"Air temperature [K]__mean": rng.normal(size=120), "Torque {Nm}__max": rng.normal(size=120)})
    y = (X.iloc[:, 0] > 1).to_numpy(dtype=float)
    lightgbm = zoo.fit_model(zoo.build("lightgbm-failure", task="failure", seed=0), X, y)
    assert list(lightgbm.feature_names_in_) == list(X.columns)
    table = zoo.compare(
        ["lightgbm-failure", "logistic-failure"],
        task="failure",
        features=lambda name: X,
        y=y,
        groups=np.arange(120) % 4,
        folds=2,
        seed=0,
    ).set_index("model")
    assert not table.loc["lightgbm-failure", "error"] and np.isfinite(table.loc["lightgbm-failure", "score"])
    assert np.isfinite(table.loc["logistic-failure", "score"])
