"""Production data from the twin: consistent with the simulation it post-processes, and valid KPI input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from forewarn.kpi import kpi_report, oee, validate_records
from forewarn.twin.fleet import build_fleet
from forewarn.twin.production import production_data


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    return build_fleet(sites=2, assets=6, days=60, seed=3, interval="1h", degradation_scale=4.0)


def test_records_add_up_to_the_schedule(fleet) -> None:  # type: ignore[no-untyped-def]
    data = production_data(fleet)
    r = data.records
    validate_records(r)  # a valid KPI input: stops within busy time, good <= produced, units within run time
    # planned busy time plus planned downtime is the scheduled time, asset by asset
    sched = fleet.regime.scheduled.sum(axis=1)
    per_asset = r.groupby("asset_id", sort=False)[["planned_busy_h", "planned_downtime_h"]].sum().sum(axis=1)
    assert per_asset.to_numpy() == pytest.approx(sched.astype(float))
    # three shifts a day, one row per asset and shift (the first C shift starts the day before)
    assert set(r["shift"]) == {"A", "B", "C"} and len(r) == 6 * (60 * 3 + 1)
    assert (r["energy_kwh"] > 0).any()
    # every failure of the simulation is a failure stop
    failures = data.events[data.events["reason"] == "failure"]
    assert len(failures) == len(fleet.plan.failures) > 0
    assert r["down_failure_h"].sum() > 0


def test_same_seed_same_data_and_a_worse_machine_makes_less(fleet) -> None:  # type: ignore[no-untyped-def]
    a, b = production_data(fleet), production_data(fleet)
    assert a.records.equals(b.records)
    healthy = build_fleet(sites=2, assets=6, days=60, seed=3, interval="1h", degradation=False)
    worn = oee(a.records, by=[]).iloc[0]
    fresh = oee(production_data(healthy).records, by=[]).iloc[0]
    assert fresh["availability"] > worn["availability"]
    assert fresh["quality"] >= worn["quality"]


def test_kpi_cli_on_files_matches_the_library(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from forewarn.cli.main import app

    data = production_data(fleet)
    data.records.to_csv(tmp_path / "records.csv", index=False)
    data.events.to_csv(tmp_path / "events.csv", index=False)
    args = ["kpi", "--records", str(tmp_path / "records.csv"), "--events", str(tmp_path / "events.csv")]
    out = CliRunner().invoke(app, [*args, "--by", "site", "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    expected = kpi_report(data.records, data.events, by="site")
    assert report["total"]["oee"] == pytest.approx(expected["total"]["oee"])
    assert [g["site_id"] for g in report["groups"]] == ["S1", "S2"]
    assert report["total"]["failures"] == len(fleet.plan.failures)
    assert np.isclose(sum(p["share"] for p in report["pareto"]), 1.0)
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "Downtime Pareto" in table.output
    bad = CliRunner().invoke(app, ["kpi"])
    assert bad.exit_code != 0 and "--records" in str(bad.exception)
    bad = CliRunner().invoke(app, ["kpi", "--simulate", "--assets", "1"])  # the options named, not FleetConfig
    assert bad.exit_code != 0 and "--assets 1 cannot fill --sites 2" in str(bad.exception)
