"""``forewarn store copy`` carries the record of rewrites (``reading_rewrites``, :mod:`forewarn.store.rewrites`),
numbers kept, either way between DuckDB and PostgreSQL: a mark taken on the source (``detect --only-new``) holds on
the copy instead of scoring every asset whole once; a second copy adds nothing; a target with a record of its own
keeps it and the report says why nothing was carried; a rewrite the copy's own readings make is numbered after the
source's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.detect.since import Mark, changed_since, rewrites_after
from forewarn.store import Store
from forewarn.store.copy import NAMED_REWRITES, copy_store
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.rewrites import LAST_SEQ

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _rows(asset: str, lo: int, hi: int, shift: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame({"asset_id": asset, "ts": T0 + pd.to_timedelta(np.arange(lo, hi) * 10, "min")})
    return frame.assign(temp=np.arange(lo, hi) + shift, vib=1.0)


def _source(location: str) -> None:
    """Two assets; three numbered rewrites (late rows into a gap, a replaced value, late rows again)."""
    with Store(location) as db:
        db.ingest_readings(pd.concat([_rows("A", 0, 100), _rows("B", 0, 50), _rows("B", 60, 100)]))
        db.ingest_readings(_rows("B", 50, 60))  # late rows
        db.ingest_readings(_rows("A", 40, 41, shift=0.5), on_conflict="replace")
        db.ingest_readings(pd.concat([_rows("A", 100, 120), _rows("B", 100, 110), _rows("B", 115, 120)]))
        db.ingest_readings(_rows("B", 110, 115))


def _record(db: Store) -> list[tuple[int, str, str, pd.Timestamp]]:
    found = db.sql(NAMED_REWRITES + " ORDER BY 1, 2, 3")
    return [(int(r.seq), str(r.asset_id), str(r.channel), pd.Timestamp(r.t0)) for r in found.itertuples(index=False)]


def _last(db: Store) -> int:
    return int(db.sql(LAST_SEQ).iloc[0, 0])


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.slow)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield str(tmp_path / "copy.duckdb")
    else:
        server: LocalPostgres = request.getfixturevalue("pg_server")
        yield server.create_database(f"copyrw_{tmp_path.name[-12:].lower().replace('-', '_')}")


def test_the_record_goes_with_the_copy_and_marks_hold_on_it(tmp_path: Path, target: str) -> None:
    source = str(tmp_path / "plant.duckdb")
    _source(source)
    with Store(source, read_only=True) as src:
        record, last = _record(src), _last(src)
        assert last == 3 and len(record) == 5
        mark = Mark(last_ns=_rows("A", 119, 120)["ts"].iloc[0].value, tail=[], alarm={}, from_ns=0, first_ns=0)
        marks = {"A": mark, "B": mark}
        with Store(target) as dst:
            report = copy_store(src, dst)
            assert (report.rewrites, report.rewrites_not_carried) == (5, "")
            assert _record(dst) == record and _last(dst) == last
            # a mark taken on the source at its last number: nothing changed on the copy (before: 0 < 3, "changed")
            found = rewrites_after(dst, last)
            taken = {a: Mark(**{**m.__dict__, "rewrites": last}) for a, m in marks.items()}
            assert not any(changed_since(m, _last(dst), found.get(a, [])) for a, m in taken.items())
            earlier = {a: Mark(**{**m.__dict__, "rewrites": 1}) for a, m in marks.items()}
            assert {a: changed_since(m, _last(dst), rewrites_after(dst, 1).get(a, [])) for a, m in earlier.items()} == {
                "A": True,
                "B": True,
            }
            again = copy_store(src, dst)
            assert (again.readings, again.rewrites, again.rewrites_not_carried) == (0, 0, "")
            dst.ingest_readings(_rows("A", 10, 11, shift=2.0), on_conflict="replace")  # the copy's own rewrite
            assert _last(dst) == last + 1
            mine = copy_store(src, dst)
            assert mine.rewrites == 0 and "record of its own" in mine.rewrites_not_carried
            assert len(_record(dst)) == 6
    back = str(tmp_path / "back.duckdb")
    with Store(target, read_only=True) as dst, Store(back) as other:
        assert copy_store(dst, other).rewrites == 6  # and back: the copy's record, its own rewrite included
        assert _record(other) == _record(dst)


def test_a_rewrite_the_copy_itself_makes_is_numbered_after_the_source(tmp_path: Path) -> None:
    source, into = str(tmp_path / "plant.duckdb"), str(tmp_path / "into.duckdb")
    _source(source)
    with Store(into) as dst:
        dst.ingest_readings(_rows("A", 200, 210))  # the target already holds later readings of A
    with Store(source, read_only=True) as src, Store(into) as dst:
        report = copy_store(src, dst)
        assert report.rewrites == 5
        assert [r[0] for r in _record(dst)] == [1, 1, 2, 3, 3, 4, 4]  # A's rows come in before its stored end
        assert {r[1] for r in _record(dst) if r[0] == 4} == {"A"}


def test_a_source_without_the_record_says_so(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    source = tmp_path / "old.duckdb"
    _source(str(source))
    con = duckdb.connect(str(source))
    con.execute("DROP TABLE reading_rewrites")  # a store from before the record
    con.close()
    out = CliRunner().invoke(app, ["store", "copy", "--from", str(source), "--to", str(tmp_path / "c.duckdb")])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["rewrites"] == 0 and "no record of rewrites" in shown["rewrites_not_carried"]
    assert shown["readings"] == 2 * (120 + 120)
