"""Writing a validated batch of readings into the store: all of it, once, in one transaction.

Steps for one batch (a file or a table), each a bulk DuckDB statement:

1. validate the staged batch (:mod:`forewarn.store.validate`): a bad cell rejects the batch before any write;
2. count the batch's series ``(asset_id, channel)`` (blank names reject the batch); under ``strict`` an
   unknown asset rejects the batch, otherwise new assets (class ``generic``) and new channels are created;
3. join to integer series ids and sort by ``(series_id, ts)`` into a staging table;
4. look for duplicate keys inside the batch by comparing neighbours of the sorted keys in NumPy (cheap);
   only if there are any, rebuild the staging table keeping the **first** record of each key in file
   order (lowest line) — the same rule as across batches, where the value stored first is kept;
5. append the staging table, anti-joined against stored readings only when the batch overlaps them in
   series and time range (idempotent re-ingest), in ``(series_id, ts)`` order so zone maps prune.

Because the first value of a key always wins, ingesting ``A`` then ``B`` stores the same as ingesting
``A`` and ``B`` concatenated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from forewarn.exceptions import UnknownAssetError
from forewarn.store.readers import ROW_COLUMN, Staged
from forewarn.store.tables import fetch_one, fetch_value, quote_ident
from forewarn.store.validate import find_blank_keys, long_readings_sql, readings_layout, validate_readings

Progress = Callable[[int], None]
STRICT_HINT = "declare the asset first with Store.add_assets, or ingest with strict=False to create it"


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did.

    ``rows_read`` counts readings (one per non-empty value cell, so a wide row with three channels is
    three readings); ``written`` the readings newly stored; ``duplicates`` the rest (repeated keys inside
    the batch plus keys already stored), so ``written + duplicates == rows_read``. ``assets_created``
    lists assets the ingest created (sorted).

    >>> IngestReport("a.csv", rows_read=10, written=8, duplicates=2)
    IngestReport(source='a.csv', rows_read=10, written=8, duplicates=2, assets_created=(), kind='readings')
    """

    source: str
    rows_read: int
    written: int
    duplicates: int
    assets_created: tuple[str, ...] = ()
    kind: str = "readings"


def first_record_of_assets(con: duckdb.DuckDBPyConnection, staged: Staged, asset_ids: list[str]) -> tuple[str, int]:
    """The unknown asset that appears first in the batch, and its record number."""
    row = fetch_one(
        con, f"SELECT CAST(asset_id AS VARCHAR), min({ROW_COLUMN}) AS first FROM {quote_ident(staged.name)} "
        "WHERE CAST(asset_id AS VARCHAR) IN (SELECT unnest(?)) GROUP BY 1 ORDER BY first LIMIT 1",
        [asset_ids])
    assert row is not None
    return str(row[0]), int(row[1])


def ingest_staged_readings(con: duckdb.DuckDBPyConnection, staged: Staged, *, strict: bool,
                           progress: Progress | None = None) -> IngestReport:
    """Validate and write one staged batch of readings (see the module docstring for the steps)."""
    layout = readings_layout(staged)
    validate_readings(con, staged, layout)
    con.execute(f"CREATE OR REPLACE TEMP VIEW __fw_long AS {long_readings_sql(staged, layout)}")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE __fw_series AS "
                    "SELECT asset_id, channel, count(*) AS n FROM __fw_long GROUP BY ALL")
        find_blank_keys(con, staged, "__fw_series")
        counted = fetch_one(con, "SELECT coalesce(sum(n), 0), list(DISTINCT asset_id ORDER BY asset_id) FILTER "
                                 "(WHERE asset_id NOT IN (SELECT asset_id FROM assets)) FROM __fw_series")
        rows_read, unknown = int(counted[0]), [str(a) for a in (counted[1] or [])]
        if unknown and strict:
            asset, record = first_record_of_assets(con, staged, unknown)
            raise UnknownAssetError(f"unknown asset {asset!r}", source=staged.source, line=staged.line_of(record),
                                    column="asset_id", hint=STRICT_HINT)
        con.execute("BEGIN TRANSACTION")
        try:
            written = _write(con, unknown)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DROP TABLE IF EXISTS __fw_stage; DROP TABLE IF EXISTS __fw_series; DROP VIEW IF EXISTS __fw_long")
    if progress is not None:
        progress(written)
    return IngestReport(staged.source, rows_read=rows_read, written=written, duplicates=rows_read - written,
                        assets_created=tuple(unknown))


