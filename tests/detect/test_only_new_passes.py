"""``detect --store --only-new``'s second pass (issue 14 item 5): when one asset of several falls short (its context,
all the rows read, does not give the previous run's last scores back), only that asset is read whole and scored
again, and its result takes the first pass's place: the night's scores table, episodes (rows counted in the merged
table), explanations, fits' lines and marks are those of a night where nothing fell short."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_only_new import walk  # noqa: F401 - the nightly walk (a fixture)

import forewarn.detect.stored as stored
from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits


def _rows(episodes: list) -> list[tuple]:
    return [(e.asset_id, e.start, e.end, e.peak, e.start_ts, e.end_ts, e.closed, e.top_channels) for e in episodes]


def test_one_short_asset_of_three_is_scored_again_alone_and_merged(walk: dict, monkeypatch: Any) -> None:  # noqa: F811
    right = walk["results"][4]  # the last night, where nothing fell short
    wrong = {
        a: dataclasses.replace(m, tail=[v + 0.01 for v in m.tail]) if a == "P-1" else m
        for a, m in right.previous.items()
    }
    scored: list[list[str]] = []
    real = stored._detect_read

    def counted(store: Any, parts: list[pd.DataFrame], *args: Any) -> Any:
        scored.append(sorted({str(a) for part in parts for a in part["asset_id"].unique()}))
        return real(store, parts, *args)

    monkeypatch.setattr(stored, "_detect_read", counted)
    again = detect_store(walk["store"], kept=SavedFits(walk["fits"]), since=wrong)
    assert scored == [["P-0", "P-1", "P-2"], ["P-1"]]  # the second pass reads and scores P-1 alone
    assert again.scored_how == {"P-0": "new", "P-1": "new", "P-2": "new"}  # read whole: exact, not "short"
    columns = ["asset_id", "timestamp", "alarm"]
    pd.testing.assert_frame_equal(again.scores[columns], right.scores[columns])
    assert np.abs(again.scores["anomaly_score"] - right.scores["anomaly_score"]).max() <= 1e-6
    assert again.alarms == right.alarms
    assert _rows(again.episodes) == _rows(right.episodes) and len(again.episodes) >= 1
    assert [sorted(x) for x in again.explanations] == [sorted(x) for x in right.explanations]
    assert np.allclose(again.alarm_scores, right.alarm_scores, atol=1e-6)
    # the fits' lines in place; `rows`: the rows read, P-1's all of them
    pd.testing.assert_frame_equal(again.fits.drop(columns="rows"), right.fits.drop(columns="rows"))
    assert again.fits.set_index("asset_id")["rows"].to_dict() == {
        **right.fits.set_index("asset_id")["rows"].to_dict(),
        "P-1": 1600,
    }
    assert again.n_train == right.n_train
    assert again.marks is not None and right.marks is not None
    assert {a: (m.digest, m.from_ns, m.last_ns) for a, m in again.marks.items()} == {
        a: (m.digest, m.from_ns, m.last_ns) for a, m in right.marks.items()
    }


@pytest.mark.parametrize("short", [["P-0"], ["P-2"], ["P-0", "P-2"]])
def test_the_merged_rows_and_episodes_whichever_assets_fall_short(walk: dict, short: list[str]) -> None:  # noqa: F811
    right = walk["results"][4]
    wrong = {
        a: dataclasses.replace(m, tail=[v + 0.01 for v in m.tail]) if a in short else m
        for a, m in right.previous.items()
    }
    again = detect_store(walk["store"], kept=SavedFits(walk["fits"]), since=wrong)
    assert list(again.scores["asset_id"]) == list(right.scores["asset_id"])
    assert (again.scores["alarm"].to_numpy() == right.scores["alarm"].to_numpy()).all()
    assert _rows(again.episodes) == _rows(right.episodes)
