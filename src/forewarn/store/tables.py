"""The store's tables (DuckDB DDL) and the small SQL helpers every store module shares.

Layout, and why:

* ``sites``, ``lines``, ``assets`` and ``channels`` hold the ISA-95 hierarchy (site -> line -> asset ->
  channel). Each channel of an asset is one *series* and gets a dense integer ``series_id``.
* A channel's ``hold_us`` says its readings were recorded on change (:mod:`forewarn.store.hold`; 0: not held).
* ``reading_values (series_id, ts, value)`` holds the readings. Integer series keys instead of the two
  strings ``(asset_id, channel)`` make the per-batch sort about twice as fast, shrink the key to 12 bytes
  for the idempotency anti-join, and let DuckDB's zone maps prune exactly: DuckDB keeps only an 8-byte
  prefix of string min/max statistics, so ``asset_id = 'asset-0537'`` cannot skip row groups holding
  ``asset-0500``..``asset-0599``. Each batch is written sorted by ``(series_id, ts)``, and series ids are
  handed out per asset in name order, so one asset's readings sit in one or two row groups.
* ``readings`` is a view with the data model's columns ``(asset_id, ts, channel, value)`` for
  :meth:`Store.sql` users; the store's own queries go to ``reading_values`` directly.
* ``reading_rewrites`` records the writes that changed a series before its last stored reading (late rows,
  replaced values; :mod:`forewarn.store.rewrites`): readers that keep their place (``detect --only-new``) read it.
* ``events`` holds failures, maintenance and inspections.
* ``labels (asset_id, ts, name, value)`` holds label columns of exports (text as written), kept apart from
  the readings so that a label is never a channel (see :mod:`forewarn.store.labels`).

>>> import duckdb
>>> con = duckdb.connect()
>>> create_schema(con)
>>> names = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall())
>>> names[:6], names[6:]
(['assets', 'channels', 'events', 'labels', 'lines', 'reading_rewrites'], ['reading_values', 'readings', 'sites', 'store_meta'])
>>> quote_ident('a"b'), quote_literal("it's")
('"a""b"', "'it''s'")
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from forewarn.exceptions import SchemaError
from forewarn.store.hold import ADD_COLUMN as ADD_HOLD_COLUMN
from forewarn.store.rewrites import DDL as REWRITES_DDL

SCHEMA_VERSION = "1"

DDL = """
CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS sites (
    site_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL DEFAULT '',
    timezone VARCHAR NOT NULL DEFAULT 'UTC'
);
CREATE TABLE IF NOT EXISTS lines (
    line_id VARCHAR PRIMARY KEY,
    site_id VARCHAR,
    name VARCHAR NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS assets (
    asset_id VARCHAR PRIMARY KEY,
    asset_class VARCHAR NOT NULL DEFAULT 'generic',
    site_id VARCHAR,
    line_id VARCHAR,
    name VARCHAR NOT NULL DEFAULT '',
    install_date DATE,
    metadata JSON NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS channels (
    asset_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    unit VARCHAR NOT NULL DEFAULT '',
    description VARCHAR NOT NULL DEFAULT '',
    series_id INTEGER NOT NULL UNIQUE,
    hold_us BIGINT DEFAULT 0,
    PRIMARY KEY (asset_id, channel)
);
CREATE TABLE IF NOT EXISTS reading_values (
    series_id INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    asset_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('failure', 'maintenance', 'inspection')),
    failure_mode VARCHAR,
    action VARCHAR,
    parts VARCHAR,
    result VARCHAR,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS labels (
    asset_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    name VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
CREATE OR REPLACE VIEW readings AS
    SELECT c.asset_id, r.ts, c.channel, r.value
    FROM reading_values r JOIN channels c USING (series_id);
"""

TABLES = ("store_meta", "sites", "lines", "assets", "channels", "reading_values", "events", "labels")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the store's tables and view when they are missing (safe to call on an existing store); a store
    written before channels had a hold (:mod:`forewarn.store.hold`) gets the column, every channel not held."""
    con.execute(DDL)
    con.execute(ADD_HOLD_COLUMN)
    con.execute(REWRITES_DDL)
    con.execute("INSERT OR IGNORE INTO store_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
    """First row of a query, reading the result to its end (DuckDB 2 keeps a half-read result open)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def fetch_value(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """First column of the first row of a query (``None`` when there is no row)."""
    row = fetch_one(con, sql, params)
    return row[0] if row else None


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the connected database already holds a Forewarn store."""
    return bool(
        fetch_value(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'store_meta' AND table_schema = 'main'",
        )
    )


def quote_ident(name: str) -> str:
    """Quote a column or table name for SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string constant for SQL (file paths inside ``read_csv(...)`` and the like)."""
    return "'" + str(text).replace("'", "''") + "'"


def ts_literal(value: object, *, name: str = "ts") -> str:
    """ISO text of a UTC timestamp, for binding as a parameter cast to ``TIMESTAMPTZ`` in SQL.

    Naive times are read as UTC, like everywhere in Forewarn.

    >>> ts_literal("2024-01-01 01:00+01:00")
    '2024-01-01T00:00:00.000000+00:00'
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise SchemaError(
            f"cannot read {value!r} as a time: {err}",
            column=name,
            hint="give ISO 8601 text such as 2024-01-31T12:00:00Z or a datetime",
        ) from None
    if pd.isna(stamp):
        raise SchemaError(f"{name} is missing (NaT)", column=name, hint="pass None for an open bound")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    text: str = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return text
