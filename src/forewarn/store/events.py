"""Ingesting events (failures, maintenance, inspections): validated by :func:`forewarn.schema.to_events`.

Events are few (thousands, not millions), so they go through pandas: the staged file or the frame is
validated by the shared schema function, duplicate keys are dropped, and what is new is appended in one
transaction. The key of an event is ``(asset_id, ts, kind, failure_mode, action, parts)`` (empty fields equal: a
work order written as one row per replaced part keeps every part);
as for readings, the first record of a key wins, inside a batch and across batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import duckdb
import pandas as pd
import pyarrow as pa

from forewarn.exceptions import IngestError, SchemaError, UnknownAssetError
from forewarn.schema import EVENT_COLUMNS, to_events
from forewarn.store.ingest import STRICT_HINT, IngestReport, Progress
from forewarn.store.options import ReadOptions
from forewarn.store.readers import ROW_COLUMN, Staged
from forewarn.store.tables import fetch_one, fetch_value, quote_ident
from forewarn.store.validate import ts_sql

EVENT_KEY = ("asset_id", "ts", "kind", "failure_mode", "action", "parts")
REQUIRED = ("asset_id", "ts", "kind")


def staged_events_frame(con: duckdb.DuckDBPyConnection, staged: Staged) -> pd.DataFrame:
    """The staged file as a pandas frame in file order (text columns stay text)."""
    return (
        con.sql(f"SELECT * EXCLUDE ({ROW_COLUMN}) FROM {quote_ident(staged.name)} ORDER BY {ROW_COLUMN}")
        .to_arrow_table()
        .to_pandas()
    )


def parse_event_times(con: duckdb.DuckDBPyConnection, staged: Staged, options: ReadOptions) -> Staged:
    """The staged events with ``ts`` read by ``options``' time format and zone (a view), as readings' times are.

    A CMMS's failure log comes in the plant's own format (``27.10.2024 14:30``, local time). Without a format or
    zone the staged events are returned as they are. A time that does not parse is an :class:`IngestError` at its
    line; an empty one is left to :func:`validate_events` (missing timestamp).
    """
    if not options.parses_text_time():
        return staged
    parsed = ts_sql(staged.types.get("ts", "VARCHAR"), options)
    source = quote_ident(staged.name)
    bad = fetch_one(
        con,
        f"SELECT {ROW_COLUMN}, CAST(ts AS VARCHAR) FROM {source} WHERE ts IS NOT NULL "
        f"AND trim(CAST(ts AS VARCHAR)) <> '' AND {parsed} IS NULL ORDER BY 1 LIMIT 1",
    )
    if bad is not None:
        fmt = f" with the format {options.time_format!r}" if options.time_format else ""
        raise IngestError(
            f"cannot parse timestamp {bad[1]!r}{fmt}",
            source=staged.source,
            line=staged.line_of(int(bad[0])),
            column=staged.shown("ts"),
            hint="check --time-format (strptime directives such as %d.%m.%Y %H:%M)",
        )
    name = staged.name + "_t"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * REPLACE ({parsed} AS ts) FROM {source}")
    return dataclasses.replace(staged, name=name, types={**staged.types, "ts": "TIMESTAMP WITH TIME ZONE"})


def validate_events(raw: pd.DataFrame, *, source: str, line_of: Callable[[int], int]) -> pd.DataFrame:
    """Run :func:`to_events` and re-raise its errors as :class:`IngestError` at the right line.

    ``line_of(record)`` turns a 0-based record number into the line (or row) shown to people.
    """
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise IngestError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, raw.columns)) or 'none'}",
            source=source,
            line=1,
            column=missing[0],
            hint="events need asset_id, ts and kind (failure, maintenance or inspection); --rename COLUMN=kind names "
            "the file's own kind column, --event-kind failure gives every row of a failure log one kind",
        )
    try:
        return to_events(raw, source=source, first_line=1)
    except SchemaError as err:
        line = line_of(err.line - 1) if err.line is not None else None
        raise IngestError(err.reason, source=source, line=line, column=err.column, hint=err.hint) from None


#: append the staged events (``__fw_events``) whose key is not stored yet, in time order; the same text on DuckDB
#: and PostgreSQL (store/pg_ingest.py)
APPEND_NEW_EVENTS_SQL = """
INSERT INTO events SELECT n.* FROM __fw_events n WHERE NOT EXISTS (
    SELECT 1 FROM events e WHERE e.asset_id = n.asset_id AND e.ts = n.ts AND e.kind = n.kind
    AND e.failure_mode IS NOT DISTINCT FROM n.failure_mode
    AND e.action IS NOT DISTINCT FROM n.action
    AND e.parts IS NOT DISTINCT FROM n.parts) ORDER BY n.ts, n.asset_id"""


def unknown_assets(
    events: pd.DataFrame, known: set[str], *, source: str, strict: bool, line_of: Callable[[int], int]
) -> list[str]:
    """The asset ids of ``events`` that ``known`` lacks (sorted; ingest creates them); with ``strict``, the first
    such record is an :class:`UnknownAssetError` at its line.

    >>> frame = pd.DataFrame({"asset_id": ["p1", "p9", "p8"]})
    >>> unknown_assets(frame, {"p1"}, source="e.csv", strict=False, line_of=lambda i: i + 2)
    ['p8', 'p9']
    >>> try:
    ...     unknown_assets(frame, {"p1"}, source="e.csv", strict=True, line_of=lambda i: i + 2)
    ... except UnknownAssetError as err:
    ...     print(str(err).split(" (")[0])
    e.csv, line 3, column 'asset_id': unknown asset 'p9'
    """
    unknown_mask = ~events["asset_id"].isin(known)
    unknown = sorted(set(events.loc[unknown_mask, "asset_id"]))
    if unknown and strict:
        first = int(unknown_mask.to_numpy().nonzero()[0][0])
        raise UnknownAssetError(
            f"unknown asset {events['asset_id'].iloc[first]!r}",
            source=source,
            line=line_of(first),
            column="asset_id",
            hint=STRICT_HINT,
        )
    return unknown


def ingest_events_frame(
    con: duckdb.DuckDBPyConnection,
    events: pd.DataFrame,
    *,
    source: str,
    strict: bool,
    line_of: Callable[[int], int],
    progress: Progress | None = None,
) -> IngestReport:
    """Write a validated events frame (the output of :func:`to_events`), skipping keys already stored."""
    known = {r[0] for r in con.execute("SELECT asset_id FROM assets").fetchall()}
    unknown = unknown_assets(events, known, source=source, strict=strict, line_of=line_of)
    batch = events.drop_duplicates(subset=list(EVENT_KEY), keep="first")
    table = pa.table(
        {
            "asset_id": pa.array(batch["asset_id"].to_numpy(dtype=object), pa.string()),
            "ts": pa.array(batch["ts"].to_numpy(), pa.timestamp("us", tz="UTC")),
            **{c: pa.array(batch[c].to_numpy(dtype=object), pa.string(), from_pandas=True) for c in EVENT_COLUMNS[2:]},
        }
    )
    con.register("__fw_events", table)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if unknown:
                con.execute("INSERT INTO assets (asset_id) SELECT unnest(?)", [unknown])
            written = fetch_value(con, APPEND_NEW_EVENTS_SQL)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("__fw_events")
    if progress is not None:
        progress(int(written))
    return IngestReport(
        source,
        rows_read=len(events),
        written=int(written),
        duplicates=len(events) - int(written),
        assets_created=tuple(unknown),
        kind="events",
    )
