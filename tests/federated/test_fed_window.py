"""The window model (a 1-D CNN over the last cycles) in federation: FedAvg redone by hand, the site-own
standardiser, the filed ``cnn-rul``, the benchmark's window arms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.federated import apps, window
from forewarn.federated import network as net
from forewarn.federated.simulate import SiteRows, simulate

CHANNELS, LENGTH = 2, 5
SMALL = {
    "model": "window",
    "window_channels": CHANNELS,
    "window_length": LENGTH,
    "window_filters": 3,
    "window_kernel": 3,
    "window_layers": 1,
    "window_hidden": 8,
    "window_dropout": 0.2,
    "kind": "regression",
    "target_scale": 100.0,
    "learning_rate": 5e-3,
    "batch_size": 32,
}


def _rows(n: int, offset: float, gain: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of two channels that rise with wear (a site's own calibration: offset and gain), plus the cycle."""
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0, 1, n)
    steps = np.arange(LENGTH) / LENGTH
    a = (wear[:, None] + 0.05 * steps + rng.normal(0, 0.05, (n, LENGTH))) * gain + offset
    b = (-wear[:, None] + rng.normal(0, 0.05, (n, LENGTH))) * gain + offset
    cycle = 200 * wear + rng.normal(0, 5, n)
    return np.column_stack([a, b, cycle]), 120 * (1 - wear)


def _sites() -> list[SiteRows]:
    out = []
    for i, (n, offset, gain) in enumerate([(90, 0.0, 1.0), (150, 3.0, 2.0)]):
        X, y = _rows(n + 30, offset, gain, seed=i)
        out.append(SiteRows(f"s{i}", X[:n], y[:n], X[n:], y[n:]))
    return out


def _by_hand(sites: list[SiteRows], config: apps.FedConfig) -> dict[str, np.ndarray]:
    """FedAvg of the window model redone without Flower: the shared standardiser from the summed moments, each
    site's round of local training with the apps' seed, the average weighted by training rows."""
    spec = config.spec(sites[0].X_train.shape[1])
    moments = net.Moments.of(sites[0].X_train) + net.Moments.of(sites[1].X_train)
    params = window.initial(spec, window.scaler_of(spec, moments), config.seed)
    for r in range(1, config.rounds + 1):
        updates = []
        for i, site in enumerate(sites):
            start = params
            if config.window_norm == "local":
                start = window.with_scaler(params, window.local_scaler(spec, site.X_train))
            seed = config.seed * 100_003 + r * 101 + i
            new, _ = window.train_local(
                start, spec, site.X_train, site.y_train, epochs=config.local_epochs, seed=seed, round_=r,
                rounds=config.rounds,
            )  # fmt: skip
            updates.append(({k: v for k, v in new.items() if k.startswith("net.")}, float(len(site.X_train))))
        params = net.average(updates) | {"scaler.mean": params["scaler.mean"], "scaler.scale": params["scaler.scale"]}
    return params


@pytest.mark.parametrize("norm", ["shared", "local"])
def test_fedavg_of_the_window_model_is_the_sample_weighted_mean_redone_by_hand(norm: str) -> None:
    sites = _sites()
    config = apps.FedConfig(sites=2, rounds=2, local_epochs=1, seed=3, window_norm=norm, **SMALL)
    outcome = simulate(sites, config, engine="inprocess")
    expected = _by_hand(sites, config)
    assert set(outcome.params) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(outcome.params[name], value, atol=1e-6, err_msg=name)
    assert outcome.history["rounds"] == 2 and outcome.history["inputs"] == CHANNELS * LENGTH + 1
    # the window model's parameters travel, not rows: the layers' bytes (out, back, out for evaluation)
    layers = sum(4 * v.size for k, v in expected.items() if k.startswith("net."))  # float32 on the wire
    assert outcome.history["bytes_per_round"] == (3 * layers + 2 * 2 * (CHANNELS + 1) * 8) * 2


def test_site_own_standardiser_changes_the_model_and_the_shared_one_is_the_pooled_channel_figures() -> None:
    sites = _sites()
    spec = apps.FedConfig(sites=2, **SMALL).spec(CHANNELS * LENGTH + 1)
    both = np.concatenate([s.X_train for s in sites])
    mean, scale = window.scaler_of(spec, net.Moments.of(sites[0].X_train) + net.Moments.of(sites[1].X_train))
    # by hand: a channel's figures over all its steps and rows; the cycle on its own
    channel_a = both[:, :LENGTH].ravel()
    np.testing.assert_allclose([mean[0], scale[0]], [channel_a.mean(), channel_a.std()], rtol=1e-9)
    np.testing.assert_allclose([mean[2], scale[2]], [both[:, -1].mean(), both[:, -1].std()], rtol=1e-9)
    shared = simulate(sites, apps.FedConfig(sites=2, rounds=1, local_epochs=1, **SMALL), engine="inprocess")
    local = simulate(
        sites, apps.FedConfig(sites=2, rounds=1, local_epochs=1, window_norm="local", **SMALL), engine="inprocess"
    )
    assert not np.allclose(shared.params["net.head.3.weight"], local.params["net.head.3.weight"])
    # the filed model keeps the shared standardiser either way (a new site's rows meet the fleet's figures)
    np.testing.assert_array_equal(local.params["scaler.mean"], shared.params["scaler.mean"])


