"""``forewarn bench federated``: the sites it deals, the arms, the JSON contract, and the comparison figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from forewarn.bench.federated import VARIANTS, Task, cmapss_sites, seed_task_sites, site_metrics
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError
from forewarn.federated.benchmark import comparison, run

KEYS = {"arm", "dataset", "site", "rmse", "f1", "pr_auc", "failure_detection_rate", "accuracy"}


def test_seed_task_sites_differ_by_factory_and_variant() -> None:
    sites, task = seed_task_sites(0, "seed")
    assert [s.held_out for s in sites] == [False] * 7 + [True]
    assert task.kind == "multiclass" and all(s.X_train.shape == (600, 20) for s in sites)
    share = np.mean(np.concatenate([s.y_train for s in sites]) == 2)
    assert 0.12 < share < 0.18  # 15 % failure-imminent
    scarce, _ = seed_task_sites(0, "scarce")
    assert scarce[0].X_train.shape == (60, 20)
    skewed, _ = seed_task_sites(0, "skewed")
    shares = [np.mean(s.y_train == 2) for s in skewed]
    assert max(shares) - min(shares) > 0.1
    with pytest.raises(ConfigError, match="variant"):
        seed_task_sites(0, "easy")
    assert VARIANTS[0] == "seed"


def test_site_metrics_by_hand() -> None:
    binary = site_metrics(Task("binary"), np.array([1, 0, 1, 0]), np.array([0.9, 0.6, 0.2, 0.1]))
    # flagged: rows 0, 1; failures: rows 0, 2 -> precision 1/2, recall 1/2, F1 1/2; accuracy 2/4
    assert (binary["f1"], binary["failure_detection_rate"], binary["accuracy"]) == (0.5, 0.5, 0.5)
    assert binary["pr_auc"] == pytest.approx((1.0 + 2 / 3) / 2)  # precision at each failure's rank
    rul = site_metrics(Task("regression"), np.array([10.0, 20.0]), np.array([13.0, 16.0]))
    assert rul["rmse"] == pytest.approx(np.sqrt((9 + 16) / 2)) and np.isnan(rul["f1"])


def test_runner_gives_every_arm_and_site_with_the_contract_keys() -> None:
    payload = run(["local", "federated", "pooled"], 1, dataset="seed-task:scarce", rounds=3)
    results = payload["results"]
    assert all(set(r) >= KEYS for r in results)
    arms = {r["arm"] for r in results}
    assert arms == {"local", "federated", "pooled"}
    held = [r for r in results if r["held_out"]]
    assert {r["site"] for r in held} == {"factory-8"} and {r["arm"] for r in held} == arms
    assert {r["site"] for r in results if r["arm"] == "federated"} == {f"factory-{i}" for i in range(1, 9)} | {"mean"}
    mean = next(r for r in results if r["arm"] == "federated" and r["site"] == "mean")
    assert 0.33 < mean["accuracy"] <= 1.0 and payload["primary_metric"] == "accuracy"
    assert payload["federated_runs"][0]["rounds"] == 3 and payload["federated_runs"][0]["bytes_per_round"] > 0
    assert "gain_over_local" in payload["comparison"]


def test_comparison_by_hand() -> None:
    rows = [
        {"arm": a, "site": s, "held_out": h, "seed": 0, "accuracy": v}
        for a, s, h, v in [
            ("local", "x", False, 0.5), ("local", "y", False, 0.7), ("local", "z", True, 0.1),
            ("federated", "x", False, 0.7), ("federated", "y", False, 0.8), ("federated", "z", True, 0.9),
            ("pooled", "x", False, 0.8), ("pooled", "y", False, 0.8), ("pooled", "z", True, 0.9),
        ]
    ]  # fmt: skip
    c = comparison(rows, "accuracy")  # held-out site z left out of the target's mean
    assert c["gain_over_local"] == pytest.approx((0.75 - 0.6) / 0.6)
    assert c["gap_to_pooled"] == pytest.approx((0.8 - 0.75) / 0.8)


def test_cli_writes_the_json(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        app,
        ["bench", "federated", "--dataset", "seed-task:scarce", "--seeds", "1", "--models", "local,federated",
         "--json", str(tmp_path / "r.json"), "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    payload = json.loads((tmp_path / "r.json").read_text())
    assert {r["arm"] for r in payload["results"]} == {"local", "federated"}
    assert all(r["dataset"] == "seed-task" for r in payload["results"])
    bad = CliRunner().invoke(app, ["bench", "federated", "--dataset", "weather", "--seeds", "1"])
    assert bad.exit_code != 0 and "unknown federated dataset" in str(bad.exception)


@pytest.mark.slow
@pytest.mark.needs_data
def test_cmapss_sites_are_dealt_by_subset_and_regime_mix(shared_data_dir: Path) -> None:
    sites, task = cmapss_sites(shared_data_dir, max_units=12)
    names = [s.name for s in sites]
    assert names[:3] == ["FD001-a", "FD001-b", "FD001-c"] and sites[-1].held_out and sum(s.held_out for s in sites) == 1
    assert task.kind == "regression" and task.target_scale == 125.0
    assert all(s.X_train.shape[1] == sites[0].X_train.shape[1] for s in sites)
    assert all(len(s.y_test) == len(s.X_test) and (s.y_train <= 125).all() for s in sites)
    # the engines a site's rows belong to: whole engines validate the local arm's early stopping
    assert all(s.groups is not None and len(s.groups) == len(s.y_train) for s in sites)
    assert len(np.unique(sites[0].groups)) == 4  # 12 FD001 engines dealt to three sites


def test_local_recipe_stops_early_on_noise_and_not_on_signal() -> None:
    from forewarn.federated.apps import FedConfig
    from forewarn.federated.benchmark import PATIENCE, _centrally

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    units = np.repeat(np.arange(40), 10)
    config = FedConfig(sites=2, rounds=30, local_epochs=1, hidden=(64,), learning_rate=1e-2, batch_size=32)
    noise = rng.integers(0, 2, 400).astype(float)  # nothing to learn: the validation loss rises from the start
    _, stopped = _centrally(X, noise, config, seed=0, groups=units)
    assert stopped < config.rounds - PATIENCE
    signal = (X[:, 0] + X[:, 1] > 0).astype(float)
    slow = FedConfig(sites=2, rounds=6, local_epochs=1, hidden=(8,), learning_rate=1e-3, batch_size=64)
    params, kept = _centrally(X, signal, slow, seed=0, groups=units)
    assert kept == slow.rounds  # still improving at the last round
    assert set(params) >= {"layer0.weight", "scaler.mean"}
    with pytest.raises(ConfigError, match="two training units"):
        _centrally(X, signal, slow, seed=0, groups=np.zeros(400))
