"""A held read on PostgreSQL is one statement (issue 20): ``pg_hold.held_buckets`` asks the asset's newest reading
inside its one SELECT (it was a query of its own), and neither it nor the last window opens a transaction to turn
JIT off (``BEGIN; SET LOCAL jit = off; ...; COMMIT``): the store's connections run without JIT from the start,
pooled and session alike. Answers equal the DuckDB store's, with and without an end before the newest reading, and
for an asset without readings. One server per session (``pg_server``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forewarn.schema import Asset
from forewarn.store import Store, hold, pg_hold
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.pg_sql import PgConnection
from forewarn.store.window_queries import last_buckets

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-03-04T00:00:00Z")
HOUR = 3_600_000_000


class Counting:
    """A psycopg connection that counts what it is asked to run (statements, transactions)."""

    def __init__(self, con: Any) -> None:
        self.con, self.statements, self.transactions = con, [], 0

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(str(sql))
        return self.con.execute(sql, *args, **kwargs)

    def transaction(self) -> Any:
        self.transactions += 1
        return self.con.transaction()

    def cursor(self) -> Any:
        return self.con.cursor()


def _readings() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frames = []
    for channel, step in (("temp", 40), ("flow", 15)):
        times = pd.date_range(T0, periods=36 * 60 // step, freq=f"{step}min")
        values = rng.normal(10.0, 1.0, len(times))
        frames.append(pd.DataFrame({"asset_id": "A", "channel": channel, "ts": times, "value": values}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def stores(pg_server: LocalPostgres) -> Iterator[tuple[Store, Store]]:
    with Store(pg_server.create_database("fw_held_round_trips")) as pg, Store() as duck:
        for db in (pg, duck):
            db.ingest_readings(_readings())
            db.add_assets([Asset("E", "pump")])
            db.set_hold("A", None, "1h")
        yield pg, duck


def test_the_connections_run_without_jit(stores: tuple[Store, Store]) -> None:
    pg, _ = stores
    with pg.connection() as con:  # type: ignore[attr-defined]
        assert con.execute("SHOW jit").fetchone()[0] == "off"
        assert con.execute("SHOW TimeZone").fetchone()[0] == "UTC"
    assert pg._db().execute("SHOW jit").fetchall()[0][0] == "off"


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, None), (T0 + pd.Timedelta("3h"), None), (T0 + pd.Timedelta("2h"), T0 + pd.Timedelta("20h"))],
)
def test_a_held_read_is_one_statement_and_answers_as_duckdb(
    stores: tuple[Store, Store], start: pd.Timestamp | None, end: pd.Timestamp | None
) -> None:
    pg, duck = stores
    with pg.connection() as raw:  # type: ignore[attr-defined]
        counting = Counting(raw)
        index = pg_hold.PgSeriesIndex(PgConnection(raw))
        series = index.of("A", None)
        got = pg_hold.held_buckets(PgConnection(counting), "A", index, index.holds, start, end, HOUR)
    assert len(counting.statements) == 1 and counting.transactions == 0, counting.statements
    assert set(index.holds) == set(series)
    expected = duck.readings("A", start, end, resample="1h")
    got = got.sort_values(["ts", "channel"], ignore_index=True)
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(got["value"].to_numpy(float), expected["value"].to_numpy(float), rtol=1e-9)
    assert (pd.DatetimeIndex(got["ts"]) == pd.DatetimeIndex(expected["ts"])).all()
    pd.testing.assert_frame_equal(pg.readings("A", start, end, resample="1h"), expected, check_dtype=False)


def test_an_asset_without_readings_and_the_last_window(stores: tuple[Store, Store], monkeypatch: Any) -> None:
    pg, duck = stores
    assert pg.readings("E", resample="1h").empty and duck.readings("E", resample="1h").empty
    seen: list[Counting] = []
    connection = pg.connection  # type: ignore[attr-defined]

    @contextmanager
    def counted(*, write: bool = False) -> Iterator[Counting]:
        with connection(write=write) as con:
            seen.append(Counting(con))
            yield seen[-1]

    monkeypatch.setattr(pg, "connection", counted)
    window = last_buckets(pg, ["A"], ["temp", "flow"], 6, HOUR, [hold.NO_START])
    monkeypatch.undo()
    held = [c for c in seen if any("generate_series" in q for q in c.statements)]  # the window's held read
    assert len(held) == 1 and len(held[0].statements) == 1 and held[0].transactions == 0, held[0].statements
    expected = last_buckets(duck, ["A"], ["temp", "flow"], 6, HOUR, [hold.NO_START])
    keys = ["asset_id", "ts", "channel"]
    got, expected = window.sort_values(keys, ignore_index=True), expected.sort_values(keys, ignore_index=True)
    assert len(got) == len(expected) == 12
    np.testing.assert_allclose(got["value"].to_numpy(float), expected["value"].to_numpy(float), rtol=1e-9)
