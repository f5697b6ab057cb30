"""Secure aggregation with Flower's SecAgg+: the server never holds one site's parameters, and the global model is
plain FedAvg's up to the quantisation step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated import apps, secure
from forewarn.federated.inprocess import LocalGrid, run_local
from forewarn.federated.simulate import SiteRows, simulate


def _sites() -> list[SiteRows]:
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate((150, 250, 200)):
        X = rng.normal(size=(n, 4)) + 0.3 * i
        y = (X[:, 0] + X[:, 1] > 0.6 * i).astype(float)
        out.append(SiteRows(str(i), X, y, X[:40], y[:40]))
    return out


def _config() -> apps.FedConfig:
    return apps.FedConfig(sites=3, rounds=2, local_epochs=1, hidden=(8,), kind="binary", batch_size=64, seed=1)


@pytest.mark.slow  # ~4 s of CPU (torch, the key agreement), 30-40 s of wall at load 20
def test_secure_aggregation_gives_fedavg_to_the_quantisation_step() -> None:
    sites = _sites()
    plain = simulate(sites, _config(), engine="inprocess").params
    secured, record = secure.federate_secure(sites, _config())
    assert set(secured) == set(plain)
    # each site's weighted parameters are clipped to +-8 and quantised to 2**22 levels: a step of 16 / 2**22 = 4e-6
    # per site on the weighted sum; far below any training change (round 2 moves weights by ~1e-2)
    worst = max(float(np.abs(secured[k] - plain[k]).max()) for k in plain)
    assert 0 < worst < 1e-4
    # the moments query, then per round SecAgg+'s four stages (setup, share keys, masked vectors, unmask)
    assert record["messages"] == 3 * (1 + 2 * 4) and record["num_shares"] == 3


class _Watching(LocalGrid):
    """A grid that keeps every train reply the server receives."""

    seen: list[Any] = []

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> Any:
        replies = list(super().send_and_receive(messages, timeout=timeout))
        _Watching.seen += [r for r in replies if str(r.metadata.message_type).startswith("train")]
        return replies


def test_the_server_receives_no_site_parameters(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.federated import inprocess

    for i, site in enumerate(_sites()):
        apps.write_site(apps.site_file(tmp_path / "sites", i), site.X_train, site.y_train, site.X_test, site.y_test)
    monkeypatch.setattr(inprocess, "LocalGrid", _Watching)
    _Watching.seen = []
    server = secure.secure_server_app(_config(), str(tmp_path / "out"))
    run_local(server, secure.secure_client_app(str(tmp_path / "sites")), 3)
    assert len(_Watching.seen) == 3 * 2 * 4
    # no reply carries an array: the masked vectors travel as bytes in the SecAgg+ config record
    assert all(len(r.content.array_records[k]) == 0 for r in _Watching.seen for k in r.content.array_records)
    masked = [r for r in _Watching.seen if "masked_params" in r.content.config_records["secaggplus_configs"]]
    assert len(masked) == 3 * 2


def test_secure_aggregation_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ConfigError, match="FedAvg"):
        secure.secure_server_app(apps.FedConfig(sites=3, strategy="fedprox"), "unused")
    with pytest.raises(ConfigError, match="num_shares"):
        secure.secure_server_app(_config(), "unused", num_shares=5)
    with pytest.raises(ConfigError, match="at least 3 sites"):
        secure.secure_server_app(apps.FedConfig(sites=2), "unused")
