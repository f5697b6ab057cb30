"""``forewarn detect --only-new`` with the ensemble's ``recurrence`` cap (issue 14 item 4): the cap's state kept in
each mark (:attr:`~forewarn.detect.since.Mark.recurrence`) makes the nights equal one run over the whole history
on a series where the cap acts, from the fitting night's marks on; a mark without it (one taken before it was kept)
reads the asset whole, said in one line; without the carry the nights cap less."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.detect import detect_store, since
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import TOLERANCE, read_marks, write_marks
from forewarn.models.anomaly.recurrence import Carry, capped_members
from forewarn.schema import Asset
from forewarn.store import Store

ROWS = 6000
NIGHTS = (1500, 3000, 3001, 3001, 4500, ROWS)  # rows each night's load reaches (one brings one row, one nothing)


def _queue() -> pd.DataFrame:
    """One asset: a queue that fills over 60-400 rows and empties at once (about 30 times), and a noise channel."""
    rng = np.random.default_rng(5)
    ramp, at = np.zeros(ROWS), 0
    while at < ROWS:
        length = int(rng.integers(60, 400))
        ramp[at : at + length] = 20.0 * np.arange(min(length, ROWS - at)) / length
        at += length
    ts = pd.date_range("2024-01-01", periods=ROWS, freq="5min", tz="UTC")
    return pd.DataFrame(
        {"asset_id": "Q-1", "ts": ts, "queue": ramp + rng.normal(0, 0.5, ROWS), "noise": rng.normal(0, 1, ROWS)}
    )


def _load(path: Path, rows: pd.DataFrame) -> None:
    with Store(path) as db:
        if not db.assets().shape[0]:
            db.add_assets([Asset("Q-1", "queue")])
        if len(rows):
            db.ingest_readings(rows)


def _nights(root: Path, fleet: pd.DataFrame) -> tuple[list, Path]:
    store, fits = root / "plant.duckdb", root / "fits"
    results, done = [], 0
    for night, upto in enumerate(NIGHTS):
        _load(store, fleet.iloc[done:upto])
        done = upto
        if night == 0:
            result = detect_store(store, keep_models=True, since={})
            save_fits(result, fits)
        else:
            result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
        write_marks(fits, {**result.previous, **result.marks})
        results.append(result)
    return results, fits


def _against_whole(root: Path, fleet: pd.DataFrame, results: list, fits: Path) -> pd.DataFrame:
    whole_store = root / "whole.duckdb"
    _load(whole_store, fleet)
    whole = detect_store(whole_store, kept=SavedFits(fits))
    nightly = pd.concat([r.scores for r in results], ignore_index=True)
    joined = nightly.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    assert len(joined) == len(whole.scores) == ROWS
    return joined


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("only_new_recurrence")
    fleet = _queue()
    results, fits = _nights(root, fleet)
    return {"root": root, "fleet": fleet, "results": results, "fits": fits}


def test_the_nights_equal_the_whole_run_where_the_cap_acts(walk: dict) -> None:
    results = walk["results"]
    assert [r.scored_how["Q-1"] for r in results[1:]] == ["new", "new", "nothing", "new", "new"]
    joined = _against_whole(walk["root"], walk["fleet"], results, walk["fits"])
    assert np.abs(joined["anomaly_score_n"] - joined["anomaly_score_w"]).max() <= TOLERANCE
    assert (joined["alarm_n"] == joined["alarm_w"]).all()
    state = read_marks(walk["fits"])["Q-1"].recurrence
    assert state is not None and state["seen"] == ROWS - since.CARRY_ROWS - 1  # kept before the checked rows
    assert sum(len(m["peaks"]) for m in state["members"]) >= 8 * 2  # enough earlier excursions to cap


def test_the_cap_acts_in_the_new_rows(walk: dict) -> None:
    fit = SavedFits(walk["fits"]).fit_for("Q-1")
    assert fit is not None and fit.model.recurrence == 8
    frame = walk["fleet"].set_index("ts")[fit.channels]
    capped = fit.score(frame)
    fit.model.set_params(recurrence=None)
    try:
        uncapped = fit.score(frame)
    finally:
        fit.model.set_params(recurrence=8)
    assert ((uncapped - capped)[3000:] > 0.05).sum() >= 5


def test_a_mark_without_the_state_reads_the_asset_whole(walk: dict, caplog: pytest.LogCaptureFixture) -> None:
    """A mark taken before the state was kept holds none: the next night reads the asset whole, said in one line,
    and gives the whole run's scores. The fitting night's mark holds it (kept before the rows the next night
    checks), so the first night after fitting reads only its context."""
    results = walk["results"]
    fitted = results[0].marks["Q-1"].recurrence
    assert fitted is not None and fitted["seen"] == NIGHTS[0] - since.CARRY_ROWS - 1
    assert results[1].marks["Q-1"].recurrence is not None
    store = walk["root"] / "older.duckdb"
    _load(store, walk["fleet"].iloc[:4500])
    older = dataclasses.replace(results[1].marks["Q-1"], recurrence=None)  # the mark at 3,000 rows, as taken before
    with caplog.at_level(logging.WARNING, logger="forewarn.detect.stored"):
        result = detect_store(store, kept=SavedFits(walk["fits"]), since={"Q-1": older})
    assert "read whole: their marks were taken before the recurrence cap's state was kept" in caplog.text
    assert result.scored_how["Q-1"] == "new" and result.marks["Q-1"].recurrence is not None
    nightly = pd.concat([r.scores for r in results[:2]] + [result.scores], ignore_index=True)
    assert len(nightly) == 4500
    fit = SavedFits(walk["fits"]).fit_for("Q-1")
    assert fit is not None
    whole = detect_store(walk["root"] / "plant.duckdb", kept=SavedFits(walk["fits"])).scores.iloc[:4500]
    assert np.abs(nightly["anomaly_score"].to_numpy() - whole["anomaly_score"].to_numpy()).max() <= TOLERANCE


def test_without_the_carry_the_nights_cap_less(walk: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same nights with the carry switched off (each night's rows capped as a series that starts at its
    context, as before it was kept): the nights no longer give the whole run's scores."""

    def plain(carry: Carry, members: np.ndarray, visits: int, stopped: np.ndarray | None, *_: object) -> np.ndarray:
        carry.members = []  # a state that holds nothing: each night counts from its context's first row
        return capped_members(members, visits, interrupted=stopped)

    monkeypatch.setattr(Carry, "cap", plain)
    results, fits = _nights(tmp_path, walk["fleet"])
    joined = _against_whole(tmp_path, walk["fleet"], results, fits)
    assert [r.scored_how["Q-1"] for r in results[1:]] == ["new", "new", "nothing", "new", "new"]
    assert np.abs(joined["anomaly_score_n"] - joined["anomaly_score_w"]).max() > 0.05  # 0.73 here
    assert (joined["alarm_n"] != joined["alarm_w"]).sum() > 0  # 11 rows here
