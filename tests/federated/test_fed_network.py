"""The sites' network: shared standardiser, FedAvg arithmetic, class weights, FedProx, and the registry model it
becomes (the filed model computes exactly what was trained)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.federated import network as net


def test_moments_add_up_to_the_pooled_mean_and_spread() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(2.0, 3.0, (50, 3)), rng.normal(-1.0, 0.5, (30, 3))
    b[4, 1] = np.nan  # a missing value counts nowhere
    mean, scale = (net.Moments.of(a) + net.Moments.of(b)).scaler()
    pooled = np.vstack([a, b])
    assert np.allclose(mean, np.nanmean(pooled, axis=0))
    assert np.allclose(scale, np.nanstd(pooled, axis=0))


def test_moments_worked_example_and_constant_column() -> None:
    # [1, 3] and [5]: mean 3, variance ((1-3)^2 + 0 + (5-3)^2) / 3 = 8/3; a constant column gets spread 1
    m = net.Moments.of(np.array([[1.0, 7.0], [3.0, 7.0]])) + net.Moments.of(np.array([[5.0, 7.0]]))
    mean, scale = m.scaler()
    assert mean.tolist() == [3.0, 7.0]
    assert scale[0] == pytest.approx(np.sqrt(8 / 3)) and scale[1] == 1.0


def test_average_weights_by_samples() -> None:
    out = net.average([({"w": np.array([1.0, 2.0])}, 100.0), ({"w": np.array([3.0, 6.0])}, 300.0)])
    assert out["w"].tolist() == [2.5, 5.0]  # (1*100 + 3*300) / 400, (2*100 + 6*300) / 400
    with pytest.raises(ConfigError):
        net.average([({"w": np.array([1.0])}, 0.0)])


def test_class_weights_balanced_and_sqrt() -> None:
    y = np.array([0] * 90 + [1] * 10)
    balanced = net._class_weights(net.NetSpec(inputs=1, class_weight="balanced"), y)
    assert balanced is not None and balanced.tolist() == pytest.approx([100 / 180, 100 / 20])
    root = net._class_weights(net.NetSpec(inputs=1, class_weight="sqrt"), y)
    assert root is not None and root.tolist() == pytest.approx(np.sqrt([100 / 180, 100 / 20]).tolist())
    assert net._class_weights(net.NetSpec(inputs=1, class_weight=None), y) is None


def test_class_weights_find_more_rare_failures() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4))
    y = ((X[:, 0] + 0.6 * rng.normal(size=1500)) > 1.9).astype(float)  # about 4 % failures, overlapping
    recalls = {}
    for weight in (None, "balanced"):
        spec = net.NetSpec(inputs=4, hidden=(8,), class_weight=weight, learning_rate=1e-2)
        params, _ = net.train_local(net.initial(spec, net.Moments.of(X).scaler(), 0), spec, X, y, epochs=15, seed=0)
        recalls[weight] = ((net.predict(params, spec, X) >= 0.5) & (y == 1)).sum() / (y == 1).sum()
    assert recalls["balanced"] > recalls[None] + 0.2


def test_training_is_reproducible_and_fedprox_stays_closer_to_the_start() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(300, 3)), rng.uniform(0, 50, 300)
    spec = net.NetSpec(inputs=3, hidden=(6,), kind="regression", target_scale=50.0, learning_rate=1e-2)
    start = net.initial(spec, net.Moments.of(X).scaler(), 3)
    one, _ = net.train_local(start, spec, X, y, epochs=3, seed=5)
    two, _ = net.train_local(start, spec, X, y, epochs=3, seed=5)
    assert all(np.array_equal(one[k], two[k]) for k in one)

    def moved(p: dict[str, np.ndarray]) -> float:
        return float(sum(((p[k] - start[k]) ** 2).sum() for k in p if k.startswith("layer")))

    prox, _ = net.train_local(start, spec, X, y, epochs=3, seed=5, mu=10.0)
    assert moved(prox) < 0.5 * moved(one)


def test_head_fine_tuning_moves_only_the_last_layer() -> None:
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200).astype(float)
    spec = net.NetSpec(inputs=3, hidden=(5, 4))
    start = net.initial(spec, net.Moments.of(X).scaler(), 0)
    tuned, _ = net.train_local(start, spec, X, y, epochs=2, seed=0, trainable=("layer2",))
    assert np.array_equal(tuned["layer0.weight"], start["layer0.weight"])
    assert np.array_equal(tuned["layer1.bias"], start["layer1.bias"])
    assert not np.array_equal(tuned["layer2.weight"], start["layer2.weight"])


def test_registry_models_compute_what_the_network_computes() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 4))
    names = ["a__mean", "b__mean", "c__std", "d__last"]
    frame = pd.DataFrame(X, columns=names)
    spec = net.NetSpec(inputs=4, hidden=(8, 4), learning_rate=1e-2)
    params, _ = net.train_local(
        net.initial(spec, net.Moments.of(X).scaler(), 0), spec, X, (X[:, 0] > 0).astype(float), epochs=5, seed=0
    )
    model = net.as_estimator(params, spec, names)
    assert model.registry_name == "mlp-failure"
    assert np.allclose(model.predict_proba(frame), net.predict(params, spec, X), atol=1e-6)
    rspec = net.NetSpec(inputs=4, hidden=(6,), kind="regression", target_scale=125.0)
    rparams, _ = net.train_local(
        net.initial(rspec, net.Moments.of(X).scaler(), 1), rspec, X, 60 + 40 * X[:, 1], epochs=5, seed=0
    )
    rul = net.as_estimator(rparams, rspec, names)
    assert rul.registry_name == "mlp-rul"
    assert np.allclose(rul.predict(frame), net.predict(rparams, rspec, X), atol=1e-4)
    # the state round-trips like any model's (this is what a bundle saves)
    again = type(rul)(**rul.get_params()).set_state(rul.get_state())
    assert np.array_equal(again.predict(frame), rul.predict(frame))


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="kind"):
        net.NetSpec(inputs=3, kind="ranking")
    with pytest.raises(ConfigError, match="classes"):
        net.NetSpec(inputs=3, kind="multiclass", classes=1)
    spec = net.NetSpec(inputs=2)
    with pytest.raises(SchemaError, match="standardiser has 3"):
        net.initial(spec, (np.zeros(3), np.ones(3)), 0)
    params = net.initial(spec, (np.zeros(2), np.ones(2)), 0)
    with pytest.raises(SchemaError, match="rows"):
        net.train_local(params, spec, np.zeros((4, 2)), np.zeros(3), epochs=1, seed=0)
    with pytest.raises(ConfigError, match="multiclass|binary"):
        net.as_estimator(params, net.NetSpec(inputs=2, kind="multiclass", classes=3), ["a", "b"])
