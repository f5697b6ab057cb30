"""The predictive policy's decision rule (:class:`forewarn.bench.policy.Decision`) in the loop, with a stand-in bundle
whose probabilities are known: the visits it books, the cooldown, and the time-based backstop whose clock a
predictive visit restarts. Worked out by hand from the loop's rules (the first evening scored is hour 168, a job
starts at 18:00 the next day, a visited asset is free again once more than ``cooldown_days`` have passed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from policy_standin import StandInBundle, planned_visits

import forewarn.bench.policy as policy
from forewarn.bench.policy_model import OBSERVED
from forewarn.bundles.bundle import ServingSpec
from forewarn.twin.fleet import FleetConfig


def test_predictive_visits_follow_the_probability_the_cooldown_and_the_backstop() -> None:
    f = policy._draw(FleetConfig(sites=1, assets=4, days=100, seed=5, interval="1h"))
    plain = policy._simulate(f, "predictive", model=StandInBundle(), decision=policy.Decision(cooldown_days=21))
    # asset 0 (p = 0.9) is booked on the first evening scored (hour 168) for 18:00 the next day, then again each
    # time more than 21 days have passed since its last booking: evenings 696, 1224, 1752, 2280
    assert planned_visits(plain.plan, 0) == [186.0, 714.0, 1242.0, 1770.0, 2298.0]
    assert plain.jobs == 5
    # the others (p = 0) are never planned for without a backstop
    assert all(planned_visits(plain.plan, a) == [] for a in (1, 2, 3))
    backed = policy._simulate(
        f, "predictive", model=StandInBundle(), decision=policy.Decision(cooldown_days=21, backstop_days=40.0)
    )
    # with a 40-day backstop each of the others is visited every 40 days (960 h) from its own phase
    for a in (1, 2, 3):
        hours = planned_visits(backed.plan, a)
        assert len(hours) >= 2 and np.allclose(np.diff(hours), 960.0)
    # asset 0's predictive visits restart its backstop clock (22 days < 40): after its first one, only them
    zero = planned_visits(backed.plan, 0)
    assert [h for h in zero if h >= 186.0] == [186.0, 714.0, 1242.0, 1770.0, 2298.0]
    assert len([h for h in zero if h < 186.0]) <= 1  # at most one backstop visit, before the first booking


class _Mean:
    """Stands in for a bundle: its probability is the vibration's window mean / 100 (the first feature)."""

    def __init__(self) -> None:
        self.spec = ServingSpec(
            channels=tuple(OBSERVED), window=3, stats=("mean",), interval="24h", history_rows=5, horizon=24.0
        )

    def feature_frame(self, values: np.ndarray) -> np.ndarray:
        return values

    def predict(self, X: np.ndarray) -> Any:
        return SimpleNamespace(probability=X[:, 0] / 100.0)


def test_scorer_reads_only_the_buckets_after_a_renewal() -> None:
    from forewarn.bench.policy_model import BundleScorer, Observer

    obs = Observer(np.zeros((2, 5 * 24)), seed=0)
    # daily vibration 10, 20, 30, 40, 50 for both assets, exactly (no noise): hourly values set by hand
    obs.values[:] = np.repeat(np.array([10.0, 20.0, 30.0, 40.0, 50.0]), 24)[None, None, :]
    score = BundleScorer(_Mean(), ["a", "b"], "2024-01-01")
    # the last 3 days: (30 + 40 + 50) / 3 = 40
    assert score(obs, 5 * 24) == pytest.approx([0.40, 0.40])
    # a renewal in the middle of day 2 (hour 60): only days 3 and 4 count, (40 + 50) / 2 = 45; none: as before
    assert score(obs, 5 * 24, np.array([60.0, np.nan])) == pytest.approx([0.45, 0.40])
    # renewed within the last day: no whole day since, not scored (0)
    assert score(obs, 5 * 24, np.array([4.5 * 24, 0.0])) == pytest.approx([0.0, 0.40])


class _Quiet(StandInBundle):
    """Probability 0 for every asset: the loop books nothing itself."""

    def predict(self, X: np.ndarray) -> Any:
        return SimpleNamespace(probability=np.zeros(len(X)))


def test_the_loop_sees_each_renewal_as_the_work_ends() -> None:
    from forewarn.train.spec import RENEWING_ACTIONS

    f = policy._draw(FleetConfig(sites=1, assets=6, days=120, seed=5, interval="1h", degradation_scale=3.0))
    decision = policy.Decision(backstop_days=30.0, since_renewal=True)
    out = policy._simulate(f, "predictive", model=_Quiet(), decision=decision)
    # the last renewal of each asset from the run's own log: a repair after failure or a replaced part
    expected = np.full(6, np.nan)
    for a, minute, action, result, _note in out.plan.maintenance:
        if result == "corrective" or action.startswith(RENEWING_ACTIONS):
            expected[a] = max(minute / 60.0, np.nan_to_num(expected[a], nan=-1.0))
    assert out.plan.failures and np.isfinite(expected).sum() >= 3
    assert np.array_equal(out.hook.renewed, expected, equal_nan=True)


class _Half(StandInBundle):
    """Probability 0.5 for the first asset, 0 for the others."""

    def predict(self, X: np.ndarray) -> Any:
        p = np.zeros(len(X))
        p[0] = 0.5
        return SimpleNamespace(probability=p)


@pytest.mark.parametrize("bundle, deferred", [(StandInBundle, False), (_Half, True)])
def test_the_calendar_defers_a_visit_to_a_free_evening_when_the_risk_allows(bundle: Any, deferred: bool) -> None:
    f = policy._draw(FleetConfig(sites=1, assets=4, days=30, seed=5, interval="1h"))
    f.regime.scheduled[0, 7 * 24 + 18 : 7 * 24 + 24] = 1.0  # asset 0 runs the evening of day 7 (tomorrow's plan day 0)
    f.regime.scheduled[0, 8 * 24 + 18 : 8 * 24 + 24] = 0.0  # and not that of day 8 (plan day 1): a free window
    plain = policy._simulate(f, "predictive", model=bundle(), decision=policy.Decision(cooldown_days=60))
    timed = policy._simulate(f, "predictive", model=bundle(), decision=policy.Decision(cooldown_days=60, calendar=True))
    hook = timed.hook
    assert hook.evenings[0, 8] == 0.0 and hook.evenings[0, 7] == 6.0
    # the planner's cost of the job on day 0 (a working evening) and on day 1 (free, but the asset may fail first):
    # p within 14 days, F(0) = 1 - (1 - p) ** (1 / 14); about 3,300 against 3,500 (p = 0.9) and 1,730 (p = 0.5)
    p = 0.5 if deferred else 0.9
    fail = hook.decision.failure_cost + policy.COSTS.downtime_h * float(hook.fail_h[0])
    job = policy.COSTS.visit_labour + 300.0
    first = 1.0 - (1.0 - p) ** (1.0 / 14.0)
    day0 = job + policy.COSTS.downtime_h * float(hook.working_evening[0])
    day1 = first * fail + (1.0 - first) * job
    assert (day1 < day0) == deferred
    # the first evening scored is hour 168 (end of day 6): without the calendar the job is tomorrow, day 7 at 18:00;
    # with it, on the free evening of day 8 when waiting a day costs less in risk than the evening's production
    assert planned_visits(plain.plan, 0)[0] == 7 * 24 + 18.0
    assert planned_visits(timed.plan, 0)[0] == (8 * 24 + 18.0 if deferred else 7 * 24 + 18.0)
