"""A floor of optimiser steps per site and round: a small site passes over its rows more often."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated import apps
from forewarn.federated import network as net
from forewarn.federated.simulate import SiteRows, simulate


def _sites(sizes: tuple[int, ...]) -> list[SiteRows]:
    rng = np.random.default_rng(3)
    out = []
    for i, n in enumerate(sizes):
        X = rng.normal(i, 1.0, (n, 3))
        y = (X[:, 0] - i > 0.5).astype(float)
        out.append(SiteRows(f"s{i}", X[: n - 20], y[: n - 20], X[n - 20 :], y[n - 20 :]))
    return out


def test_each_site_takes_at_least_the_floor_of_steps_in_a_round() -> None:
    sites = _sites((80, 420))  # 60 and 400 training rows: 1 and 7 batches of 64
    config = apps.FedConfig(sites=2, rounds=1, local_epochs=1, min_local_steps=12, hidden=(4,), batch_size=64, seed=5)
    assert config.train_config()["min-local-steps"] == 12
    outcome = simulate(sites, config, engine="inprocess")
    moments = net.Moments.of(sites[0].X_train) + net.Moments.of(sites[1].X_train)
    spec = config.net_spec(3)
    start = net.initial(spec, moments.scaler(), 5)
    updates = []
    for partition, (site, epochs) in enumerate(zip(sites, (12, 2), strict=True)):  # ceil(12 / 1), ceil(12 / 7)
        assert net.epochs_for(len(site.X_train), 64, 1, 12) == epochs
        seed = 5 * 100_003 + 1 * 101 + partition
        params, _ = net.train_local(start, spec, site.X_train, site.y_train, epochs=epochs, seed=seed)
        updates.append((params, float(len(site.X_train))))
    expected = net.average(updates)
    for key in expected:
        assert np.allclose(outcome.params[key], expected[key], atol=1e-6), key
    # without the floor the small site makes one pass: another model
    plain = simulate(
        sites, apps.FedConfig(sites=2, rounds=1, local_epochs=1, hidden=(4,), batch_size=64, seed=5), engine="inprocess"
    )
    assert not np.allclose(plain.params["layer0.weight"], outcome.params["layer0.weight"], atol=1e-4)


def test_the_floor_leaves_large_sites_and_explicit_epochs_alone() -> None:
    assert net.epochs_for(5000, 64, 3, 20) == 3
    assert net.epochs_for(100, 64, 1, 0) == 1
    assert net.epochs_for(0, 64, 1, 5) == 5  # no rows: one (empty) batch a pass, never a division by zero


def test_a_negative_floor_is_refused() -> None:
    with pytest.raises(ConfigError, match="min_local_steps=-1"):
        apps.FedConfig(sites=2, min_local_steps=-1)
