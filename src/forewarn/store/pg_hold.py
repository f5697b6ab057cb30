"""Channels recorded on change (:mod:`forewarn.store.hold`) on the PostgreSQL store.

The rule (a value holds until its channel's next reading, at most ``hold``, never past the asset's newest reading
of any channel; a bucket's mean weighs the values holding in it by time) is :func:`forewarn.store.hold.
held_buckets_sql`'s; :func:`held_buckets_sql` here writes it in a form PostgreSQL runs cheaply (per series, index
order, times kept as timestamps), for the two bucketed reads the server store answers: ``PgStore.readings(
resample=...)`` (:func:`held_buckets`) and the service's last window (:func:`last_buckets`, called by
:func:`forewarn.store.window_queries.last_buckets`). ``tests/store/test_pg_hold.py`` holds the two forms equal. A held channel is never
answered from the hourly or daily rollups (they hold plain sums of the recorded values). The column
``channels.hold_us`` comes with migration 8 (:mod:`forewarn.store.pg_sql`), the same ``ALTER TABLE ... ADD COLUMN
IF NOT EXISTS`` as the embedded store's: a database written before keeps its readings and holds no held channel.

>>> from forewarn.store.queries import CATALOG_VERSION
>>> version_sql(True).startswith(CATALOG_VERSION + ", (SELECT md5("), version_sql(False) == CATALOG_VERSION
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, cast

import pandas as pd

from forewarn.store import hold, queries
from forewarn.store.pg_sql import LAST_TS, arrow_of, placeholders
from forewarn.store.tables import quote_literal

if TYPE_CHECKING:
    from forewarn.store.pg_sql import PgConnection
    from forewarn.store.store import Store


def version_sql(has_holds: bool) -> str:
    """The catalogue version query of a PostgreSQL store: the holds' term when its channels have the column."""
    return queries.CATALOG_VERSION + (hold.PG_HOLDS_VERSION if has_holds else "")


class PgSeriesIndex(queries.SeriesIndex):
    """:class:`~forewarn.store.queries.SeriesIndex` of a PostgreSQL store, with its held channels: a hold set since
    the index was built changes its version (:data:`forewarn.store.hold.PG_HOLDS_VERSION`). ``version[:2]`` is
    the catalogue's own (number of assets, largest series id), what :func:`~forewarn.store.pg_sql.fetch_readings`
    returns."""

    def __init__(self, con: Any) -> None:
        has_holds = hold.has_hold_column(con)
        text = version_sql(has_holds)
        version = tuple(con.execute(text).fetchall()[0])  # first: a change while the rest is read makes it stale
        super().__init__(con)
        self._version_sql = text
        self.version = version
        self.holds = hold.series_holds(con) if has_holds else {}


def held_buckets(
    con: PgConnection,
    asset_id: str,
    index: queries.SeriesIndex,
    holds: dict[int, int],
    start: object,
    end: object,
    width_us: int,
) -> pd.DataFrame:
    """``asset_id, ts, channel, value``: the time-weighted buckets of the held series ``holds`` of one asset in
    ``[start, end)``, from ``start`` (all history without one) to the asset's newest reading of any channel (or
    ``end``); the bounds of :func:`forewarn.store.queries.readings` on DuckDB. One statement, one round trip: the
    asset's newest reading is a subquery of the series' rows (it was a query of its own), and the connection runs
    without JIT already (:func:`select_without_jit`)."""
    every = ", ".join(str(int(s)) for s in sorted(index.of(asset_id)))
    newest = f"(SELECT epoch_us(max({LAST_TS})) + 1 FROM channels c WHERE c.series_id IN ({every}))"
    hi = f"coalesce({newest}, 0)" if end is None else f"least(coalesce({newest}, 0), {queries._micros(end, 'end')})"
    lo = hold.NO_START if start is None else queries._micros(start, "start")
    ids = ", ".join(str(int(s)) for s in sorted(holds))
    series = (
        f"SELECT c.series_id, c.asset_id, c.channel, c.{hold.HOLD_COLUMN} AS hold_us, {lo}::BIGINT AS lo_us, "
        f"{hi}::BIGINT AS hi_us FROM channels c WHERE c.series_id IN ({ids})"
    )
    return select_without_jit(con.con, held_buckets_sql(width_us, series))


