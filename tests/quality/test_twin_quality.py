"""Unit quality from the twin follows the mechanical damage, and only it."""

import numpy as np

from forewarn.twin.fleet import build_fleet
from forewarn.twin.quality import QUALITY_MODES, SHIFT_UM, failure_modes, unit_quality


def test_quality_drifts_with_mechanical_damage_only():
    fleet = build_fleet(sites=1, assets=6, days=40, seed=3, interval="1h", degradation_scale=4.0)
    q = unit_quality(fleet, units=5, seed=0)
    frame = q.frame
    assert len(frame) == int((fleet.plan.run >= 0.5).sum()) and q.measurements.shape == (len(frame), 5)
    # the subgroup mean, less the load effect, estimates SHIFT_UM x damage (noise sd 5 um x (1 + 3 d) / sqrt 5)
    residual = q.measurements.mean(axis=1) - 4.0 * (frame["load"].to_numpy() - 0.7)
    assert frame["d_mech"].std() > 0.01  # the fleet degrades over the 40 days
    slope = np.polyfit(frame["d_mech"], residual, 1)[0]
    assert abs(slope - SHIFT_UM) < 5.0
    low, high = frame["d_mech"].quantile([0.25, 0.75])
    worn, fresh = frame["d_mech"] >= high, frame["d_mech"] <= low
    assert frame.loc[worn, "out_of_spec"].mean() > frame.loc[fresh, "out_of_spec"].mean()
    assert [mode for mode, affects in failure_modes().items() if affects] == [
        "bearing_outer_race", "bearing_inner_race", "imbalance", "misalignment"
    ]  # fmt: skip
    assert len(QUALITY_MODES) == 4
    again = unit_quality(fleet, units=5, seed=0)
    assert np.array_equal(again.measurements, q.measurements)


def test_combine_is_the_root_sum_square_or_the_largest_or_the_capped_sum():
    import pytest

    from forewarn.exceptions import ParameterError

    fleet = build_fleet(sites=1, assets=3, days=10, seed=5, interval="1h")
    plan = fleet.plan
    rss = unit_quality(fleet, units=2, seed=0).frame  # the default
    largest = unit_quality(fleet, units=2, seed=0, combine="max").frame
    summed = unit_quality(fleet, units=2, seed=0, combine="sum").frame
    modes = plan.damage[:, list(QUALITY_MODES), :]
    row = {a: i for i, a in enumerate(fleet.asset_ids)}
    asset, hour = largest["asset_id"].map(row).to_numpy(), largest["hour"].to_numpy()
    assert np.allclose(largest["d_mech"], np.clip(modes.max(axis=1)[asset, hour], 0, 1))
    assert np.allclose(summed["d_mech"], np.clip(modes.sum(axis=1)[asset, hour], 0, 1))
    assert np.allclose(rss["d_mech"], np.clip(np.sqrt((modes**2).sum(axis=1))[asset, hour], 0, 1))
    # between the two bounds, and strictly inside them where two modes are damaged
    assert (largest["d_mech"] <= rss["d_mech"] + 1e-12).all() and (rss["d_mech"] <= summed["d_mech"] + 1e-12).all()
    two = (modes[asset, :, hour] > 0).sum(axis=1) >= 2
    assert two.any() and (rss["d_mech"][two] > largest["d_mech"][two]).all()
    with pytest.raises(ParameterError, match="combine"):
        unit_quality(fleet, combine="mean")


def test_root_sum_square_by_hand():
    """Damages 0.3 (imbalance) and 0.4 (a race) make d_mech 0.5 (3-4-5), not 0.4 (the largest) nor 0.7 (the sum)."""
    from types import SimpleNamespace

    from forewarn.twin.quality import _combined

    damage = np.zeros((1, 7, 2))
    damage[0, QUALITY_MODES[2], :] = 0.3
    damage[0, QUALITY_MODES[0], :] = [0.4, 0.0]
    fleet = SimpleNamespace(plan=SimpleNamespace(damage=damage, run=np.ones((1, 2))))
    assert np.allclose(_combined(fleet, "rss"), [[0.5, 0.3]])
    assert np.allclose(_combined(fleet, "max"), [[0.4, 0.3]]) and np.allclose(_combined(fleet, "sum"), [[0.7, 0.3]])


def test_subgroups_of_every_unit_made():
    """production_units counts every unit made; unit_subgroups' mean and variance have the distribution of the
    mean and sample variance of that many units (checked on standardised values over all running hours)."""
    from forewarn.twin.production import IDEAL_RATE
    from forewarn.twin.quality import LOAD_UM, SIGMA0_UM, SPREAD, production_units, unit_subgroups

    fleet = build_fleet(sites=1, assets=4, days=30, seed=2, interval="1h")
    made = production_units(fleet)
    hours = fleet.plan.run.shape[1]
    running = fleet.plan.run[:, :hours] >= 0.5
    assert (made[~running] == 0).all() and (made[running] >= 2).all()
    a, h = np.argwhere(running)[0]
    load = float(np.clip(fleet.regime.load[a, h], 0, 1))
    rate = IDEAL_RATE[fleet.assets[a].asset_class]
    assert made[a, h] == max(round(rate * load * min(float(fleet.plan.run[a, h]), 1.0)), 2)
    g = unit_subgroups(fleet, made, seed=1)
    assert len(g) == int(running.sum()) and (g["n"].to_numpy() == made[running]).all()
    scale = (1 + SPREAD * g["d_mech"]) * SIGMA0_UM
    z = (g["mean"] - LOAD_UM * (g["load"] - 0.7) - 25.0 * g["d_mech"]) / (scale / np.sqrt(g["n"]))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05  # thousands of hours: the standard errors are ~0.02
    ratio = g["var"] / scale**2  # mean 1, variance 2 / (n - 1)
    assert abs(ratio.mean() - 1.0) < 0.01 and abs((ratio.var() / (2 / (g["n"] - 1)).mean()) - 1.0) < 0.1
    five = unit_subgroups(fleet, 5, seed=1)
    assert (five["n"] == 5).all()
    import pytest

    from forewarn.exceptions import ParameterError

    with pytest.raises(ParameterError, match="at least 2 units"):
        unit_subgroups(fleet, 1)


def test_sensor_readings_are_the_rendered_measurements():
    """The sensors' hourly readings: the twin's state through noise and calibration (not the state itself), and
    only for an hourly fleet."""
    import pytest

    from forewarn.exceptions import ParameterError
    from forewarn.twin.quality import sensor_readings

    fleet = build_fleet(sites=1, assets=3, days=5, seed=6, interval="1h")
    read = sensor_readings(fleet, ("vib_rms", "bearing_temp"))
    hours = fleet.plan.run.shape[1]
    assert read["vib_rms"].shape == read["bearing_temp"].shape == (3, hours)
    running = (fleet.plan.run[:, :hours] >= 0.5) & np.isfinite(read["vib_rms"])
    ratio = read["vib_rms"][running] / fleet.plan.vib_rms[:, :hours][running]
    assert not np.allclose(ratio, 1.0) and 0.5 < np.median(ratio) < 1.5  # noise and gain around the true level
    frame = fleet.readings  # the same values as the fleet's own readings table
    first = frame[frame["asset_id"] == fleet.asset_ids[0]]["vib_rms"].to_numpy()
    assert np.allclose(first[:hours], read["vib_rms"][0], equal_nan=True)
    with pytest.raises(ParameterError, match="1h"):
        sensor_readings(build_fleet(sites=1, assets=1, days=1, seed=6, interval="10min"), ("vib_rms",))
