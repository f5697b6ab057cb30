"""One id per model: a registry bundle in ``[[models]]`` scores and alerts as ``model_id:version``, the id the
service's alerts carry, and a stream that saved its state under the folder's name before carries it on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.bundles.registry import ModelRegistry
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

MIN = 60_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding one bundle, ``failure/v1`` (hourly buckets, window 3), as ``forewarn train`` files."""
    from forewarn.bundles.bundle import make_bundle
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL

    rng = np.random.default_rng(4)
    stats = ("mean", "max")
    names = [f"{c}__{s}" for c in ("a", "b") for s in stats]
    X = pd.DataFrame(rng.normal(50, 3, (80, 4)), columns=names)
    y = (X["a__mean"] - 40).clip(lower=0)
    model = LightGBMRUL(n_estimators=5, num_leaves=3, max_rul=None, seed=0).fit(X, y)
    root = tmp_path_factory.mktemp("models")
    make_bundle(
        model,
        root / "failure" / "v1",
        channels=("a", "b"),
        window=3,
        interval="1h",
        stats=stats,
        horizon=24.0,
        X_holdout=X,
        y_holdout=y,
        calibration=None,
    )
    return root


def _config(folder: Path, **model: object):
    return parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": "P-1", "channels": {"a": "u", "b": "u"}}],
            "models": [{"path": str(folder), "alert": {"threshold": 0.0, "cooldown": "1000h"}, **model}],
        }
    )


def _readings(minutes: range) -> ReadingColumns:
    rng = np.random.default_rng(minutes.start)
    cols = ReadingColumns()
    for m in minutes:
        cols.add("P-1", "a", T0 + m * MIN, float(rng.normal(50, 3)))
        cols.add("P-1", "b", T0 + m * MIN, float(rng.normal(50, 3)))
    return cols


def test_a_registry_bundle_has_the_services_id(registry: Path, tmp_path: Path) -> None:
    bundle = ModelRegistry(registry).bundle("failure")
    service_id = f"{bundle.model_id}:{bundle.version}"  # what serve/cases.py files the service's alerts under
    cfg = _config(registry / "failure" / "v1")
    assert cfg.models[0].model_id == service_id == "failure:v1" and cfg.models[0].former_ids == ("v1",)
    named = _config(registry / "failure" / "v1", model_id="pump-failure").models[0]
    assert (named.model_id, named.former_ids) == ("pump-failure", ())  # an explicit id is kept
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, file_alerts=list)
        pipe.process(_readings(range(0, 200)), [])
        pipe.close()
        scores = store.sql("SELECT DISTINCT model_id FROM stream_scores")["model_id"].tolist()
        alerts = store.sql("SELECT DISTINCT model_id FROM stream_alerts")["model_id"].tolist()
    assert scores == alerts == [service_id]


def test_state_saved_under_the_folder_name_is_carried_on(registry: Path, tmp_path: Path) -> None:
    """A stream that ran before bundles took ``model_id:version`` saved its windows, open buckets and alert state
    under ``v1``; after the upgrade the same model continues from them instead of refilling its window."""
    folder = registry / "failure" / "v1"
    with Store(tmp_path / "s.duckdb") as store:
        before = OnlinePipeline(store, _config(folder, model_id="v1"), file_alerts=list)  # the earlier default id
        before.process(_readings(range(0, 200)), [])
        saved = before.runners[0].buckets.get_state()
        window = before.runners[0].features.get_state(["P-1"])
        policy = before.runners[0].policy.get_state()
        before.close()
        after = OnlinePipeline(store, _config(folder), file_alerts=list)
        runner = after.runners[0]
        assert runner.model_id == "failure:v1"
        for key, value in saved.items():
            np.testing.assert_array_equal(runner.buckets.get_state()[key], value)
        for key, value in window.items():
            np.testing.assert_array_equal(runner.features.get_state(["P-1"])[key], value)
        assert runner.policy.get_state().keys() == policy.keys()
        for key, value in policy.items():
            np.testing.assert_array_equal(runner.policy.get_state()[key], value)
        after.process(_readings(range(200, 260)), [])  # saved under the new names from now on
        after.close()
        names = set(store.sql("SELECT DISTINCT name FROM stream_state")["name"])
    assert {n for n in names if n.startswith(("features:failure:v1:", "buckets:failure:v1:", "policy:failure:v1"))}
