"""The window model's GRU variant (``window_arch = "gru"``): its forward pass redone by hand from the GRU
equations, FedAvg over it redone by hand, it learns a wear signal, and it is refused where it cannot be filed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated import apps, window
from forewarn.federated import network as net
from forewarn.federated.federate import federate
from forewarn.federated.simulate import SiteRows, simulate

CHANNELS, LENGTH = 2, 4
SMALL = {
    "model": "window",
    "window_arch": "gru",
    "window_channels": CHANNELS,
    "window_length": LENGTH,
    "window_units": 3,
    "window_layers": 1,
    "window_hidden": 5,
    "window_dropout": 0.0,
    "kind": "regression",
    "target_scale": 100.0,
    "learning_rate": 1e-2,
    "batch_size": 32,
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _forward_by_hand(params: dict[str, np.ndarray], spec: window.WindowSpec, X: np.ndarray) -> np.ndarray:
    """One GRU layer step by step (gates stacked reset, update, new as torch documents them), the last step's state
    and the static column through the head, times the target scale, never negative."""
    p = {k.removeprefix("net."): v.astype("float64") for k, v in params.items()}
    mean, scale = params["scaler.mean"], params["scaler.scale"]
    seq = (X[:, : CHANNELS * LENGTH].reshape(len(X), CHANNELS, LENGTH) - mean[None, :CHANNELS, None]) / scale[
        None, :CHANNELS, None
    ]
    static = (X[:, CHANNELS * LENGTH :] - mean[CHANNELS:]) / scale[CHANNELS:]
    u = spec.units
    h = np.zeros((len(X), u))
    for t in range(LENGTH):
        gi = seq[:, :, t] @ p["gru.weight_ih_l0"].T + p["gru.bias_ih_l0"]
        gh = h @ p["gru.weight_hh_l0"].T + p["gru.bias_hh_l0"]
        r = _sigmoid(gi[:, :u] + gh[:, :u])
        z = _sigmoid(gi[:, u : 2 * u] + gh[:, u : 2 * u])
        n = np.tanh(gi[:, 2 * u :] + r * gh[:, 2 * u :])
        h = (1 - z) * n + z * h
    hidden = np.tanh(np.column_stack([h, static]) @ p["head.1.weight"].T + p["head.1.bias"])
    out = (hidden @ p["head.3.weight"].T + p["head.3.bias"])[:, 0]
    return np.maximum(out * spec.target_scale, 0.0)


def _rows(n: int, offset: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0, 1, n)
    a = wear[:, None] + rng.normal(0, 0.05, (n, LENGTH)) + offset
    b = -wear[:, None] + rng.normal(0, 0.05, (n, LENGTH)) + offset
    return np.column_stack([a, b, 200 * wear + rng.normal(0, 5, n)]), 120 * (1 - wear)


def test_gru_forward_is_the_gru_equations_by_hand() -> None:
    spec = apps.FedConfig(sites=2, **SMALL).spec(CHANNELS * LENGTH + 1)
    assert spec.arch == "gru" and spec.units == 3
    X, _ = _rows(7, 0.5, seed=0)
    params = window.initial(spec, window.scaler_of(spec, net.Moments.of(X)), seed=1)
    rng = np.random.default_rng(2)  # non-zero biases, so each one's place is checked too
    params = {
        k: (v + rng.normal(0, 0.3, v.shape).astype(v.dtype)) if "bias" in k.rsplit(".", 1)[-1] else v
        for k, v in params.items()
    }
    params["net.head.3.bias"] = np.array([0.8], dtype="float32")  # keep the outputs above the clip at 0
    np.testing.assert_allclose(window.predict(params, spec, X), _forward_by_hand(params, spec, X), rtol=1e-5)
    with pytest.raises(ConfigError, match="not a registry model"):
        window.as_estimator(params, spec)


@pytest.mark.slow
def test_fedavg_of_the_gru_is_the_sample_weighted_mean_and_it_learns_wear() -> None:
    sites = []
    for i, (n, offset) in enumerate([(120, 0.0), (200, 0.4)]):
        X, y = _rows(n + 40, offset, seed=10 + i)
        sites.append(SiteRows(f"s{i}", X[:n], y[:n], X[n:], y[n:]))
    config = apps.FedConfig(sites=2, rounds=2, local_epochs=1, seed=4, **SMALL)
    outcome = simulate(sites, config, engine="inprocess")
    spec = config.spec(CHANNELS * LENGTH + 1)
    moments = net.Moments.of(sites[0].X_train) + net.Moments.of(sites[1].X_train)
    params = window.initial(spec, window.scaler_of(spec, moments), config.seed)
    for r in (1, 2):
        updates = []
        for i, site in enumerate(sites):
            new, _ = window.train_local(
                params, spec, site.X_train, site.y_train, epochs=1, seed=4 * 100_003 + r * 101 + i, round_=r, rounds=2
            )
            updates.append(({k: v for k, v in new.items() if k.startswith("net.")}, float(len(site.X_train))))
        params = net.average(updates) | {"scaler.mean": params["scaler.mean"], "scaler.scale": params["scaler.scale"]}
    assert set(outcome.params) == set(params)
    for name, value in params.items():
        np.testing.assert_allclose(outcome.params[name], value, atol=1e-6, err_msg=name)
    # more rounds: the federated GRU ranks worn windows below fresh ones on the held-out rows
    trained = simulate(sites, apps.FedConfig(sites=2, rounds=15, local_epochs=2, seed=4, **SMALL), engine="inprocess")
    X, y = np.concatenate([s.X_test for s in sites]), np.concatenate([s.y_test for s in sites])
    predicted = window.predict(trained.params, spec, X)
    assert np.corrcoef(predicted, y)[0, 1] > 0.8
    assert np.sqrt(np.mean((predicted - y) ** 2)) < 0.5 * np.std(y)


def test_federate_refuses_the_gru_it_cannot_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cnn"):
        federate(
            tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], task="rul", model="window",
            window_settings={"window_arch": "gru"},
        )  # fmt: skip
    with pytest.raises(ConfigError, match="window_arch"):
        apps.FedConfig(sites=2, window_arch="lstm")
