"""The alarm rule's ``episode_rows="auto"``: an episode's length tied to the fit's training rows, max(48, n // 4);
a tied rule is resolved against them before it finds episodes, and refused unresolved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alarms import (
    TIED,
    AlarmRule,
    AlarmState,
    AlarmTracker,
    alarm_frame,
    find_alarms,
    find_episodes,
    tied_episode_rows,
)
from forewarn.exceptions import ConfigError


@pytest.mark.parametrize(("rows", "cap"), [(0, 48), (150, 48), (192, 48), (196, 49), (300, 75), (2400, 600)])
def test_the_tied_length_is_a_quarter_of_the_training_rows_48_at_the_least(rows: int, cap: int) -> None:
    assert tied_episode_rows(rows) == cap
    assert AlarmRule(episode_rows=TIED).resolved(rows) == AlarmRule(episode_rows=cap)


def test_resolving_keeps_the_other_settings_and_leaves_other_rules_alone() -> None:
    tied = AlarmRule(on=0.6, off=0.2, clear_rows=3, refractory="2h", episode_rows="auto")
    assert tied.tied and not tied.resolved(1000).tied
    assert tied.resolved(1000) == AlarmRule(on=0.6, off=0.2, clear_rows=3, refractory="2h", episode_rows=250)
    for rule in (AlarmRule(), AlarmRule(episode_rows=12)):
        assert rule.resolved(1000) is rule and rule.resolved(None) is rule


def test_an_unresolved_tied_rule_is_refused_where_episodes_are_found() -> None:
    tied = AlarmRule(episode_rows="auto")
    with pytest.raises(ConfigError, match=r"find_episodes: .*resolved\(training_rows\)"):
        find_alarms([0.1, 0.9, 0.1], tied)
    with pytest.raises(ConfigError, match=r"AlarmState: .*resolved\(training_rows\)"):
        AlarmState(tied)
    frame = pd.DataFrame({"asset_id": ["a"] * 3, "anomaly_score": [0.1, 0.9, 0.1]})
    with pytest.raises(ConfigError, match="alarm_frame"):
        alarm_frame(frame, tied, ts=None)
    with pytest.raises(ConfigError, match="training_rows="):
        AlarmTracker(tied)
    with pytest.raises(ConfigError, match="needs the training rows"):
        tied.resolved(None)


@pytest.mark.parametrize("bad", ["Auto", "6h", "", True, -1, 2.5])
def test_episode_rows_is_a_row_count_or_auto(bad: object) -> None:
    with pytest.raises(ConfigError, match="episode_rows"):
        AlarmRule(episode_rows=bad)  # type: ignore[arg-type]


def test_the_tracker_resolves_each_assets_rule_against_its_own_fit() -> None:
    rows = {"long": 1000, "short": 90}
    tracker = AlarmTracker(AlarmRule(clear_rows=1, episode_rows="auto"), training_rows=rows.get)
    scores = np.full(600, 0.9)  # a level that stays high: announced again every K rows
    alarms = {a: [tracker.update(a, s) for s in scores] for a in rows}
    assert np.flatnonzero(alarms["long"]).tolist() == [0, 250, 500]
    assert np.flatnonzero(alarms["short"]).tolist() == list(range(0, 600, 48))
    for asset, n in rows.items():
        assert (
            find_alarms(scores, AlarmRule(clear_rows=1, episode_rows="auto").resolved(n))[0].tolist() == alarms[asset]
        )
    assert [len(find_episodes(scores, AlarmRule(clear_rows=1).resolved(n))) for n in rows.values()] == [1, 1]


def test_settings_give_the_rule_back_as_json_values() -> None:
    for rule in (AlarmRule(), AlarmRule(on=0.7, off=0.1, clear_rows=2, refractory=4, episode_rows=30)):
        assert AlarmRule(**rule.settings()) == rule
    tied = AlarmRule(refractory="90min", episode_rows="auto")
    assert tied.settings() == {
        "on": 0.5,
        "off": 0.3,
        "clear_rows": 5,
        "refractory": "P0DT1H30M0S",
        "episode_rows": "auto",
    }
    assert AlarmRule(**tied.settings()) == tied
