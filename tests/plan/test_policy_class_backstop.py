"""The predictive policy's backstop per asset class (issue 16): each class's time-based interval from its own history
(:func:`forewarn.bench.policy.class_intervals` on :func:`~forewarn.bench.policy._asset_costs`), scaled by the
decision's ``class_backstop``, with the model's visits on top. Checked by hand on small fleets."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from policy_standin import StandInBundle, planned_visits

import forewarn.bench.policy as policy
from forewarn.exceptions import ConfigError
from forewarn.twin.fleet import FleetConfig


def test_each_class_gets_its_own_backstop_and_a_predictive_visit_restarts_it() -> None:
    f = policy._draw(FleetConfig(sites=1, assets=6, days=150, seed=5, interval="1h"))
    classes = sorted(set(f.classes))
    assert len(classes) >= 2
    # class k's interval on the history: 20 + 10 k days; the backstop is 1.5 times it (30, 45, 60, ... days)
    days = {c: 20.0 + 10.0 * k for k, c in enumerate(classes)}
    out = policy._simulate(
        f,
        "predictive",
        model=StandInBundle(),
        decision=policy.Decision(cooldown_days=21, class_backstop=1.5),
        class_days=days,
    )
    for a in range(1, 6):  # p = 0: only the backstop visits them, every 1.5 x its class's interval
        hours = planned_visits(out.plan, a)
        assert len(hours) >= 2 and np.allclose(np.diff(hours), 24.0 * 1.5 * days[f.classes[a]])
    # asset 0 (p = 0.9) is booked from the first evening scored, again each time 21 days have passed: its backstop
    # (at least 30 days) never falls due after the first booking
    zero = [h for h in planned_visits(out.plan, 0) if h >= 186.0]
    assert zero[:5] == [186.0, 714.0, 1242.0, 1770.0, 2298.0]


def test_a_class_backstop_needs_every_class_tuned() -> None:
    f = policy._draw(FleetConfig(sites=1, assets=4, days=30, seed=5, interval="1h"))
    decision = policy.Decision(class_backstop=2.0)
    with pytest.raises(ConfigError, match="class_days"):
        policy._simulate(f, "predictive", model=StandInBundle(), decision=decision)
    with pytest.raises(ConfigError, match="class_days"):
        policy._simulate(f, "predictive", model=StandInBundle(), decision=decision, class_days={"nothing": 90.0})


def test_asset_costs_split_the_total_by_asset() -> None:
    """With every part on hand the run's total (no stock-outs, no holding) is the sum of the assets' costs, and a
    class's interval is the one whose runs cost its assets least."""
    f = policy._draw(FleetConfig(sites=1, assets=8, days=120, seed=3, interval="1h", degradation_scale=3.0))
    runs = {k: policy._simulate(f, "time_based", interval=k) for k in (20.0, 60.0)}
    costs = {k: [policy._asset_costs(f, out.plan)] for k, out in runs.items()}
    for k, out in runs.items():
        total = policy._score(f, out, {}, "none")["total_cost"]
        assert costs[k][0].sum() == pytest.approx(total, rel=1e-9)
    assert runs[60.0].plan.failures  # the slow interval lets some through: the classes' costs differ by interval
    best, table = policy.class_intervals([f.classes], costs)
    for c in set(f.classes):
        mask = np.array([x == c for x in f.classes])
        by_hand = {k: float(costs[k][0][mask].sum() / mask.sum()) for k in costs}
        assert table[c] == pytest.approx(by_hand)
        assert best[c] == min(by_hand, key=lambda k: by_hand[k])


def test_time_based_visits_move_onto_the_free_evening_before_they_fall_due() -> None:
    """An asset that runs weekdays 06:00-22:00 (days 5 and 6 of each week off): with a free window of 7 days each
    visit starts on the Saturday evening before it falls due (its evening and the Sunday after are free), and its
    clock restarts from there; without it the visits keep their 20-day rhythm on any weekday."""
    f = policy._draw(FleetConfig(sites=1, assets=3, days=120, seed=5, interval="1h", degradation_scale=0.1))
    hour = np.arange(f.regime.scheduled.shape[1])
    weekday = (hour // 24) % 7 < 5
    f.regime.scheduled[0] = (weekday & (hour % 24 >= 6) & (hour % 24 < 22)).astype(float)
    plain = planned_visits(policy._simulate(f, "time_based", interval=20.0).plan, 0)
    moved = planned_visits(policy._simulate(f, "time_based", interval=20.0, free_window=7).plan, 0)
    assert len(plain) >= 5 and np.allclose(np.diff(plain), 480.0)
    assert {int(h // 24) % 7 for h in plain} != {5}
    # by hand: the first visit goes to the latest Saturday on or before its due day (at most 6 days before), each
    # next one to the latest Saturday on or before 20 days after the previous
    due = int(plain[0] // 24)
    expected = []
    while True:
        saturday = due - (due - 5) % 7
        day = saturday if saturday >= 1 else due  # none in reach (from day 1, the first evening): left where it is
        if day * 24 + 18.0 >= hour.size:
            break
        expected.append(day * 24 + 18.0)
        due = day + 20
    assert moved == expected


class _Quiet(StandInBundle):
    def predict(self, X: np.ndarray) -> Any:
        return SimpleNamespace(probability=np.zeros(len(X)))


def test_an_asset_busy_every_evening_gets_the_busy_backstop() -> None:
    f = policy._draw(FleetConfig(sites=1, assets=3, days=150, seed=5, interval="1h", degradation_scale=0.1))
    f.regime.scheduled[0] = 1.0  # runs around the clock: no free evening
    f.regime.scheduled[1] = 0.0
    f.regime.scheduled[1, (np.arange(f.regime.scheduled.shape[1]) % 24) < 16] = 1.0  # stops at 16:00 every day
    decision = policy.Decision(backstop_days=20.0, busy_backstop_days=30.0)
    out = policy._simulate(f, "predictive", model=_Quiet(), decision=decision)
    busy, free = planned_visits(out.plan, 0), planned_visits(out.plan, 1)
    assert len(busy) >= 3 and np.allclose(np.diff(busy), 30 * 24.0)
    assert len(free) >= 5 and np.allclose(np.diff(free), 20 * 24.0)
