"""``forewarn detect --store DB --models FITS --only-new`` (issue 14 item 4, issue 12): nightly loads scored after
each asset's mark, with the context and the alarm state carried (:mod:`forewarn.detect.since`), give what one run
over the whole history gives: the scores, the alarm rows, the episodes (one spans a night boundary), the case book;
nothing new; an asset new to the fits; a changed older row rescored whole; a context that does not give the last
scores back grows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.cases import CaseBook
from forewarn.detect import detect_store
from forewarn.detect.cases import file_cases
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import CONTEXT_ROWS, read_marks, write_marks
from forewarn.schema import Asset
from forewarn.store import Store

ROWS = 1600  # 10-minute rows: 11 days per pump, so the context (512 rows at the least) is shorter than the history
NIGHTS = (700, 1250, 1262, 1262, ROWS)  # rows each night's load reaches (cumulative; one night brings nothing)
T0 = pd.Timestamp("2024-03-01", tz="UTC")
GAP = pd.Timedelta(days=1)


def _fleet(seed: int = 5) -> pd.DataFrame:
    """Three pumps: noise; P-0 a temperature fault across the boundary at row 1250, P-1 two bursts, P-2 a lasting
    vibration rise and 3 % of its temperatures missing."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(3):
        temp = 50 + i + rng.normal(0, 1, ROWS)
        vib = 2 + rng.normal(0, 0.1, ROWS)
        if i == 0:
            temp[1240:1275] += 12
        if i == 1:
            temp[800:840] += 9
            temp[1400:1420] += 9
        if i == 2:
            vib[1000:] += 1.2
        frame = pd.DataFrame({"asset_id": f"P-{i}", "ts": T0 + pd.to_timedelta(np.arange(ROWS) * 10, "min")})
        frame["temp"], frame["vib"] = temp, vib
        if i == 2:
            frame.loc[rng.random(ROWS) < 0.03, "temp"] = np.nan
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _load(path: Path, rows: pd.DataFrame, assets: list[str]) -> None:
    with Store(path) as db:
        known = set(db.assets()["asset_id"].astype(str)) if db.assets().shape[0] else set()
        new = [Asset(a, "pump") for a in assets if a not in known]
        if new:
            db.add_assets(new)
        if len(rows):
            db.ingest_readings(rows)