def held_buckets_sql(width_us: int, series_sql: str) -> str:
    """SQL of ``asset_id, ts, channel, value``: the time-weighted bucket means of held series, on PostgreSQL.

    The contract and the rule are :func:`forewarn.store.hold.held_buckets_sql`'s (``series_sql``: one row per held
    series, ``series_id, asset_id, channel, hold_us, lo_us, hi_us``; buckets ``width_us`` wide aligned on the Unix
    epoch, covering ``[lo_us, hi_us)``). The form is PostgreSQL's own, about half the cost of that text in its
    former ``postgres`` dialect (BENCHMARKS.md, 2026-12-06 07:18-08:10, helper 3), per series (``LATERAL``):

    * only the series' last reading before ``lo_us`` (at most ``hold_us`` before it: a backward index scan, one
      row) can hold into the window, so it is read alone, then the window's readings; both in the key's order, so
      ``lead()`` (the next reading, where a value stops holding) needs no sort;
    * times stay timestamps: ``epoch_us()`` is NUMERIC arithmetic, twice a reading; a bucket is ``date_bin``'s, a
      piece's weight its seconds as a double (``date_part`` of an interval, to 1e-16 relative);
    * a segment is cut into its buckets by ``generate_series`` in the select list (one row for a segment inside
      one bucket), and the pieces are summed per series and bucket.

    >>> sql = held_buckets_sql(3_600_000_000, "SELECT 1")
    >>> "LIMIT 1" in sql and "lead(x.ts) OVER (ORDER BY x.ts)" in sql and "epoch_us" not in sql
    True
    """
    width = f"INTERVAL '{int(width_us)} microseconds'"
    micros = "INTERVAL '1 microsecond'"
    series = (
        f"SELECT series_id, asset_id, channel, hold_us * {micros} AS hold, "
        f"{hold.PG_EPOCH} + greatest(lo_us, {hold.PG_FLOOR_US}) * {micros} AS lo, "
        f"{hold.PG_EPOCH} + hi_us * {micros} AS hi FROM ({series_sql}) AS s"
    )
    readings = (
        "(SELECT v.ts, v.value FROM reading_values v WHERE v.series_id = hs.series_id AND v.ts >= hs.lo - hs.hold "
        "AND v.ts < hs.lo ORDER BY v.ts DESC LIMIT 1) UNION ALL (SELECT v.ts, v.value FROM reading_values v "
        "WHERE v.series_id = hs.series_id AND v.ts >= hs.lo AND v.ts < hs.hi ORDER BY v.ts)"
    )
    segments = (
        "SELECT x.value, greatest(x.ts, hs.lo) AS s0, "
        f"least(coalesce(lead(x.ts) OVER (ORDER BY x.ts), hs.hi), x.ts + hs.hold, hs.hi) AS s1 FROM ({readings}) AS x"
    )
    pieces = (
        f"SELECT value, s0, s1, generate_series(date_bin({width}, s0, {hold.PG_EPOCH}), s1 - {micros}, {width}) AS b "
        f"FROM ({segments}) AS seg WHERE s1 > s0"
    )
    weighed = (
        f"SELECT b, value, date_part('epoch', least(s1, b + {width}) - greatest(s0, b)) AS d FROM ({pieces}) AS cut"
    )
    return (
        f"WITH hs AS MATERIALIZED ({series}) SELECT hs.asset_id, p.b AS ts, hs.channel, p.value FROM hs "
        f"CROSS JOIN LATERAL (SELECT b, sum(value * d) / sum(d) AS value FROM ({weighed}) AS piece GROUP BY b) AS p"
    )


