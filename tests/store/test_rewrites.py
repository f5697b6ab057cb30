"""The store's record of writes that changed a series before its last stored reading (``reading_rewrites``,
:mod:`forewarn.store.rewrites`), on both backends: appending records nothing (nor does ingesting a file again, or
a differing value kept); a replaced value, late rows (overlapping the stored span or before it) record the series
written and the earliest time, as one numbered write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _rows(asset: str, lo: int, hi: int, shift: float = 0.0) -> pd.DataFrame:
    """10-minute readings ``lo .. hi-1`` of two channels."""
    frame = pd.DataFrame({"asset_id": asset, "ts": T0 + pd.to_timedelta(np.arange(lo, hi) * 10, "min")})
    return frame.assign(temp=np.arange(lo, hi) + shift, vib=1.0)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "duckdb":
        location = str(tmp_path / "plant.duckdb")
    else:
        server: LocalPostgres = request.getfixturevalue("pg_server")
        location = server.create_database(f"rewrites_{tmp_path.name[-12:].lower().replace('-', '_')}")
    with Store(location) as db:
        db.add_assets([Asset("A", "pump"), Asset("B", "pump")])
        yield db


def _log(db: Store) -> list[tuple[int, str, str, pd.Timestamp]]:
    found = db.sql(
        "SELECT w.seq, c.asset_id, c.channel, w.t0 FROM reading_rewrites w JOIN channels c "
        "ON c.series_id = w.series_id ORDER BY 1, 2, 3"
    )
    return [(int(r.seq), str(r.asset_id), str(r.channel), pd.Timestamp(r.t0)) for r in found.itertuples()]


def _at(row: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=10 * row)


def test_appends_record_nothing_and_rewrites_record_the_series_and_time(store: Store) -> None:
    db = store
    db.ingest_readings(pd.concat([_rows("A", 0, 100), _rows("B", 0, 100)]))
    db.ingest_readings(pd.concat([_rows("A", 100, 200), _rows("B", 100, 200)]))  # the next night
    db.ingest_readings(_rows("A", 100, 200))  # the same file again: nothing written
    db.ingest_readings(_rows("A", 150, 160, shift=1.0))  # other values, kept (on_conflict="keep")
    assert _log(db) == []
    db.ingest_readings(_rows("A", 150, 160, shift=1.0), on_conflict="replace")  # only temp differs
    assert _log(db) == [(1, "A", "temp", _at(150))]
    db.ingest_readings(_rows("B", 300, 310))  # a gap, then late rows into it (overlapping nothing stored)
    db.ingest_readings(_rows("B", 250, 260))
    assert _log(db)[1:] == [(2, "B", "temp", _at(250)), (2, "B", "vib", _at(250))]
    db.ingest_readings(_rows("B", 305, 320))  # overlapping stored rows (the same values), then appending
    assert len(_log(db)) == 3
    # one batch: A's rows after its last, B's partly stored (the same values) and partly new before its last
    db.ingest_readings(pd.concat([_rows("A", 200, 210), _rows("B", 255, 265)]))
    assert _log(db)[3:] == [(3, "B", "temp", _at(260)), (3, "B", "vib", _at(260))]
    db.ingest_readings(pd.concat([_rows("A", 210, 220), _rows("B", 320, 330)]))
    assert len(_log(db)) == 5
