"""Values missing at random are no deadband (issue 14 item 2): a channel missing a fifth to a half of its values,
carried forward, is a staircase like a historian's on-change export, but its moves on consecutive rows are the
signal's own, down to nothing, while a deadband's all exceed the band. The first gets no recording noise (it
scores as the same rows with the noise switched off), the second keeps its deadband."""

import numpy as np
import pandas as pd
import pytest

from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.robust import deadband, floored


def _recorded(values: np.ndarray, band: float, heartbeat: int) -> np.ndarray:
    """A historian's exception test: a value is kept when it moves past ``band`` from the last kept one, or
    ``heartbeat`` rows after it; the others are NaN."""
    out = np.full(len(values), np.nan)
    last, since = np.nan, 0
    for i, v in enumerate(values):
        since += 1
        if not np.isfinite(last) or abs(v - last) > band or since >= heartbeat:
            out[i] = last = v
            since = 0
    return out


def _signals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Three continuous channels: a slow walk with noise, a cycle with noise, white noise."""
    t = np.arange(n)
    return np.c_[
        20.0 + np.cumsum(rng.normal(0.0, 0.02, n)) + rng.normal(0.0, 0.05, n),
        50.0 + 2.0 * np.sin(t / 40.0) + rng.normal(0.0, 0.3, n),
        rng.normal(0.0, 1.0, n),
    ]


@pytest.mark.parametrize("share", [0.2, 0.3, 0.5])
def test_values_missing_at_random_are_no_deadband(share):
    rng = np.random.default_rng(int(share * 100))
    holed = _signals(rng, 1500)
    holed[rng.random(holed.shape) < share] = np.nan
    assert deadband(holed).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_deadband_is_still_read(seed):
    rng = np.random.default_rng(seed)
    complete = _signals(rng, 1500)
    bands = [0.1, 0.5, 1.5]  # each about one row-to-row spread of its channel
    stair = np.column_stack([_recorded(complete[:, j], bands[j], 16) for j in range(3)])
    found = deadband(stair)
    assert all(b < f < 3.0 * b for f, b in zip(found, bands, strict=True))


def test_floored_reads_the_moves_on_consecutive_rows_only():
    rng = np.random.default_rng(3)
    jumps = 1.0 + np.abs(rng.normal(size=300))  # each past a band of 1
    waited = rng.integers(0, 3, size=300)
    assert floored(jumps, waited)
    small = np.where(waited > 0, 0.001, jumps)  # tiny moves after a wait (a heartbeat's) do not count
    assert floored(small, waited)
    tiny = np.where(waited == 0, np.abs(rng.normal(size=300)), jumps)  # a signal's own moves between gaps
    assert not floored(tiny, waited)
    assert floored(tiny[:15], np.zeros(15, dtype=int))  # too few moves to show a floor: no evidence against one


def test_a_channel_missing_at_random_scores_without_recording_noise():
    """Through the ensemble: the holed series scores exactly as with the recording noise switched off (the
    values lie on no grid, so ``rounding=False`` differs only by the deadband), which it did not when a fifth
    of the values missing read as a deadband."""
    rng = np.random.default_rng(4)
    values = _signals(rng, 2400)
    values[rng.random(values.shape) < 0.3] = np.nan
    frame = pd.DataFrame(values, columns=["a", "b", "c"]).ffill().bfill()
    train = frame.iloc[:600]
    scores = EnsembleDetector().fit(train).score(frame)
    assert np.array_equal(scores, EnsembleDetector(rounding=False).fit(train).score(frame))
