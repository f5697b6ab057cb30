"""The alarm rule's ``episode_rows``: an episode lasts at most K rows; the batch and the stream forms agree."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.decide.alarms import AlarmRule, AlarmState, AlarmTracker, Episode, alarm_frame, find_alarms
from forewarn.exceptions import ConfigError

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _stream(scores, rule, times=None, *, checkpoint_every: int = 0) -> tuple[list[int], list[Episode]]:
    """Feed rows one at a time, restoring the state from a checkpoint every ``checkpoint_every`` rows."""
    state = AlarmState(rule)
    alarms, episodes = [], []
    for i, score in enumerate(scores):
        if checkpoint_every and i % checkpoint_every == 0:
            episodes.extend(state.pop_finished())
            state = AlarmState(rule).set_state(state.get_state())
        alarms.append(state.update(score, None if times is None else times[i]))
        episodes.extend(state.pop_finished())
    return alarms, episodes + state.finish()


def test_a_level_that_stays_high_is_announced_again_every_k_rows() -> None:
    scores = [0.1] + [0.9] * 10 + [0.1] * 6
    alarms, episodes = find_alarms(scores, AlarmRule(clear_rows=5, episode_rows=4))
    assert np.flatnonzero(alarms).tolist() == [1, 5, 9]
    assert [(e.start, e.end, e.closed) for e in episodes] == [(1, 4, True), (5, 8, True), (9, 10, True)]
    uncapped, [one] = find_alarms(scores, AlarmRule(clear_rows=5))
    assert np.flatnonzero(uncapped).tolist() == [1] and (one.start, one.end) == (1, 10)


def test_a_capped_episode_ends_at_its_last_row_at_or_above_off_and_peaks_inside() -> None:
    # rows 1-5 open; the dip on rows 4-5 (below off, fewer than clear_rows) ends it at row 3; row 6 re-alarms
    scores = [0.0, 0.6, 0.95, 0.4, 0.1, 0.1, 0.7, 0.99, 0.0, 0.0, 0.0]
    alarms, episodes = find_alarms(scores, AlarmRule(on=0.5, off=0.3, clear_rows=3, episode_rows=5))
    assert alarms.tolist() == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert [(e.start, e.end, e.peak, e.peak_score, e.closed) for e in episodes] == [
        (1, 3, 2, 0.95, True),
        (6, 7, 7, 0.99, True),
    ]


def test_an_episode_shorter_than_k_rows_is_untouched_and_open_at_the_end_stays_open() -> None:
    scores = [0.0, 0.8, 0.9, 0.1, 0.1, 0.0, 0.0, 0.7, 0.7]
    rule = AlarmRule(clear_rows=2, episode_rows=4)
    alarms, episodes = find_alarms(scores, rule)
    plain, expected = find_alarms(scores, AlarmRule(clear_rows=2))
    assert alarms.tolist() == plain.tolist() and episodes == expected
    last = episodes[-1]
    assert (last.start, last.closed) == (7, False)  # two rows of four: the data ended first


def test_reaching_k_rows_on_the_last_row_of_the_data_is_a_cap_in_both_forms() -> None:
    scores = [0.0, 0.8, 0.8, 0.8]
    rule = AlarmRule(episode_rows=3)
    alarms, episodes = find_alarms(scores, rule)
    assert [(e.start, e.end, e.closed) for e in episodes] == [(1, 3, True)]
    state = AlarmState(rule)
    assert [state.update(s) for s in scores] == alarms.tolist()
    assert [(e.start, e.end, e.closed) for e in state.pop_finished()] == [(1, 3, True)]  # final on its last row
    assert state.finish() == []


def test_the_refractory_period_ends_with_the_episode_and_does_not_follow_a_cap() -> None:
    rule = AlarmRule(on=0.5, off=0.3, clear_rows=1, refractory=10, episode_rows=4)
    # cleared on row 1; the return on row 2 (inside the refractory period and the episode's 4 rows) is the same
    # episode; the return on row 5 is past the episode's last row (row 3): a new alarm, though inside 10 rows of
    # refractory; it lasts, so row 9 (after its 4 rows, 5-8) is announced again
    scores = [0.9, 0.1, 0.6, 0.1, 0.1, 0.7, 0.7, 0.7, 0.7, 0.7]
    alarms, episodes = find_alarms(scores, rule)
    assert np.flatnonzero(alarms).tolist() == [0, 5, 9]
    assert [(e.start, e.end, e.closed) for e in episodes] == [(0, 2, True), (5, 8, True), (9, 9, False)]
    assert _stream(scores, rule) == (alarms.tolist(), episodes)
    assert np.flatnonzero(find_alarms(scores, replace(rule, episode_rows=None))[0]).tolist() == [0]


def test_episode_rows_is_a_row_count_and_zero_or_none_is_no_limit() -> None:
    assert AlarmRule(episode_rows=0) == AlarmRule(episode_rows=None) == AlarmRule()
    assert AlarmRule(episode_rows=np.int64(48)).episode_rows == 48
    for bad in (-1, True, 2.5, "48", "6h"):
        with pytest.raises(ConfigError, match="episode_rows"):
            AlarmRule(episode_rows=bad)  # type: ignore[arg-type]


def test_a_checkpoint_written_before_episode_rows_existed_resumes_mid_episode_under_a_cap() -> None:
    """The state holds no new value: an old checkpoint (the same names) resumes, and the cap counts from the
    episode's alarm row, before and after the restore."""
    old = {
        "mode": 1,
        "row": 6,
        "start": 3,
        "end": 5,
        "peak": 4,
        "peak_score": 0.9,
        "below": 0,
        "close": -1,
        "close_ns": None,
        "last_ns": None,
        "stamps": {},
        "top": [],
    }
    state = AlarmState(AlarmRule(episode_rows=5)).set_state(old)
    assert [state.update(s) for s in (0.8, 0.8, 0.8, 0.8)] == [0, 0, 1, 0]  # rows 6, 7 end it (3 + 5 - 1); 8 opens
    assert [(e.start, e.end, e.peak, e.closed) for e in state.pop_finished()] == [(3, 7, 4, True)]
    assert [(e.start, e.end, e.closed) for e in state.finish()] == [(8, 9, False)]


