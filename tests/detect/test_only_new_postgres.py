"""``forewarn detect --store postgresql://... --only-new`` (issue 14 item 4 on issue 20's server store): the nightly
walk of ``test_only_new`` on a PostgreSQL store gives what one run over the whole history gives there, and the
DuckDB walk's alarms and episodes; a replaced older reading and late rows before the marks are noticed from the
store's record of rewrites (:mod:`forewarn.store.rewrites`) and rescored whole; no night hashes the history. Slow:
it starts a PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_only_new import NIGHTS, ROWS, _keys, _load, _rows, walk  # noqa: F401 - walk: the DuckDB walk (a fixture)

import forewarn.detect.stored as stored
from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import read_marks, write_marks
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres, binaries

pytestmark = pytest.mark.slow
ASSETS = ["P-0", "P-1", "P-2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    local = LocalPostgres(tmp_path_factory.mktemp("pg"), durable=False)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def _night(store: str, fits: Path, first: bool = False) -> Any:
    if first:
        result = detect_store(store, keep_models=True, since={})
        save_fits(result, fits)
    else:
        result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
    write_marks(fits, {**result.previous, **(result.marks or {})})
    return result


def _hashing_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def hashed(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a night hashed an asset's whole stored history")

    monkeypatch.setattr(stored, "history_prints", hashed)


def test_the_nightly_walk_on_postgres_is_one_whole_run(
    walk: dict,  # noqa: F811
    server: LocalPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hashing_forbidden(monkeypatch)
    fleet, fits = walk["fleet"], tmp_path / "fits"
    url = server.create_database("only_new_walk")
    results, done = [], 0
    for night, upto in enumerate(NIGHTS):
        _load(url, _rows(fleet, done, upto), ASSETS)
        done = upto
        results.append(_night(url, fits, first=night == 0))
    assert [set(r.scored_how.values()) for r in results[1:]] == [{"new"}, {"new"}, {"nothing"}, {"new"}]
    whole = detect_store(url, kept=SavedFits(fits))
    nightly = pd.concat([r.scores for r in results], ignore_index=True)
    joined = nightly.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    assert len(joined) == len(whole.scores) == 3 * ROWS
    assert np.abs(joined["anomaly_score_n"] - joined["anomaly_score_w"]).max() <= 1e-6
    assert (joined["alarm_n"] == joined["alarm_w"]).all()
    last_seen = {(e.asset_id, e.start_ts): e for r in results for e in r.episodes}
    assert _keys(list(last_seen.values())) == _keys(whole.episodes)
    # the same readings in DuckDB gave the same alarms and episodes
    assert int(nightly["alarm"].sum()) == walk["whole"].alarms
    assert _keys(whole.episodes) == _keys(walk["whole"].episodes)

    # an older reading of P-1 replaced, late rows of P-2 before its mark: those two rescored whole
    fixed = fleet[fleet["asset_id"] == "P-1"].iloc[[300]].assign(temp=99.0)
    late = fleet[fleet["asset_id"] == "P-2"].iloc[[500]].assign(ts=lambda f: f["ts"] + pd.Timedelta(minutes=5))
    with Store(url) as db:
        db.ingest_readings(fixed, on_conflict="replace")
        db.ingest_readings(late)
    _load(url, _rows(fleet, ROWS - 10, ROWS).assign(ts=lambda f: f["ts"] + pd.Timedelta(days=12)), ASSETS)
    after = _night(url, fits)
    assert after.scored_how == {"P-0": "new", "P-1": "changed", "P-2": "changed"}
    again = detect_store(url, kept=SavedFits(fits), assets=["P-1", "P-2"])
    rescored = after.scores[after.scores["asset_id"].isin(["P-1", "P-2"])]
    assert np.allclose(rescored["anomaly_score"], again.scores["anomaly_score"], atol=1e-9)
    assert _keys([e for e in after.episodes if e.asset_id != "P-0"]) == _keys(again.episodes)
