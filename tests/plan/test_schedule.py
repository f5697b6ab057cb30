"""The planner against schedules worked out by hand (costs written out next to each case)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.plan import AssetRisk, PlanProblem, plan_maintenance
from forewarn.plan.risk import problem_from_frame, risk_curve, write_orders


def _asset(name: str, cdf: list[float], **kw: object) -> AssetRisk:
    base: dict[str, object] = {
        "failure_cost": 10_000.0,
        "failure_downtime_h": 10.0,
        "job_cost": 1_000.0,
        "job_hours": 2.0,
    }
    return AssetRisk(name, str(kw.pop("line", "L1")), np.array(cdf), **(base | kw))  # type: ignore[arg-type]


def test_single_asset_takes_the_day_with_the_largest_saving() -> None:
    # failure 10000 + 10 h x 100 = 11000; job 1000 + 2 h x 100 = 1200; no job: 0.6 x 11000 = 6600
    # day 0: 1200 -> saves 5400; day 1: 0.1 x 11000 + 0.9 x 1200 = 2180 -> 4420; day 2: 4140 -> 2460
    problem = PlanProblem([_asset("A", [0.1, 0.3, 0.6])], horizon_days=3, default_downtime_cost_h=100.0)
    result = plan_maintenance(problem)
    assert [(o["asset_id"], o["day"]) for o in result.orders] == [("A", 0)]
    assert result.orders[0]["saving"] == pytest.approx(5400.0)
    assert result.objective == pytest.approx(5400.0)
    assert result.status == "optimal" and result.gap == pytest.approx(0.0, abs=1e-9)
    assert "the cheapest day" in result.orders[0]["why"]


def test_a_planned_line_stop_moves_the_job() -> None:
    # job of 20 h: 1000 + 2000 = 3000 (1000 on a planned stop); day 0 saves 6600 - 3000 = 3600;
    # day 1 on the stop: 0.1 x 11000 + 0.9 x 1000 = 2000 -> saves 4600
    asset = _asset("A", [0.1, 0.3, 0.6], job_hours=20.0)
    problem = PlanProblem(
        [asset],
        horizon_days=3,
        crew_hours={"mechanical": 24.0},
        planned_stops={"L1": [1]},
        default_downtime_cost_h=100.0,
    )
    order = plan_maintenance(problem).orders[0]
    assert (order["day"], order["planned_stop"]) == (1, True)
    assert order["saving"] == pytest.approx(4600.0)
    assert "planned line stop" in order["why"]


def test_crew_capacity_sends_the_smaller_saving_to_another_day() -> None:
    # one 4 h crew a day, two 4 h jobs; failure 11000, job 1000 + 400 = 1400
    # A: day 0 saves 0.7 x 11000 - 1400 = 6300, day 1 saves 7700 - (5500 + 700) = 1500
    # B: day 0 saves 2200 - 1400 = 800, day 1 saves 2200 - (550 + 1330) = 320
    # A0 + B1 = 6620 beats A1 + B0 = 2300
    a = _asset("A", [0.5, 0.6, 0.7], job_hours=4.0)
    b = _asset("B", [0.05, 0.1, 0.2], job_hours=4.0)
    result = plan_maintenance(
        PlanProblem([a, b], horizon_days=3, crew_hours={"mechanical": 4.0}, default_downtime_cost_h=100.0)
    )
    assert [(o["asset_id"], o["day"]) for o in result.orders] == [("A", 0), ("B", 1)]
    assert result.objective == pytest.approx(6620.0)
    assert "crew hours" in result.orders[1]["why"]


def test_parts_lead_time_and_stock_on_hand() -> None:
    # no seal on hand, 2 days lead: the job waits for day 2
    a = _asset("A", [0.3, 0.5, 0.7, 0.8], part="seal")
    result = plan_maintenance(PlanProblem([a], horizon_days=4, parts={"seal": (0, 2)}, default_downtime_cost_h=100.0))
    assert [o["day"] for o in result.orders] == [2]
    assert "lead time 2 d" in result.orders[0]["why"]
    # one bearing on hand, lead 3: only one of two urgent jobs before day 3, the other one at day 3
    jobs = [_asset(n, [0.5, 0.6, 0.7, 0.8], part="bearing") for n in ("B", "C")]
    result = plan_maintenance(
        PlanProblem(
            jobs,
            horizon_days=4,
            crew_hours={"mechanical": 8.0},
            parts={"bearing": (1, 3)},
            default_downtime_cost_h=100.0,
        )
    )
    assert sorted(o["day"] for o in result.orders) == [0, 3]


def test_no_crew_defers_and_days_off_are_respected() -> None:
    a = _asset("A", [0.5, 0.6, 0.7])
    result = plan_maintenance(
        PlanProblem([a], horizon_days=3, crew_hours={"mechanical": [0.0, 0.0, 8.0]}, default_downtime_cost_h=100.0)
    )
    assert [o["day"] for o in result.orders] == [2]
    result = plan_maintenance(PlanProblem([a], horizon_days=3, crew_hours={"mechanical": 1.0}))
    assert result.orders == [] and result.deferred == []  # a 2 h job never fits in 1 h: no variable at all


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cdf": [0.5, 0.2, 0.9]}, "must not decrease"),
        ({"cdf": [0.5, 0.6]}, "3 probabilities"),
        ({"skill": "electrical"}, "has no crew"),
        ({"part": "gearbox"}, "not in the parts list"),
        ({"job_cost": -5.0}, "job_cost"),
    ],
)
def test_bad_problems_are_named(kwargs: dict[str, object], match: str) -> None:
    cdf = kwargs.pop("cdf", [0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match=match):
        plan_maintenance(PlanProblem([_asset("A", cdf, **kwargs)], horizon_days=3))  # type: ignore[arg-type]


def test_risk_curves_from_probability_and_rul() -> None:
    # constant hazard: p = 0.75 within 2 days -> 1 - 0.25^(1/2) = 0.5 after one day
    cdf = risk_curve(pd.Series({"failure_probability": 0.75}), horizon_days=3, probability_days=2)
    assert cdf.tolist() == pytest.approx([0.5, 0.75, 1 - 0.25**1.5])
    # log-normal through the median: F(p50) = 0.5, F(p90) = 0.9
    cdf = risk_curve(pd.Series({"rul_p50_days": 4.0, "rul_p90_days": 9.0}), horizon_days=9)
    assert cdf[3] == pytest.approx(0.5) and cdf[8] == pytest.approx(0.9)
    with pytest.raises(SchemaError, match="no risk"):
        risk_curve(pd.Series({"asset_id": "A"}), horizon_days=3)
    frame = pd.DataFrame({"asset_id": ["A", "B"], "failure_probability": [0.2, 1.7]})
    with pytest.raises(SchemaError, match=r"line 3, column 'failure_probability'"):
        problem_from_frame(frame, horizon_days=5)


def test_work_orders_export(tmp_path: Path) -> None:
    result = plan_maintenance(
        PlanProblem([_asset("A", [0.1, 0.3, 0.6])], horizon_days=3, default_downtime_cost_h=100.0)
    )
    csv = pd.read_csv(write_orders(result, tmp_path / "wo.csv", start="2026-03-02"))
    assert csv.loc[0, ["work_order", "asset_id", "date"]].tolist() == ["WO-A-00", "A", "2026-03-02"]
    records = json.loads(write_orders(result, tmp_path / "wo.json").read_text())
    assert records[0]["saving"] == pytest.approx(5400.0)
    with pytest.raises(ConfigError, match=".csv or .json"):
        write_orders(result, tmp_path / "wo.xlsx")


def test_plan_cli_json_and_orders(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    risk = tmp_path / "risk.csv"
    risk.write_text(
        "asset_id,line_id,failure_probability,failure_cost,job_cost,job_hours,skill,part\n"
        "P1,L1,0.8,20000,1000,4,mechanical,bearing\nP2,L1,0.6,20000,1000,4,mechanical,\nP3,L2,0.01,20000,1000,4,mechanical,\n"
    )
    parts = tmp_path / "parts.csv"
    parts.write_text("part,on_hand,lead_days\nbearing,0,5\n")
    orders = tmp_path / "orders.csv"
    args = ["plan", "--risk", str(risk), "--horizon-days", "14", "--crew", "mechanical=4", "--start", "2026-01-05"]
    args += ["--days-off", "sat,sun", "--parts", str(parts), "--orders", str(orders), "--format", "json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)  # stdout holds only the JSON (no solver banner)
    days = {o["asset_id"]: o["date"] for o in payload["orders"]}
    # P2 at once; P1 waits for its bearing (day 5 is a Saturday, no crew): Monday 2026-01-12; P3 is not worth a job
    assert days == {"P2": "2026-01-05", "P1": "2026-01-12"}
    assert payload["summary"]["optimality_gap"] == pytest.approx(0.0, abs=1e-9)
    assert pd.read_csv(orders)["asset_id"].tolist() == ["P2", "P1"]
    bad = CliRunner().invoke(app, ["plan", "--risk", str(risk), "--crew", "mechanical"])
    assert bad.exit_code != 0 and "skill=hours" in bad.output + str(bad.exception)


def test_forewarn_scores_table_plans_once_its_horizon_is_given(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    # the header `forewarn score --format csv` writes; before, the planner refused it ("give failure_probability")
    score = tmp_path / "score.csv"
    score.write_text(
        "rank,asset_id,asset_class,site_id,status,last_reading,probability,health,risk,rul,rul_low,rul_high,unit,"
        "drivers,action\n"
        "1,P-7,pump,S1,in_service,2024-05-24 15:00:00+00:00,0.978,2.2,high,,,,hours,vib_kurtosis,inspect\n"
        "2,F-1,fan,S1,in_service,2024-05-24 15:00:00+00:00,0.0001,100.0,low,,,,hours,,no action\n"
    )
    frame = pd.read_csv(score)
    problem = problem_from_frame(frame, horizon_days=5, probability_days=1)
    expected = risk_curve(pd.Series({"failure_probability": 0.978}), horizon_days=5, probability_days=1)
    assert problem.assets[0].cdf.tolist() == pytest.approx(expected.tolist())
    assert problem.assets[0].cdf[0] == pytest.approx(0.978)  # within the model's 1 day, not spread over 5
    with pytest.raises(SchemaError, match=r"column 'probability'.*--probability-days"):
        problem_from_frame(frame, horizon_days=5)
    out = CliRunner().invoke(app, ["plan", "--risk", str(score), "--probability-days", "1", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [o["asset_id"] for o in json.loads(out.output)["orders"]] == ["P-7"]


@pytest.mark.parametrize("days", [0.0, -1.0])
def test_a_probability_horizon_of_zero_or_less_is_refused(days: float) -> None:
    # before: 0 fell back to the plan's horizon unsaid, -1 failed on an asset's curve without naming the option
    frame = pd.DataFrame({"asset_id": ["A"], "failure_probability": [0.5]})
    with pytest.raises(ConfigError, match=r"probability_days=.*--probability-days"):
        problem_from_frame(frame, horizon_days=5, probability_days=days)


def test_forewarn_scores_json_plans_like_its_csv_and_sets_aside_down_and_unscored(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    # `forewarn score --format json`'s records; before, plan refused anything but .csv/.parquet names, and a
    # score table's unscored row stopped the plan ("no risk: give failure_probability ...")
    rows = [
        {"rank": 1, "asset_id": "D-1", "status": "down", "probability": 1.0, "risk": "critical"},
        {"rank": 2, "asset_id": "P-7", "status": "in_service", "probability": 0.978, "risk": "high"},
        {"rank": 3, "asset_id": "F-1", "status": "in_service", "probability": 0.0001, "risk": "low"},
        {"rank": 4, "asset_id": "N-9", "status": "not scored", "probability": None, "risk": None},
    ]
    as_json = tmp_path / "score.json"
    as_json.write_text(json.dumps(rows, indent=1))
    as_csv = tmp_path / "score.out"  # CSV under a name that says nothing: read by content
    pd.DataFrame(rows).to_csv(as_csv, index=False)
    plans = []
    for path in (as_json, as_csv):
        out = CliRunner().invoke(app, ["plan", "--risk", str(path), "--probability-days", "1", "--format", "json"])
        assert out.exit_code == 0, out.output
        plans.append(json.loads(out.output))
    for payload in plans:
        assert [o["asset_id"] for o in payload["orders"]] == ["P-7"]
        assert [(a["asset_id"], a["status"]) for a in payload["not_planned"]] == [
            ("D-1", "down"),
            ("N-9", "not scored"),
        ]
        assert payload["not_planned"][0]["why"].startswith("down: failed and not renewed; repair it now")
    assert plans[0]["orders"][0]["saving"] == plans[1]["orders"][0]["saving"]
    table = CliRunner().invoke(app, ["plan", "--risk", str(as_json), "--probability-days", "1"])
    assert table.exit_code == 0 and "not planned: D-1: down" in table.output
    broken = tmp_path / "broken.json"
    broken.write_text('[{"asset_id": "P-7", "probability": ')
    bad = CliRunner().invoke(app, ["plan", "--risk", str(broken), "--probability-days", "1"])
    assert bad.exit_code != 0 and "not valid JSON" in bad.output + str(bad.exception)
    assert "Traceback" not in bad.output


def test_an_error_in_a_score_table_names_the_files_own_line(tmp_path: Path) -> None:
    frame = pd.DataFrame({"asset_id": ["D-1", "P-7"], "status": ["down", "in_service"], "probability": [1.0, 1.7]})
    from forewarn.plan.risk import plannable

    rows, _ = plannable(frame)
    with pytest.raises(SchemaError, match=r"line 3, column 'failure_probability'"):
        problem_from_frame(rows, horizon_days=5, probability_days=1)
