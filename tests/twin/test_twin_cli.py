"""``forewarn simulate`` and ``forewarn twin whatif`` on a tiny Typer app."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from forewarn.cli.twin import register
from forewarn.exceptions import ConfigError, DataNotFoundError, UnknownAssetError


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def simulated(app, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--sites",
            "2",
            "--assets",
            "4",
            "--days",
            "10",
            "--seed",
            "7",
            "--interval",
            "10min",
            "--store",
            str(folder / "fleet.duckdb"),
            "--parquet",
            str(folder / "pq"),
            "--snapshots",
            "--snapshot-every-days",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    return folder, result.output


def test_simulate_writes_store_parquet_and_snapshots(simulated) -> None:
    from forewarn.store import Store

    folder, output = simulated
    assert "simulated 4 assets at 2 sites for 10 days" in output and "57,600 asset-minutes" in output
    readings = pd.read_parquet(folder / "pq" / "readings.parquet")
    assert len(readings) == 4 * 10 * 144
    with Store(folder / "fleet.duckdb", read_only=True) as store:
        assert len(store.assets()) == 4
        assert store.count_readings() == int(readings.drop(columns=["asset_id", "ts"]).notna().sum().sum())
    snaps = sorted((folder / "pq" / "snapshots").glob("*.npz"))
    assert len(snaps) == 4
    with np.load(snaps[0]) as snap:
        assert snap["signal"].shape == (2, 25_600) and float(snap["fs"]) == 25_600.0


def test_whatif_prints_the_outcome_table(app, simulated) -> None:
    folder, _ = simulated
    result = CliRunner().invoke(
        app,
        [
            "twin",
            "whatif",
            "--store",
            str(folder / "fleet.duckdb"),
            "--asset",
            "S1-P001",
            "--load",
            "1.1",
            "--runs",
            "40",
            "--horizon-days",
            "30",
            "--cooling",
            "0.8",
            "--maintenance-in-days",
            "10",
        ],
        terminal_width=160,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "S1-P001" in out and "time to failure" in out and "median" in out and "load x1.1" in out
    assert "in 10 days" in out and "winding_temp" in out


def test_user_errors_are_forewarn_errors(app, simulated, tmp_path) -> None:
    folder, _ = simulated
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--days", "1"])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app, ["twin", "whatif", "--store", str(folder / "fleet.duckdb"), "--asset", "X-9"])
    assert isinstance(result.exception, UnknownAssetError) and "S1-" in str(result.exception)
    result = runner.invoke(app, ["twin", "whatif", "--store", str(tmp_path / "none.duckdb"), "--asset", "X"])
    assert isinstance(result.exception, DataNotFoundError)
    result = runner.invoke(
        app, ["twin", "whatif", "--store", str(folder / "fleet.duckdb"), "--asset", "S1-P001", "--load", "9"]
    )
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app, ["simulate", "--days", "1", "--interval", "7min", "--parquet", str(tmp_path / "p")])
    assert isinstance(result.exception, ConfigError)
