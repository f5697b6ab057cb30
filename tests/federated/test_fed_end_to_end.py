"""End to end: Flower's simulation engine on Ray gives the in-process run's model; ``forewarn federate`` on a
simulated multi-site plant files a bundle the registry serves."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.bundles.bundle import Bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError
from forewarn.federated import apps
from forewarn.federated.federate import federate
from forewarn.federated.simulate import SiteRows, simulate
from forewarn.store import Store
from forewarn.twin.demo import DEMO_CONFIG
from forewarn.twin.fleet import simulate_fleet


@pytest.mark.slow
@pytest.mark.timeout(900)  # Ray's start and stop: minutes on a loaded machine
def test_ray_simulation_gives_the_in_process_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sites = []
    for i, n in enumerate((150, 250, 200)):
        X = rng.normal(i, 1.0, (n, 4))
        y = (X[:, 1] - i > 0.5).astype(float)
        sites.append(SiteRows(f"s{i}", X[:-30], y[:-30], X[-30:], y[-30:]))
    config = apps.FedConfig(sites=3, rounds=2, local_epochs=1, hidden=(6,), seed=3)
    on_ray = simulate(sites, config, engine="ray")
    in_process = simulate(sites, config, engine="inprocess")
    assert on_ray.history["engine"] == "ray" and on_ray.history["sites"] == 3
    for key, value in in_process.params.items():  # bit for bit: the server adds the sites' updates in site order
        assert np.array_equal(on_ray.params[key], value), key
    assert on_ray.history["train"] == in_process.history["train"]
    assert not Path(on_ray.history["engine_tmp"]).exists()  # Ray's temporary folder went with the run


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plants") / "plants.duckdb"
    config = replace(DEMO_CONFIG, sites=2, assets=24, days=45)
    with Store(path) as db:
        simulate_fleet(config, seed=2).to_store(db)
    return path


@pytest.mark.slow
def test_federate_files_a_bundle_the_registry_serves(plant: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with Store(plant) as db:
        assets = db.assets()
    sites = sorted(assets["site_id"].unique())
    result = federate(
        models,
        store=plant,
        sites=sites,
        task="failure",
        classes="pump",
        horizon="72h",
        interval="3h",
        rounds=3,
        local_epochs=1,
        hidden=(16,),
        engine="inprocess",
    )
    assert (result.version, result.promoted) == ("v1", True)
    card = json.loads((result.folder / "card.json").read_text())
    assert card["model"] == "mlp-failure" and card["federation"]["sites"] == sites
    assert card["federation"]["bytes_per_round"] > 0 and set(card["metrics"]["sites"]) == set(sites)
    bundle = Bundle(result.folder)
    features = pd.DataFrame(
        np.random.default_rng(0).normal(size=(5, len(bundle.model.feature_names_in_))),
        columns=bundle.model.feature_names_in_,
    )
    assert np.allclose(bundle.model.predict_proba(features), result_model(result.folder).predict_proba(features))
    assert ModelRegistry(models).active_version("failure") == "v1"
    # the command line files the next version, not live
    out = CliRunner().invoke(
        app,
        [
            "federate", "--store", str(plant), "--sites", ",".join(sites), "--models", str(models),
            "--class", "pump", "--horizon", "72h", "--interval", "3h", "--rounds", "2", "--engine", "inprocess",
            "--json", str(tmp_path / "card.json"), "--dp-noise", "0.1", "--dp-clip", "2",
        ],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "filed failure v2 (mlp-failure, not live)" in out.output
    second = json.loads((tmp_path / "card.json").read_text())
    assert second["version"] == "v2"
    assert second["federation"]["differential_privacy"] == {"noise_multiplier": 0.1, "clipping_norm": 2.0}
    assert card["federation"]["differential_privacy"] is None and card["federation"]["secure_aggregation"] is None
    # Flower's SecAgg+ needs three sites or more: with two, each would read the other's update off the sum
    out = CliRunner().invoke(
        app,
        [
            "federate", "--store", str(plant), "--sites", ",".join(sites), "--models", str(models),
            "--class", "pump", "--horizon", "72h", "--interval", "3h", "--rounds", "1", "--engine", "inprocess",
            "--secure-aggregation",
        ],
    )  # fmt: skip
    assert len(sites) == 2 and out.exit_code != 0 and "at least 3 sites" in str(out.exception)


def result_model(folder: Path) -> object:
    from forewarn.base.persistence import load

    return load(folder)


def test_federate_refuses_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either one store per site"):
        federate(tmp_path / "m", task="failure")
    with pytest.raises(ConfigError, match="at least two --sites"):
        federate(tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1"])
    with pytest.raises(ConfigError, match="failure or rul"):
        federate(tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], task="anomaly")
    with pytest.raises(ConfigError, match="engine inprocess only"):
        federate(tmp_path / "m", store=tmp_path / "x.duckdb", sites=["S1", "S2"], secure_aggregation=True)
    out = CliRunner().invoke(app, ["federate", "--models", str(tmp_path / "m"), "--site-store", str(tmp_path / "a")])
    assert out.exit_code != 0 and "at least two site stores" in str(out.exception)


def test_federate_checks_the_run_and_the_sites_before_reading_rows(plant: Path, tmp_path: Path) -> None:
    # a site the store does not have was reported as the *first* site's channels it "cannot read"
    with pytest.raises(ConfigError, match=r"--sites S9: not in the store \(it has S1, S2\)"):
        federate(tmp_path / "m", store=plant, sites=["S1", "S9"], engine="inprocess")
    # a typo in --engine or --strategy came after every site's rows were read (minutes on a real plant)
    missing = tmp_path / "none.duckdb"  # never opened: the options are refused first
    with pytest.raises(ConfigError, match="engine='bogus'"):
        federate(tmp_path / "m", store=missing, sites=["S1", "S2"], engine="bogus")
    with pytest.raises(ConfigError, match="strategy='bogus'"):
        federate(tmp_path / "m", store=missing, sites=["S1", "S2"], strategy="bogus", engine="inprocess")
    with pytest.raises(ConfigError, match="without central DP"):
        federate(tmp_path / "m", store=missing, sites=list("ABC"), secure_aggregation=True, engine="inprocess",
                 dp_noise=0.5)  # fmt: skip


def test_a_site_without_failing_held_out_rows_says_so() -> None:
    from types import SimpleNamespace

    from forewarn.federated.federate import _held_metrics
    from forewarn.train.spec import TrainSpec

    X = pd.DataFrame({"a": np.arange(6.0)})
    model = SimpleNamespace(predict_proba=lambda X: np.linspace(0, 1, len(X)))
    site = SimpleNamespace(X=X, y=np.zeros(6), held=np.array([True] * 4 + [False] * 2))
    assert _held_metrics(model, TrainSpec(task="failure"), site) == {"rows": 4.0, "failure_rows": 0.0}
    site.y = np.array([0, 0, 1, 1, 0, 0.0])
    figures = _held_metrics(model, TrainSpec(task="failure"), site)
    assert figures["failure_rows"] == 2.0 and figures["roc_auc"] == 1.0


def test_site_stores_with_one_file_name_stay_separate_sites(plant: Path, tmp_path: Path) -> None:
    from forewarn.federated.federate import site_names

    # plants that each export store.duckdb were all named "store": one entry in the card for several sites
    assert site_names([tmp_path / "a" / "store.duckdb", tmp_path / "b" / "store.duckdb"]) == ["a-store", "b-store"]
    assert site_names(["x/a/s.duckdb", "y/a/s.duckdb"]) == ["a-s-1", "a-s-2"]
    # the same store twice trained one plant's rows as two sites
    with pytest.raises(ConfigError, match="given twice"):
        federate(tmp_path / "m", stores=[plant, plant], engine="inprocess")