def test_the_global_window_model_files_as_cnn_rul_with_the_same_predictions(tmp_path: Path) -> None:
    sites = _sites()
    config = apps.FedConfig(sites=2, rounds=2, local_epochs=2, **SMALL)
    outcome = simulate(sites, config, engine="inprocess")
    spec = config.spec(CHANNELS * LENGTH + 1)
    names = [f"{c}__t{k}" for c in ("temp", "flow") for k in range(LENGTH)] + ["cycle"]
    model = window.as_estimator(outcome.params, spec, names)
    assert type(model).__name__ == "CNNRUL"
    X = sites[1].X_test
    ours = window.predict(outcome.params, spec, X)
    theirs = model.predict(pd.DataFrame(X, columns=names))
    np.testing.assert_allclose(theirs, ours, rtol=1e-6)
    from forewarn.base.persistence import load, save

    save(model, tmp_path / "m")
    np.testing.assert_allclose(load(tmp_path / "m").predict(pd.DataFrame(X, columns=names)), ours, rtol=1e-6)
    # it learned something: the federated model ranks the held-out windows by wear
    assert np.corrcoef(ours, sites[1].y_test)[0, 1] > 0.5


def test_head_fine_tuning_moves_only_the_last_layer_and_fedprox_pulls_towards_the_start() -> None:
    site = _sites()[1]
    spec = apps.FedConfig(sites=2, **SMALL).spec(CHANNELS * LENGTH + 1)
    start = window.initial(spec, window.local_scaler(spec, site.X_train), seed=0)
    tuned, _ = window.train_local(start, spec, site.X_train, site.y_train, epochs=2, seed=1, trainable=("head.3",))
    for name in start:
        same = np.array_equal(start[name], tuned[name])
        assert same == (not name.startswith("net.head.3")), name
    free, _ = window.train_local(start, spec, site.X_train, site.y_train, epochs=3, seed=1)
    held, _ = window.train_local(start, spec, site.X_train, site.y_train, epochs=3, seed=1, mu=50.0)

    def moved(p: dict[str, np.ndarray]) -> float:
        return float(sum(((p[k] - start[k]) ** 2).sum() for k in start if k.startswith("net.")))

    assert moved(held) < 0.5 * moved(free)


def test_bad_window_settings_and_rows_are_named() -> None:
    with pytest.raises(ConfigError, match="window_channels"):
        apps.FedConfig(sites=2, model="window", window_channels=0, window_length=5)
    with pytest.raises(ConfigError, match="model="):
        apps.FedConfig(sites=2, model="gru")
    with pytest.raises(ConfigError, match="window_norm"):
        apps.FedConfig(sites=2, window_norm="site")
    spec = apps.FedConfig(sites=2, **SMALL).spec(CHANNELS * LENGTH + 1)
    params = window.initial(spec, (np.zeros(3), np.ones(3)), seed=0)
    with pytest.raises(SchemaError, match="11 inputs"):
        window.predict(params, spec, np.zeros((4, 7)))
    with pytest.raises(ConfigError, match="regression"):
        apps.FedConfig(sites=2, **(SMALL | {"kind": "binary"})).spec(11)


@pytest.mark.slow
@pytest.mark.needs_data
def test_window_arms_on_cmapss_sites_give_the_contract_keys(shared_data_dir: Path) -> None:
    from forewarn.federated.benchmark import run

    out = run(
        ["window-local", "window-federated", "window-pooled"],
        1,
        shared_data_dir,
        dataset="cmapss",
        rounds=2,
        window={"window_filters": 4, "window_layers": 1, "window_hidden": 16},
        sites_options={"max_units": 6},
    )
    arms = {(r["arm"], r["site"]) for r in out["results"]}
    assert ("window-federated", "FD004-c") in arms and ("window-local", "mean") in arms
    entry = next(r for r in out["results"] if r["arm"] == "window-pooled" and r["site"] == "FD001-a")
    assert {"arm", "dataset", "site", "rmse", "f1", "pr_auc", "failure_detection_rate", "accuracy"} <= set(entry)
    assert np.isfinite(entry["rmse"]) and np.isnan(entry["f1"])
    assert set(out["comparison_window"]) >= {"gain_over_local", "gap_to_pooled", "per_seed"}
    assert out["window_settings"]["window_filters"] == 4
    assert out["federated_runs"][0]["window"]["rounds"] == 2
