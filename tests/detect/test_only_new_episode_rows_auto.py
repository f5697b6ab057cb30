"""``forewarn detect --store DB --models FITS --only-new --episode-rows auto``: the longest episode is resolved per
asset against its kept fit's training rows, each night the same; the nights give one whole run's alarm rows and
episodes; a night under another rule than the marks' is refused before anything is read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_only_new import ROWS, T0, _fleet, _keys, _load, _rows

from forewarn.decide.alarms import AlarmRule
from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import check_rule, read_marks, write_marks
from forewarn.exceptions import ConfigError

TIED = AlarmRule(episode_rows="auto")
NIGHTS = (1400, 1450, 1450, ROWS)  # one night brings nothing
CAPS = {"P-0": 52, "P-1": 48, "P-2": 52}  # 1,400 rows at the first night: 210 training rows; P-1 800 rows: 120


def _uneven_fleet() -> pd.DataFrame:
    """test_only_new's pumps, P-1 from row 600 on (a shorter history, so a shorter fit)."""
    fleet = _fleet()
    late = (fleet["asset_id"] == "P-1") & (fleet["ts"] < T0 + pd.Timedelta(minutes=10 * 600))
    return fleet[~late].reset_index(drop=True)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("only_new_tied")
    fleet = _uneven_fleet()
    assets = sorted(fleet["asset_id"].unique())
    store, fits = root / "plant.duckdb", root / "fits"
    results, done = [], 0
    for night, upto in enumerate(NIGHTS):
        _load(store, _rows(fleet, done, upto), assets)
        done = upto
        if night == 0:
            result = detect_store(store, keep_models=True, since={}, rule=TIED)
            save_fits(result, fits)
        else:
            result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits), rule=TIED)
        assert result.marks is not None
        write_marks(fits, {**result.previous, **result.marks})
        results.append(result)
    whole_store = root / "whole.duckdb"
    _load(whole_store, fleet, assets)
    kept = SavedFits(fits)
    return {
        "store": store,
        "fits": fits,
        "results": results,
        "whole": detect_store(whole_store, kept=kept, rule=TIED),
        "fixed": {k: detect_store(whole_store, kept=kept, rule=AlarmRule(episode_rows=k)) for k in set(CAPS.values())},
        "uncapped": detect_store(whole_store, kept=kept, rule=AlarmRule(episode_rows=0)),
    }


def _alarm_rows(result, asset: str) -> list[str]:
    scores = result.scores
    return sorted(scores.loc[(scores["asset_id"] == asset) & (scores["alarm"] == 1), "timestamp"])


def test_each_asset_is_capped_at_a_quarter_of_its_own_fits_training_rows(nights: dict) -> None:
    kept = SavedFits(nights["fits"])
    assert {a: kept.training_rows(a) for a in CAPS} == {"P-0": 210, "P-1": 120, "P-2": 210}
    assert {a: TIED.resolved(kept.training_rows(a)).episode_rows for a in CAPS} == CAPS
    whole, fixed = nights["whole"], nights["fixed"]
    for asset, cap in CAPS.items():
        assert _alarm_rows(whole, asset) == _alarm_rows(fixed[cap], asset)
        assert _keys([e for e in whole.episodes if e.asset_id == asset]) == _keys(
            [e for e in fixed[cap].episodes if e.asset_id == asset]
        )
    assert _alarm_rows(fixed[48], "P-2") != _alarm_rows(whole, "P-2")  # the caps differ where the rise lasts
    rise = [e.start_ts for e in whole.episodes if e.asset_id == "P-2" and e.start_ts >= T0 + pd.Timedelta(minutes=9900)]
    assert len(rise) >= 3 and np.diff([t.value for t in rise]).min() >= CAPS["P-2"] * pd.Timedelta(minutes=10).value
    assert whole.alarms > nights["uncapped"].alarms


def test_the_nights_give_the_whole_runs_alarm_rows_and_episodes(nights: dict) -> None:
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


def test_the_marks_record_the_rule_and_another_rule_is_refused(nights: dict) -> None:
    marks = read_marks(nights["fits"])
    assert {m.rule["episode_rows"] for m in marks.values() if m.rule is not None} == {"auto"}
    assert all(m.rule == TIED.settings() for m in marks.values())
    for other in (AlarmRule(), AlarmRule(episode_rows=48)):
        with pytest.raises(
            ConfigError, match=r"episode_rows='auto' and this run has episode_rows=.*detect-marks\.json"
        ):
            detect_store(nights["store"], kept=SavedFits(nights["fits"]), since=marks, rule=other)
    unrecorded = {a: m.__class__(**{**m.__dict__, "rule": None}) for a, m in marks.items()}
    check_rule(unrecorded, list(marks), AlarmRule())  # a mark taken before the rule was recorded is not checked
