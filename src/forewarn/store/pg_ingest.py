"""Writing a validated batch into PostgreSQL: the same rules as the embedded store, through binary COPY.

A batch is read, validated, made long and sorted by the embedded store's own code (:mod:`forewarn.store.ingest`)
in a private in-memory DuckDB connection; :class:`PgTarget` then writes it in one PostgreSQL transaction
holding the store's write lock (an advisory lock, so writers in other processes take turns and series ids
are handed out once):

1. new assets, then new channels with the next series ids;
2. the batch as ``(series_id, ts, value)``, first record of each key, sorted;
3. if the batch overlaps nothing stored (series and time range): one binary ``COPY`` straight into
   ``reading_values``. Otherwise a binary ``COPY`` into a temporary table, conflicts counted, kept,
   replaced or rejected (``on_conflict``), and ``INSERT ... ON CONFLICT DO NOTHING`` for the rest;
4. labels by the same rules; the touched series and time range marked for the rollups
   (:func:`forewarn.store.pg_rollup.refresh` recomputes only those); a write that changes a series before its last
   stored reading (late rows, replaced values) recorded in ``reading_rewrites`` (:mod:`forewarn.store.rewrites`:
   one query more per batch, each series' last stored time);
5. ``COMMIT``: a process killed before it leaves nothing behind, after it everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from forewarn.schema import EVENT_COLUMNS
from forewarn.store import labels as labels_mod
from forewarn.store import rewrites
from forewarn.store.hold import HOLD_COLUMN
from forewarn.store.ingest import IngestReport, Progress, has_adjacent_duplicates
from forewarn.store.pg_sql import (
    WRITE_LOCK,
    chunks,
    ensure_partitions,
    readings_copy_bytes,
)
from forewarn.store.readers import ROW_COLUMN
from forewarn.store.tables import fetch_one

EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def begin_write(con: Any) -> None:
    """Start a write transaction holding the store's write lock (``con`` in autocommit mode)."""
    con.execute("BEGIN")
    con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])


def known_assets(con: Any, asset_ids: list[str]) -> set[str]:
    """Those of ``asset_ids`` the database knows."""
    return {str(r[0]) for r in con.execute("SELECT asset_id FROM assets WHERE asset_id = ANY(%s)", [asset_ids])}


