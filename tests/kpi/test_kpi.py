"""KPIs against worked examples computed by hand (the arithmetic is written next to each figure)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.kpi import downtime_pareto, kpi_report, mtbf_mttr, oee, opportunities, six_big_losses

EXACT = 1e-12


def _records() -> pd.DataFrame:
    # P1: an 8 h shift with 1 h failure, 0.5 h changeover, 0.5 h starvation; 480 made at 100/h, 456 good
    #     (4 of the 24 scrapped at start-up); 120 kWh.  P2: 8 h without a stop, 300 made at 50/h, 297 good; 80 kWh.
    #     P3 (another line): 8 h planned, 4 h failure, 200 made at 100/h, all good.
    return pd.DataFrame(
        {
            "asset_id": ["P1", "P2", "P3"],
            "line_id": ["L1", "L1", "L2"],
            "site_id": ["S1", "S1", "S1"],
            "shift": ["A", "A", "B"],
            "planned_busy_h": [8.0, 8.0, 8.0],
            "down_failure_h": [1.0, 0.0, 4.0],
            "down_changeover_h": [0.5, 0.0, 0.0],
            "down_starvation_h": [0.5, 0.0, 0.0],
            "produced": [480, 300, 200],
            "good": [456, 297, 200],
            "startup_scrap": [4, 0, 0],
            "ideal_rate": [100.0, 50.0, 100.0],
            "energy_kwh": [120.0, 80.0, 50.0],
        }
    )


def _events() -> pd.DataFrame:
    rows = [
        ("P1", "2024-01-01 06:30", "2024-01-01 07:00", "failure"),
        ("P1", "2024-01-01 09:00", "2024-01-01 09:30", "failure"),
        ("P1", "2024-01-01 06:00", "2024-01-01 06:30", "changeover"),
        ("P1", "2024-01-01 11:00", "2024-01-01 11:30", "starvation"),
        ("P3", "2024-01-01 14:00", "2024-01-01 18:00", "failure"),
    ]
    return pd.DataFrame(rows, columns=["asset_id", "start", "end", "reason"])


def test_oee_per_asset_equals_the_hand_computed_example() -> None:
    out = oee(_records()).set_index("asset_id")
    # P1: APT = 8 - 2 = 6 h; A = 6/8; P = (480/100)/6 = 0.8; Q = 456/480 = 0.95; OEE = 0.57
    assert out.loc["P1", "availability"] == pytest.approx(0.75, abs=EXACT)
    assert out.loc["P1", "performance"] == pytest.approx(0.8, abs=EXACT)
    assert out.loc["P1", "quality"] == pytest.approx(0.95, abs=EXACT)
    assert out.loc["P1", "oee"] == pytest.approx(0.57, abs=EXACT)
    assert out.loc["P1", "energy_per_good_kwh"] == pytest.approx(120 / 456, abs=EXACT)
    # P2: A = 1; P = (300/50)/8 = 0.75; Q = 0.99; OEE = 0.7425
    assert out.loc["P2", ["availability", "performance", "quality", "oee"]].tolist() == pytest.approx(
        [1.0, 0.75, 0.99, 0.7425], abs=EXACT
    )
    # P3: A = 4/8; P = 2/4; Q = 1; OEE = 0.25
    assert out.loc["P3", "oee"] == pytest.approx(0.25, abs=EXACT)


def test_oee_per_line_is_a_ratio_of_sums() -> None:
    line = oee(_records(), by=["line_id"]).set_index("line_id").loc["L1"]
    # PBT 16 h, APT 6 + 8 = 14 h, ideal time 4.8 + 6 = 10.8 h, good ideal time 4.56 + 5.94 = 10.5 h
    assert line["availability"] == pytest.approx(14 / 16, abs=EXACT)
    assert line["performance"] == pytest.approx(10.8 / 14, abs=EXACT)
    assert line["quality"] == pytest.approx(10.5 / 10.8, abs=EXACT)
    assert line["oee"] == pytest.approx(10.5 / 16, abs=EXACT)
    assert line["energy_per_good_kwh"] == pytest.approx(200 / 753, abs=EXACT)
    # the quality ratio weighs units by their planned run time, not the raw count 753 / 780
    assert line["quality"] != pytest.approx(753 / 780)
    # A x P x Q = PRI x GQ / PBT holds for the group
    assert line["availability"] * line["performance"] * line["quality"] == pytest.approx(10.5 / 16, abs=EXACT)


def test_six_big_losses_add_up_to_the_lost_time() -> None:
    losses = six_big_losses(_records(), by=["asset_id"]).set_index("asset_id")
    p1 = losses.loc["P1"]
    # breakdowns 1, set-up 0.5, minor stops 0.5, speed 6 - 4.8 = 1.2, start-up rejects 4/100, rejects 20/100
    expected = {
        "breakdowns": 1.0,
        "setup_adjustments": 0.5,
        "idling_minor_stops": 0.5,
        "reduced_speed": 1.2,
        "startup_rejects": 0.04,
        "production_rejects": 0.2,
    }
    for name, hours in expected.items():
        assert p1[name] == pytest.approx(hours, abs=EXACT), name
    total = sum(p1[name] for name in expected)
    assert total == pytest.approx(8.0 * (1 - 0.57), abs=EXACT)  # PBT x (1 - OEE) = 3.44 h
    whole = six_big_losses(_records()).iloc[0]
    assert whole["breakdowns"] == pytest.approx(5.0, abs=EXACT)
    assert whole["reduced_speed"] == pytest.approx(1.2 + 2.0 + 2.0, abs=EXACT)


def test_mtbf_mttr_from_events_and_operating_time() -> None:
    out = mtbf_mttr(_records(), _events()).set_index("asset_id")
    # P1: two 0.5 h failures in 6 h of operation: MTBF 3 h, MTTR 0.5 h
    assert out.loc["P1", ["failures", "mtbf_h", "mttr_h"]].tolist() == pytest.approx([2, 3.0, 0.5], abs=EXACT)
    # P2 never failed: MTBF undefined
    assert out.loc["P2", "failures"] == 0 and math.isnan(out.loc["P2", "mtbf_h"])
    line = mtbf_mttr(_records(), _events(), by=["line_id"]).set_index("line_id")
    # L1: 14 h of operation, 2 failures
    assert line.loc["L1", "mtbf_h"] == pytest.approx(7.0, abs=EXACT)
    assert line.loc["L2", ["mtbf_h", "mttr_h"]].tolist() == pytest.approx([4.0, 4.0], abs=EXACT)


def test_downtime_pareto_orders_and_accumulates() -> None:
    pareto = downtime_pareto(_events())
    # failure 0.5 + 0.5 + 4 = 5 h, changeover 0.5, starvation 0.5 (ties by name); total 6 h
    assert pareto["reason"].tolist() == ["failure", "changeover", "starvation"]
    assert pareto["hours"].tolist() == pytest.approx([5.0, 0.5, 0.5], abs=EXACT)
    assert pareto["stops"].tolist() == [3, 1, 1]
    assert pareto["cumulative_share"].tolist() == pytest.approx([5 / 6, 5.5 / 6, 1.0], abs=EXACT)


def test_opportunities_rank_the_gain_of_halving_each_loss() -> None:
    opp = opportunities(_records(), by="line_id")
    first = opp.iloc[0]
    # L2: breakdowns 4 h and reduced speed 2 h in 8 h; halving the breakdowns gives 2 h = 25 OEE points and
    # 2 h x 100 good per ideal hour = 200 units
    assert (first["line_id"], first["loss"]) == ("L2", "breakdowns")
    assert first[["gain_h", "oee_gain_points", "extra_good_units"]].tolist() == pytest.approx([2.0, 25.0, 200.0])
    l1 = opp[opp["line_id"] == "L1"].iloc[0]
    # L1: reduced speed 1.2 + 2 = 3.2 h of 16 h: 10 points; good per ideal hour 753 / 10.5
    assert l1["loss"] == "reduced_speed"
    assert l1["oee_gain_points"] == pytest.approx(10.0, abs=EXACT)
    assert l1["extra_good_units"] == pytest.approx(1.6 * 753 / 10.5, abs=1e-9)
    assert opportunities(_records(), by="line_id", top=1).shape[0] == 2


def test_report_by_line_and_total() -> None:
    report = kpi_report(_records(), _events(), by="line")
    groups = {g["line_id"]: g for g in report["groups"]}
    assert groups["L1"]["oee"] == pytest.approx(10.5 / 16, abs=1e-6)
    assert groups["L2"]["failures"] == 1
    # site total: good ideal time 4.56 + 5.94 + 2 = 12.5 h over 24 h
    assert report["total"]["oee"] == pytest.approx(12.5 / 24, abs=1e-6)
    assert report["total"]["failures"] == 3
    assert report["pareto"][0]["reason"] == "failure"
    with pytest.raises(ConfigError, match="unknown grouping"):
        kpi_report(_records(), _events(), by="planet")


@pytest.mark.parametrize(
    ("column", "value", "match", "named"),
    [
        ("good", 999, "good 999 exceeds produced 480", "good"),
        ("produced", "x", "'x' is not a number", "produced"),
        ("down_failure_h", 9.0, "stops of 10 h exceed the planned busy time 8 h", "planned_busy_h"),
        ("ideal_rate", 0.0, "ideal_rate must be > 0", "ideal_rate"),
        ("produced", 1000, "need more than the", "produced"),
    ],
)
def test_bad_records_are_rejected_naming_row_and_column(column: str, value: object, match: str, named: str) -> None:
    records = _records().astype({column: object})
    records.loc[0, column] = value
    with pytest.raises(SchemaError, match=match) as err:
        oee(records)
    assert f"line 2, column '{named}'" in str(err.value)


def test_missing_columns_and_bad_events() -> None:
    with pytest.raises(SchemaError, match="missing column"):
        oee(pd.DataFrame({"asset_id": ["P1"]}))
    bad = _events()
    bad.loc[1, "end"] = "2023-01-01"
    with pytest.raises(SchemaError, match="ends before it starts"):
        downtime_pareto(bad)


def test_a_shift_that_made_nothing_good_has_oee_zero_not_blank() -> None:
    # D: down for the whole 8 h shift (a breakdown): A = 0, P undefined (no run time), OEE = PRI x GQ / PBT = 0.
    # I: ran 8 h and made nothing: A = 1, P = 0, Q undefined (nothing produced), OEE = 0.
    # Before, both read OEE NaN (blank in the table, null in JSON) since A x P x Q carried the undefined factor.
    records = pd.DataFrame(
        {
            "asset_id": ["D", "I"],
            "planned_busy_h": [8.0, 8.0],
            "down_failure_h": [8.0, 0.0],
            "produced": [0, 0],
            "good": [0, 0],
            "ideal_rate": [100.0, 100.0],
        }
    )
    out = oee(records).set_index("asset_id")
    assert out.loc["D", "availability"] == 0.0 and math.isnan(out.loc["D", "performance"])
    assert out.loc["I", "performance"] == 0.0 and math.isnan(out.loc["I", "quality"])
    assert out["oee"].tolist() == [0.0, 0.0]
    assert [g["oee"] for g in kpi_report(records, by="asset")["groups"]] == [0.0, 0.0]


def test_records_without_lines_are_told_to_group_by_asset(tmp_path: Path) -> None:
    # before: "the production records have no 'line_id' column to group by line", with no way out named
    from typer.testing import CliRunner

    from forewarn.cli.main import app

    records = _records().drop(columns=["line_id", "site_id", "shift"])
    with pytest.raises(ConfigError, match=r"no 'line_id' column to group by line; group by asset \(--by asset"):
        kpi_report(records, by="line")
    path = tmp_path / "records.csv"
    records.to_csv(path, index=False)
    out = CliRunner().invoke(app, ["kpi", "--records", str(path)])
    assert out.exit_code != 0 and "--by asset" in out.output + str(out.exception)
    assert "Traceback" not in out.output
    # the same records as JSON (read by content, whatever the name) group by asset
    as_json = tmp_path / "records.txt"
    as_json.write_text(records.to_json(orient="records"))
    out = CliRunner().invoke(app, ["kpi", "--records", str(as_json), "--by", "asset", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [g["asset_id"] for g in json.loads(out.output)["groups"]] == ["P1", "P2", "P3"]
