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
   series and time range (idempotent re-ingest), in ``(series_id, ts)`` order so zone maps prune. Only
   then are the overlapping keys' values compared: a stored value that differs is a *conflict*, counted,
   and kept (``on_conflict="keep"``, the default), replaced (``"replace"``) or the batch is rejected
   (``"error"``, naming the line and column of the first one). A batch that overlaps nothing pays nothing
   but one ``LIMIT 1`` query (a stored reading after it?). A batch that writes a series before its last stored
   reading (late rows, replaced values) is recorded in ``reading_rewrites`` (:mod:`forewarn.store.rewrites`).
6. label columns (``label_columns``) go to the ``labels`` table by the same rules
   (:mod:`forewarn.store.labels`), in the same transaction.

Under ``keep``, the first value of a key always wins, so ingesting ``A`` then ``B`` stores the same as
ingesting ``A`` and ``B`` concatenated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from forewarn.exceptions import IngestError, UnknownAssetError
from forewarn.store import flag_runs, labels, rewrites
from forewarn.store.historian import drop_historian, historian_rows, map_holds
from forewarn.store.hold import hold_micros, set_holds
from forewarn.store.options import ReadOptions
from forewarn.store.pg_sql import placeholders
from forewarn.store.readers import ROW_COLUMN, Staged, without_leading
from forewarn.store.tables import fetch_one, fetch_value, quote_ident
from forewarn.store.validate import (
    ReadingsLayout,
    find_blank_keys,
    long_readings_sql,
    readings_layout,
    renamed,
    repeated_hour_sql,
    units_rows_staged,
    validate_readings,
)

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int], None]
STRICT_HINT = "declare the asset first with Store.add_assets, or ingest with strict=False to create it"


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did.

    ``rows_read`` counts readings, i.e. values (one per non-empty value cell, so a wide row with three channels
    is three readings); ``file_rows`` the source's own rows (records after the header and any units rows, a
    wide row once, rows a quality or tag filter skipped included; ``None`` when not counted); ``written`` the
    readings newly stored; ``duplicates`` the rest (repeated keys inside
    the batch plus keys already stored), so ``written + duplicates == rows_read``. ``assets_created``
    lists assets the ingest created (sorted). ``conflicts`` counts the stored values (readings and labels)
    that the batch gave a different value; ``replaced`` those it overwrote (``on_conflict="replace"``).
    ``labels_written`` counts labels newly stored; ``notes`` says how the source was read when that is
    worth knowing (a file read as Windows-1252).

    >>> IngestReport("a.csv", rows_read=10, written=8, duplicates=2).conflicts
    0
    """

    source: str
    rows_read: int
    written: int
    duplicates: int
    assets_created: tuple[str, ...] = ()
    kind: str = "readings"
    conflicts: int = 0
    replaced: int = 0
    labels_written: int = 0
    notes: tuple[str, ...] = ()
    file_rows: int | None = None
    #: (asset_id, ts) of the failures a failure flag column marks (``ReadOptions.failure_column``), to be filed
    flagged_failures: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    def counts_line(self) -> str:
        """What was read and written, rows and values apart (a wide row of two channels is two values).

        >>> IngestReport("a.csv", rows_read=4, written=4, duplicates=0, file_rows=2).counts_line()
        '2 rows read (4 values), 4 values written, 0 already stored'
        >>> IngestReport("e.csv", rows_read=3, written=2, duplicates=1, kind="events", file_rows=3).counts_line()
        '3 rows read, 2 written, 1 already stored'
        """
        if self.file_rows is None or self.file_rows == self.rows_read:
            rows = self.rows_read if self.file_rows is None else self.file_rows
            return f"{rows:,} rows read, {self.written:,} written, {self.duplicates:,} already stored"
        return (
            f"{self.file_rows:,} rows read ({self.rows_read:,} values), {self.written:,} values written, "
            f"{self.duplicates:,} already stored"
        )


@dataclass(frozen=True)
class _Written:
    written: int = 0
    conflicts: int = 0
    replaced: int = 0


def first_record_of_assets(con: duckdb.DuckDBPyConnection, staged: Staged, asset_ids: list[str]) -> tuple[str, int]:
    """The unknown asset that appears first in the batch, and its record number."""
    row = fetch_one(
        con,
        f"SELECT CAST(asset_id AS VARCHAR), min({ROW_COLUMN}) AS first FROM {quote_ident(staged.name)} "
        "WHERE CAST(asset_id AS VARCHAR) IN (SELECT unnest(?)) GROUP BY 1 ORDER BY first LIMIT 1",
        [asset_ids],
    )
    assert row is not None
    return str(row[0]), int(row[1])


class WriteTarget(Protocol):
    """Where a validated batch goes: the DuckDB store itself, or a server store (:mod:`forewarn.store.pg_ingest`).

    The batch is staged in the DuckDB connection ``con`` as ``__fw_long`` (``asset_id, channel, ts, value,
    __rn``), ``__fw_series`` (its distinct series) and, with label columns, ``__fw_labels``.
    """

    def unknown_assets(self, con: duckdb.DuckDBPyConnection, batch_assets: str) -> list[str]:
        """The batch's asset ids (SQL ``batch_assets`` on ``con``) the target does not know, sorted."""
        ...

    def write(
        self,
        con: duckdb.DuckDBPyConnection,
        new_assets: list[str],
        on_conflict: str,
        readings_conflict: labels.Conflict,
        labels_conflict: labels.Conflict | None,
    ) -> tuple[int, int, int, int, int, int]:
        """Write the staged batch in one transaction: ``(written, conflicts, replaced)`` of readings, then of labels."""
        ...

    def set_units(self, con: duckdb.DuckDBPyConnection, units: dict[str, str]) -> None:
        """Give the batch's channels (``__fw_series``) that have no unit yet the unit of ``units`` (by channel)."""
        ...

    def set_holds(self, con: duckdb.DuckDBPyConnection, holds: list[tuple[str, str, int]]) -> int:
        """Set the hold of each ``(asset_id, channel, micros)`` of the batch (:mod:`forewarn.store.hold`)."""
        ...


