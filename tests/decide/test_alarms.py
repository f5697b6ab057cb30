"""The one alarm rule: hysteresis, refractory period, episodes; the batch and the stream forms agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.decide.alarms import (
    AlarmRule,
    AlarmState,
    AlarmTracker,
    Episode,
    alarm_frame,
    episodes_table,
    find_alarms,
    find_episodes,
)
from forewarn.exceptions import ConfigError, SchemaError, StateError

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _stream(scores, rule, times=None, *, checkpoint_every: int = 0) -> tuple[list[int], list[Episode]]:
    """Feed rows one at a time (optionally restoring the state from a checkpoint now and then)."""
    state = AlarmState(rule)
    alarms, episodes = [], []
    for i, score in enumerate(scores):
        if checkpoint_every and i % checkpoint_every == 0:
            episodes.extend(state.pop_finished())
            state = AlarmState(rule).set_state(state.get_state())
        alarms.append(state.update(score, None if times is None else times[i]))
        episodes.extend(state.pop_finished())
    return alarms, episodes + state.finish()


def test_the_threshold_is_inclusive_everywhere() -> None:
    rule = AlarmRule(on=0.5, off=0.3, clear_rows=1)
    assert find_alarms([0.5], rule)[0].tolist() == [1]
    assert find_alarms([0.4999999], rule)[0].tolist() == [0]
    assert AlarmState(rule).update(0.5) == 1
    # off is exclusive the other way: exactly `off` keeps the episode open
    assert [(e.end, e.closed) for e in find_episodes([0.6, 0.3, 0.3, 0.29], rule)] == [(2, True)]


def test_a_level_that_stays_high_raises_one_alarm() -> None:
    scores = np.r_[np.full(100, 0.1), np.full(500, 0.9), np.full(100, 0.1)]
    alarms, episodes = find_alarms(scores, AlarmRule())
    assert alarms.sum() == 1 and alarms[100] == 1
    assert [(e.start, e.end, e.closed) for e in episodes] == [(100, 599, True)]


def test_hysteresis_holds_through_short_dips_and_refractory_merges_returns() -> None:
    rng = np.random.default_rng(1)
    scores = np.clip(np.r_[np.full(50, 0.1), 0.5 + rng.normal(0, 0.15, 300), np.full(50, 0.05)], 0, 1)
    naive = int(((scores[1:] >= 0.5) & (scores[:-1] < 0.5)).sum())
    plain = find_alarms(scores, AlarmRule(on=0.5, off=0.3, clear_rows=1))[0].sum()
    held = find_alarms(scores, AlarmRule(on=0.5, off=0.3, clear_rows=10))[0].sum()
    assert naive > 30 and held == 1 and plain > held
    merged = find_alarms(scores, AlarmRule(on=0.5, off=0.3, clear_rows=1, refractory=20))[0].sum()
    assert merged < plain


def test_refractory_in_time_needs_timestamps_and_counts_time_not_rows() -> None:
    scores = [0.9, 0.0, 0.9, 0.0, 0.9]
    times = [T0, T0 + pd.Timedelta("1h"), T0 + pd.Timedelta("2h"), T0 + pd.Timedelta("3h"), T0 + pd.Timedelta("9h")]
    rule = AlarmRule(clear_rows=1, refractory="2h")
    with pytest.raises(ConfigError, match="needs timestamps"):
        find_episodes(scores, rule)
    alarms, episodes = find_alarms(scores, rule, ts=times)
    assert alarms.tolist() == [1, 0, 0, 0, 1]  # row 2 is 1 h after the clearing row 1: same episode
    assert [(e.start, e.end, e.start_ts, e.end_ts) for e in episodes] == [
        (0, 2, T0, T0 + pd.Timedelta("2h")),
        (4, 4, times[4], times[4]),
    ]
    assert _stream(scores, rule, times) == (alarms.tolist(), episodes)


def test_open_episode_at_the_end_is_reported_not_closed() -> None:
    episodes = find_episodes([0.1, 0.7, 0.4, 0.2], AlarmRule(on=0.5, off=0.3, clear_rows=3))
    assert [(e.start, e.end, e.peak, e.closed) for e in episodes] == [(1, 2, 1, False)]


def test_bad_settings_and_scores_are_refused_with_the_fix() -> None:
    for kwargs in (
        {"on": 0.0},
        {"on": 1.5},
        {"off": -0.1},
        {"on": 0.4, "off": 0.4},
        {"clear_rows": 0},
        {"refractory": -1},
        {"refractory": "soon"},
        {"refractory": True},
    ):
        with pytest.raises(ConfigError):
            AlarmRule(**kwargs)
    with pytest.raises(SchemaError, match="row 2 is not finite"):
        find_alarms([0.1, 0.2, float("nan")])
    with pytest.raises(SchemaError, match="not finite"):
        AlarmState().update(float("inf"))
    with pytest.raises(SchemaError, match="backwards"):
        find_episodes([0.1, 0.2], ts=[T0, T0 - pd.Timedelta("1min")])
    state = AlarmState()
    state.update(0.1, T0)
    with pytest.raises(SchemaError, match="older than the previous row"):
        state.update(0.1, T0 - pd.Timedelta("1s"))
    with pytest.raises(StateError, match="lacks"):
        AlarmState().set_state({"mode": 0})


def test_top_channels_come_from_the_peak_row_in_both_forms() -> None:
    contributions = pd.DataFrame({"temp": [0, 0.2, 0.9, 0], "flow": [0, 0.5, 0.1, 0], "vib": [0, 0.1, 0.3, 0]})
    scores = [0.1, 0.6, 0.8, 0.1]
    (episode,) = find_episodes(scores, AlarmRule(clear_rows=1), contributions=contributions, top_k=2)
    assert episode.peak == 2 and episode.top_channels == ("temp", "vib")
    state = AlarmState(AlarmRule(clear_rows=1), top_k=2)
    for score, (_, row) in zip(scores, contributions.iterrows(), strict=True):
        state.update(score, contributions=row.to_dict())
    assert state.finish() == [episode]


def test_alarm_frame_scores_each_asset_in_time_order_and_keeps_row_order() -> None:
    frame = pd.DataFrame(
        {
            "asset_id": ["a", "a", "b", "a", "b", "b"],
            "ts": [T0 + pd.Timedelta(minutes=m) for m in (2, 0, 0, 1, 2, 1)],
            "anomaly_score": [0.1, 0.9, 0.2, 0.8, 0.1, 0.7],
        }
    )
    alarm, episodes = alarm_frame(frame, AlarmRule(clear_rows=1))
    assert alarm.tolist() == [0, 1, 0, 0, 0, 1] and alarm.name == "alarm"
    table = episodes_table(episodes)
    assert table[["asset_id", "start", "end", "peak"]].values.tolist() == [["a", 1, 3, 1], ["b", 5, 5, 5]]
    assert table["start_ts"].tolist() == [T0, T0 + pd.Timedelta(minutes=1)]
    assert episodes[0].to_dict()["start_ts"] == "2024-01-01T00:00:00+00:00"
    with pytest.raises(SchemaError, match="no score column"):
        alarm_frame(frame.drop(columns="anomaly_score"))


def test_a_million_rows_take_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    scores = np.clip(rng.beta(2, 8, 1_000_000) + (rng.random(1_000_000) < 1e-3) * 0.6, 0, 1)
    alarms, episodes = find_alarms(scores)
    assert alarms.sum() == len(episodes) > 100


_scores = st.lists(st.one_of(st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]), st.floats(0, 1)), max_size=80)
_rules = st.builds(
    lambda on, gap, clear, refr: AlarmRule(on=on, off=on - gap, clear_rows=clear, refractory=refr),
    st.sampled_from([0.5, 0.6, 0.9]),
    st.sampled_from([0.1, 0.2, 0.5]),
    st.integers(1, 4),
    st.integers(0, 6),
)


@settings(max_examples=300, deadline=None)
@given(_scores, _rules, st.integers(0, 7))
def test_stream_and_batch_agree_on_alarms_and_episodes(scores, rule, checkpoint_every) -> None:
    alarms, episodes = find_alarms(scores, rule)
    assert _stream(scores, rule, checkpoint_every=checkpoint_every) == (alarms.tolist(), episodes)
    assert alarms.sum() == len(episodes)
    for episode in episodes:
        assert scores[episode.start] >= rule.on and episode.start <= episode.peak <= episode.end
        assert episode.peak_score == max(scores[episode.start : episode.end + 1])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 90)), max_size=60), st.sampled_from(["0s", "30min", "2h"]))
def test_stream_and_batch_agree_with_a_timed_refractory_period(rows, refractory) -> None:
    scores = [score for score, _ in rows]
    times = list(T0 + pd.to_timedelta(np.cumsum([step for _, step in rows]), unit="min"))
    rule = AlarmRule(on=0.5, off=0.3, clear_rows=2, refractory=refractory)
    alarms, episodes = find_alarms(scores, rule, ts=times)
    assert _stream(scores, rule, times) == (alarms.tolist(), episodes)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 1)), max_size=60), _rules)
def test_tracker_agrees_with_alarm_frame_per_asset(rows, rule) -> None:
    frame = pd.DataFrame(rows, columns=["asset_id", "anomaly_score"])
    alarm, episodes = alarm_frame(frame, rule, ts=None)
    tracker = AlarmTracker(rule)
    streamed = [tracker.update(a, s) for a, s in rows]
    assert alarm.tolist() == streamed
    positions = {a: np.flatnonzero(frame["asset_id"].to_numpy() == a) for a in "abc"}
    mapped = sorted(
        (e.asset_id, int(positions[e.asset_id][e.start]), int(positions[e.asset_id][e.end])) for e in tracker.finish()
    )
    assert mapped == sorted((e.asset_id, e.start, e.end) for e in episodes)
