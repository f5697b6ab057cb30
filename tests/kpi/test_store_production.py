"""Production records and stops in the store: written whole or not at all, re-ingest idempotent, read back equal."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.exceptions import SchemaError, UnknownAssetError
from forewarn.kpi import kpi_report
from forewarn.store import Store
from forewarn.store.production import read_production, write_production
from forewarn.twin.fleet import build_fleet
from forewarn.twin.production import production_data


@pytest.fixture(scope="module")
def fleet_data():  # type: ignore[no-untyped-def]
    fleet = build_fleet(sites=2, assets=4, days=20, seed=2, interval="1h", degradation_scale=5.0)
    return fleet, production_data(fleet)


def test_round_trip_and_idempotent(fleet_data) -> None:  # type: ignore[no-untyped-def]
    fleet, data = fleet_data
    with Store() as store:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
        counts = write_production(store, data.records, data.events, source="twin")
        assert counts == {"records": len(data.records), "events": len(data.events)}
        write_production(store, data.records, data.events, source="twin again")  # same keys: replaced
        rec, ev = read_production(store)
        assert len(rec) == len(data.records) and len(ev) == len(data.events)
        assert kpi_report(rec, ev, by="site")["total"] == kpi_report(data.records, data.events, by="site")["total"]
        first_day = data.records["day"].min()
        assert set(read_production(store, first_day, first_day)[0]["day"]) == {first_day}


def test_bad_batches_write_nothing(fleet_data) -> None:  # type: ignore[no-untyped-def]
    fleet, data = fleet_data
    with Store() as store:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
        bad = data.records.copy()
        bad.loc[3, "good"] = bad.loc[3, "produced"] + 1
        with pytest.raises(SchemaError, match="line 5, column 'good'"):
            write_production(store, bad)
        stranger = data.records.head(2).assign(asset_id="NOPE")
        with pytest.raises(UnknownAssetError, match="NOPE"):
            write_production(store, stranger)
        events = data.events.copy()
        events.loc[0, "reason"] = "gremlins"
        with pytest.raises(SchemaError, match="'gremlins'"):
            write_production(store, data.records, events)  # the records of this batch are not written either
        assert read_production(store)[0].empty


def test_kpi_cli_ingests_into_and_reads_from_a_store(fleet_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from forewarn.cli.main import app

    fleet, data = fleet_data
    path = tmp_path / "plant.duckdb"
    with Store(path) as store:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
    data.records.to_csv(tmp_path / "r.csv", index=False)
    data.events.to_csv(tmp_path / "e.csv", index=False)
    args = ["kpi", "--store", str(path), "--format", "json", "--by", "line"]
    first = CliRunner().invoke(app, [*args, "--records", str(tmp_path / "r.csv"), "--events", str(tmp_path / "e.csv")])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["total"] == json.loads(first.output)["total"]
    assert json.loads(again.output)["total"]["oee"] == pytest.approx(
        kpi_report(data.records, by="line")["total"]["oee"]
    )
    assert pd.read_csv(tmp_path / "r.csv").shape[0] == len(data.records)