class DuckTarget:
    """The embedded store's own tables, in the same DuckDB connection as the staged batch."""

    def set_units(self, con: duckdb.DuckDBPyConnection, units: dict[str, str]) -> None:
        con.executemany(
            "UPDATE channels SET unit = ? WHERE channel = ? AND unit = '' "
            "AND asset_id IN (SELECT asset_id FROM __fw_series)",
            [[unit, channel] for channel, unit in units.items()],
        )

    def set_holds(self, con: duckdb.DuckDBPyConnection, holds: list[tuple[str, str, int]]) -> int:
        return set_holds(con, holds)

    def unknown_assets(self, con: duckdb.DuckDBPyConnection, batch_assets: str) -> list[str]:
        return [
            str(r[0])
            for r in con.execute(
                f"SELECT DISTINCT asset_id FROM ({batch_assets}) WHERE asset_id "
                "NOT IN (SELECT asset_id FROM assets) ORDER BY 1"
            ).fetchall()
        ]

    def write(
        self,
        con: duckdb.DuckDBPyConnection,
        new_assets: list[str],
        on_conflict: str,
        readings_conflict: labels.Conflict,
        labels_conflict: labels.Conflict | None,
    ) -> tuple[int, int, int, int, int, int]:
        con.execute("BEGIN TRANSACTION")
        try:
            counts = _write(con, new_assets, on_conflict, readings_conflict)
            labelled = _Written()
            if labels_conflict is not None:
                labelled = _Written(*labels.write_labels(con, on_conflict, labels_conflict))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return (
            counts.written,
            counts.conflicts,
            counts.replaced,
            labelled.written,
            labelled.conflicts,
            labelled.replaced,
        )


