"""What-if scenarios and calibrating a twin to readings."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.twin import FleetConfig, Scenario, estimate_state, simulate_fleet, what_if
from forewarn.twin.assets import MISALIGNMENT, OUTER, OVERHEATING
from forewarn.twin.whatif import SIGNALS


@pytest.fixture(scope="module")
def fleet():
    return simulate_fleet(FleetConfig(sites=2, assets=8, days=21, seed=21, interval="10min"))


@pytest.fixture(scope="module")
def spalled(fleet):
    """A running pump with a bearing spall under way."""
    i = next(i for i, a in enumerate(fleet.assets) if fleet.plan.run[i].mean() > 0.5)
    twin = copy.deepcopy(fleet.twin_state(fleet.asset_ids[i]))
    twin.state.damage[:] = 0.05
    twin.state.damage[0, OUTER] = 0.3
    twin.week_running[:] = 1.0
    return twin


def test_higher_load_brings_the_median_failure_earlier(spalled) -> None:
    light = what_if(spalled, Scenario(load=0.7), runs=120, horizon_days=200, seed=3)
    heavy = what_if(spalled, Scenario(load=1.2), runs=120, horizon_days=200, seed=3)
    assert light.fail_fraction > 0.5 and heavy.fail_fraction > 0.5
    assert heavy.median_days < light.median_days
    assert heavy.p10_days <= heavy.median_days <= heavy.p90_days
    assert set(heavy.mode_counts()) >= {"bearing_outer_race"}


def test_trajectories_have_one_row_per_day_and_ordered_quantiles(spalled) -> None:
    result = what_if(spalled, Scenario(), runs=50, horizon_days=30, seed=1)
    assert set(result.trajectories) == set(SIGNALS)
    for quantiles in result.trajectories.values():
        assert quantiles.shape == (31, 3)
        ok = ~np.isnan(quantiles).any(axis=1)
        assert (np.diff(quantiles[ok], axis=1) >= -1e-9).all()
    health = result.trajectories["health"]
    assert health[0, 1] == pytest.approx(spalled.health, abs=0.1) and health[-1, 1] <= health[0, 1]
    frame = result.trajectory_frame()
    assert list(frame.columns) == ["day", "signal", "p10", "p50", "p90"] and len(frame) == 31 * len(SIGNALS)
    assert result.ttf_days.shape == (50,) and 0.0 <= result.fail_fraction <= 1.0


def test_an_early_maintenance_date_prevents_failures(spalled) -> None:
    left = what_if(spalled, Scenario(load=1.1), runs=80, horizon_days=120, seed=2)
    serviced = what_if(spalled, Scenario(load=1.1, maintenance_in_days=3), runs=80, horizon_days=120, seed=2)
    assert serviced.fail_fraction < left.fail_fraction


def test_less_cooling_and_hotter_air_run_the_winding_hotter(spalled) -> None:
    usual = what_if(spalled, Scenario(), runs=30, horizon_days=10, seed=4)
    hot = what_if(spalled, Scenario(cooling=0.6, ambient_c=40.0), runs=30, horizon_days=10, seed=4)
    assert hot.trajectories["winding_temp"][5, 1] > usual.trajectories["winding_temp"][5, 1] + 10


def test_calibration_recovers_cooling_fouling_from_readings() -> None:
    config = FleetConfig(
        sites=1, assets=6, days=10, seed=8, interval="10min", degradation=False, policies=("run_to_failure",)
    )
    fleet = simulate_fleet(config)
    fleet.plan.damage[:, OVERHEATING, :] = np.linspace(0.0, 0.8, 6)[:, None]  # known fouling, asset by asset
    fleet._cache.clear()
    checked = 0
    for i, asset in enumerate(fleet.assets):
        readings = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
        twin = estimate_state(readings, asset)
        if twin.fit["steady_hours"] < 10:
            continue
        checked += 1
        assert twin.state.damage[0, OVERHEATING] == pytest.approx(np.linspace(0.0, 0.8, 6)[i], abs=0.1)
        assert twin.state.damage[0, MISALIGNMENT] == pytest.approx(0.15)
    assert checked >= 4


def test_what_if_from_readings_and_bad_input(fleet) -> None:
    asset = fleet.assets[0]
    readings = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
    result = what_if(readings, Scenario(load=1.1), runs=20, horizon_days=15, seed=0, asset=asset)
    assert result.asset_id == asset.asset_id and len(result.ttf_days) == 20
    with pytest.raises(ConfigError, match="needs the asset"):
        what_if(readings, Scenario())
    with pytest.raises(ConfigError, match="load"):
        what_if(result and fleet.twin_state(asset.asset_id), Scenario(load=3.0))
    with pytest.raises(SchemaError, match="winding_temp"):
        estimate_state(readings.drop(columns=["winding_temp"]), asset)
    with pytest.raises(SchemaError, match="24 hours"):
        estimate_state(readings.head(50), asset)
