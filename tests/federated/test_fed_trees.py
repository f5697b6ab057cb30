"""Federated boosting by bagging: each site's LightGBM trees through the Flower apps, averaged by training rows."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated.boosting import federate_trees
from forewarn.federated.simulate import SiteRows
from forewarn.federated.trees import BaggedBoosters, train_booster


def test_the_global_model_weights_the_sites_boosters_by_their_rows() -> None:
    rng = np.random.default_rng(0)
    X_a, X_b = rng.normal(size=(100, 2)), rng.normal(size=(300, 2))
    # a booster on a constant target predicts that constant: site a says 0, site b says 10
    sites = [SiteRows("a", X_a, np.zeros(100)), SiteRows("b", X_b, np.full(300, 10.0))]
    model, record = federate_trees(sites, "regression", settings={"num_boost_round": 5})
    assert record["sites"] == [0, 1] and model.weights == [100.0, 300.0]
    assert record["bytes"] == sum(len(m) for m in model.models) > 0
    # 100 / 400 * 0 + 300 / 400 * 10
    assert model.predict(rng.normal(size=(4, 2))) == pytest.approx(np.full(4, 7.5))


def test_site_boosters_learn_and_bagging_keeps_probabilities() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(float)
    text = train_booster(X, y, "binary", {"num_boost_round": 30}, seed=0)
    p = BaggedBoosters([text, text], [1.0, 3.0], "binary").predict(X)
    assert ((p > 0.5) == y).mean() > 0.95 and (p >= 0).all() and (p <= 1).all()
    labels = rng.integers(0, 3, 400)
    probs = BaggedBoosters(
        [train_booster(X, labels, "multiclass", {"num_boost_round": 5}, seed=0, classes=3)], [1.0], "multiclass"
    ).predict(X)
    assert probs.shape == (400, 3) and np.allclose(probs.sum(axis=1), 1.0)
    with pytest.raises(ConfigError, match="boosters"):
        BaggedBoosters([text], [0.0], "binary")
    with pytest.raises(ConfigError, match="kind"):
        train_booster(X, y, "ranking", {}, seed=0)


def test_bench_runs_the_boosting_arms_beside_the_nets() -> None:
    from forewarn.federated.benchmark import run

    payload = run(["lightgbm-local", "lightgbm-federated", "lightgbm-pooled"], 1, dataset="seed-task:scarce")
    arms = {r["arm"] for r in payload["results"]}
    assert arms == {"lightgbm-local", "lightgbm-federated", "lightgbm-pooled"}
    mean = {r["arm"]: r["accuracy"] for r in payload["results"] if r["site"] == "mean"}
    assert all(0.33 < v <= 1.0 for v in mean.values())
    lgbm = payload["comparison_lightgbm"]
    assert lgbm["gain_over_local"] == pytest.approx(
        (mean["lightgbm-federated"] - mean["lightgbm-local"]) / mean["lightgbm-local"]
    )
    assert payload["federated_runs"][0]["lightgbm"]["sites"] == list(range(7))
