"""``carry_alarms`` (``forewarn detect --only-new``) with a capped alarm rule: the nights add up to one whole run."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.detect.since import carry_alarms

T0 = pd.Timestamp("2024-01-01", tz="UTC").value
HOUR = 3_600_000_000_000


def _nights(level: np.ndarray, stamps: np.ndarray, rule: AlarmRule, cuts: list[int]) -> list[tuple]:
    """The episodes of runs over ``level[a:b]`` for consecutive cuts, each carrying the last one's state, in rows of
    the whole series (an episode still open, or in its refractory period, at a night's end is the next night's)."""
    found: list[tuple] = []
    saved = None
    bounds = [0, *cuts, len(level)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        carried = carry_alarms(level[a:b], stamps[a:b], rule, saved, None, lambda i: {})
        episodes = list(carried.episodes)
        if carried.state["mode"] != 0 and b < len(level):
            episodes = episodes[:-1]  # not final yet: the next night reports it
        found.extend((e.start + a, e.end + a, e.peak + a, e.peak_score, e.closed) for e in episodes)
        saved = carried.state
    return found


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.35, 0.5, 0.7, 0.95]), min_size=2, max_size=70),
    st.integers(1, 12),
    st.integers(1, 3),
    st.sampled_from([0, 2, 5, "3h"]),
    st.lists(st.floats(0.05, 0.95), min_size=1, max_size=3),
)
def test_runs_night_by_night_equal_one_whole_run_with_a_cap(values, cap, clear, refractory, shares) -> None:
    level = np.asarray(values, dtype="float64")
    stamps = T0 + np.arange(len(level), dtype="int64") * HOUR
    rule = AlarmRule(clear_rows=clear, refractory=refractory, episode_rows=cap)
    cuts = sorted({min(len(level) - 1, max(1, int(share * len(level)))) for share in shares})
    _, whole = find_alarms(level, rule, ts=pd.to_datetime(stamps, utc=True))
    assert _nights(level, stamps, rule, cuts) == [(e.start, e.end, e.peak, e.peak_score, e.closed) for e in whole]


def test_a_capped_episode_open_across_the_night_is_announced_again_the_next_night() -> None:
    level = np.asarray([0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    stamps = T0 + np.arange(len(level), dtype="int64") * HOUR
    rule = AlarmRule(episode_rows=4)
    first = carry_alarms(level[:3], stamps[:3], rule, None, None, lambda i: {})
    assert first.state["mode"] != 0  # open at the night's end
    second = carry_alarms(level[3:], stamps[3:], rule, first.state, None, lambda i: {})
    assert [(e.start + 3, e.end + 3, e.closed) for e in second.episodes] == [(1, 4, True), (5, 7, True)]
    _, whole = find_alarms(level, rule)
    assert [(e.start, e.end, e.closed) for e in whole] == [(1, 4, True), (5, 7, True)]
