"""The PostgreSQL side of the server store: connection URLs, versioned migrations, binary COPY and results.

Tables are those of the embedded store (:mod:`forewarn.store.tables`) with PostgreSQL types, and:

* ``reading_values`` is partitioned by month of ``ts`` (native declarative partitioning; partitions are
  created by the ingest that first needs them), keyed by ``(series_id, ts)`` (the B-tree that keeps ingest
  idempotent under many writers and finds one asset's last day in milliseconds), with a BRIN index on
  ``ts`` for time-range scans over the whole fleet (rollups, exports, retention);
* ``readings_hourly`` and ``readings_daily`` hold per-series rollups (count, sum, min, max), kept current
  by every ingest in the same transaction (incrementally: only the buckets a batch touches).

Migrations are numbered; ``store_meta.schema_version`` says which ran, and :func:`migrate` runs the rest
under an advisory lock, so two processes starting at once do not race.

>>> redact("postgresql://ana:s3cret@db.plant:5432/forewarn")
'postgresql://ana:***@db.plant:5432/forewarn'
>>> is_postgres_url("postgresql://db/forewarn"), is_postgres_url("plant.duckdb")
(True, False)
>>> normalise_url("postgresql:/ana@db/forewarn")  # what pathlib makes of a URL
'postgresql://ana@db/forewarn'
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from forewarn.exceptions import ConfigError
from forewarn.store.hold import ADD_COLUMN as HOLD_MIGRATION
from forewarn.store.pg_cases_schema import MIGRATION as CASEBOOK_MIGRATION
from forewarn.store.pg_cases_schema import REVIEW_MIGRATION, REVIEW_NOVELTY_MIGRATION
from forewarn.store.rewrites import MIGRATION as REWRITES_MIGRATION
from forewarn.store.tables import ts_literal

SCHEMES = ("postgresql://", "postgres://", "postgresql:/", "postgres:/")
WRITE_LOCK = 0x46_6F_72_65  # advisory lock key of all store writes ("Fore")
MIGRATE_LOCK = WRITE_LOCK + 1
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since the Unix epoch

MIGRATIONS: tuple[str, ...] = (
    # 1: the embedded store's tables
    """
    CREATE TABLE IF NOT EXISTS store_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE IF NOT EXISTS sites (
        site_id text PRIMARY KEY, name text NOT NULL DEFAULT '', timezone text NOT NULL DEFAULT 'UTC');
    CREATE TABLE IF NOT EXISTS lines (line_id text PRIMARY KEY, site_id text, name text NOT NULL DEFAULT '');
    CREATE TABLE IF NOT EXISTS assets (
        asset_id text PRIMARY KEY, asset_class text NOT NULL DEFAULT 'generic', site_id text, line_id text,
        name text NOT NULL DEFAULT '', install_date date, metadata jsonb NOT NULL DEFAULT '{}');
    CREATE TABLE IF NOT EXISTS channels (
        asset_id text NOT NULL, channel text NOT NULL, unit text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '', series_id integer NOT NULL UNIQUE, PRIMARY KEY (asset_id, channel));
    CREATE TABLE IF NOT EXISTS reading_values (
        series_id integer NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL,
        PRIMARY KEY (series_id, ts)) PARTITION BY RANGE (ts);
    CREATE INDEX IF NOT EXISTS reading_values_ts_brin ON reading_values USING brin (ts);
    CREATE TABLE IF NOT EXISTS events (
        asset_id text NOT NULL, ts timestamptz NOT NULL,
        kind text NOT NULL CHECK (kind IN ('failure', 'maintenance', 'inspection')),
        failure_mode text, action text, parts text, result text, note text);
    CREATE INDEX IF NOT EXISTS events_asset_ts ON events (asset_id, ts);
    CREATE TABLE IF NOT EXISTS labels (
        asset_id text NOT NULL, ts timestamptz NOT NULL, name text NOT NULL, value text NOT NULL,
        PRIMARY KEY (asset_id, name, ts));
    CREATE OR REPLACE VIEW readings AS
        SELECT c.asset_id, r.ts, c.channel, r.value FROM reading_values r JOIN channels c USING (series_id);
    """,
    # 2: rollups, and the DuckDB functions that store.sql() users and the service call
    """
    CREATE TABLE IF NOT EXISTS readings_hourly (
        series_id integer NOT NULL, bucket timestamptz NOT NULL, n bigint NOT NULL, total double precision NOT NULL,
        lo double precision NOT NULL, hi double precision NOT NULL, PRIMARY KEY (series_id, bucket));
    CREATE TABLE IF NOT EXISTS readings_daily (LIKE readings_hourly INCLUDING ALL);
    CREATE TABLE IF NOT EXISTS rollup_dirty (
        lo integer NOT NULL, hi integer NOT NULL, t0 timestamptz NOT NULL, t1 timestamptz NOT NULL);
    CREATE OR REPLACE FUNCTION epoch_us(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT
        AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
    CREATE OR REPLACE FUNCTION epoch_ms(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT
        AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;
    """,
    # 3: the stream's tables (forewarn.stream.tables), written with the readings in one transaction per batch
    """
    CREATE TABLE IF NOT EXISTS stream_scores (
        asset_id text NOT NULL, ts timestamptz NOT NULL, model_id text NOT NULL, score double precision NOT NULL,
        probability double precision, scored_at timestamptz NOT NULL, rul double precision);
    CREATE INDEX IF NOT EXISTS stream_scores_asset_ts ON stream_scores (asset_id, ts);
    CREATE TABLE IF NOT EXISTS stream_alerts (
        asset_id text NOT NULL, ts timestamptz NOT NULL, model_id text NOT NULL, score double precision NOT NULL,
        risk_level text NOT NULL, explanation jsonb NOT NULL, probability double precision, rul double precision,
        raised_at timestamptz NOT NULL, filed boolean NOT NULL DEFAULT false);
    CREATE INDEX IF NOT EXISTS stream_alerts_key ON stream_alerts (asset_id, model_id, ts);
    CREATE INDEX IF NOT EXISTS stream_alerts_unfiled ON stream_alerts (raised_at) WHERE NOT filed;
    CREATE TABLE IF NOT EXISTS stream_dead_letters (
        received_at timestamptz NOT NULL, source text NOT NULL, reason text NOT NULL, detail text NOT NULL,
        asset_id text, channel text, item integer NOT NULL, payload text NOT NULL, key text NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS stream_assets (
        asset_id text PRIMARY KEY, first_seen_us bigint NOT NULL, released_until_us bigint);
    CREATE TABLE IF NOT EXISTS stream_state (
        name text NOT NULL, asset_id text NOT NULL, data bytea NOT NULL, PRIMARY KEY (name, asset_id));
    """,
    # 4: the case book (alerts, cases, alert-policy state) and the roles that read or file cases (pg_cases_schema)
    CASEBOOK_MIGRATION,
    # 5: the quality inspection log and review queue (forewarn.quality.review), with the case book's grants
    REVIEW_MIGRATION,
    # 6: the inspection log's novelty score and flag
    REVIEW_NOVELTY_MIGRATION,
    # 7: a stream score's coverage status and missing channels (forewarn.stream.scoring, the coverage rule)
    """
    ALTER TABLE stream_scores ADD COLUMN IF NOT EXISTS status text;
    ALTER TABLE stream_scores ADD COLUMN IF NOT EXISTS channels_missing text;
    """,
    # 8: a channel's hold, its readings recorded on change (forewarn.store.hold; the embedded store's own DDL)
    HOLD_MIGRATION,
    # 9: the time functions STABLE, as their body is (extract from a timestamptz): PostgreSQL then inlines them
    # instead of calling a SQL function per row (20,000 readings: 53 -> 11 ms)
    """
    CREATE OR REPLACE FUNCTION epoch_us(t timestamptz) RETURNS bigint LANGUAGE sql STABLE STRICT
        AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
    CREATE OR REPLACE FUNCTION epoch_ms(t timestamptz) RETURNS bigint LANGUAGE sql STABLE STRICT
        AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;
    """,
    # 10: the writes that changed a series before its last stored reading (forewarn.store.rewrites)
    REWRITES_MIGRATION,
)
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = ("store_meta", "sites", "lines", "assets", "channels", "reading_values", "events", "labels")


def is_postgres_url(target: object) -> bool:
    """True when ``target`` names a PostgreSQL database (``postgresql://...``)."""
    return str(target).startswith(SCHEMES)


def normalise_url(url: str) -> str:
    """The URL with ``//`` after the scheme (``pathlib.Path`` turns ``postgresql://h/db`` into ``postgresql:/h/db``)."""
    scheme, _, rest = str(url).partition(":")
    return f"{scheme}://{rest.lstrip('/')}"


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def password_from_env() -> str | None:
    """The password of ``FOREWARN_STORE_PASSWORD_FILE`` (first line), if set; libpq reads ``PGPASSWORD`` itself."""
    name = os.environ.get("FOREWARN_STORE_PASSWORD_FILE")
    if not name:
        return None
    path = Path(name).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(
            f"cannot read the password file {str(path)!r} named by FOREWARN_STORE_PASSWORD_FILE: {err.strerror}"
        ) from None
    return lines[0].strip() if lines else ""


def migrate(con: Any) -> tuple[int, int]:
    """Run the migrations the database has not run yet: ``(version before, version after)``.

    ``con`` is a psycopg connection in autocommit mode; each migration is one transaction.
    """
    if con.execute("SELECT to_regclass('store_meta')").fetchone()[0] is not None:
        row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return SCHEMA_VERSION, SCHEMA_VERSION  # current: no DDL, so a role without CREATE opens it too
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
        con.execute("CREATE TABLE IF NOT EXISTS store_meta (key text PRIMARY KEY, value text NOT NULL)")
        row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        before = int(row[0]) if row else 0
        if before > SCHEMA_VERSION:
            raise ConfigError(
                f"the database holds store schema version {before}, newer than this Forewarn's "
                f"{SCHEMA_VERSION}; upgrade Forewarn"
            )
        for version in range(before + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[version - 1])
            con.execute(
                "INSERT INTO store_meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET value = "
                "excluded.value",
                [str(version)],
            )
    return before, SCHEMA_VERSION


def month_partitions(months_us: Sequence[int]) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """``(name, start, end)`` of the monthly partitions that hold the given month starts (Unix microseconds).

    >>> month_partitions([1_706_745_600_000_000])  # 2024-02-01
    [('reading_values_y2024m02', datetime.datetime(2024, 2, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc))]
    """
    out = []
    for micros in sorted(set(int(m) for m in months_us)):
        start = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        out.append((f"reading_values_y{start.year:04d}m{start.month:02d}", start, end))
    return out


def ensure_partitions(con: Any, months_us: Sequence[int]) -> None:
    """Create the missing monthly partitions of ``reading_values`` (inside the caller's write transaction)."""
    wanted = month_partitions(months_us)
    if not wanted:
        return
    have = {
        r[0]
        for r in con.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reading_values'"
        ).fetchall()
    }
    for name, start, end in wanted:
        if name not in have:
            con.execute(
                f'CREATE TABLE "{name}" PARTITION OF reading_values FOR VALUES FROM '
                f"('{start.isoformat()}') TO ('{end.isoformat()}')"
            )


# -- binary COPY ----------------------------------------------------------------------------------------
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
READING_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("sid", ">i4"), ("l2", ">i4"), ("ts", ">i8"), ("l3", ">i4"), ("v", ">f8")]
)


def readings_copy_bytes(series_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray) -> bytes:
    """Rows ``(series_id int4, ts timestamptz, value float8)`` in PostgreSQL's binary COPY format.

    Built with NumPy in one pass (no Python loop per row); ``ts_us`` are Unix microseconds.

    >>> data = readings_copy_bytes(np.array([7]), np.array([PG_EPOCH_US]), np.array([1.5]))
    >>> len(data) == len(COPY_HEADER) + READING_ROW.itemsize + len(COPY_TRAILER)
    True
    >>> parse_readings_copy(data)
    (array([7], dtype=int32), array([946684800000000]), array([1.5]))
    """
    rows = np.empty(len(series_id), dtype=READING_ROW)
    rows["n"] = 3
    rows["l1"] = 4
    rows["sid"] = series_id
    rows["l2"] = 8
    rows["ts"] = np.asarray(ts_us, dtype=np.int64) - PG_EPOCH_US
    rows["l3"] = 8
    rows["v"] = value
    return COPY_HEADER + rows.tobytes() + COPY_TRAILER


def parse_readings_copy(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(series_id, ts as Unix microseconds, value)`` of a binary COPY of ``(int4, timestamptz, float8)`` rows."""
    body = memoryview(data)[len(COPY_HEADER) : len(data) - len(COPY_TRAILER)]
    rows = np.frombuffer(body, dtype=READING_ROW)
    return (
        rows["sid"].astype(np.int32),
        rows["ts"].astype(np.int64) + PG_EPOCH_US,
        rows["v"].astype(np.float64),
    )


# -- results as Arrow, the way the embedded store returns them -----------------------------------------
ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    1043: pa.string(),
    114: pa.string(),
    3802: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def _arrow_column(values: list[Any], oid: int) -> pa.Array:
    kind = ARROW_TYPES.get(oid)
    if oid in (114, 3802):
        import json

        values = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values]
    if oid == 1700:
        values = [None if v is None else float(v) for v in values]
    if kind is None:
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array(values, kind)


def arrow_of(cursor: Any) -> pa.Table:
    """The rows of an executed psycopg cursor as an Arrow table typed from the column types."""
    description = cursor.description or []
    rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(description)
    return pa.table(
        {col.name: _arrow_column(list(values), col.type_code) for col, values in zip(description, columns, strict=True)}
    )


class _Result:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.cursor.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    def to_arrow_table(self) -> pa.Table:
        return arrow_of(self.cursor)

    def fetchdf(self) -> Any:
        return arrow_of(self.cursor).to_pandas()


def placeholders(sql: str, params: Sequence[Any] | None = None) -> str:
    """DuckDB's ``?`` parameters as psycopg's ``%s`` (and ``%`` escaped), outside quoted text.

    A parameter that is a list of strings gets ``::text[]`` (PostgreSQL cannot tell ``unnest`` of an untyped
    array which array it is; DuckDB callers write ``IN (SELECT unnest(?))`` with a list of ids).

    >>> placeholders("SELECT '?' AS q, x FROM t WHERE a = ? AND b LIKE 'x%'")
    "SELECT '?' AS q, x FROM t WHERE a = %s AND b LIKE 'x%%'"
    >>> placeholders("SELECT * FROM t WHERE a IN (SELECT unnest(?)) AND b = ?", [["P-1"], 3])
    'SELECT * FROM t WHERE a IN (SELECT unnest(%s::text[])) AND b = %s'
    """
    texts = [isinstance(p, (list, tuple)) and len(p) > 0 and all(isinstance(v, str) for v in p) for p in (params or [])]
    position = 0
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
            out.append("%%" if char == "%" else char)
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s::text[]" if position < len(texts) and texts[position] else "%s")
            position += 1
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


class PgConnection:
    """A psycopg connection that speaks like the DuckDB connection the shared store modules were written for.

    ``?`` parameters, ``execute(...).fetchall()``, ``executemany``, ``sql(...).to_arrow_table()``, and
    ``BEGIN TRANSACTION`` taking the store's write lock, so that the catalogue functions of
    :mod:`forewarn.store.catalog` and the portable queries of :mod:`forewarn.store.queries` run unchanged.
    """

    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Result:
        text = sql.strip().rstrip(";").upper()
        if text in ("BEGIN TRANSACTION", "BEGIN"):
            self.con.execute("BEGIN")
            return _Result(self.con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK]))
        if params:
            return _Result(self.con.execute(placeholders(sql, list(params)), list(params)))
        return _Result(self.con.execute(sql))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.con.cursor() as cur:
            cur.executemany(placeholders(sql, list(rows[0]) if rows else None), [list(r) for r in rows])

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> _Result:
        return self.execute(sql, params)

    def register(self, name: str, frame: Any) -> None:
        """A pandas frame as the temporary table ``name`` (DuckDB's ``register``): columns typed from the values."""
        columns = ", ".join(f'"{c}" {_pg_type(frame[c])}' for c in frame.columns)
        self.con.execute(f'CREATE TEMP TABLE "{name}" ({columns})')
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
        with self.con.cursor() as cur, cur.copy(f'COPY "{name}" FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def unregister(self, name: str) -> None:
        self.con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _pg_type(column: Any) -> str:
    """The PostgreSQL type of a pandas column, for :meth:`PgConnection.register`."""
    kind = getattr(column.dtype, "kind", "O")
    if kind == "M":
        return "timestamptz"
    if kind == "f":
        return "double precision"
    if kind in "iu":
        return "bigint"
    if kind == "b":
        return "boolean"
    sample = next((v for v in column if v is not None and v == v), None)
    if isinstance(sample, dt.datetime):
        return "timestamptz"
    if isinstance(sample, dt.date):
        return "date"
    return "text"


#: the newest reading of the series ``c.series_id``, one probe of the ``(series_id, ts)`` key per partition
LAST_TS = "(SELECT max(v.ts) FROM reading_values v WHERE v.series_id = c.series_id)"

PACKED_ROW = np.dtype([("sid", ">i4"), ("ts", ">i8"), ("v", ">f8")])


READINGS_QUERY = (
    "SELECT (SELECT count(*) FROM assets), (SELECT coalesce(max(series_id), 0) FROM channels), "
    "(SELECT string_agg(int4send(r.series_id) || timestamptz_send(r.ts) || float8send(r.value), ''::bytea) "
    "FROM reading_values r WHERE r.series_id = ANY(%s) AND r.ts >= %s::timestamptz AND r.ts < %s::timestamptz)"
)


def fetch_readings(
    con: Any, series_ids: Sequence[int], start: str | None, end: str | None
) -> tuple[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The catalogue version (number of assets, largest series id) and ``(series_id, ts as Unix microseconds,
    value)`` of the given series in ``[start, end)`` (ISO text or ``None``), in one round trip.

    The server packs the rows into one ``bytea`` (``int4send || timestamptz_send || float8send``, 20 bytes a
    row) that NumPy reads without a Python object per row: a day of one asset (14,400 readings) costs
    about as much as one small query, where a COPY or a row cursor pays per row in the driver. The query
    text never changes (bounds are parameters), so psycopg prepares it after a few calls; the version lets the
    caller check its cached series ids in the same round trip.
    """
    row = con.execute(
        READINGS_QUERY,
        [list(series_ids), start or "-infinity", end or "infinity"],
        binary=True,
    ).fetchone()
    packed = np.frombuffer(row[2] or b"", dtype=PACKED_ROW)
    arrays = (
        packed["sid"].astype(np.int32),
        packed["ts"].astype(np.int64) + PG_EPOCH_US,
        packed["v"].astype(np.float64),
    )
    return (int(row[0]), int(row[1])), arrays


#: the earliest of the last N distinct times of some series in [start, end): each series' last N times by its
#: primary key (series_id, ts), read backwards, then the last N of their union
LAST_TIMES_QUERY = (
    "SELECT min(t.ts) FROM (SELECT DISTINCT s.ts FROM unnest(%s::int[]) AS i(id) CROSS JOIN LATERAL "
    "(SELECT r.ts FROM reading_values r WHERE r.series_id = i.id AND r.ts >= %s::timestamptz "
    "AND r.ts < %s::timestamptz ORDER BY r.ts DESC LIMIT %s) s ORDER BY s.ts DESC LIMIT %s) t"
)


def last_times_start(con: Any, series_ids: Sequence[int], start: str | None, end: str | None, limit: int) -> str | None:
    """The earliest of the last ``limit`` distinct reading times of the given series in ``[start, end)`` (ISO text
    or ``None``), as ISO text, None when they hold no reading there: the lower bound that keeps the last ``limit``
    rows of the wide frame (:func:`fetch_readings` from it). Each series' last times come from its primary key
    index read backwards, so the query costs ``limit`` rows a series, not the series' whole history."""
    if not series_ids:
        return None
    row = con.execute(
        LAST_TIMES_QUERY, [list(series_ids), start or "-infinity", end or "infinity", int(limit), int(limit)]
    ).fetchone()
    return None if row is None or row[0] is None else ts_literal(row[0], name="start")


def copy_out(con: Any, query: str) -> bytes:
    """The binary COPY of ``query`` as one bytes object."""
    with con.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        return b"".join(bytes(chunk) for chunk in copy)


def chunks(data: bytes, size: int = 1 << 22) -> Iterator[memoryview]:
    """``data`` in pieces of ``size`` bytes (COPY is fed in pieces so the driver never copies it whole)."""
    view = memoryview(data)
    for offset in range(0, len(view), size):
        yield view[offset : offset + size]