def _batch_holds(con: duckdb.DuckDBPyConnection, options: ReadOptions) -> list[tuple[str, str, int]]:
    """``(asset_id, channel, hold)`` of the batch's series (``__fw_series``) that ``hold`` or the tag map's ``hold``
    column sets (the map's, per tag, first); empty when neither says anything."""
    default = None if options.hold is None else hold_micros(options.hold, name="--hold")
    per_tag = map_holds(con)
    if default is None and not per_tag:
        return []
    series = con.execute("SELECT asset_id, channel FROM __fw_series ORDER BY 1, 2").fetchall()
    chosen = [(str(a), str(c), per_tag.get((str(a), str(c)), default)) for a, c in series]
    return [(a, c, h) for a, c, h in chosen if h is not None]


def _hold_note(source: str, holds: list[tuple[str, str, int]]) -> str:
    """The note that says which channels were marked as recorded on change.

    >>> _hold_note("h.csv", [("P1", "temp", 28_800_000_000), ("P1", "vib", 28_800_000_000), ("P2", "flow", 0)])
    'h.csv: 2 channel(s) recorded on change, a value holding until the next reading (at most 8h); 1 not held'
    """
    held = [h for _, _, h in holds if h > 0]
    spans = sorted({h for h in held})
    said = ", ".join(_span_text(h) for h in spans[:3]) + (", ..." if len(spans) > 3 else "")
    text = f"{source}: {len(held):,} channel(s) recorded on change, a value holding until the next reading"
    text += f" (at most {said})" if held else ""
    unheld = len(holds) - len(held)
    return text + (f"; {unheld:,} not held" if unheld else "")


def _span_text(micros: int) -> str:
    """A hold in the largest whole unit: ``8h``, ``90min``, ``30s``."""
    for unit, size in (("d", 86_400_000_000), ("h", 3_600_000_000), ("min", 60_000_000), ("s", 1_000_000)):
        if micros % size == 0:
            return f"{micros // size}{unit}"
    return f"{micros / 1e6:g}s"


def ingest_staged_readings(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    *,
    strict: bool,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
    target: WriteTarget | None = None,
) -> IngestReport:
    """Validate and write one staged batch of readings (see the module docstring for the steps).

    ``target`` receives the validated batch (default: the store tables of ``con`` itself).
    """
    options = options or ReadOptions()
    target = target or DuckTarget()
    base = staged.name
    try:
        return _ingest_staged(con, staged, strict, progress, options, target)
    finally:
        drop_historian(con, base)


