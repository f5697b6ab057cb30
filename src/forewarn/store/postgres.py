"""The server store: the same :class:`~forewarn.store.Store` on PostgreSQL, for plants where many processes write.

``Store("postgresql://user@host:5432/db")`` (or a ``FOREWARN_STORE`` of that form, see
:mod:`forewarn.store.backend`) opens a :class:`PgStore`. Every Store operation behaves as on DuckDB:
files and frames are read and validated by the embedded store's own code in a private in-memory DuckDB
connection, then written to PostgreSQL in one transaction by binary ``COPY`` (:mod:`forewarn.store.pg_ingest`);
queries are PostgreSQL SQL with the same columns and types.

Several processes (the stream, the service, a training job) open one database at once: writes take an
advisory lock in their transaction, reads never wait. Connections come from a pool (``psycopg_pool``),
so threads of one process share a few connections. The password comes from the URL, ``PGPASSWORD``, a
``~/.pgpass`` file, or ``FOREWARN_STORE_PASSWORD_FILE``; messages and ``repr`` never show it.

``read_only=True`` opens the store in read-only transactions (and is what a database role with only
``SELECT`` on the tables needs): writes raise :class:`~forewarn.exceptions.ConfigError` before they reach
the server.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from forewarn.exceptions import ConfigError, DataNotFoundError, StateError
from forewarn.store import catalog, queries
from forewarn.store import pg_ingest as ingest
from forewarn.store.hold import hold_micros
from forewarn.store.pg_hold import PgSeriesIndex, held_buckets
from forewarn.store.pg_rollup import refresh, rollup_readings
from forewarn.store.pg_sql import (
    PgConnection,
    arrow_of,
    copy_out,
    fetch_readings,
    last_times_start,
    migrate,
    normalise_url,
    parse_readings_copy,
    password_from_env,
    redact,
)
from forewarn.store.store import EventsWriter, Store
from forewarn.store.tables import ts_literal

NOT_SELECT = "Store.sql runs exactly one read-only SELECT statement; use the Store methods to write"


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise ConfigError(
            "a postgresql:// store needs psycopg and psycopg-pool: pip install 'forewarn[postgres]'"
        ) from None
    return psycopg, psycopg_pool


#: what every connection of the store sets once: times in UTC, and no JIT compilation (the held buckets' plans are
#: estimated dear enough to be compiled, for seconds, :func:`forewarn.store.pg_hold.select_without_jit`; the store's own
#: queries are index reads and small aggregates, which JIT does not pay for)
SESSION_SETTINGS = "SET TIME ZONE 'UTC'; SET jit = off"


class PgStore(Store):
    """A :class:`~forewarn.store.Store` whose tables live in a PostgreSQL database (see the module docstring).

    ``pool_size`` is the most connections this object opens at once.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False, pool_size: int = 4) -> None:
        psycopg, psycopg_pool = _psycopg()
        self.url = normalise_url(str(path))
        self.path = redact(self.url)
        self.read_only = read_only
        self.timeout = 10.0  # seconds to wait for a pooled connection
        self._lock = threading.RLock()
        self._index = None
        self._joined = threading.local()  # a transaction this thread's ingests join (see joined())
        kwargs: dict[str, Any] = {"autocommit": True}
        password = password_from_env()
        if password is not None:
            kwargs["password"] = password
        try:
            probe = psycopg.connect(self.url, connect_timeout=10, **kwargs)
        except psycopg.Error as err:
            raise ConfigError(f"cannot connect to the store {self.path}: {_reason(err, self.url, password)}") from None
        with probe:
            if read_only:
                row = (
                    probe.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
                    if (probe.execute("SELECT to_regclass('store_meta')").fetchone()[0])
                    else None
                )
                if row is None:
                    raise ConfigError(
                        f"{self.path} is a PostgreSQL database but not a Forewarn store; migrate it first"
                    )
            else:
                try:
                    migrate(probe)
                except psycopg.Error as err:
                    raise ConfigError(
                        f"cannot create or upgrade the store's tables in {self.path}: {_reason(err, self.url, password)}"
                        "; run 'forewarn store migrate' as the database's owner, or open it with read_only=True"
                    ) from None

        def configure(con: Any) -> None:
            con.execute(SESSION_SETTINGS)
            if read_only:
                con.execute("SET default_transaction_read_only = on")

        self._pool: Any = psycopg_pool.ConnectionPool(
            self.url, min_size=1, max_size=max(1, pool_size), kwargs=kwargs, configure=configure, open=True
        )
        self._kwargs = kwargs
        self._session: Any = None
        self._duck: duckdb.DuckDBPyConnection | None = duckdb.connect()
        self._duck.execute("SET TimeZone = 'UTC'")
        self._con = None

    # -- life cycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pool and the staging connection (safe to call twice)."""
        with self._lock:
            if self._duck is not None:
                self._pool.close()
                self._duck.close()
                self._duck = None
                if self._session is not None:
                    self._session.close()

    def __repr__(self) -> str:
        state = "closed" if self._duck is None else ("read-only" if self.read_only else "open")
        return f"PgStore({self.path!r}, {state})"

    @contextlib.contextmanager
    def connection(self, *, write: bool = False) -> Iterator[Any]:
        """A pooled psycopg connection (autocommit, time zone UTC) for code that needs the server itself."""
        self._check(write)
        psycopg, psycopg_pool = _psycopg()
        try:
            with self._pool.connection(timeout=self.timeout) as con:
                yield con
        except psycopg.errors.InsufficientPrivilege as err:
            raise ConfigError(
                f"the database role of {self.path} may not do this: {_reason(err, self.url, None)}; "
                "open the store with read_only=True to read, or use a role that may write"
            ) from None
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as err:
            raise StateError(f"lost the store server {self.path}: {_reason(err, self.url, None)}") from None

    def _check(self, write: bool) -> None:
        if self._duck is None:
            raise StateError(f"the store {self.path} is closed; open it again with Store(url)")
        if write and self.read_only:
            raise ConfigError(f"the store {self.path} was opened read-only; open it with read_only=False to write")

    @contextlib.contextmanager
    def _pg(self, *, write: bool = False) -> Iterator[PgConnection]:
        with self.connection(write=write) as con:
            if write:
                self._index = None
            yield PgConnection(con)

    def set_hold(self, asset_id: str, channels: Sequence[str] | None, hold: str | None) -> int:
        """As :meth:`Store.set_hold`: the channels' hold (:mod:`forewarn.store.hold`), in one transaction under the
        store's write lock."""
        micros = hold_micros(hold)
        with self._lock, self._pg(write=True) as con:
            series = PgSeriesIndex(con).of(str(asset_id), channels)
            done = ingest.PgTarget(con.con).set_holds(None, [(str(asset_id), name, micros) for name in series.values()])
        self._index = None
        return done

    def _db(self, *, write: bool = False) -> duckdb.DuckDBPyConnection:
        """The store's session connection, speaking like DuckDB's (:class:`~forewarn.store.pg_sql.PgConnection`),
        for store modules that run portable SQL through ``store._db()`` (production records); one connection, so
        a ``BEGIN TRANSACTION`` ... ``COMMIT`` of theirs stays on it."""
        self._check(write)
        if write:
            self._index = None
        if self._session is None or self._session.closed:
            psycopg, _ = _psycopg()
            self._session = psycopg.connect(self.url, **self._kwargs)
            self._session.execute(SESSION_SETTINGS)
            if self.read_only:
                self._session.execute("SET default_transaction_read_only = on")
        return PgConnection(self._session)  # type: ignore[return-value]

    def _series_index(self) -> queries.SeriesIndex:
        with self._pg() as con:
            return self._current_index(con)

    def _current_index(self, con: PgConnection) -> queries.SeriesIndex:
        """The cached series index, built again on ``con`` when the catalogue changed (or none was cached)."""
        if self._index is None or not self._index.is_current(con):  # type: ignore[arg-type]
            self._index = PgSeriesIndex(con)
        return self._index

    # -- the plant --------------------------------------------------------------------------------------
    def add_sites(self, sites: Any) -> None:
        with self._lock, self._pg(write=True) as con:
            catalog.add_sites(con, sites)  # type: ignore[arg-type]

    def add_lines(self, lines: Any) -> None:
        with self._lock, self._pg(write=True) as con:
            catalog.add_lines(con, lines)  # type: ignore[arg-type]

    def add_assets(self, assets: Any) -> None:
        with self._lock, self._pg(write=True) as con:
            catalog.add_assets(con, assets)  # type: ignore[arg-type]

    def _update_assets(
        self, updates: list[dict[str, Any]], source: str | None, lines: Any
    ) -> tuple[list[str], list[str]]:
        with self._lock, self._pg(write=True) as con:
            return catalog.update_assets(con, updates, source=source, lines=lines)  # type: ignore[arg-type]

    # -- ingest -----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def joined(self, con: Any) -> Iterator[None]:
        """Within this block, this thread's :meth:`ingest_readings` write in the open transaction of ``con`` (a
        pooled connection of this store) instead of one of their own; the owner of ``con`` commits or rolls back
        (the stream's micro-batch: :mod:`forewarn.store.pg_stream`)."""
        self._check(True)
        self._joined.con = con
        try:
            yield
        finally:
            self._joined.con = None

    @contextlib.contextmanager
    def _ingest_session(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any, EventsWriter]]:
        joined = getattr(self._joined, "con", None)
        if joined is not None:
            assert self._duck is not None
            self._index = None
            yield self._duck, ingest.PgTarget(joined, joined=True), _no_events
            return
        with self.connection(write=True) as con:  # raises StateError when closed
            assert self._duck is not None
            self._index = None
            yield self._duck, ingest.PgTarget(con), functools.partial(ingest.ingest_events, con)

    def _asset_ids(self) -> set[str]:
        with self._pg() as con:
            return {str(r[0]) for r in con.execute("SELECT asset_id FROM assets").fetchall()}

    # -- queries ----------------------------------------------------------------------------------------
    def readings(
        self,
        asset_id: str,
        start: object = None,
        end: object = None,
        *,
        channels: Sequence[str] | None = None,
        resample: str | None = None,
        agg: str = "mean",
        wide: bool = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Readings of one asset in ``[start, end)``, the last ``limit`` times only when given; as
        :meth:`Store.readings`. Hourly and daily buckets of ``mean``, ``min``, ``max``, ``sum`` and ``count`` on
        whole hours (days) come from the rollups, except the means of held channels (:mod:`forewarn.store.hold`),
        weighed by time from the readings (:func:`forewarn.store.pg_hold.held_buckets`)."""
        if agg not in queries.AGGREGATES:
            raise ConfigError(f"agg={agg!r} is not supported; use one of {', '.join(queries.AGGREGATES)}")
        queries.check_limit(limit)
        with self._lock:
            if resample is None:
                return self._raw(str(asset_id), start, end, channels, wide, limit)
            with self._pg() as con:
                index = self._current_index(con)
                series = index.of(str(asset_id), channels)
                held = {s: h for s, h in index.holds.items() if s in series} if agg == "mean" else {}
                plain = {s: name for s, name in series.items() if s not in held}
                parts = []
                if plain or not held:  # every channel held: no plain query (it would return no row)
                    long = rollup_readings(self.read_only, con, str(asset_id), plain, start, end, resample, agg)
                    if long is None:
                        where = f"{_series_filter(list(plain))} AND {queries.time_filter('r.ts', start, end)}"
                        long = _resampled(con, where, resample, agg)
                    parts.append(long)
                if held:
                    width = queries.bucket_micros(resample)
                    parts.append(held_buckets(con, str(asset_id), index, held, start, end, width))
        if held:  # the held buckets come unordered
            long = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
            long = long.sort_values(["ts", "channel"], ignore_index=True)
        return queries.shape(queries.last_times(long, limit), str(asset_id), series, wide)

    def _raw(
        self,
        asset_id: str,
        start: object,
        end: object,
        channels: Sequence[str] | None,
        wide: bool,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Raw readings in one round trip (two with a ``limit``: its first time, :func:`last_times_start`, then
        the readings from it): the cached series ids are checked by the catalogue version the query returns (and
        the query is run again in the rare case the catalogue changed meanwhile)."""
        low = None if start is None else ts_literal(start, name="start")
        high = None if end is None else ts_literal(end, name="end")
        with self._pg() as con:
            for _ in range(2):
                index = self._index
                if index is None:
                    index = self._index = PgSeriesIndex(con)
                try:
                    series = index.of(asset_id, channels)
                except DataNotFoundError:
                    if self._index is not None and not self._index.is_current(con):  # type: ignore[arg-type]
                        self._index = None
                        continue
                    raise
                ids, since = _limited(con.con, series, low, high, limit)
                version, (sid, ts, value) = fetch_readings(con.con, ids, since, high)
                if version == tuple(index.version[:2]):  # the catalogue's part (PgSeriesIndex)
                    return queries.shape(queries.long_frame(asset_id, series, sid, ts, value), asset_id, series, wide)
                self._index = None
        return self._raw_fresh(asset_id, low, high, channels, wide, limit)

    def _raw_fresh(
        self,
        asset_id: str,
        low: str | None,
        high: str | None,
        channels: Sequence[str] | None,
        wide: bool,
        limit: int | None = None,
    ) -> pd.DataFrame:
        with self._pg() as con:
            series = PgSeriesIndex(con).of(asset_id, channels)
            ids, since = _limited(con.con, series, low, high, limit)
            _, (sid, ts, value) = fetch_readings(con.con, ids, since, high)
        return queries.shape(queries.long_frame(asset_id, series, sid, ts, value), asset_id, series, wide)

    def refresh_rollups(self) -> int:
        """Recompute the hourly and daily rollups where ingests changed readings; the number of ranges done."""
        with self._lock, self.connection(write=True) as con:
            return refresh(con)

    def drop_readings_before(self, cutoff: object) -> int:
        """Retention (:mod:`forewarn.store.retention`): the rollups are brought up to date, then the readings before
        ``cutoff``'s UTC day are dropped (whole monthly partitions, then the older rows of the cutoff's month);
        the number dropped."""
        from forewarn.store.pg_retention import drop_before
        from forewarn.store.retention import retention_cutoff

        day = retention_cutoff(cutoff)
        with self._lock, self.connection(write=True) as con:
            refresh(con)
            dropped = drop_before(con, day)
        self._index = None
        return dropped

    def latest(self, asset_ids: Sequence[str] | None = None) -> pd.DataFrame:
        with self._lock, self._pg() as con:
            where, params = "true", []
            if asset_ids is not None:
                ids = [str(a) for a in ([asset_ids] if isinstance(asset_ids, str) else asset_ids)]
                known = {
                    r[0] for r in con.execute("SELECT asset_id FROM assets WHERE asset_id = ANY(?)", [ids]).fetchall()
                }
                missing = sorted(set(ids) - known)
                if missing:
                    raise DataNotFoundError(
                        f"unknown asset(s) {', '.join(missing)}; Store.assets() lists the known ones"
                    )
                where, params = "c.asset_id = ANY(?)", [ids]
            return queries.frame(
                con,  # type: ignore[arg-type]
                "SELECT c.asset_id, c.channel, l.ts, l.value FROM channels c CROSS JOIN LATERAL ("
                "SELECT r.ts, r.value FROM reading_values r WHERE r.series_id = c.series_id ORDER BY r.ts DESC "
                f"LIMIT 1) l WHERE {where} ORDER BY c.asset_id, c.channel",
                params,
            )

    def events(
        self, asset_id: str | None = None, *, kind: str | None = None, start: object = None, end: object = None
    ) -> pd.DataFrame:
        with self._lock, self._pg() as con:
            return queries.events(con, asset_id, kind=kind, start=start, end=end)  # type: ignore[arg-type]

    def assets(self) -> pd.DataFrame:
        with self._lock, self._pg() as con:
            return queries.assets(con)  # type: ignore[arg-type]

    def channels(self, asset_id: str | None = None) -> pd.DataFrame:
        with self._lock, self._pg() as con:
            return queries.channels(con, asset_id)  # type: ignore[arg-type]

    def labels(
        self,
        asset_ids: Sequence[str] | None = None,
        *,
        name: str | None = None,
        start: object = None,
        end: object = None,
    ) -> pd.DataFrame:
        where = [queries.time_filter("ts", start, end)]
        params: list[Any] = []
        if asset_ids is not None:
            where.append("asset_id = ANY(?)")
            params.append([str(a) for a in ([asset_ids] if isinstance(asset_ids, str) else asset_ids)])
        if name is not None:
            where.append("name = ?")
            params.append(str(name))
        with self._lock, self._pg() as con:
            return queries.frame(
                con,  # type: ignore[arg-type]
                f"SELECT asset_id, ts, name, value FROM labels WHERE {' AND '.join(where)} ORDER BY asset_id, ts, name",
                params,
            )

    def label_names(self) -> list[str]:
        with self._lock, self._pg() as con:
            return [str(r[0]) for r in con.execute("SELECT DISTINCT name FROM labels ORDER BY name").fetchall()]

    def hierarchy(self) -> dict[str | None, dict[str | None, list[str]]]:
        with self._lock, self._pg() as con:
            return queries.hierarchy(con)  # type: ignore[arg-type]

    def fleet_summary(self) -> pd.DataFrame:
        with self._lock, self._pg() as con:
            return queries.fleet_summary(con)  # type: ignore[arg-type]

    def count_readings(self) -> int:
        with self._lock, self._pg() as con:
            return int(con.execute("SELECT count(*) FROM reading_values").fetchall()[0][0])

    def export_parquet(
        self, out_dir: str | os.PathLike[str], *, start: object = None, end: object = None
    ) -> list[Path]:
        """Hive-partitioned Parquet export, the layout of :mod:`forewarn.store.export` (written by DuckDB)."""
        from forewarn.store.export import export_parquet

        with self._lock:
            duck = duckdb.connect()
            try:
                duck.execute("SET TimeZone = 'UTC'")
                with self._pg() as con:
                    for table in ("assets", "channels"):
                        cols = "asset_id, site_id" if table == "assets" else "asset_id, channel, series_id"
                        duck.register(f"{table}_src", con.execute(f"SELECT {cols} FROM {table}").to_arrow_table())
                        duck.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_src")
                    sid, ts, value = parse_readings_copy(
                        copy_out(
                            con.con,
                            "SELECT series_id, ts, value FROM reading_values r WHERE "
                            + queries.time_filter("r.ts", start, end),
                        )
                    )
                readings = pa.table(
                    {"series_id": sid, "ts": pa.array(ts, pa.timestamp("us", tz="UTC")), "value": value}
                )
                duck.register("reading_values", readings)
                return export_parquet(duck, out_dir, start=start, end=end)
            finally:
                duck.close()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one read-only ``SELECT`` in PostgreSQL's dialect (``?`` or ``%s`` parameters), in a read-only
        transaction; the tables are those of :meth:`Store.sql`."""
        if not _one_select(query):
            raise ConfigError(NOT_SELECT)
        psycopg, _ = _psycopg()
        values = list(params) if isinstance(params, (list, tuple)) else params
        with self._lock, self.connection() as con:
            text = queries_text(query, values)
            try:
                with con.transaction():
                    con.execute("SET TRANSACTION READ ONLY")
                    cur = (
                        con.execute(text, values or None, prepare=False)
                        if values
                        else con.cursor().execute(text, prepare=False)
                    )
                    table = arrow_of(cur)
            except psycopg.errors.ReadOnlySqlTransaction:
                raise ConfigError(NOT_SELECT) from None
            except psycopg.Error as err:
                if "multiple commands" in str(err):
                    raise ConfigError(NOT_SELECT) from None
                raise ConfigError(f"query failed: {str(err).strip()}") from None
        return table.to_pandas()


@functools.lru_cache(maxsize=256)
def _one_select(query: str) -> bool:
    """Whether ``query`` is one SELECT as DuckDB's parser reads it (True for PostgreSQL syntax DuckDB does not
    read: the read-only transaction guards it); cached by text, since the service's reads run the same few texts
    with other parameters (a long one takes DuckDB about 0.6 ms to parse).

    >>> _one_select("SELECT 1"), _one_select("SELECT 1; DROP TABLE assets"), _one_select("DELETE FROM assets")
    (True, False, False)
    """
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error:
        return True
    return len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT


def queries_text(query: str, params: object) -> str:
    """The query with DuckDB's ``?`` parameters in psycopg's form (``%s`` queries pass as they are)."""
    from forewarn.store.pg_sql import placeholders

    if params and "?" in query:
        return placeholders(query, params if isinstance(params, (list, tuple)) else None)
    return query


def _no_events(*args: Any, **kwargs: Any) -> Any:
    raise StateError("events are not written inside a stream's micro-batch transaction; use Store.ingest_events")


def _reason(err: Exception, url: str, password: str | None) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for secret in filter(None, [password, url]):
        text = text.replace(secret, "***")
    return text


def _series_filter(ids: Sequence[int]) -> str:
    if not ids:
        return "false"
    listed = ", ".join(str(int(i)) for i in sorted(ids))
    return f"r.series_id IN ({listed})"


PG_AGGREGATES = {
    "mean": "avg(r.value)",
    "min": "min(r.value)",
    "max": "max(r.value)",
    "sum": "sum(r.value)",
    "count": "CAST(count(r.value) AS DOUBLE PRECISION)",
    "first": "(array_agg(r.value ORDER BY r.ts))[1]",
    "last": "(array_agg(r.value ORDER BY r.ts DESC))[1]",
    "median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY r.value)",
    "std": "stddev_samp(r.value)",
}


def _resampled(con: PgConnection, where: str, resample: str, agg: str) -> pd.DataFrame:
    micros = queries.bucket_micros(resample)
    bucket = f"date_bin({micros} * INTERVAL '1 microsecond', r.ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    return queries.frame(
        con,  # type: ignore[arg-type]
        f"SELECT c.asset_id, {bucket} AS ts, c.channel, {PG_AGGREGATES[agg]} AS value "
        f"FROM reading_values r JOIN channels c ON c.series_id = r.series_id WHERE {where} "
        "GROUP BY 1, 2, 3 ORDER BY 2, 3",
    )


def _limited(
    con: Any, series: Mapping[int, str], low: str | None, high: str | None, limit: int | None
) -> tuple[list[int], str | None]:
    """The series ids and the lower bound to read raw readings with: ``low`` without a ``limit``, else the first
    of the last ``limit`` times in ``[low, high)`` (:func:`~forewarn.store.pg_sql.last_times_start`; no series
    when there is no reading there)."""
    if limit is None:
        return sorted(series), low
    first = last_times_start(con, sorted(series), low, high, limit)
    return ([], low) if first is None else (sorted(series), first)
