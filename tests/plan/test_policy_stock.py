"""Spare parts in the policy bench: a breakdown repair short of its part waits for the next arrival (worked example)."""

from __future__ import annotations

import numpy as np
import pytest

import forewarn.bench.policy as policy
from forewarn.twin.degradation import Plan


def _plan(
    hours: int, downtime: list[tuple[int, int, int, int]], maintenance: list[tuple[int, int, str, str, str]]
) -> Plan:
    z = np.zeros((1, hours), np.float32)
    return Plan(
        damage=np.zeros((1, 7, hours), np.float32),
        oil=z,
        wear=z,
        run=np.ones((1, hours), np.float32),
        health=z + 1,
        fault=np.zeros((1, hours), np.int8),
        winding_c=z,
        bearing_c=z,
        vib_rms=z,
        final=None,  # type: ignore[arg-type]
        failures=[],
        downtime=downtime,
        maintenance=maintenance,
    )


def test_a_second_bearing_failure_waits_for_the_reorder() -> None:
    # two breakdown repairs need a bearing, ending day 1 at 10:00 and day 2 at 10:00; a planned job needs a seal
    day = 1440
    ends = [day + 600, 2 * day + 600]
    plan = _plan(
        10 * 24,
        [(0, e - 720, e, 1) for e in ends] + [(0, 3 * day, 3 * day + 300, 2)],
        [(0, e, "replace_bearing", "corrective", "") for e in ends]
        + [(0, 3 * day + 300, "replace_seal", "planned", "")],
    )
    # one bearing on the shelf (s = 0, Q = 1), 7 days' lead: the first repair takes it and orders one (due day 8);
    # the second finds none, waits until day 8 (6 days); the seal is on the shelf
    stock = {"bearing": (0.0, 1), "mechanical seal": (0.0, 1), "stator winding": (0.0, 1), "impeller": (0.0, 1)}
    stockouts, holding, waits = policy._stock_waits(plan, stock, 10)
    assert stockouts == 1 and waits == [(0, ends[1], 6)]
    assert holding > 0
    waited = policy._waiting(plan, waits)
    assert waited.downtime[1] == (0, ends[1] - 720, ends[1] + 6 * day, 1)  # the stop lasts 6 days longer
    assert waited.downtime[0] == plan.downtime[0] and waited.downtime[2] == plan.downtime[2]
    stopped = np.flatnonzero(waited.run[0] == 0)
    assert stopped[0] == ends[1] // 60 and stopped[-1] == (ends[1] + 6 * day) // 60
    assert plan.run.min() == 1.0  # the run itself is not changed
    # a planned job short of its part is a stock-out, not a longer stop
    none = {k: (-1.0, 1) for k in stock}
    stockouts, _, waits = policy._stock_waits(plan, {**none, "bearing": (5.0, 5)}, 10)
    assert stockouts == 1 and waits == []


def _down(n: int) -> dict[str, np.ndarray]:
    return {
        "start": np.zeros(n, np.int64),
        "until": np.zeros(n, np.int64),
        "kind": np.zeros(n, np.int64),
        "mask": np.zeros(n, np.int64),
        "note": np.array([""] * n, dtype=object),
    }