def _ingest_staged(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    strict: bool,
    progress: Progress | None,
    options: ReadOptions,
    target: WriteTarget,
) -> IngestReport:
    file_rows = int(fetch_value(con, f"SELECT count(*) FROM {quote_ident(staged.name)}"))
    staged, historian_notes, map_units = historian_rows(con, staged, options)
    staged = renamed(con, staged, options)
    layout = readings_layout(staged, options.label_columns)
    skipped, units, unit_of = units_rows_staged(con, staged, layout, options)
    if skipped:
        staged = without_leading(con, staged, skipped)
        file_rows -= skipped
    unit_of = {**map_units, **unit_of}
    validate_readings(con, staged, layout, options)
    con.execute(f"CREATE OR REPLACE TEMP VIEW __fw_long AS {long_readings_sql(staged, layout, options)}")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __fw_series AS "
            "SELECT asset_id, channel, count(*) AS n FROM __fw_long GROUP BY ALL"
        )
        find_blank_keys(con, staged, "__fw_series")
        batch_assets = "SELECT asset_id FROM __fw_series"
        flagged: tuple[tuple[str, Any], ...] = ()
        superseded: tuple[tuple[str, int], ...] = ()
        notes: tuple[str, ...] = tuple(n for n in (staged.note, units) if n) + historian_notes
        if layout.label_columns:
            labels.stage_labels(con, staged, layout.label_columns, options)
            batch_assets += f" UNION {labels.label_assets_sql()}"
            if options.failure_column is not None:
                flagged, continued = flag_runs.drop_continued(
                    con,
                    options.failure_column,
                    labels.flagged_failures(con, staged, options.failure_column),
                    lambda asset, ts: _stored_before(target, con, options.failure_column or "", asset, ts),
                )
                if continued:
                    notes += (flag_runs.continued_note(staged.source, options.failure_column, continued),)
                superseded = flag_runs.superseded(
                    con,
                    options.failure_column,
                    lambda asset, ts: _stored_after(target, con, options.failure_column or "", asset, ts),
                )
        rows_read = int(fetch_value(con, "SELECT coalesce(sum(n), 0) FROM __fw_series"))
        if options.timezone != "UTC":
            notes += _repeated_hour_note(con, staged.source, options.timezone)
        unknown = target.unknown_assets(con, batch_assets)
        if unknown and strict:
            asset, record = first_record_of_assets(con, staged, unknown)
            raise UnknownAssetError(
                f"unknown asset {asset!r}",
                source=staged.source,
                line=staged.line_of(record),
                column=staged.shown("asset_id"),
                hint=STRICT_HINT,
            )
        holds = _batch_holds(con, options)
        counts = target.write(
            con,
            unknown,
            options.on_conflict,
            _conflict_error(staged, layout, "readings"),
            _conflict_error(staged, layout, "labels") if layout.label_columns else None,
        )
        if unit_of:  # a units row under the header: the units of the batch's channels that have none yet
            target.set_units(con, unit_of)
        if holds:  # recorded on change: each channel's hold, stored with it (forewarn.store.hold)
            target.set_holds(con, holds)
            notes += (_hold_note(staged.source, holds),)
        if superseded:  # the readings are in: the later file's event of each continued run gives way to this one's
            note = flag_runs.flag_note(options.failure_column or "")
            for asset, at in superseded:
                _on_target(target, con, flag_runs.DELETE_FLAGGED_SQL, [asset, note, at], fetch=False)
            notes += (
                flag_runs.superseded_note(staged.source, options.failure_column or "", [a for a, _ in superseded]),
            )
    finally:
        con.execute("DROP TABLE IF EXISTS __fw_stage; DROP TABLE IF EXISTS __fw_series; DROP VIEW IF EXISTS __fw_long")
        labels.drop_labels(con)
    written = counts[0]
    if progress is not None:
        progress(written)
    return IngestReport(
        staged.source,
        rows_read=rows_read,
        written=written,
        duplicates=rows_read - written,
        assets_created=tuple(unknown),
        conflicts=counts[1] + counts[4],
        replaced=counts[2] + counts[5],
        labels_written=counts[3],
        notes=notes,
        file_rows=file_rows,
        flagged_failures=flagged,
    )


def _stored_before(target: WriteTarget, con: duckdb.DuckDBPyConnection, name: str, asset: str, ts: Any) -> list[Any]:
    """The stored rows of label ``name`` of ``asset`` before ``ts`` (:data:`~forewarn.store.flag_runs.
    STORED_BEFORE_SQL`), in the target's own tables: the DuckDB store's (``con``) or a server store's connection."""
    return _on_target(target, con, flag_runs.STORED_BEFORE_SQL, [asset, name, ts])


def _stored_after(
    target: WriteTarget, con: duckdb.DuckDBPyConnection, name: str, asset: str, ts: Any
) -> tuple[int, str] | None:
    """The stored row of label ``name`` of ``asset`` just after ``ts`` (:data:`~forewarn.store.flag_runs.
    STORED_AFTER_SQL`), or None."""
    rows = _on_target(target, con, flag_runs.STORED_AFTER_SQL, [asset, name, ts])
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _on_target(
    target: WriteTarget, con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], *, fetch: bool = True
) -> list[Any]:
    """Run ``sql`` (``?`` parameters) on the target's own tables: the DuckDB store's (``con``) or a server store's
    connection (none: nothing is run, nothing is found)."""
    if isinstance(target, DuckTarget):
        cursor = con.execute(sql, params)
    else:
        server = getattr(target, "con", None)
        if server is None:
            return []
        cursor = server.execute(placeholders(sql, params), params)
    return list(cursor.fetchall()) if fetch else []