def _write(con: duckdb.DuckDBPyConnection, new_assets: list[str]) -> int:
    if new_assets:
        con.execute("INSERT INTO assets (asset_id) SELECT unnest(?)", [new_assets])
    base = int(fetch_value(con, "SELECT coalesce(max(series_id), 0) FROM channels"))
    con.execute("INSERT INTO channels (asset_id, channel, series_id) "
                "SELECT asset_id, channel, ? + row_number() OVER (ORDER BY asset_id, channel) "
                "FROM __fw_series ANTI JOIN channels USING (asset_id, channel)", [base])
    join = "FROM __fw_long l JOIN channels c ON c.asset_id = l.asset_id AND c.channel = l.channel"
    con.execute(f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT c.series_id, l.ts, l.value {join} "
                "ORDER BY 1, 2")
    if has_adjacent_duplicates(con, "__fw_stage"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT c.series_id, l.ts, "
                    f"arg_min(l.value, l.{ROW_COLUMN}) AS value {join} GROUP BY 1, 2 ORDER BY 1, 2")
    bounds = fetch_one(con, "SELECT min(series_id), max(series_id), epoch_us(min(ts)), epoch_us(max(ts)) "
                            "FROM __fw_stage")
    if bounds is None or bounds[0] is None:
        return 0
    overlap = ("SELECT series_id, ts FROM reading_values WHERE series_id BETWEEN ? AND ? "
               "AND ts BETWEEN make_timestamp(?::BIGINT)::TIMESTAMPTZ AND make_timestamp(?::BIGINT)::TIMESTAMPTZ")
    if fetch_value(con, f"SELECT count(*) FROM ({overlap} LIMIT 1)", list(bounds)):
        return int(fetch_value(con, f"INSERT INTO reading_values SELECT s.series_id, s.ts, s.value FROM __fw_stage s "
                                    f"ANTI JOIN ({overlap}) r USING (series_id, ts) ORDER BY s.series_id, s.ts",
                               list(bounds)))
    return int(fetch_value(con, "INSERT INTO reading_values SELECT series_id, ts, value FROM __fw_stage"))


def has_adjacent_duplicates(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when a table sorted by ``(series_id, ts)`` holds two equal keys in a row.

    Streams the two key columns in Arrow batches, so memory stays bounded for any batch size.

    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE k AS SELECT * FROM (VALUES (1, TIMESTAMPTZ '2024-01-01 00:00:00+00'),"
    ...                 " (1, TIMESTAMPTZ '2024-01-01 00:00:00+00')) t(series_id, ts)")
    >>> has_adjacent_duplicates(con, "k")
    True
    """
    reader = con.sql(f"SELECT series_id, epoch_us(ts) AS t FROM {quote_ident(table)}").to_arrow_reader(1 << 20)
    last: tuple[int, int] | None = None
    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            sid = batch.column(0).to_numpy(zero_copy_only=False)
            ts = batch.column(1).to_numpy(zero_copy_only=False)
            if last is not None and last == (sid[0], ts[0]):
                return True
            if bool(np.any((sid[1:] == sid[:-1]) & (ts[1:] == ts[:-1]))):
                return True
            last = (int(sid[-1]), int(ts[-1]))
        return False
    finally:
        reader.close()


def long_arrow(frame_long) -> pa.Table:  # noqa: ANN001 - a pandas frame from to_long_readings
    """Arrow table of a canonical long readings frame, typed for the store."""
    return pa.table({
        "asset_id": pa.array(frame_long["asset_id"].to_numpy(dtype=object), pa.string()),
        "ts": pa.array(frame_long["ts"].to_numpy(), pa.timestamp("us", tz="UTC")),
        "channel": pa.array(frame_long["channel"].to_numpy(dtype=object), pa.string()),
        "value": pa.array(frame_long["value"].to_numpy(dtype="float64"), pa.float64()),
    })
