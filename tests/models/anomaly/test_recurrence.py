"""``recurrence``: a height the series itself has already reached in enough separate excursions is normal (an
option of the ensemble, :mod:`forewarn.models.anomaly.recurrence`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.exceptions import ConfigError
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.recurrence import capped, capped_members
from forewarn.models.anomaly.tails import RARE


def _queue(n: int, seed: int) -> pd.DataFrame:
    """A queue that fills over 60-400 rows and empties at once, plus noise (one channel, 5-minute rows): so few
    emptyings fall in a 15 % fit that the fit calls them rare."""
    rng = np.random.default_rng(seed)
    ramp, at = np.zeros(n), 0
    while at < n:
        length = int(rng.integers(60, 400))
        ramp[at : at + length] = 20.0 * np.arange(min(length, n - at)) / length
        at += length
    times = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame({"queue": ramp + rng.normal(0, 0.5, n)}, index=times)


def _starts(scores: np.ndarray, after: int) -> int:
    alarms, _ = find_alarms(scores, AlarmRule())
    return int(alarms[after:].sum())


def test_a_height_reached_again_and_again_is_capped_at_its_own_frequency() -> None:
    e = np.full(3000, 0.5)
    events = np.arange(200, 3000, 200)  # 14 separate excursions of one height
    e[events] = 30.0
    out = capped(e, visits=4)
    assert out[events[:4]].tolist() == [30.0] * 4  # the first ``visits`` are kept: nothing to compare with yet
    n = np.arange(4, len(events))  # the later ones: the surprise of their own frequency plus one decade
    assert np.allclose(out[events[4:]], -np.log10(n / (events[4:] + 1.0)) + 1.0)
    assert out[events[4:]].max() < 5.0  # under the ensemble's level
    assert np.array_equal(out[e < RARE], e[e < RARE])  # rows under the rare height untouched


def test_a_new_height_keeps_its_surprise_and_the_cap_is_causal() -> None:
    e = np.zeros(4000)
    e[np.arange(100, 3000, 150)] = 20.0
    e[3500:3510] = 400.0  # ten times higher than anything before (in surprise): a fault
    out = capped(e, visits=3)
    assert np.array_equal(out[3500:3510], e[3500:3510])
    early = capped(e[:1500], visits=3)  # the rows after a row do not change its cap
    assert np.array_equal(early, out[:1500])
    e[1000] = np.nan
    assert np.isnan(capped(e, visits=3)[1000])


def test_heights_within_the_tolerance_count_as_the_same_event() -> None:
    e = np.zeros(2000)
    e[[100, 400, 700]] = 9.0
    e[1000] = 9.4  # within half a decade of the earlier peaks: their fourth visit
    e[1300] = 10.0  # more than half a decade above them: new
    out = capped(e, visits=3)
    assert out[1000] < 9.4
    assert out[1300] == 10.0
    assert capped_members(np.c_[e, e], visits=3).shape == (2000, 2)


def test_the_ensemble_stops_alarming_at_a_queue_that_empties_and_still_sees_a_fault() -> None:
    frame = _queue(8000, seed=5)
    plain = EnsembleDetector(recurrence=None).fit(frame.iloc[:1200])
    option = EnsembleDetector(recurrence=8).fit(frame.iloc[:1200])  # the default since 2026-12-06
    default_starts, option_starts = _starts(plain.score(frame), 1200), _starts(option.score(frame), 1200)
    assert default_starts >= 8  # without it an episode opens at many emptyings
    assert option_starts <= 0.7 * default_starts  # 38 -> 23 here: the k-th highest earlier emptying caps it
    # never higher than the default: the cap only lowers the combined surprise (settling and recover read it uncapped)
    assert np.all(option.score(frame) <= plain.score(frame) + 1e-12)
    broken = frame.copy()
    broken.iloc[6000:6100, 0] += 60.0  # a level shift three times the queue's whole range
    assert option.score(broken)[6000:6100].max() > 0.9


def test_a_series_without_eight_recurrences_scores_as_without_the_cap_and_a_bad_value_is_refused() -> None:
    frame = _queue(1500, seed=2)
    default = EnsembleDetector().fit(frame.iloc[:300]).score(frame)
    off = EnsembleDetector(recurrence=None).fit(frame.iloc[:300]).score(frame)
    assert EnsembleDetector().recurrence == 8
    assert np.array_equal(default, off)
    with pytest.raises((ConfigError, ValueError), match="recurrence"):
        EnsembleDetector(recurrence=1).fit(frame.iloc[:300])