def select_without_jit(con: Any, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """The rows of one SELECT (``?`` parameters) on a psycopg connection of the store, in one round trip.

    The store's connections run with PostgreSQL's JIT off (:data:`forewarn.store.postgres.SESSION_SETTINGS`, set
    once per connection): the planner estimates each ``generate_series`` of the held buckets at 1,000 rows, so a
    held read costs enough to be compiled, and one asset's last 24 h at 1 h (30 ms of work) took 1.4 s in JIT
    compilation (``EXPLAIN ANALYZE``, Debian's PostgreSQL 15 with LLVM). Until 2026-12-06 each read set it itself
    (``BEGIN; SET LOCAL jit = off; ...; COMMIT``: three more round trips). The stack's PostgreSQL image has no JIT.
    """
    values = list(params) if params else None
    cur = con.execute(placeholders(sql, values), values, prepare=False) if values else con.execute(sql)
    return arrow_of(cur).to_pandas()


class _Server(Protocol):
    """What :func:`last_buckets` uses of :class:`~forewarn.store.postgres.PgStore`."""

    def connection(self, *, write: bool = False) -> AbstractContextManager[Any]: ...


def last_buckets(
    store: Store,
    asset_ids: Sequence[str],
    channels: Sequence[str],
    rows: int,
    width_us: int,
    since_us: Sequence[int],
    held: Sequence[tuple[str, str]],
) -> pd.DataFrame:
    """PostgreSQL's :func:`forewarn.store.window_queries.last_buckets`: each asset's last ``rows`` buckets of
    ``channels``, ``held`` ``(asset_id, channel)`` pairs weighed by time over the same window up to the asset's
    newest reading of any channel (as ``Store.readings(resample=...)`` does), the others averaged."""
    width, back = int(width_us), int(rows) - 1
    params: list[Any] = [list(asset_ids), [int(t) for t in since_us], list(asset_ids), list(channels)]
    window = (
        "WITH s AS (SELECT unnest(?) AS asset_id, unnest(?::bigint[]) AS since_us), "
        f"l AS (SELECT c.asset_id, epoch_us(max({LAST_TS})) AS last_us FROM channels c "
        "WHERE c.asset_id IN (SELECT unnest(?)) AND c.channel IN (SELECT unnest(?)) GROUP BY c.asset_id), "
        "b AS MATERIALIZED (SELECT l.asset_id, TIMESTAMPTZ '1970-01-01 00:00:00+00' + greatest(s.since_us, "
        f"l.last_us - ((l.last_us % {width}) + {width}) % {width} - {back} * {width}::bigint) "
        "* INTERVAL '1 microsecond' AS t0 FROM l JOIN s ON s.asset_id = l.asset_id)"
    )
    pairs = ", ".join(f"({quote_literal(a)}, {quote_literal(c)})" for a, c in held)
    plain = (
        f"SELECT c.asset_id, date_bin({width} * INTERVAL '1 microsecond', v.ts, "
        "TIMESTAMPTZ '1970-01-01 00:00:00+00') AS ts, c.channel, avg(v.value) AS value "
        "FROM b JOIN channels c ON c.asset_id = b.asset_id CROSS JOIN LATERAL (SELECT r.ts, r.value "
        # a key range a series: b first and the lateral kept (OFFSET 0), or the planner pulls it up into a join
        # that reads each series' whole history and filters it by t0 afterwards (158 ms against 9.5 for a day of
        # 10 channels at 1 min in 8 days, EXPLAIN ANALYZE)
        "FROM reading_values r WHERE r.series_id = c.series_id AND r.ts >= b.t0 OFFSET 0) AS v "
        f"WHERE c.channel IN (SELECT unnest(?)){f' AND (c.asset_id, c.channel) NOT IN ({pairs})' if held else ''} "
        "GROUP BY 1, 2, 3"
    )
    if not held:
        return store.sql(f"{window} {plain}", [*params, list(channels)])
    # the held series' window [t0, the asset's newest reading of any channel], read by held_buckets_sql
    series = (
        f"SELECT c.series_id, c.asset_id, c.channel, c.{hold.HOLD_COLUMN} AS hold_us, epoch_us(b.t0) AS lo_us, "
        "t.last_us + 1 AS hi_us FROM channels c JOIN b ON b.asset_id = c.asset_id JOIN t ON t.asset_id = c.asset_id "
        f"WHERE (c.asset_id, c.channel) IN ({pairs})"
    )
    newest = (
        f", t AS (SELECT c.asset_id, epoch_us(max({LAST_TS})) AS last_us FROM channels c "
        "WHERE c.asset_id IN (SELECT unnest(?)) GROUP BY c.asset_id)"
    )
    with cast(_Server, store).connection() as con:
        return select_without_jit(
            con,
            f"{window}{newest} SELECT * FROM ({plain}) AS p "
            f"UNION ALL SELECT * FROM ({held_buckets_sql(width, series)}) AS h",
            [*params, list(asset_ids), list(channels)],
        )