def _repeated_hour_note(con: duckdb.DuckDBPyConnection, source: str, zone: str) -> tuple[str, ...]:
    """A note when readings fall in the first pass of an hour that the clocks repeated (see ``fold_back_sql``)."""
    count = int(fetch_value(con, f"SELECT count(*) FROM __fw_long WHERE {repeated_hour_sql(zone, first=True)}"))
    if not count:
        return ()
    return (
        f"{source}: {count:,} reading(s) at local times that {zone} repeats when its clocks go back were read in "
        "file order: the first of each pair as summer time (give times with an offset to be explicit)",
    )


CONFLICT_HINT = (
    "the store holds another value for this {what} and time: re-run with --on-conflict replace to "
    "take the new values, or --on-conflict keep to keep the stored ones"
)


def _conflict_error(staged: Staged, layout: ReadingsLayout, what: str) -> labels.Conflict:
    """Build the error of ``on_conflict="error"``: the line and column of the first value that differs."""

    def build(record: int, channel: str, stored: str, new: str) -> Exception:
        column = channel if (layout.wide or what == "labels") else "value"
        return IngestError(
            f"new value {new} of {channel!r} differs from the stored {stored}",
            source=staged.source,
            line=staged.line_of(record),
            column=staged.shown(column),
            hint=CONFLICT_HINT.format(what="channel" if what == "readings" else "label"),
        )

    return build


def _first_conflict(con: duckdb.DuckDBPyConnection) -> tuple[int, str, str, str]:
    """Record, channel, stored and new value of the first batch record whose value differs from the stored one."""
    row = fetch_one(
        con,
        f"SELECT l.{ROW_COLUMN}, l.channel, r.value, l.value FROM __fw_long l JOIN channels c "
        "ON c.asset_id = l.asset_id AND c.channel = l.channel JOIN reading_values r "
        "ON r.series_id = c.series_id AND r.ts = l.ts WHERE r.value <> l.value ORDER BY 1 LIMIT 1",
    )
    assert row is not None
    return int(row[0]), str(row[1]), repr(float(row[2])), repr(float(row[3]))


def _write(
    con: duckdb.DuckDBPyConnection,
    new_assets: list[str],
    on_conflict: str = "keep",
    conflict: labels.Conflict | None = None,
) -> _Written:
    if new_assets:
        con.execute("INSERT INTO assets (asset_id) SELECT unnest(?)", [new_assets])
    base = int(fetch_value(con, "SELECT coalesce(max(series_id), 0) FROM channels"))
    con.execute(
        "INSERT INTO channels (asset_id, channel, series_id) "
        "SELECT asset_id, channel, ? + row_number() OVER (ORDER BY asset_id, channel) "
        "FROM __fw_series ANTI JOIN channels USING (asset_id, channel)",
        [base],
    )
    join = "FROM __fw_long l JOIN channels c ON c.asset_id = l.asset_id AND c.channel = l.channel"
    con.execute(f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT c.series_id, l.ts, l.value {join} ORDER BY 1, 2")
    if has_adjacent_duplicates(con, "__fw_stage"):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT c.series_id, l.ts, "
            f"arg_min(l.value, l.{ROW_COLUMN}) AS value {join} GROUP BY 1, 2 ORDER BY 1, 2"
        )
    bounds = fetch_one(
        con, "SELECT min(series_id), max(series_id), epoch_us(min(ts)), epoch_us(max(ts)) FROM __fw_stage"
    )
    if bounds is None or bounds[0] is None:
        return _Written()
    overlap = (
        "SELECT series_id, ts, value FROM reading_values WHERE series_id BETWEEN ? AND ? "
        "AND ts BETWEEN make_timestamp(?::BIGINT)::TIMESTAMPTZ AND make_timestamp(?::BIGINT)::TIMESTAMPTZ"
    )
    if not fetch_value(con, f"SELECT count(*) FROM ({overlap} LIMIT 1)", list(bounds)):
        if _readings_later(con, bounds):  # a late batch: every row is written, before rows stored
            _note_rewrites(con, "SELECT series_id, epoch_us(min(ts)) FROM __fw_stage GROUP BY 1", [], bounds)
        return _Written(int(fetch_value(con, "INSERT INTO reading_values SELECT series_id, ts, value FROM __fw_stage")))
    conflicts = int(
        fetch_value(
            con,
            f"SELECT count(*) FROM __fw_stage s JOIN ({overlap}) r USING (series_id, ts) WHERE r.value <> s.value",
            list(bounds),
        )
    )
    replaced = 0
    if conflicts and on_conflict == "error" and conflict is not None:
        raise conflict(*_first_conflict(con))
    # the rows this write inserts (keys not stored) or replaces (values that differ), earliest per series
    _note_rewrites(
        con,
        f"SELECT s.series_id, epoch_us(min(s.ts)) FROM __fw_stage s LEFT JOIN ({overlap}) r USING (series_id, ts) "
        "WHERE r.value IS NULL OR (? AND r.value <> s.value) GROUP BY 1",
        [*bounds, on_conflict == "replace"],
        bounds,
    )
    if conflicts and on_conflict == "replace":
        replaced = int(
            fetch_value(
                con,
                "UPDATE reading_values SET value = s.value FROM __fw_stage s WHERE "
                "reading_values.series_id = s.series_id AND reading_values.ts = s.ts AND "
                "reading_values.value <> s.value",
            )
        )
    written = int(
        fetch_value(
            con,
            f"INSERT INTO reading_values SELECT s.series_id, s.ts, s.value FROM __fw_stage s "
            f"ANTI JOIN ({overlap}) r USING (series_id, ts) ORDER BY s.series_id, s.ts",
            list(bounds),
        )
    )
    return _Written(written, conflicts, replaced)