_scores = st.lists(st.one_of(st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]), st.floats(0, 1)), max_size=80)
_rules = st.builds(
    lambda on, gap, clear, refr, cap: AlarmRule(
        on=on, off=on - gap, clear_rows=clear, refractory=refr, episode_rows=cap
    ),
    st.sampled_from([0.5, 0.6, 0.9]),
    st.sampled_from([0.1, 0.2, 0.5]),
    st.integers(1, 4),
    st.integers(0, 6),
    st.integers(1, 12),
)


@settings(max_examples=400, deadline=None)
@given(_scores, _rules, st.integers(0, 7))
def test_stream_and_batch_agree_with_a_cap(scores, rule, checkpoint_every) -> None:
    alarms, episodes = find_alarms(scores, rule)
    assert _stream(scores, rule, checkpoint_every=checkpoint_every) == (alarms.tolist(), episodes)
    assert alarms.sum() == len(episodes)
    for episode in episodes:
        assert scores[episode.start] >= rule.on and episode.start <= episode.peak <= episode.end
        assert episode.end - episode.start < rule.episode_rows
        assert episode.peak_score == max(scores[episode.start : episode.end + 1])
    for before, after in zip(episodes, episodes[1:], strict=False):
        assert after.start > before.end and before.closed


@settings(max_examples=200, deadline=None)
@given(_scores, _rules)
def test_a_cap_longer_than_the_series_changes_nothing(scores, rule) -> None:
    uncapped = AlarmRule(on=rule.on, off=rule.off, clear_rows=rule.clear_rows, refractory=rule.refractory)
    long = AlarmRule(
        on=rule.on, off=rule.off, clear_rows=rule.clear_rows, refractory=rule.refractory, episode_rows=len(scores) + 1
    )
    capped, found = find_alarms(scores, long)
    plain, expected = find_alarms(scores, uncapped)
    assert capped.tolist() == plain.tolist() and found == expected


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 90)), max_size=60),
    st.sampled_from(["0s", "30min", "2h"]),
    st.integers(1, 10),
    st.integers(0, 5),
)
def test_stream_and_batch_agree_with_a_cap_and_a_timed_refractory_period(rows, refractory, cap, every) -> None:
    scores = [score for score, _ in rows]
    times = list(T0 + pd.to_timedelta(np.cumsum([step for _, step in rows]), unit="min"))
    rule = AlarmRule(on=0.5, off=0.3, clear_rows=2, refractory=refractory, episode_rows=cap)
    alarms, episodes = find_alarms(scores, rule, ts=times)
    assert _stream(scores, rule, times, checkpoint_every=every) == (alarms.tolist(), episodes)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 1)), max_size=60), _rules)
def test_tracker_agrees_with_alarm_frame_per_asset_with_a_cap(rows, rule) -> None:
    frame = pd.DataFrame(rows, columns=["asset_id", "anomaly_score"])
    alarm, episodes = alarm_frame(frame, rule, ts=None)
    tracker = AlarmTracker(rule)
    assert alarm.tolist() == [tracker.update(a, s) for a, s in rows]
    positions = {a: np.flatnonzero(frame["asset_id"].to_numpy() == a) for a in "abc"}
    mapped = sorted(
        (e.asset_id, int(positions[e.asset_id][e.start]), int(positions[e.asset_id][e.end]), e.closed)
        for e in tracker.finish()
    )
    assert mapped == sorted((e.asset_id, e.start, e.end, e.closed) for e in episodes)
