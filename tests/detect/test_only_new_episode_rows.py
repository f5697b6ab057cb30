"""``forewarn detect --store DB --models FITS --only-new --episode-rows K``: with a capped alarm rule, the nights
give one whole run's alarm rows and episodes (a lasting rise announced again every K rows across the nights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_only_new import NIGHTS, _fleet, _keys, _load, _rows

from forewarn.decide.alarms import AlarmRule
from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import read_marks, write_marks

RULE = AlarmRule(episode_rows=40)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("only_new_capped")
    fleet = _fleet()
    assets = sorted(fleet["asset_id"].unique())
    store, fits = root / "plant.duckdb", root / "fits"
    results, done = [], 0
    for night, hours in enumerate(NIGHTS):
        _load(store, _rows(fleet, done, hours), assets)
        done = hours
        if night == 0:
            result = detect_store(store, keep_models=True, since={}, rule=RULE)
            save_fits(result, fits)
        else:
            result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits), rule=RULE)
        assert result.marks is not None
        write_marks(fits, {**result.previous, **result.marks})
        results.append(result)
    whole_store = root / "whole.duckdb"
    _load(whole_store, fleet, assets)
    return {
        "results": results,
        "whole": detect_store(whole_store, kept=SavedFits(fits), rule=RULE),
        "uncapped": detect_store(whole_store, kept=SavedFits(fits), rule=AlarmRule(episode_rows=0)),
    }


def test_the_nights_alarm_rows_and_episodes_are_the_whole_runs_with_a_cap(nights: dict) -> None:
    results, whole = nights["results"], nights["whole"]
    nightly = pd.concat([r.scores for r in results], ignore_index=True)
    joined = nightly.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    assert len(joined) == len(whole.scores)
    assert (joined["alarm_n"] == joined["alarm_w"]).all()
    last_seen = {}
    for result in results:
        for episode in result.episodes:
            last_seen[(episode.asset_id, episode.start_ts)] = episode
    assert _keys(list(last_seen.values())) == _keys(whole.episodes)


def test_the_lasting_rise_is_announced_again_and_no_episode_outlasts_the_cap(nights: dict) -> None:
    whole, uncapped = nights["whole"], nights["uncapped"]
    assert whole.alarms > uncapped.alarms
    step = pd.Timedelta(minutes=10)
    assert all((e.end_ts - e.start_ts) < RULE.episode_rows * step for e in whole.episodes)
    rise = [e for e in whole.episodes if e.asset_id == "P-2" and e.start_ts >= pd.Timestamp("2024-03-07", tz="UTC")]
    assert len(rise) >= 3 and np.all(np.diff([e.start_ts.value for e in rise]) >= RULE.episode_rows * step.value)