def test_stock_in_the_loop_holds_a_breakdown_until_its_part_comes() -> None:
    from forewarn.twin.maintenance import BIT

    day = 1440
    stock = {"bearing": (0.0, 1), "mechanical seal": (0.0, 1), "stator winding": (0.0, 1), "impeller": (0.0, 1)}
    keeper = policy._Stock(stock)  # one of each on the shelf (ceil(s) + Q), 7 days' lead for a bearing
    down = _down(3)
    bearing = BIT["replace_bearing"] | BIT["oil_change"]
    # day 0, 02:00: asset 0 breaks down (36 h repair) and takes the shelf's bearing; an order is placed (due day 7)
    down["start"][0], down["until"][0], down["kind"][0] = 120, 120 + 36 * 60, 1
    down["mask"][0], down["note"][0] = bearing, "repair after bearing_outer_race failure"
    keeper(24, None, None, down, None, {})
    assert down["until"][0] == 120 + 36 * 60 and keeper.waits == []
    # day 1, 03:00: asset 1 breaks down too; no bearing: it waits for the unit due day 7, then its 36 h repair
    down["start"][1], down["until"][1], down["kind"][1] = day + 180, day + 180 + 36 * 60, 1
    down["mask"][1], down["note"][1] = bearing, "repair after bearing_inner_race failure"
    # and asset 2's planned job, begun and ended today, needs a bearing too: taken from the next order, not delayed
    down["start"][2], down["until"][2], down["kind"][2] = day + 18 * 60, day + 23 * 60, 0
    down["mask"][2], down["note"][2] = bearing, "scheduled repair"
    keeper(48, None, None, down, None, {})
    assert down["until"][1] == 7 * day + 36 * 60 and down["kind"][1] == 1
    assert down["until"][2] == day + 23 * 60 and down["kind"][2] == 0
    assert keeper.waits == [(1, "bearing", 6)] and keeper.stockouts == 2
    shelf = keeper.shelves["bearing"]
    assert shelf.waiting == 2 and shelf.outstanding == [7, 8, 8]  # one order per demand at s = 0 (day 0, day 1 twice)
    # the same evening seen again changes nothing
    keeper(48, None, None, down, None, {})
    assert keeper.stockouts == 2 and down["until"][1] == 7 * day + 36 * 60
    # the run's log gets the longer stop; the other stops are left as they were
    plan = _plan(10 * 24, [(0, 120, 120 + 36 * 60, 1), (1, day + 180, day + 180 + 36 * 60, 1)], [])
    assert keeper.apply(plan).downtime == [(0, 120, 120 + 36 * 60, 1), (1, day + 180, 7 * day + 36 * 60, 1)]
    # holding: a seal, a winding and an impeller on the shelf at each of the three evenings (the bearing gone on day 0)
    assert keeper.holding_cost == 9 * policy.COSTS.holding_per_part_day


def test_a_breakdown_ended_the_same_day_still_waits_for_its_part() -> None:
    from forewarn.twin.maintenance import BIT

    keeper = policy._Stock(
        {"bearing": (0.0, 1), "mechanical seal": (-1.0, 1), "stator winding": (0.0, 1), "impeller": (0.0, 1)}
    )
    down = _down(1)
    # a seal: ceil(-1) + 1 = 0 on the shelf; a leak at 01:00 repaired by 19:00 the same day (already restored)
    down["start"][0], down["until"][0], down["kind"][0] = 60, 19 * 60, 0
    down["mask"][0], down["note"][0] = BIT["replace_seal"] | BIT["oil_change"], "repair after seal_leak failure"
    keeper(24, None, None, down, None, {})
    # the seal ordered today comes on day 10; the machine stays down, and the work is not done (logged) twice
    assert down["kind"][0] == 1 and down["mask"][0] == 0 and down["until"][0] == 10 * 1440 + 18 * 60


def test_the_twin_keeps_a_machine_down_while_its_part_is_awaited() -> None:
    from forewarn.twin.fleet import FleetConfig

    f = policy._draw(FleetConfig(sites=2, assets=10, days=120, seed=5, interval="1h", degradation_scale=3.0))
    scarce = {"bearing": (-1.0, 1), "mechanical seal": (-1.0, 1), "stator winding": (-1.0, 1), "impeller": (-1.0, 1)}
    out = policy._simulate(f, "run_to_failure", stock=scarce)
    keeper = out.stock
    assert keeper is not None and len(keeper.waits) >= 2
    for (a, start), until in keeper.extended.items():
        # stopped from the failure to the part's arrival and repair, no second failure meanwhile
        assert (a, start, until, 1) in out.plan.downtime
        assert out.plan.run[a, start // 60 + 1 : min(until // 60, out.plan.run.shape[1])].max() == 0.0
        assert not [m for b, m, _ in out.plan.failures if b == a and start < m < until]
    row = policy._score(f, out, scarce, "loop")
    bare = policy._score(f, policy._simulate(f, "run_to_failure"), scarce, "none")
    assert row["stockouts"] == keeper.stockouts > 0 and bare["stockouts"] == 0
    assert row["unplanned_downtime_h"] > bare["unplanned_downtime_h"]
    assert row["total_cost"] == pytest.approx(sum(row[c] for c in policy.COMPONENTS))
