"""Retention coalesces the record of rewrites (``reading_rewrites``, :mod:`forewarn.store.rewrites`, *Pruning*) on
both backends: after a month of nightly exports that each deliver the previous night's late rows, ``store retain``
leaves about a row per series plus the rewrites of the history it keeps, the last number stays, and no reader's
answer changes: for every mark (every number, every last scored row from the cutoff on) "changed since" is what it
was, and a mark whose last row is before the cutoff finds its rows gone (so it is scored whole) where it is not
told "changed"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.detect.since import Mark, changed_since, rewrites_after
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.rewrites import LAST_SEQ

T0 = pd.Timestamp("2024-03-01", tz="UTC")
DAY = 144  # 10-minute rows
NIGHTS = 30
LATE = (8, 3)  # each export misses its rows 8..3 before its end; the next night's export delivers them
ASSETS = ["A", "B", "C"]


def _export(night: int) -> pd.DataFrame:
    """Night ``night``'s export: its day of rows and the previous export's late rows, less its own late rows
    (asset C has none late on even nights)."""
    parts = []
    for asset in ASSETS:
        rows = np.arange(max(night * DAY - LATE[0], 0), (night + 1) * DAY)
        late_own = (rows >= (night + 1) * DAY - LATE[0]) & (rows < (night + 1) * DAY - LATE[1])
        late_before = rows < night * DAY
        if asset == "C" and night % 2 == 0:
            late_own = late_own & False
        if asset == "C" and (night - 1) % 2 == 0:
            late_before = late_before & False
        rows = rows[~late_own & ((rows >= night * DAY) | late_before)]
        frame = pd.DataFrame({"asset_id": asset, "ts": T0 + pd.to_timedelta(rows * 10, "min")})
        parts.append(frame.assign(temp=rows * 0.1, vib=np.sin(rows)))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.slow)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield str(tmp_path / "plant.duckdb")
    else:
        server: LocalPostgres = request.getfixturevalue("pg_server")
        yield server.create_database(f"prune_{tmp_path.name[-12:].lower().replace('-', '_')}")


def _month(location: str) -> None:
    with Store(location) as db:
        db.add_assets([Asset(a, "pump") for a in ASSETS])
        for night in range(NIGHTS):
            db.ingest_readings(_export(night))


def _answers(db: Store, last: int, times: list[pd.Timestamp]) -> dict[tuple[str, int, int], bool]:
    """ "Changed since" for every asset, mark number ``0 .. last`` and last scored row in ``times``."""
    answers = {}
    for m in range(last + 1):
        found = rewrites_after(db, m)
        for asset in ASSETS:
            for t in times:
                mark = Mark(last_ns=t.value, tail=[], alarm={}, from_ns=0, first_ns=0, rewrites=m)
                answers[(asset, m, t.value)] = changed_since(mark, last, found.get(asset, []))
    return answers


def _size(db: Store) -> int:
    return int(db.sql("SELECT count(*) AS n FROM reading_rewrites").iloc[0, 0])


def test_retention_coalesces_the_record_and_no_reader_answer_changes(location: str) -> None:
    _month(location)
    cutoff = T0 + pd.Timedelta(days=23)
    times = [T0 + pd.Timedelta(hours=6 * k) for k in range(4 * NIGHTS + 1)]
    with Store(location) as db:
        size, last = _size(db), int(db.sql(LAST_SEQ).iloc[0, 0])
        assert last == NIGHTS - 1 and size == 2 * (2 * (NIGHTS - 1) + (NIGHTS - 1) // 2)  # 144: a row a series a night
        before = _answers(db, last, times)
        db.drop_readings_before(cutoff)
        # each series: one row for the rewrites before the cutoff (nights 1-23), one for each night after it
        kept = 2 * (2 * (1 + 6) + (1 + 3))
        assert _size(db) == kept and int(db.sql(LAST_SEQ).iloc[0, 0]) == last
        after = _answers(db, last, times)
        gone = db.readings("A", end=cutoff)
        assert gone.empty
        for key, was in before.items():
            if key[2] >= cutoff.value:
                assert after[key] == was, key
            else:  # a mark whose rows retention dropped: told "changed", or its rows are gone (scored whole)
                assert after[key] or was is False
        missed = [k for k, was in before.items() if was and not after[k]]
        assert missed == []  # never hides a rewrite
        db.drop_readings_before(cutoff)  # again: nothing more to coalesce
        assert _size(db) == kept
        db.ingest_readings(_export(NIGHTS))  # the next night numbers its write after the last
        assert int(db.sql(LAST_SEQ).iloc[0, 0]) == last + 1


def test_store_retain_says_what_it_coalesced(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    location = str(tmp_path / "plant.duckdb")
    _month(location)
    out = CliRunner().invoke(app, ["store", "retain", "--store", location, "--keep", "7d"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["cutoff"] == "2024-03-23T00:00:00+00:00"
    assert shown["rewrites"] == 2 * (2 * (1 + 7) + (1 + 3)) and shown["rewrites_coalesced"] == 144 - shown["rewrites"]


def _pumps(rows: int = 1500) -> pd.DataFrame:
    """Three pumps of 10-minute rows (P-1 with a temperature burst), wide."""
    rng = np.random.default_rng(7)
    parts = []
    for i in range(3):
        frame = pd.DataFrame({"asset_id": f"P-{i}", "ts": T0 + pd.to_timedelta(np.arange(rows) * 10, "min")})
        frame["temp"], frame["vib"] = 50 + i + rng.normal(0, 1, rows), 2 + rng.normal(0, 0.1, rows)
        if i == 1:
            frame.loc[1300:1330, "temp"] += 9.0
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def test_a_night_after_retention_scores_as_with_the_whole_record(tmp_path: Path) -> None:
    """``detect --only-new`` after retention, from a mark taken before two late writes and one taken between them:
    the same assets scored whole, the same scores, as on a copy whose record was not coalesced."""
    import shutil

    import duckdb

    from forewarn.detect import detect_store
    from forewarn.detect.saved import SavedFits, save_fits

    pumps = _pumps()
    row = ((pumps["ts"] - T0) / pd.Timedelta(minutes=10)).astype(int)
    hole = (pumps["asset_id"] == "P-2") & row.between(300, 340)
    store, fits = str(tmp_path / "plant.duckdb"), tmp_path / "fits"
    with Store(store) as db:
        db.add_assets([Asset(f"P-{i}", "pump") for i in range(3)])
        db.ingest_readings(pumps[~hole & (row < 900)])
    first = detect_store(store, keep_models=True, since={})
    save_fits(first, fits)
    before_both = {**first.previous, **(first.marks or {})}  # taken before either late write
    with Store(store) as db:
        db.ingest_readings(pumps[hole | ((row >= 900) & (row < 1100))])  # P-2's late rows: write 1
    second = detect_store(store, kept=SavedFits(fits), since=before_both)
    between = {**second.previous, **(second.marks or {})}
    late = pumps[(pumps["asset_id"] == "P-2") & (row == 380)].assign(temp=70.0)
    with Store(store) as db:
        db.ingest_readings(late, on_conflict="replace")  # write 2, also before the cutoff
        db.ingest_readings(pumps[(row >= 1100) & (row < 1200)])
    third = detect_store(store, kept=SavedFits(fits), since=between)
    after_both = {**third.previous, **(third.marks or {})}
    with Store(store) as db:
        db.ingest_readings(pumps[(row >= 1200) & (row < 1300)])
    plain = str(tmp_path / "plain.duckdb")
    shutil.copy(store, plain)
    cutoff = T0 + pd.Timedelta(days=3)
    con = duckdb.connect(plain)  # retention as before: readings dropped, the record left whole
    con.execute("DELETE FROM reading_values WHERE ts < ?", [cutoff.to_pydatetime()])
    con.close()
    with Store(store) as db:
        db.drop_readings_before(cutoff)
        assert _size(db) == 2  # P-2's temp: writes 1 and 2 coalesced into one row; its vib: write 1's
    with Store(plain, read_only=True) as db:
        assert _size(db) == 3
    for marks, p2 in ((before_both, "changed"), (between, "changed"), (after_both, "new")):
        got = detect_store(store, kept=SavedFits(fits), since=dict(marks))
        expected = detect_store(plain, kept=SavedFits(fits), since=dict(marks))
        assert got.scored_how == expected.scored_how and got.scored_how["P-2"] == p2
        pd.testing.assert_frame_equal(got.scores, expected.scores)