def _readings_later(con: duckdb.DuckDBPyConnection, bounds: tuple[Any, ...]) -> bool:
    """Whether a series of the batch's range holds a reading after the batch's last time (``bounds``: series range
    and times in microseconds): the batch is then written before stored rows."""
    return bool(
        fetch_value(
            con,
            "SELECT count(*) FROM (SELECT 1 FROM reading_values WHERE series_id BETWEEN ? AND ? "
            "AND ts > make_timestamp(?::BIGINT)::TIMESTAMPTZ LIMIT 1)",
            [bounds[0], bounds[1], bounds[3]],
        )
    )


def _note_rewrites(con: duckdb.DuckDBPyConnection, written: str, params: list[Any], bounds: tuple[Any, ...]) -> None:
    """Record the series this write changes before their last stored reading (:mod:`forewarn.store.rewrites`):
    ``written`` selects each series' earliest written time (microseconds), before the write."""
    first = {int(s): int(t) for s, t in con.execute(written, params).fetchall() if t is not None}
    if not first:
        return
    last = {
        int(s): int(t)
        for s, t in con.execute(
            "SELECT series_id, epoch_us(max(ts)) FROM reading_values WHERE series_id BETWEEN ? AND ? "
            "AND ts >= make_timestamp(?::BIGINT)::TIMESTAMPTZ GROUP BY 1",
            [bounds[0], bounds[1], min(first.values())],
        ).fetchall()
    }
    rows = rewrites.rewritten(first, last)
    if rows:
        rewrites.record(con.execute, int(fetch_value(con, rewrites.LAST_SEQ)), rows)


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


def long_arrow(frame_long: pd.DataFrame) -> pa.Table:  # a pandas frame from to_long_readings
    """Arrow table of a canonical long readings frame, typed for the store."""
    return pa.table(
        {
            "asset_id": pa.array(frame_long["asset_id"].to_numpy(dtype=object), pa.string()),
            "ts": pa.array(frame_long["ts"].to_numpy(), pa.timestamp("us", tz="UTC")),
            "channel": pa.array(frame_long["channel"].to_numpy(dtype=object), pa.string()),
            "value": pa.array(frame_long["value"].to_numpy(dtype="float64"), pa.float64()),
        }
    )
