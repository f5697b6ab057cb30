"""Retention on PostgreSQL: whole monthly partitions before the cutoff are dropped (no row-by-row delete, no
bloat), the month the cutoff falls in loses its older rows, and ``store_meta.retained_from`` remembers the cutoff
so a later rollup refresh never recomputes a dropped day from the readings that are gone (its hourly and daily
rows are what is left of it).

>>> partition_end("reading_values_y2024m12")
Timestamp('2025-01-01 00:00:00+0000', tz='UTC')
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from forewarn.store import rewrites
from forewarn.store.pg_ingest import begin_write

_MONTH = re.compile(r"^reading_values_y(\d{4})m(\d{2})$")


def partition_end(name: str) -> pd.Timestamp | None:
    """The exclusive end of a monthly partition named by :func:`forewarn.store.pg_sql.month_partitions`."""
    match = _MONTH.match(name)
    if match is None:
        return None
    start = pd.Timestamp(year=int(match[1]), month=int(match[2]), day=1, tz="UTC")
    return start + pd.offsets.MonthBegin(1)


def retained_from(con: Any) -> pd.Timestamp | None:
    """The cutoff of the last retention run (readings before it are gone), or ``None``."""
    row = con.execute("SELECT value FROM store_meta WHERE key = 'retained_from'").fetchone()
    return None if row is None else pd.Timestamp(row[0])


def drop_before(con: Any, cutoff: pd.Timestamp) -> int:
    """Drop the readings before ``cutoff`` (a UTC day) in one transaction under the write lock, coalescing the record
    of rewrites before it (:func:`forewarn.store.rewrites.coalesce`); the number of readings dropped. The caller
    refreshes the rollups first, so they hold the dropped days' aggregates."""
    begin_write(con)
    try:
        parts = con.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reading_values'"
        ).fetchall()
        dropped = 0
        for (name,) in parts:
            end = partition_end(str(name))
            if end is not None and end <= cutoff:
                dropped += int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
                con.execute(f'DROP TABLE "{name}"')
        dropped += con.execute("DELETE FROM reading_values WHERE ts < %s", [cutoff.to_pydatetime()]).rowcount
        rewrites.coalesce(con.execute, cutoff.to_pydatetime(), mark="%s")
        before = retained_from(con)
        mark = cutoff if before is None else max(before, cutoff)
        con.execute(
            "INSERT INTO store_meta VALUES ('retained_from', %s) ON CONFLICT (key) DO UPDATE SET value = "
            "EXCLUDED.value",
            [mark.isoformat()],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(dropped)