def _rows(fleet: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    ts = fleet["ts"]
    return fleet[(ts >= T0 + pd.Timedelta(minutes=10 * lo)) & (ts < T0 + pd.Timedelta(minutes=10 * hi))]


def _keys(episodes: list) -> list[tuple]:
    return sorted((e.asset_id, e.start_ts, e.end_ts, e.peak_ts, e.closed, e.top_channels) for e in episodes)


def _book_cases(book: CaseBook) -> list[tuple]:
    return sorted(
        (c["asset_id"], c["opened_ts"], c["status"], c["closed_ts"], c["n_alerts"], tuple(c["top_sensors"]))
        for c in book.cases(limit=10_000)
    )


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The nights through the library as the CLI runs them: the first fits and keeps the fits and the marks; each
    later one scores the rows after the marks and files its episodes into its case book; beside it, one run over
    the whole history with the same fits."""
    root = tmp_path_factory.mktemp("only_new")
    fleet = _fleet()
    assets = sorted(fleet["asset_id"].unique())
    store, fits = root / "plant.duckdb", root / "fits"
    book = CaseBook(str(root / "nightly.cases.duckdb"), close_quiet=GAP)
    results, done = [], 0
    for night, hours in enumerate(NIGHTS):
        _load(store, _rows(fleet, done, hours), assets)
        done = hours
        if night == 0:
            result = detect_store(store, keep_models=True, since={})
            save_fits(result, fits)
        else:
            result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
        file_cases(result, book)
        assert result.marks is not None
        write_marks(fits, {**result.previous, **result.marks})
        results.append(result)
    whole_store = root / "whole.duckdb"
    _load(whole_store, fleet, assets)
    whole = detect_store(whole_store, kept=SavedFits(fits))
    whole_book = CaseBook(str(root / "whole.cases.duckdb"), close_quiet=GAP)
    file_cases(whole, whole_book)
    yield {"root": root, "fleet": fleet, "store": store, "fits": fits, "results": results, "whole": whole}
    book.close()
    whole_book.close()


def test_the_nights_scores_and_alarm_rows_are_the_whole_runs(walk: dict) -> None:
    results, whole = walk["results"], walk["whole"]
    assert [len(r.scores) for r in results] == [3 * 700, 3 * 550, 3 * 12, 0, 3 * 338]
    assert [set(r.scored_how.values()) for r in results[1:]] == [{"new"}, {"new"}, {"nothing"}, {"new"}]
    nightly = pd.concat([r.scores for r in results], ignore_index=True)
    joined = nightly.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    assert len(joined) == len(whole.scores) == 3 * ROWS
    assert np.abs(joined["anomaly_score_n"] - joined["anomaly_score_w"]).max() <= 1e-6
    assert (joined["alarm_n"] == joined["alarm_w"]).all()
    assert 5 <= int(nightly["alarm"].sum()) == whole.alarms


def test_an_episode_open_across_a_night_keeps_its_start_peak_and_channels(walk: dict) -> None:
    results, whole = walk["results"], walk["whole"]
    boundary = T0 + pd.Timedelta(minutes=10 * 1250)
    spanning = [e for e in whole.episodes if e.asset_id == "P-0" and e.start_ts < boundary <= e.end_ts]
    assert len(spanning) == 1
    carried = [e for e in results[2].episodes if e.asset_id == "P-0" and e.start_ts == spanning[0].start_ts]
    assert len(carried) == 1 and carried[0].start == -1  # its alarm row was the night before's
    # every episode of the whole run, as the last night that saw a row of it at or above `off` reported it
    last_seen = {}
    for result in results:
        for episode in result.episodes:
            last_seen[(episode.asset_id, episode.start_ts)] = episode
    assert _keys(list(last_seen.values())) == _keys(whole.episodes)


def test_the_nightly_case_book_is_the_whole_runs(walk: dict) -> None:
    root = walk["root"]
    nightly = CaseBook(str(root / "nightly.cases.duckdb"), close_quiet=GAP)
    whole = CaseBook(str(root / "whole.cases.duckdb"), close_quiet=GAP)
    try:
        assert len(_book_cases(whole)) >= 3
        assert _book_cases(nightly) == _book_cases(whole)
    finally:
        nightly.close()
        whole.close()


def test_nothing_new_scores_nothing_and_keeps_the_marks(walk: dict) -> None:
    before = read_marks(walk["fits"])
    again = detect_store(walk["store"], kept=SavedFits(walk["fits"]), since=before)
    assert len(again.scores) == 0 and list(again.scores.columns) == ["asset_id", "timestamp", "anomaly_score", "alarm"]
    assert set(again.scored_how.values()) == {"nothing"} and again.episodes == []
    assert again.marks == before


def test_a_changed_older_row_is_rescored_whole_and_matches_a_whole_run(walk: dict, tmp_path: Path) -> None:
    fleet = walk["fleet"]
    store = tmp_path / "changed.duckdb"
    _load(store, fleet, sorted(fleet["asset_id"].unique()))
    marks = read_marks(walk["fits"])
    fixed = fleet[(fleet["asset_id"] == "P-1")].iloc[[300]].assign(temp=99.0)  # an older reading corrected
    with Store(store) as db:
        db.ingest_readings(fixed, on_conflict="replace")
    result = detect_store(store, kept=SavedFits(walk["fits"]), since=marks)
    assert result.scored_how == {"P-0": "nothing", "P-1": "changed", "P-2": "nothing"}
    assert len(result.scores) == ROWS and set(result.scores["asset_id"]) == {"P-1"}
    whole = detect_store(store, kept=SavedFits(walk["fits"]), assets=["P-1"])
    assert np.allclose(result.scores["anomaly_score"], whole.scores["anomaly_score"], atol=1e-9)
    assert _keys(result.episodes) == _keys(whole.episodes)
    assert result.marks is not None and result.marks["P-1"].rewrites == 1 and marks["P-1"].rewrites == 0


def test_a_new_asset_is_fitted_and_scored_whole_then_only_new(walk: dict, tmp_path: Path) -> None:
    fleet = walk["fleet"]
    store, fits = tmp_path / "grown.duckdb", tmp_path / "fits"
    _load(store, _rows(fleet, 0, 1250), ["P-0", "P-1", "P-2"])
    first = detect_store(store, keep_models=True, since={})
    save_fits(first, fits)
    write_marks(fits, first.marks or {})
    extra = _rows(fleet, 0, 1250).query("asset_id == 'P-1'").assign(asset_id="P-9")
    _load(store, pd.concat([_rows(fleet, 1250, 1300), extra]), ["P-0", "P-1", "P-2", "P-9"])
    second = detect_store(store, kept=SavedFits(fits), since=read_marks(fits), keep_models=True)
    fitted = second.fits.set_index("asset_id")
    assert not fitted.loc["P-9", "kept"] and fitted.loc["P-9", "scored"] == 1250
    assert second.scored_how == {"P-0": "new", "P-1": "new", "P-2": "new"}
    assert second.marks is not None and second.marks["P-9"].first_ns == T0.value
    assert second.marks["P-9"].last_ns == (T0 + pd.Timedelta(minutes=10 * 1249)).value
    save_fits(second, fits)
    write_marks(fits, {**second.previous, **second.marks})
    _load(store, _rows(fleet, 1250, 1300).query("asset_id == 'P-1'").assign(asset_id="P-9"), ["P-9"])
    third = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
    assert third.scored_how["P-9"] == "new" and len(third.scores) == 50


def test_a_context_that_does_not_give_the_last_scores_back_grows_to_the_whole_history(walk: dict) -> None:
    """The rows read from the mark's context on cannot give such a tail back: the asset is read whole and the
    context doubles up to all its rows."""
    marks = read_marks(walk["fits"])
    # the marks of the night before the last, with a tail no context can give back
    before = walk["results"][3].previous
    wrong = {a: dataclasses.replace(m, tail=[v + 0.01 for v in m.tail]) for a, m in before.items()}
    assert ROWS - 338 > CONTEXT_ROWS
    again = detect_store(walk["store"], kept=SavedFits(walk["fits"]), since=wrong)
    assert set(again.scored_how.values()) == {"new"}  # read whole in a second pass: exact, not "short"
    right = walk["results"][4]
    assert np.allclose(again.scores["anomaly_score"], right.scores["anomaly_score"], atol=1e-6)
    assert _keys(again.episodes) == _keys(right.episodes)
    assert {a: m.digest for a, m in (again.marks or {}).items()} == {a: m.digest for a, m in marks.items()}
