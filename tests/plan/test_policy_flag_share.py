"""The predictive policy's bar from the bundle's own flag rate (``Decision.flag_share``, :func:`flag_bar`): the bar is
the probability that the given share of asset-evenings exceeds on a calibration history, worked out by hand with a
stand-in bundle whose probabilities are fixed per asset."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from policy_standin import StandInBundle, planned_visits

import forewarn.bench.policy as policy
from forewarn.exceptions import ConfigError
from forewarn.twin.fleet import FleetConfig


class _PerAsset(StandInBundle):
    """Stands in for a bundle: asset ``i`` of the fleet has probability ``i / 10`` every evening."""

    def predict(self, X: np.ndarray) -> Any:
        return SimpleNamespace(probability=np.arange(len(X)) / 10.0)


def test_the_bar_is_the_bundle_s_own_quantile_on_the_calibration_history_and_sets_who_is_visited() -> None:
    small = FleetConfig(sites=1, assets=4, days=30, seed=7, interval="1h")
    model = _PerAsset()
    # the four assets read 0, 0.1, 0.2, 0.3 each evening: a quarter of the asset-evenings lie above the 75 % quantile,
    # 0.225 (between 0.2 and 0.3)
    bar = policy.flag_bar(model, 0.25, since_renewal=False, config=small)
    assert bar == pytest.approx(0.225)
    assert model.flag_bars == {(0.25, False, small): bar}  # kept: a second call does not simulate again
    assert policy.flag_bar(model, 0.25, since_renewal=False, config=small) == bar
    # half of them above 0.15
    assert policy.flag_bar(model, 0.5, since_renewal=False, config=small) == pytest.approx(0.15)
    # in the loop: with the bar at 0.225 only asset 3 (p = 0.3) is booked; under the fixed default bar (0.02) the
    # planner's cost rule books asset 2 too (p = 0.2; p = 0.1 does not pay for a visit)
    f = policy._draw(FleetConfig(sites=1, assets=4, days=30, seed=5, interval="1h"))
    # the loop's calibration fleet: the scored fleet's settings with the calibration seed (the bar set here by hand)
    model.flag_bars[(0.25, False, dataclasses.replace(f.config, seed=policy.CALIBRATION_SEED))] = bar
    by_share = policy._simulate(f, "predictive", model=model, decision=policy.Decision(flag_share=0.25))
    fixed = policy._simulate(f, "predictive", model=model, decision=policy.Decision())
    assert [bool(planned_visits(by_share.plan, a)) for a in range(4)] == [False, False, False, True]
    assert [bool(planned_visits(fixed.plan, a)) for a in range(4)] == [False, False, True, True]
    with pytest.raises(ConfigError, match="flag_share must be between 0 and 1"):
        policy.flag_bar(model, 1.5, since_renewal=False, config=small)
