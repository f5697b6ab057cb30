"""``forewarn bench policy`` end to end on a small fleet (the full 100 assets x 1 year is a benchmark, not a test)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import forewarn.bench.policy as policy

pytestmark = pytest.mark.slow


def test_bench_policy_cli_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.cli.main import app

    small = functools.partial(policy.run_policies, assets=12, sites=2, days=90, history_seeds=1, degradation_scale=8.0)
    monkeypatch.setattr(policy, "run_policies", small)
    monkeypatch.setattr(policy, "INTERVALS", (30, 90))
    out = tmp_path / "policy.json"
    result = CliRunner().invoke(app, ["bench", "policy", "--seeds", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    rows = {r["policy"]: r for r in payload["results"]}
    assert set(rows) == set(policy.POLICIES)
    for row in rows.values():
        for key in ("policy", "total_cost", "unplanned_downtime_h", "failures", "oee", "maintenance_cost", "stockouts"):
            assert key in row, key
        # the total is the sum of its parts
        parts = (
            row["maintenance_cost"]
            + row["downtime_cost"]
            + row["stockouts"] * policy.COSTS.stockout
            + row["holding_cost"]
        )
        assert row["total_cost"] == pytest.approx(parts)
        assert 0 < row["oee"] < 1
    assert rows["run_to_failure"]["planned_jobs"] == 0
    # the time-based interval comes from the separate history, one of the tried ones
    assert payload["time_based_interval_days"] in (30, 90)
    # parts in the loop by default, and each policy again with every part on the shelf
    assert payload["stock_mode"] == "loop"
    assert {r["policy"] for r in payload["without_stock"]["results"]} == set(policy.POLICIES)
    assert all(r["stockouts"] == 0 for r in payload["without_stock"]["results"])
    # the predictive policy's gap to the oracle, per seed, split into the cost components that sum to it
    (gap,) = payload["gap_vs_oracle"]
    assert gap["total_cost"] == pytest.approx(sum(gap[c] for c in policy.COMPONENTS))
    assert gap["total_cost"] == pytest.approx(rows["predictive"]["total_cost"] - rows["oracle"]["total_cost"])
    assert set(payload["targets"]) == {
        "oracle_saving_captured",
        "unplanned_downtime_cut_vs_time_based",
        "oee_points_below_oracle",
    }
    # each asset class's own interval from the same history runs, one of the tried ones, at its cheapest
    for name, days in payload["class_intervals"].items():
        costs = {float(k): v for k, v in payload["class_tuning"][name].items()}
        assert days in (30, 90) and costs[days] == min(costs.values())
    # the sensitivity: time-based on the calendar, and the capture against it from the same predictive and oracle rows
    cal = payload["time_based_on_calendar"]
    assert cal["free_window_days"] == policy.CALENDAR_DAYS
    saving = cal["result"]["total_cost"] - rows["oracle"]["total_cost"]
    if saving > 0:
        captured = (cal["result"]["total_cost"] - rows["predictive"]["total_cost"]) / saving
        assert cal["targets"]["oracle_saving_captured"] == pytest.approx(captured)
    else:
        assert cal["targets"]["oracle_saving_captured"] is None


def test_same_seed_same_outcome_and_the_oracle_prevents_failures() -> None:
    from forewarn.twin.fleet import FleetConfig

    f = policy._draw(FleetConfig(sites=2, assets=10, days=120, seed=5, interval="1h", degradation_scale=3.0))
    a, b = policy._simulate(f, "run_to_failure"), policy._simulate(f, "run_to_failure")
    assert a.plan.failures == b.plan.failures and len(a.plan.failures) > 3
    oracle = policy._simulate(f, "oracle")
    assert len(oracle.plan.failures) < len(a.plan.failures)
    with pytest.raises(ValueError, match="unknown policy"):
        policy.run_policies(1, policies=["hope"])
