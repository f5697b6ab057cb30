"""``recurrence`` counts only the excursions through which the series kept running: a warning that ends in a stop
(a failure, its repair) is not the series' own normal, however often it comes back
(:mod:`forewarn.models.anomaly.recurrence`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.recurrence import capped, capped_members


def test_an_excursion_holding_an_interruption_does_not_count() -> None:
    e = np.zeros(3000)
    events = np.arange(200, 3000, 200)  # 14 separate excursions of one height
    e[events] = 30.0
    stopped = np.zeros(3000, dtype=bool)
    stopped[events] = True  # every one of them ends in a stop
    assert np.array_equal(capped(e, visits=4, interrupted=stopped), e)  # none counts: nothing capped
    stopped[events[:6]] = False  # the first six ran through: from the fifth on they count
    out = capped(e, visits=4, interrupted=stopped)
    assert out[events[:4]].tolist() == [30.0] * 4
    assert np.all(out[events[4:]] < 5.0)  # the fifth and later have 4-6 clean predecessors
    assert np.array_equal(capped_members(np.c_[e, e], visits=4, interrupted=stopped)[:, 1], out)


def test_the_gate_is_causal_and_off_without_interruptions() -> None:
    rng = np.random.default_rng(1)
    e = np.where(rng.random(5000) < 0.01, rng.uniform(3.0, 40.0, 5000), 0.5)
    stopped = rng.random(5000) < 0.003
    whole = capped(e, visits=3, interrupted=stopped)
    assert np.array_equal(capped(e[:2500], visits=3, interrupted=stopped[:2500]), whole[:2500])
    assert np.array_equal(capped(e, visits=3, interrupted=np.zeros(5000, dtype=bool)), capped(e, visits=3))


def _machine(stops: bool, cycles: int = 16, seed: int = 3) -> tuple[pd.DataFrame, list[int]]:
    """Four channels of noise, hourly; from the third cycle of 600 rows on, one channel rises by 12 spreads over
    48 rows (a warning growing towards a failure), then (with ``stops``) the machine stands still for 24 rows
    (failed, under repair) and runs again; without, the rise just ends and the series carries on."""
    rng = np.random.default_rng(seed)
    n = 600 * cycles
    x = np.zeros((n, 4))
    for t in range(1, n):
        x[t] = 0.7 * x[t - 1] + rng.normal(0, 1, 4)
    warnings = []
    for k in range(2, cycles):
        at = 600 * k + 300
        x[at : at + 48, 0] += np.linspace(0, 12, 48)
        if stops:
            x[at + 48 : at + 72] = -15.0 + rng.normal(0, 0.1, (24, 4))
        warnings.append(at)
    times = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(x, columns=list("abcd"), index=times), warnings


def _alarmed(frame: pd.DataFrame, warnings: list[int]) -> list[bool]:
    scores = EnsembleDetector(recurrence=8).fit(frame.iloc[:1200]).score(frame)
    alarms, _ = find_alarms(scores, AlarmRule())
    return [bool(alarms[w : w + 40].any()) for w in warnings]


def test_a_machine_that_fails_again_and_again_keeps_its_warnings() -> None:
    frame, warnings = _machine(stops=True)
    assert all(_alarmed(frame, warnings))  # 14 of 14: each warning ended in a stop, none counts
    frame, warnings = _machine(stops=False)  # the same rises, coming back by themselves: the series' normal
    alarmed = _alarmed(frame, warnings)
    assert all(alarmed[:8]) and not any(alarmed[8:])  # the ninth and later are capped
