"""The Flower apps through an in-process Grid: what crosses, FedAvg weighted by samples, strategies, errors."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated import apps
from forewarn.federated import network as net
from forewarn.federated.inprocess import run_local
from forewarn.federated.simulate import SiteRows, simulate

REPO = Path(__file__).resolve().parents[2]


def _sites(sizes: tuple[int, ...] = (120, 360), seed: int = 0) -> list[SiteRows]:
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(sizes):
        X = rng.normal(i, 1.0 + i, (n, 3))
        y = (X[:, 0] - i > 0.7).astype(float)
        out.append(SiteRows(f"s{i}", X[: n - 40], y[: n - 40], X[n - 40 :], y[n - 40 :]))
    return out


def _write(tmp_path: Path, sites: list[SiteRows]) -> Path:
    for i, s in enumerate(sites):
        apps.write_site(apps.site_file(tmp_path / "sites", i), s.X_train, s.y_train, s.X_test, s.y_test)
    return tmp_path / "sites"


def test_only_parameters_and_metrics_cross_and_the_server_opens_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = _sites()
    folder = _write(tmp_path, sites)
    reads: list[str] = []
    real_read = apps.read_site
    monkeypatch.setattr(apps, "read_site", lambda path: reads.append(Path(path).name) or real_read(path))

    def no_store(*args: object, **kwargs: object) -> None:
        raise AssertionError("the federated run opened a store")

    import duckdb

    import forewarn.store

    monkeypatch.setattr(duckdb, "connect", no_store)
    monkeypatch.setattr(forewarn.store.Store, "__init__", no_store)
    config = apps.FedConfig(sites=2, rounds=2, local_epochs=1, hidden=(4,))
    grid = run_local(apps.server_app(config, str(tmp_path / "out")), apps.client_app(str(folder)), 2)
    # to the sites: parameters and settings; back: parameters and metrics (moments are per-feature sums)
    sent = {(kind, keys) for direction, _, kind, keys in grid.log if direction == "to-site"}
    back = {(kind, keys) for direction, _, kind, keys in grid.log if direction == "to-server"}
    assert sent == {("query", ("config",)), ("train", ("arrays", "config")), ("evaluate", ("arrays", "config"))}
    assert back == {("query", ("arrays", "metrics")), ("train", ("arrays", "metrics")), ("evaluate", ("metrics",))}
    # every array that came back is a parameter or a per-feature moment: never a row of data
    assert len(grid.log) == 2 * 2 * (1 + 2 * 2)  # 2 sites x (query + 2 rounds x (train + evaluate)), both ways
    # each site read its own file only, once per message it answered
    by_node = {101: "site-0.npz", 102: "site-1.npz"}
    expected = [by_node[node] for direction, node, _, _ in grid.log if direction == "to-site"]
    assert reads == expected
    assert (tmp_path / "out" / apps.GLOBAL_FILE).is_file()


def test_reply_arrays_are_parameters_not_rows(tmp_path: Path) -> None:
    sites = _sites((200, 200))
    folder = _write(tmp_path, sites)
    shapes: list[tuple[str, tuple[int, ...]]] = []
    client = apps.client_app(str(folder))

    def spy(message, context):  # type: ignore[no-untyped-def]
        reply = client(message, context)
        if "arrays" in reply.content:
            shapes.extend((k, tuple(v.shape)) for k, v in reply.content["arrays"].items())
        return reply

    run_local(apps.server_app(apps.FedConfig(sites=2, rounds=1, hidden=(4,)), str(tmp_path / "o")), spy, 2)
    allowed = {
        "count": (3,), "total": (3,), "squares": (3,),
        "layer0.weight": (4, 3), "layer0.bias": (4,), "layer1.weight": (1, 4), "layer1.bias": (1,),
    }  # fmt: skip
    assert shapes and all(allowed[k] == shape for k, shape in shapes)


def test_fedavg_is_the_sample_weighted_mean_of_the_sites_updates(tmp_path: Path) -> None:
    sites = _sites((100, 400))
    config = apps.FedConfig(sites=2, rounds=1, local_epochs=2, hidden=(5,), seed=7)
    outcome = simulate(sites, config, engine="inprocess")
    # redo round 1 by hand: the shared standardiser, the seeded start, each site's update, the weighted mean
    moments = net.Moments.of(sites[0].X_train) + net.Moments.of(sites[1].X_train)
    spec = config.net_spec(3)
    start = net.initial(spec, moments.scaler(), 7)
    updates = []
    for partition, site in enumerate(sites):
        seed = 7 * 100_003 + 1 * 101 + partition
        params, _ = net.train_local(start, spec, site.X_train, site.y_train, epochs=2, seed=seed)
        updates.append((params, float(len(site.X_train))))
    expected = net.average(updates)
    assert set(outcome.params) == set(expected)
    for key in expected:
        assert np.allclose(outcome.params[key], expected[key], atol=1e-6), key
    # and it is not the unweighted mean
    plain = net.average([(p, 1.0) for p, _ in updates])
    assert not np.allclose(outcome.params["layer0.weight"], plain["layer0.weight"], atol=1e-6)
    layers = sum(v.nbytes for k, v in outcome.params.items() if k.startswith("layer"))
    # 2 sites x (layers out, back, out again + mean and scale of 3 features in the train and evaluate configs)
    assert outcome.history["bytes_per_round"] == 2 * (3 * layers + 2 * 2 * 3 * 8)


@pytest.mark.parametrize("strategy", ["fedprox", "fedadam", "fedyogi"])
def test_other_strategies_run_and_learn(strategy: str) -> None:
    sites = _sites((300, 300))
    config = apps.FedConfig(sites=2, rounds=3, hidden=(6,), strategy=strategy, learning_rate=1e-2)
    outcome = simulate(sites, config, engine="inprocess")
    losses = [outcome.history["evaluate"][str(r)]["eval-loss"] for r in (1, 2, 3)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] + 0.05
    assert outcome.history["config"]["strategy"] == strategy


def test_central_differential_privacy_clips_and_noises_the_average() -> None:
    sites = _sites((300, 300))
    base = apps.FedConfig(sites=2, rounds=2, hidden=(6,), learning_rate=1e-2, seed=1)
    plain = simulate(sites, base, engine="inprocess")
    private = simulate(sites, replace(base, dp_noise=0.5, dp_clip=0.5), engine="inprocess")
    loud = simulate(sites, replace(base, dp_noise=50.0, dp_clip=0.5), engine="inprocess")
    assert np.array_equal(private.params["scaler.mean"], plain.params["scaler.mean"])  # the standardiser is fixed
    moved = np.abs(private.params["layer0.weight"] - plain.params["layer0.weight"]).max()
    assert moved > 1e-3
    loss = {name: run.history["evaluate"]["2"]["eval-loss"] for name, run in [("plain", plain), ("loud", loud)]}
    assert loss["loud"] > loss["plain"]
    with pytest.raises(ConfigError, match="dp_noise"):
        apps.FedConfig(sites=2, dp_noise=-1.0)


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ConfigError, match="strategy"):
        apps.FedConfig(sites=2, strategy="fedsgd")
    with pytest.raises(ConfigError, match="at least 2 sites"):
        apps.FedConfig(sites=1)
    sites = _sites()
    with pytest.raises(ConfigError, match="config.sites=3"):
        simulate(sites, apps.FedConfig(sites=3), engine="inprocess")
    odd = [sites[0], SiteRows("wide", np.zeros((5, 4)), np.zeros(5))]
    with pytest.raises(ConfigError, match="feature counts differ"):
        simulate(odd, apps.FedConfig(sites=2), engine="inprocess")
    with pytest.raises(ConfigError, match="engine"):
        simulate(sites, apps.FedConfig(sites=2), engine="grpc")


def test_only_the_federated_package_imports_flower() -> None:
    offenders = []
    for path in (REPO / "src" / "forewarn").rglob("*.py"):
        if "federated" in path.relative_to(REPO / "src" / "forewarn").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "flwr" or n.startswith("flwr.") for n in names):
                offenders.append(str(path))
    assert offenders == []


def test_the_model_does_not_depend_on_the_order_the_sites_answer_in(tmp_path: Path) -> None:
    """Replies arriving last-site-first (as a SuperLink or Ray may deliver them) give the bit-identical model:
    the server takes them in site order before Flower's float32 FedAvg adds them up."""
    from forewarn.federated.inprocess import SERVER_NODE, LocalGrid

    class Backwards(LocalGrid):
        def send_and_receive(self, messages, *, timeout=None):  # type: ignore[no-untyped-def]
            return list(reversed(list(super().send_and_receive(messages, timeout=timeout))))

    from flwr.app import Context, RecordDict

    sites = _sites((120, 360, 200, 90))
    folder = _write(tmp_path, sites)
    config = apps.FedConfig(sites=4, rounds=3, local_epochs=1, hidden=(5,), seed=1)
    outcomes = []
    for name, grid_class in (("forward", LocalGrid), ("backward", Backwards)):
        grid = grid_class(apps.client_app(str(folder)), 4)
        context = Context(run_id=1, node_id=SERVER_NODE, node_config={}, state=RecordDict(), run_config={})
        apps.server_app(config, str(tmp_path / name))(grid, context)
        with np.load(tmp_path / name / apps.GLOBAL_FILE) as saved:
            outcomes.append({k: saved[k] for k in saved.files})
    forward, backward = outcomes
    assert all(np.array_equal(forward[k], backward[k]) for k in forward)
    history = json.loads((tmp_path / "backward" / apps.HISTORY_FILE).read_text())
    assert history["site_order"] == [0, 1, 2, 3] and history["replies"]["train"] == {str(i): 3 for i in range(4)}
