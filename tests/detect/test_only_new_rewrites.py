"""``detect --store --only-new`` notices a changed history from the store's record of rewrites
(:mod:`forewarn.store.rewrites`), not by hashing every stored reading each night: late rows inserted before an
asset's mark make it rescored whole, equal to a whole run; the same night's file ingested again, or old readings
dropped before the context, change nothing; no night hashes the history."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_only_new import T0, _fleet, _keys, _load, _rows

import forewarn.detect.stored as stored
from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import read_marks, write_marks
from forewarn.store import Store

ASSETS = ["P-0", "P-1", "P-2"]
HOLE = (600, 640)  # P-2's rows missing from the first nights, loaded late


def _night(store: Path, fits: Path, first: bool = False) -> Any:
    if first:
        result = detect_store(store, keep_models=True, since={})
        save_fits(result, fits)
    else:
        result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
    write_marks(fits, {**result.previous, **(result.marks or {})})
    return result


@pytest.fixture
def nights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two nights with P-2's rows ``HOLE`` missing; no night may hash an asset's stored history."""
    fleet = _fleet()
    store, fits = tmp_path / "plant.duckdb", tmp_path / "fits"
    hole = (fleet["asset_id"] == "P-2") & fleet["ts"].between(
        T0 + pd.Timedelta(minutes=10 * HOLE[0]), T0 + pd.Timedelta(minutes=10 * (HOLE[1] - 1))
    )
    _load(store, _rows(fleet[~hole], 0, 900), ASSETS)
    _night(store, fits, first=True)
    _load(store, _rows(fleet[~hole], 900, 1100), ASSETS)

    def hashed(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a night hashed an asset's whole stored history")

    monkeypatch.setattr(stored, "history_prints", hashed)
    second = _night(store, fits)
    assert second.scored_how == {"P-0": "new", "P-1": "new", "P-2": "new"}
    return {"fleet": fleet, "hole": hole, "store": store, "fits": fits}


def test_late_rows_before_the_mark_rescore_that_asset_whole_as_a_whole_run(nights: dict, tmp_path: Path) -> None:
    fleet, store, fits = nights["fleet"], nights["store"], nights["fits"]
    _load(store, pd.concat([fleet[nights["hole"]], _rows(fleet, 1100, 1300)]), ASSETS)  # the late rows come in
    third = _night(store, fits)
    assert third.scored_how == {"P-0": "new", "P-1": "new", "P-2": "changed"}
    p2 = third.scores[third.scores["asset_id"] == "P-2"]
    assert len(p2) == 1300  # read and scored whole, the late rows among them
    whole_store = tmp_path / "whole.duckdb"
    _load(whole_store, _rows(fleet, 0, 1300), ASSETS)
    whole = detect_store(whole_store, kept=SavedFits(fits), assets=["P-2"])
    assert np.abs(p2["anomaly_score"].to_numpy() - whole.scores["anomaly_score"].to_numpy()).max() <= 1e-9
    assert _keys([e for e in third.episodes if e.asset_id == "P-2"]) == _keys(whole.episodes)
    fourth_rows = _rows(fleet, 1300, 1400)
    _load(store, fourth_rows, ASSETS)
    assert set(_night(store, fits).scored_how.values()) == {"new"}  # the next night: only new rows again


def test_the_same_file_again_and_old_rows_dropped_change_nothing(nights: dict) -> None:
    fleet, store, fits = nights["fleet"], nights["store"], nights["fits"]
    _load(store, _rows(fleet[~nights["hole"]], 900, 1100), ASSETS)  # the last night's file, again
    with Store(store) as db:
        db.drop_readings_before(T0 + pd.Timedelta(days=1))  # retention, before every context
    _load(store, _rows(fleet[~nights["hole"]], 1100, 1200), ASSETS)
    third = _night(store, fits)
    assert third.scored_how == {"P-0": "new", "P-1": "new", "P-2": "new"}
    assert len(third.scores) == 3 * 100


def test_marks_and_stores_from_before_the_record_are_checked_by_fingerprint(
    nights: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks written before the record (a fingerprint, no number) are checked by the fingerprint once; a store
    without the record (an older one, opened read-only) by the fingerprint every night."""
    import duckdb

    from forewarn.detect.since import history_prints

    monkeypatch.undo()  # this test hashes
    fleet, store, fits = nights["fleet"], nights["store"], nights["fits"]
    with Store(store, read_only=True) as db:
        old = {
            a: dataclasses.replace(m, rewrites=None, history=history_prints(db, a, m.last_ns)[0])
            for a, m in read_marks(fits).items()
        }
    fixed = fleet[fleet["asset_id"] == "P-1"].iloc[[300]].assign(temp=99.0)
    with Store(store) as db:
        db.ingest_readings(fixed, on_conflict="replace")
    assert detect_store(store, kept=SavedFits(fits), since=old).scored_how == {
        "P-0": "nothing",
        "P-1": "changed",
        "P-2": "nothing",
    }
    con = duckdb.connect(str(store))
    con.execute("DROP TABLE reading_rewrites")  # a store from before the record
    con.close()
    # marks with a number, a store without the record: nothing can be told, so every asset is rescored whole
    again = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
    assert set(again.scored_how.values()) == {"changed"}
    assert again.marks is not None and all(m.history is not None and m.rewrites is None for m in again.marks.values())
    later = detect_store(store, kept=SavedFits(fits), since={**again.previous, **again.marks})
    assert set(later.scored_how.values()) == {"nothing"}  # then by the fingerprint, each night
