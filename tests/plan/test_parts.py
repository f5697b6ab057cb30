"""Croston, SBA, reorder point and the stock replay, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from forewarn.exceptions import ConfigError
from forewarn.plan.parts import croston, reorder_policy, replay_backorders, replay_stock


def test_croston_and_sba_by_hand() -> None:
    # demands of 3 at periods 2, 6, 9 (0-based); start: size 3, interval 3 (periods up to the first demand)
    # period 6: interval 4 -> p = 3 + 0.1 (4 - 3) = 3.1; period 9: interval 3 -> p = 3.1 + 0.1 (3 - 3.1) = 3.09
    series = [0, 0, 3, 0, 0, 0, 3, 0, 0, 3]
    f = croston(series, alpha=0.1)
    assert (f.size, f.interval) == pytest.approx((3.0, 3.09))
    assert f.forecast == pytest.approx(3 / 3.09)
    # SBA: times 1 - 0.1 / 2
    assert croston(series, alpha=0.1, method="sba").forecast == pytest.approx(0.95 * 3 / 3.09)
    # sizes smoothed too: 2 then 4 with alpha 0.5 -> 3; intervals 1 then 2 -> 1.5
    assert croston([2, 0, 4], alpha=0.5).forecast == pytest.approx(3 / 1.5)
    assert croston([0, 0, 0]).forecast == 0.0


def test_reorder_point_from_history_failures_and_jobs() -> None:
    # no history: only the predicted failures (mean 0.5 + 0.5, variance 0.25 + 0.25) and one planned job
    r = reorder_policy(
        "seal", [0, 0, 0, 0], lead_time=5, service_level=0.95, failure_probabilities=[0.5, 0.5], planned_jobs=1
    )
    assert r.mean_demand == pytest.approx(2.0)
    assert r.std_demand == pytest.approx(math.sqrt(0.5))
    assert r.safety_stock == pytest.approx(1.6448536 * math.sqrt(0.5), rel=1e-6)
    assert r.reorder_point == pytest.approx(2.0 + 1.6448536 * math.sqrt(0.5), rel=1e-6)


def test_stock_replay_by_hand() -> None:
    # stock 2, order 2 when the position is <= 1, lead 2; demand 1 a day for 5 days:
    # t0: stock 1, order (arrives t2); t1: 0; t2: +2 -> 1, order (t4); t3: 0; t4: +2 -> 1, order
    out = replay_stock([1, 1, 1, 1, 1], reorder_point=1, order_qty=2, lead_time=2, on_hand=2, holding_cost=2.0)
    assert out == {"stockouts": 0.0, "short_periods": 0.0, "orders": 3.0, "mean_stock": 0.6, "holding_cost": 6.0}
    # a burst of 3 with 1 on hand and a 3-day lead: 2 short
    out = replay_stock([3, 0, 0, 0], reorder_point=0, order_qty=1, lead_time=3, on_hand=1)
    assert (out["stockouts"], out["short_periods"]) == (2.0, 1.0)


def test_backorders_wait_for_the_next_arrival_by_hand() -> None:
    # 1 on the shelf, s = 0, Q = 1, lead 4 days; needs on days 2, 3 and 9 (given out of order)
    # day 2: the shelf's unit is used, position 0 <= 0: order 1 (due day 6)
    # day 3: nothing on the shelf: waits; position 0 + 1 - 1 = 0: order 1 (due day 7)
    # day 6: the first order fills the day-3 need (3 days late); position 0 + 1 = 1
    # day 7: the second order arrives and stays (1 on the shelf days 7, 8); day 9: used from the shelf, order (due 13)
    out = replay_backorders([9, 2, 3], reorder_point=0, order_qty=1, lead_time=4, on_hand=1, days=12, holding_cost=2.0)
    assert out["waits"] == [0, 0, 3]
    assert (out["stockouts"], out["orders"]) == (1, 3)
    # on the shelf at day ends: day 0, 1 (one unit), 7, 8 (one unit): 4 unit-days
    assert out["holding_cost"] == pytest.approx(2.0 * 4) and out["mean_stock"] == pytest.approx(4 / 12)
    # a need still open when the period ends waits until the end
    assert replay_backorders([1], reorder_point=-1, order_qty=1, lead_time=5, on_hand=0, days=4)["waits"] == [3]
    with pytest.raises(ConfigError, match="demand days"):
        replay_backorders([4], reorder_point=0, order_qty=1, lead_time=1, on_hand=0, days=4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: croston([1, -1]), "values must be finite and >= 0"),
        (lambda: croston([1], alpha=0.0), "alpha"),
        (lambda: croston([], alpha=0.1), "non-empty"),
        (lambda: reorder_policy("x", [1], lead_time=-1), "lead_time"),
        (lambda: reorder_policy("x", [1], lead_time=1, service_level=1.0), "service_level"),
    ],
)
def test_bad_inputs(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=match):
        call()
