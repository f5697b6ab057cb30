"""Spare parts in the policy bench: a breakdown repair short of its part waits for the next arrival (worked example)."""

from __future__ import annotations

import numpy as np

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
