"""Channels recorded on change (a historian's deadband and heartbeat; issue 14 item 2): the deadband is read from
the training rows only and taken as recording noise by the default ensemble, so a compressed export raises about as
many alarms as the complete one; a continuous channel (a machine that stops, values missing at random, a sensor
that sticks in the scored rows) and a grid's flips are no deadband, and such series score exactly as before."""

import numpy as np
import pandas as pd
import pytest

from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.robust import deadband
from forewarn.models.anomaly.rounding import DEADBAND_VARIANCE, rounding_noise


def _recorded(values: np.ndarray, band: float, heartbeat: int) -> np.ndarray:
    """A historian's exception test: a value is kept when it moves past ``band`` from the last kept one, or
    ``heartbeat`` rows after it; the others are NaN (not recorded)."""
    out = np.full(len(values), np.nan)
    last, since = np.nan, 0
    for i, v in enumerate(values):
        since += 1
        if not np.isfinite(v):
            continue
        if not np.isfinite(last) or abs(v - last) > band or since >= heartbeat:
            out[i] = last = v
            since = 0
    return out


def test_deadband_reads_a_staircase_and_nothing_else():
    rng = np.random.default_rng(0)
    n = 1500
    walk = 20.0 + np.cumsum(rng.normal(0.0, 0.02, n))
    stair = _recorded(walk, 0.1, 16)  # a deadband of 0.1, a heartbeat of 16 rows
    running = np.arange(n) % 300 < 120
    stops = np.where(running, 50.0 + rng.normal(0.0, 0.5, n), 0.0)  # a machine at rest 60 % of the time
    holed = walk + rng.normal(0.0, 0.05, n)
    holed[rng.random(n) < 0.1] = np.nan  # 10 % missing at random (carried forward by the detector)
    converter = np.round(rng.normal(0.0, 0.25, n) / 0.328) * 0.328  # a sensor's own step: its flips are the grid's
    quiet = np.round(0.0007 + 2e-5 * rng.normal(size=n), 4)  # four decimals, sitting on one step
    filled = pd.DataFrame(np.c_[stair, walk, stops, holed, converter, quiet]).ffill().to_numpy()
    found = deadband(filled)
    assert 0.1 < found[0] < 0.15  # just past the band: the jumps, less the heartbeat's small moves
    assert found[1:].tolist() == [0.0] * 5
    assert deadband(np.c_[stair])[0] == found[0]  # gaps closed as the detector fills them: the same


def test_rounding_noise_takes_a_deadband_as_recording_noise():
    rng = np.random.default_rng(1)
    stair = pd.Series(_recorded(np.cumsum(rng.normal(0.0, 0.02, 800)), 0.1, 16)).ffill().to_numpy()
    values = np.c_[stair, rng.normal(size=800)]
    spread = np.array([2.0, 1.0])
    forecast, windows = rounding_noise(values, spread, np.ones(2), "auto")
    expected = DEADBAND_VARIANCE * (deadband(values)[0] / 2.0) ** 2
    assert forecast[0] == pytest.approx(expected) and windows[0] == pytest.approx(expected)
    assert forecast[1] == 0.0 and windows[1] == 0.0
    assert rounding_noise(values, spread, np.ones(2), False) is None


@pytest.mark.parametrize("stops", [True, False])
def test_a_continuous_series_scores_as_before_and_a_stuck_sensor_still_alarms(stops):
    rng = np.random.default_rng(2)
    n = 2400
    t = np.arange(n)
    a = 40.0 + np.sin(t / 9.0) + rng.normal(0.0, 0.3, n)
    if stops:  # at rest more than half the time: most rows repeat the resting value
        a = np.where((t % 400) < 150, a, 0.0)
    b = 10.0 + np.sin(t / 9.0) + rng.normal(0.0, 0.2, n)
    x = pd.DataFrame({"a": a, "b": b})
    x.loc[1800:1999, "b"] = x.loc[1799, "b"]  # stuck in the scored rows
    assert deadband(x.iloc[:600].to_numpy()).tolist() == [0.0, 0.0]  # read from the training rows only
    scores = EnsembleDetector().fit(x.iloc[:600]).score(x)
    assert np.array_equal(scores, EnsembleDetector(rounding=False).fit(x.iloc[:600]).score(x))  # as before
    if not stops:
        assert scores[1800:2000].max() >= 0.5  # the stuck sensor alarms


def _starts(scores: np.ndarray) -> int:
    """Rows where the score crosses the alarm level (0.5) upwards."""
    return int(((scores[1:] >= 0.5) & (scores[:-1] < 0.5)).sum())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_staircase_raises_about_the_complete_series_alarms(seed):
    """A slow cycle with little noise, recorded on change (a deadband of 0.5, a heartbeat of 24 rows): with its
    deadband as recording noise about as few alarms as the complete series (0-5). (Taken as it is, the staircase
    raised 28-45 alarms while window spreads came from cumulative sums, whose rounding gave the flat stretches a
    spread of their own; with each window's own sums it raises none on these seeds, so that is not asserted.)"""
    rng = np.random.default_rng(seed)
    n = 3000
    t = np.arange(n)
    a = 60.0 + 3.0 * np.sin(2 * np.pi * t / 500) + rng.normal(0.0, 0.02, n)
    complete = pd.DataFrame({"a": a, "b": 5.0 + rng.normal(0.0, 1.0, n)})
    stair = complete.assign(a=_recorded(a, 0.5, 24)).ffill()
    alarms = _starts(EnsembleDetector().fit(complete.iloc[:600]).score(complete))
    assert _starts(EnsembleDetector().fit(stair.iloc[:600]).score(stair)) <= alarms + 2