def series_ids(con: Any, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Series ids of ``(asset_id, channel)`` pairs, creating the missing channels (inside the write transaction)."""
    assets = sorted({a for a, _ in pairs})
    found = {
        (str(a), str(c)): int(s)
        for a, c, s in con.execute(
            "SELECT asset_id, channel, series_id FROM channels WHERE asset_id = ANY(%s)", [assets]
        ).fetchall()
    }
    new = sorted(p for p in set(pairs) if p not in found)
    if new:
        base = int(con.execute("SELECT coalesce(max(series_id), 0) FROM channels").fetchone()[0])
        rows = [(a, c, base + i) for i, (a, c) in enumerate(new, start=1)]
        with con.cursor() as cur:
            cur.executemany("INSERT INTO channels (asset_id, channel, series_id) VALUES (%s, %s, %s)", rows)
        found.update({(a, c): s for a, c, s in rows})
    return {p: found[p] for p in pairs}


class PgTarget:
    """The :class:`~forewarn.store.ingest.WriteTarget` of a PostgreSQL store; ``con`` is a psycopg connection.

    ``joined=True``: ``con`` is inside a transaction its owner commits (the stream's micro-batch,
    :mod:`forewarn.store.pg_stream`); the batch is written under the write lock in that transaction, which
    this target neither begins, commits nor rolls back.
    """

    def __init__(self, con: Any, *, joined: bool = False) -> None:
        self.con = con
        self.joined = joined

    def unknown_assets(self, duck: duckdb.DuckDBPyConnection, batch_assets: str) -> list[str]:
        ids = [str(r[0]) for r in duck.execute(f"SELECT DISTINCT asset_id FROM ({batch_assets}) ORDER BY 1").fetchall()]
        return sorted(set(ids) - known_assets(self.con, ids))

    def set_units(self, duck: duckdb.DuckDBPyConnection, units: dict[str, str]) -> None:
        assets = [str(r[0]) for r in duck.execute("SELECT DISTINCT asset_id FROM __fw_series").fetchall()]
        with self.con.cursor() as cur:
            cur.executemany(
                "UPDATE channels SET unit = %s WHERE channel = %s AND unit = '' AND asset_id = ANY(%s)",
                [(unit, channel, assets) for channel, unit in units.items()],
            )

    def set_holds(self, duck: duckdb.DuckDBPyConnection | None, holds: list[tuple[str, str, int]]) -> int:
        """Set the hold of each ``(asset_id, channel, micros)`` (:mod:`forewarn.store.hold`; 0: not held), in one
        transaction under the write lock (in the owner's when joined); returns how many were given."""
        rows = [(int(h), str(a), str(c)) for a, c, h in holds]
        if not rows:
            return 0
        con = self.con
        if self.joined:
            con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        else:
            begin_write(con)
        try:
            with con.cursor() as cur:
                cur.executemany(f"UPDATE channels SET {HOLD_COLUMN} = %s WHERE asset_id = %s AND channel = %s", rows)
            if not self.joined:
                con.execute("COMMIT")
        except BaseException:
            if not self.joined:
                con.execute("ROLLBACK")
            raise
        return len(rows)

    def write(
        self,
        duck: duckdb.DuckDBPyConnection,
        new_assets: list[str],
        on_conflict: str,
        readings_conflict: labels_mod.Conflict,
        labels_conflict: labels_mod.Conflict | None,
    ) -> tuple[int, int, int, int, int, int]:
        con = self.con
        if self.joined:
            con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            for table in ("__fw_stage", "__fw_labels"):  # an earlier batch of the same transaction made them
                con.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            return self._write(duck, new_assets, on_conflict, readings_conflict, labels_conflict)
        begin_write(con)
        try:
            written = self._write(duck, new_assets, on_conflict, readings_conflict, labels_conflict)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return written

    def _write(
        self,
        duck: duckdb.DuckDBPyConnection,
        new_assets: list[str],
        on_conflict: str,
        readings_conflict: labels_mod.Conflict,
        labels_conflict: labels_mod.Conflict | None,
    ) -> tuple[int, int, int, int, int, int]:
        con = self.con
        if new_assets:
            con.execute("INSERT INTO assets (asset_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", [new_assets])
        pairs = [(str(a), str(c)) for a, c in duck.execute("SELECT asset_id, channel FROM __fw_series").fetchall()]
        ids = series_ids(con, pairs)
        written = self._readings(duck, ids, on_conflict, readings_conflict)
        labelled = (0, 0, 0)
        if labels_conflict is not None:
            labelled = _write_labels(con, duck, on_conflict, labels_conflict)
        return (*written, *labelled)

    def _readings(
        self,
        duck: duckdb.DuckDBPyConnection,
        ids: dict[tuple[str, str], int],
        on_conflict: str,
        conflict: labels_mod.Conflict,
    ) -> tuple[int, int, int]:
        con = self.con
        mapping = pa.table(
            {
                "asset_id": pa.array([a for a, _ in ids], pa.string()),
                "channel": pa.array([c for _, c in ids], pa.string()),
                "series_id": pa.array(list(ids.values()), pa.int32()),
            }
        )
        duck.register("__fw_ids", mapping)
        try:
            join = "FROM __fw_long l JOIN __fw_ids i ON i.asset_id = l.asset_id AND i.channel = l.channel"
            duck.execute(
                f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT i.series_id, l.ts, l.value, l.{ROW_COLUMN} "
                f"{join} ORDER BY 1, 2"
            )
        finally:
            duck.unregister("__fw_ids")
        if has_adjacent_duplicates(duck, "__fw_stage"):
            duck.execute(
                f"CREATE OR REPLACE TEMP TABLE __fw_stage AS SELECT series_id, ts, arg_min(value, {ROW_COLUMN}) "
                f"AS value, min({ROW_COLUMN}) AS {ROW_COLUMN} FROM __fw_stage GROUP BY 1, 2 ORDER BY 1, 2"
            )
        bounds = fetch_one(duck, "SELECT min(series_id), max(series_id), min(ts), max(ts), count(*) FROM __fw_stage")
        if bounds is None or bounds[0] is None:
            return 0, 0, 0
        months = [
            r[0] for r in duck.execute("SELECT DISTINCT epoch_us(date_trunc('month', ts)) FROM __fw_stage").fetchall()
        ]
        ensure_partitions(con, months)
        found = duck.execute("SELECT series_id, epoch_us(ts) AS t, value FROM __fw_stage").fetchnumpy()
        data = readings_copy_bytes(found["series_id"], found["t"], found["value"])
        box = [bounds[0], bounds[1], bounds[2], bounds[3]]
        con.execute("INSERT INTO rollup_dirty VALUES (%s, %s, %s, %s)", box)
        spans = duck.execute(
            "SELECT series_id, min(ts), max(ts), epoch_us(min(ts)) FROM __fw_stage GROUP BY 1"
        ).fetchall()
        if con.execute(OVERLAP_SQL, [list(column) for column in zip(*spans, strict=True)][:3]).fetchone() is None:
            # no stored reading within any series' span: every row is written (after those stored, or before them)
            _note_rewrites(con, [(sid, first) for sid, _, _, first in spans])
            _copy_in(con, "reading_values (series_id, ts, value)", data)
            return int(bounds[4]), 0, 0
        con.execute(
            "CREATE TEMP TABLE __fw_stage (series_id integer, ts timestamptz, value double precision) ON COMMIT DROP"
        )
        _copy_in(con, "__fw_stage (series_id, ts, value)", data)
        differ = "FROM __fw_stage s JOIN reading_values r USING (series_id, ts) WHERE r.value <> s.value"
        conflicts = int(con.execute(f"SELECT count(*) {differ}").fetchone()[0])
        replaced = 0
        if conflicts and on_conflict == "error":
            raise conflict(*_first_conflict(con, duck, differ))
        # the rows this write inserts (keys not stored) or replaces (values that differ), earliest per series
        first = con.execute(
            "SELECT s.series_id, epoch_us(min(s.ts)) FROM __fw_stage s LEFT JOIN reading_values r "
            "USING (series_id, ts) WHERE r.value IS NULL OR (%s AND r.value <> s.value) GROUP BY 1",
            [on_conflict == "replace"],
        ).fetchall()
        _note_rewrites(con, first)
        if conflicts and on_conflict == "replace":
            replaced = con.execute(
                "UPDATE reading_values r SET value = s.value FROM __fw_stage s WHERE r.series_id = s.series_id "
                "AND r.ts = s.ts AND r.value <> s.value"
            ).rowcount
        written = con.execute(
            "INSERT INTO reading_values SELECT series_id, ts, value FROM __fw_stage ORDER BY series_id, ts "
            "ON CONFLICT (series_id, ts) DO NOTHING"
        ).rowcount
        return int(written), conflicts, int(replaced)


#: whether any stored reading lies within a batch's span of one of its series (``series, first, last`` as three
#: arrays): one index probe a series. It was one range over the batch's box (its smallest to largest series, its
#: first to last time), which scanned every reading of the month's partition of the series inside the box after the
#: first (20-40 ms at 0.9 M readings a partition, against 2-6 ms for 200 series this way), and which saw an overlap
#: where the series' ends were staggered (a stream's batch: one series' next reading before another's last stored
#: one), sending the batch through the staging table's joins though no key collided
OVERLAP_SQL = (
    "SELECT 1 FROM unnest(%s::integer[], %s::timestamptz[], %s::timestamptz[]) AS b(sid, lo, hi) WHERE EXISTS "
    "(SELECT 1 FROM reading_values r WHERE r.series_id = b.sid AND r.ts BETWEEN b.lo AND b.hi) LIMIT 1"
)


def _note_rewrites(con: Any, first: list[tuple[Any, Any]]) -> None:
    """Record the series this write changes before their last stored reading (:mod:`forewarn.store.rewrites`):
    ``first``, each series' earliest written time (microseconds), before the write. Each series' last stored time
    is one backward step on its index (a range of series with a time bound would scan the month's index: 30 ms
    at 576,000 readings in the partition, against 2 ms for 200 series this way)."""
    written = {int(s): int(t) for s, t in first if t is not None}
    if not written:
        return
    last = {
        int(s): int(t)
        for s, t in con.execute(
            "SELECT sid, epoch_us((SELECT max(ts) FROM reading_values r WHERE r.series_id = sid)) "
            "FROM unnest(%s::integer[]) AS sid",
            [sorted(written)],
        ).fetchall()
        if t is not None
    }
    rows = rewrites.rewritten(written, last)
    if rows:
        seq = int(con.execute(rewrites.LAST_SEQ).fetchone()[0])
        rewrites.record(lambda sql, params: con.execute(sql, params), seq, rows, mark="%s")


def _copy_in(con: Any, table: str, data: bytes) -> None:
    with con.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
        for piece in chunks(data):
            copy.write(piece)


def _first_conflict(con: Any, duck: duckdb.DuckDBPyConnection, differ: str) -> tuple[int, str, str, str]:
    """Record, channel, stored and new value of the first batch record whose value differs from the stored one."""
    keys = con.execute(f"SELECT s.series_id, epoch_us(s.ts), r.value {differ}").fetchall()
    table = pa.table(
        {
            "series_id": pa.array([k[0] for k in keys], pa.int32()),
            "t": pa.array([k[1] for k in keys], pa.int64()),
            "stored": pa.array([k[2] for k in keys], pa.float64()),
        }
    )
    duck.register("__fw_conflicts", table)
    try:
        row = fetch_one(
            duck,
            f"SELECT s.{ROW_COLUMN}, s.series_id, k.stored, s.value FROM __fw_stage s JOIN __fw_conflicts k "
            "ON k.series_id = s.series_id AND k.t = epoch_us(s.ts) ORDER BY 1 LIMIT 1",
        )
    finally:
        duck.unregister("__fw_conflicts")
    assert row is not None
    channel = con.execute("SELECT channel FROM channels WHERE series_id = %s", [row[1]]).fetchone()[0]
    return int(row[0]), str(channel), repr(float(row[2])), repr(float(row[3]))


def _write_labels(
    con: Any, duck: duckdb.DuckDBPyConnection, on_conflict: str, conflict: labels_mod.Conflict
) -> tuple[int, int, int]:
    rows = duck.execute(f"SELECT asset_id, ts, name, value, {ROW_COLUMN} FROM {labels_mod.STAGE}").fetchall()
    con.execute(
        "CREATE TEMP TABLE __fw_labels (asset_id text, ts timestamptz, name text, value text, rn bigint) ON COMMIT DROP"
    )
    with con.cursor() as cur, cur.copy("COPY __fw_labels FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    differ = "FROM __fw_labels s JOIN labels l USING (asset_id, name, ts) WHERE l.value <> s.value"
    conflicts = int(con.execute(f"SELECT count(*) {differ}").fetchone()[0])
    replaced = 0
    if conflicts and on_conflict == "error":
        first = con.execute(f"SELECT s.rn, s.name, l.value, s.value {differ} ORDER BY 1 LIMIT 1").fetchone()
        raise conflict(int(first[0]), str(first[1]), repr(str(first[2])), repr(str(first[3])))
    if conflicts and on_conflict == "replace":
        replaced = con.execute(
            "UPDATE labels l SET value = s.value FROM __fw_labels s WHERE l.asset_id = s.asset_id "
            "AND l.name = s.name AND l.ts = s.ts AND l.value <> s.value"
        ).rowcount
    written = con.execute(
        "INSERT INTO labels SELECT asset_id, ts, name, value FROM __fw_labels ON CONFLICT DO NOTHING"
    ).rowcount
    return int(written), conflicts, int(replaced)


def ingest_events(
    con: Any,
    events: pd.DataFrame,
    *,
    source: str,
    strict: bool,
    line_of: Callable[[int], int],
    progress: Progress | None = None,
) -> IngestReport:
    """Write a validated events frame, skipping keys already stored (the rules of :mod:`forewarn.store.events`)."""
    from forewarn.store.events import APPEND_NEW_EVENTS_SQL, EVENT_KEY, unknown_assets

    known = known_assets(con, sorted(set(events["asset_id"])))
    unknown = unknown_assets(events, known, source=source, strict=strict, line_of=line_of)
    batch = events.drop_duplicates(subset=list(EVENT_KEY), keep="first")
    rows = [
        [
            str(r.asset_id),
            pd.Timestamp(r.ts).to_pydatetime(),
            *[None if pd.isna(getattr(r, c)) else str(getattr(r, c)) for c in EVENT_COLUMNS[2:]],
        ]
        for r in batch.itertuples(index=False)
    ]
    begin_write(con)
    try:
        if unknown:
            con.execute("INSERT INTO assets (asset_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", [unknown])
        con.execute("CREATE TEMP TABLE __fw_events (LIKE events) ON COMMIT DROP")
        with con.cursor() as cur, cur.copy(f"COPY __fw_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        written = con.execute(APPEND_NEW_EVENTS_SQL).rowcount
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
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
