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


def test_combine_is_the_largest_damage_or_the_capped_sum():
    import pytest

    from forewarn.exceptions import ParameterError

    fleet = build_fleet(sites=1, assets=3, days=10, seed=5, interval="1h")
    plan = fleet.plan
    largest = unit_quality(fleet, units=2, seed=0).frame
    summed = unit_quality(fleet, units=2, seed=0, combine="sum").frame
    modes = plan.damage[:, list(QUALITY_MODES), :]
    row = {a: i for i, a in enumerate(fleet.asset_ids)}
    asset, hour = largest["asset_id"].map(row).to_numpy(), largest["hour"].to_numpy()
    assert np.allclose(largest["d_mech"], np.clip(modes.max(axis=1)[asset, hour], 0, 1))
    assert np.allclose(summed["d_mech"], np.clip(modes.sum(axis=1)[asset, hour], 0, 1))
    assert (summed["d_mech"] > largest["d_mech"] + 1e-9).any()  # machines with two damaged modes
    with pytest.raises(ParameterError, match="combine"):
        unit_quality(fleet, combine="mean")
