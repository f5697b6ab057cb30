"""A PostgreSQL ingest asks whether a batch overlaps stored readings one series at a time
(``pg_ingest.OVERLAP_SQL``), not over the batch's box (smallest to largest series, first to last time): a stream's
batch whose series' stored ends are staggered (one series' next reading before another's last stored one) goes
straight to COPY, as a batch overlapping nothing should, and a late row into one series' gap too; a batch that does
overlap a stored key still goes through the staging table (conflicts counted, refused, kept or replaced). The stored
readings and the record of rewrites equal the DuckDB store's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest

from forewarn.exceptions import ForewarnError
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-03-04T00:00:00Z")
MIN = pd.Timedelta("1min")


def _row(asset: str, minute: int, value: float = 1.0) -> dict[str, Any]:
    return {"asset_id": asset, "ts": T0 + minute * MIN, "temp": value + minute, "vib": value}


@pytest.fixture
def stores(pg_server: LocalPostgres, request: pytest.FixtureRequest) -> Iterator[tuple[Store, Store]]:
    name = "fw_overlap_" + request.node.name[-20:].lower().replace("[", "_").replace("]", "").replace("-", "_")
    with Store(pg_server.create_database(name)) as pg, Store() as duck:
        yield pg, duck


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    execute = psycopg.Connection.execute

    def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    return seen


def _both(stores: tuple[Store, Store], frame: pd.DataFrame, **options: Any) -> list[Any]:
    return [db.ingest_readings(frame, **options) for db in stores]


def _same(stores: tuple[Store, Store]) -> None:
    pg, duck = stores
    for asset in ("A", "B"):
        pd.testing.assert_frame_equal(pg.readings(asset), duck.readings(asset), check_dtype=False)
    record = "SELECT w.seq, c.asset_id, c.channel, w.t0 FROM reading_rewrites w JOIN channels c USING (series_id)"
    assert sorted(map(tuple, pg.sql(record).astype(str).values)) == sorted(
        map(tuple, duck.sql(record).astype(str).values)
    )


def _staged(seen: list[str]) -> bool:
    return any("CREATE TEMP TABLE __fw_stage" in q for q in seen)


def test_staggered_ends_and_a_late_row_into_a_gap_go_straight_to_copy(
    stores: tuple[Store, Store], statements: list[str]
) -> None:
    # A read up to minute 10, B up to minute 5 with minute 3 missing
    _both(stores, pd.DataFrame([_row("A", m) for m in range(11)] + [_row("B", m) for m in (0, 1, 2, 4, 5)]))
    statements.clear()
    # the stream's next batch: B's next reading (minute 6) is before A's last stored one (minute 10)
    reports = _both(stores, pd.DataFrame([_row("A", 11), _row("B", 6)]))
    assert not _staged(statements) and reports[0].written == reports[1].written == 4
    statements.clear()
    reports = _both(stores, pd.DataFrame([_row("B", 3), _row("A", 12)]))  # B's late row into its gap; A appends
    assert not _staged(statements) and reports[0].written == 4
    _same(stores)
    pg, _ = stores
    record = pg.sql("SELECT c.asset_id, w.t0 FROM reading_rewrites w JOIN channels c USING (series_id)")
    assert sorted(record["asset_id"]) == ["B", "B"] and (pd.DatetimeIndex(record["t0"]) == T0 + 3 * MIN).all()


def test_a_batch_over_a_stored_key_still_goes_through_the_staging_table(
    stores: tuple[Store, Store], statements: list[str]
) -> None:
    _both(stores, pd.DataFrame([_row("A", m) for m in range(11)] + [_row("B", m) for m in range(6)]))
    statements.clear()
    again = pd.DataFrame([_row("A", 10, value=2.0), _row("A", 11), _row("B", 6)])  # A's minute 10 stored, other
    reports = _both(stores, again)  # kept (on_conflict="keep")
    assert _staged(statements)
    assert [(r.written, r.conflicts) for r in reports] == [(4, 2), (4, 2)]
    for db in stores:
        with pytest.raises(ForewarnError):
            db.ingest_readings(pd.DataFrame([_row("A", 11, value=3.0)]), on_conflict="error")
    reports = _both(stores, pd.DataFrame([_row("A", 9, value=5.0)]), on_conflict="replace")
    assert [r.replaced for r in reports] == [2, 2]
    _same(stores)
