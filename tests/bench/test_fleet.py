"""Fleet benchmark on the digital twin: split by site, labels from failure events, a small real run."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from forewarn.bench import fleet
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError

#: a fleet small enough for tests that still has failures at more than one site (seed 0: 5 failures)
SMALL = {"sites": 3, "assets": 15, "days": 90, "degradation_scale": 4.0}
METRICS = {"roc_auc", "pr_auc", "catch_rate", "false_alarms_per_asset_month"}


@pytest.fixture(scope="module")
def prepared():
    return fleet.prepare(replace(fleet.FLEET, seed=0, **SMALL))


def test_each_site_is_held_out_whole_and_no_asset_is_on_both_sides(prepared):
    assets = prepared.rows["asset_id"].to_numpy()
    tested = set()
    for site in prepared.sites:
        train, test = prepared.site_split(site)
        train_assets, test_assets = set(assets[train]), set(assets[test])
        assert not train_assets & test_assets
        assert set(prepared.rows["site_id"].to_numpy()[test]) == {site}
        assert site not in set(prepared.rows["site_id"].to_numpy()[train])
        tested |= test_assets
    assert tested == set(assets)


def test_labels_come_from_the_failure_events(prepared):
    assert len(prepared.failures) > 0
    failure = prepared.failures.iloc[0]
    rows = prepared.rows
    mine = (rows["asset_id"] == failure["asset_id"]).to_numpy()
    hours = rows["hour"].to_numpy()
    before = mine & (hours >= failure["hour"] - fleet.HORIZON_H + 1) & (hours <= failure["hour"])
    assert (prepared.label[before] == 1.0).all()
    assert np.allclose(prepared.rul[before], failure["hour"] - hours[before])
    # features never hold a label or the time to failure
    assert not any("rul" in c or "label" in c or "fail" in c for c in prepared.X.columns)
    # censored rows: the last horizon of assets with no failure ahead
    assert np.isnan(prepared.label).any() and set(np.unique(prepared.label[~np.isnan(prepared.label)])) == {0.0, 1.0}


def test_small_run_beats_chance_and_repeats_exactly():
    payload = fleet.run(["lightgbm-failure", "pca-t2q"], 1, None, **SMALL)
    assert payload["dataset"] == "fleet" and payload["published"] == [] and payload["primary_metric"] == "pr_auc"
    rows = {r["model"]: r for r in payload["results"]}
    assert set(rows) == {"lightgbm-failure", "pca-t2q"}
    for row in rows.values():
        assert set(row) >= METRICS and row["seeds"] == 1 and row["fit_s"] > 0
    positive_rate = payload["fleets"][0]["positive_rate"]
    gbm = rows["lightgbm-failure"]
    # better than chance: ranking (chance: AUC 0.5, PR-AUC = the share of positive rows) and failures caught
    assert gbm["roc_auc"] > 0.65 and gbm["pr_auc"] > 3 * positive_rate
    assert gbm["catch_rate"] >= 0.5 and gbm["lead_time_median_h"] >= fleet.MIN_LEAD_H
    again = fleet.run(["lightgbm-failure"], 1, None, **SMALL)["results"][0]
    for name in METRICS:
        assert again[name] == gbm[name]


def test_cli_writes_the_json_and_chart(tmp_path, monkeypatch):
    monkeypatch.setattr(fleet, "FLEET", replace(fleet.FLEET, **SMALL))
    out = tmp_path / "fleet.json"
    result = CliRunner().invoke(
        app, ["bench", "fleet", "--seeds", "1", "--models", "lightgbm-rul,mset", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [r["model"] for r in payload["results"]] == ["lightgbm-rul", "mset"]
    assert payload["results"][0]["rmse"] > 0 and "rmse" not in payload["results"][1]
    assert payload["fleets"][0]["failures"] == sum(payload["fleets"][0]["failures_per_site"].values()) > 0
    chart = (tmp_path / "fleet.svg").read_text()  # SVG, whatever suffix the command line gave
    assert chart.startswith("<svg") and f"{payload['primary_metric']} (" in chart and chart.count("<rect") >= 2


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="no subsets"):
        fleet.run(["lightgbm-failure"], 1, None, subset="FD001")
    with pytest.raises(ConfigError, match="unknown fleet model"):
        fleet.run(["nope"], 1, None)
    with pytest.raises(ConfigError, match="at least 2 sites"):
        fleet.run(["lightgbm-failure"], 1, None, sites=1)
