"""Hourly and daily rollups of a PostgreSQL store, refreshed incrementally and read by resampled queries.

``readings_hourly`` and ``readings_daily`` hold, per series and bucket (aligned on the Unix epoch like
every Forewarn resampling), the count, sum, minimum and maximum of the readings. An ingest does not pay
for them: it only notes the series range and time range it wrote in ``rollup_dirty`` (one row per batch,
inside its transaction). :func:`refresh` merges those ranges and recomputes just the hours they touch from
the readings, then the days from the hours. A resampled query of ``mean``, ``min``, ``max``, ``sum`` or
``count`` whose bucket is a whole number of hours (days), with bounds on whole hours (days), refreshes if
needed and reads the rollup: a year of one asset at one-minute sampling is 8,760 hourly rows instead of
525,600 readings. Sums and means come from per-hour partial sums, so they can differ from the raw
aggregate in the last bits of a double.

>>> merge_ranges([(1, 5, 0, 10), (3, 9, 5, 20), (2, 2, 500, 600)], gap=100)
[(1, 9, 0, 20), (2, 2, 500, 600)]
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from forewarn.store import queries
from forewarn.store.pg_ingest import begin_write
from forewarn.store.pg_retention import retained_from
from forewarn.store.tables import ts_literal

if TYPE_CHECKING:
    from forewarn.store.pg_sql import PgConnection

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
ROLLUP_AGGREGATES = {
    "mean": "sum(h.total) / sum(h.n)",
    "min": "min(h.lo)",
    "max": "max(h.hi)",
    "sum": "sum(h.total)",
    "count": "CAST(sum(h.n) AS DOUBLE PRECISION)",
}


def merge_ranges(boxes: list[tuple[Any, Any, Any, Any]], gap: Any) -> list[tuple[Any, Any, Any, Any]]:
    """Merge ``(lo, hi, t0, t1)`` ranges whose times overlap or lie within ``gap`` (series ranges are joined)."""
    out: list[list[Any]] = []
    for lo, hi, t0, t1 in sorted(boxes, key=lambda b: b[2]):
        if out and t0 <= out[-1][3] + gap:
            last = out[-1]
            last[0], last[1], last[3] = min(last[0], lo), max(last[1], hi), max(last[3], t1)
        else:
            out.append([lo, hi, t0, t1])
    return [(b[0], b[1], b[2], b[3]) for b in out]


def _recompute(con: Any, table: str, source: str, width: str, lo: int, hi: int, t0: Any, t1: Any) -> None:
    start = con.execute(f"SELECT date_bin(INTERVAL '{width}', %s::timestamptz, {EPOCH})", [t0]).fetchone()[0]
    end = con.execute(
        f"SELECT date_bin(INTERVAL '{width}', %s::timestamptz, {EPOCH}) + INTERVAL '{width}'", [t1]
    ).fetchone()[0]
    con.execute(
        f"DELETE FROM {table} WHERE series_id BETWEEN %s AND %s AND bucket >= %s AND bucket < %s",
        [lo, hi, start, end],
    )
    if source == "reading_values":
        select = (
            f"SELECT series_id, date_bin(INTERVAL '{width}', ts, {EPOCH}), count(*), sum(value), min(value), "
            "max(value) FROM reading_values WHERE series_id BETWEEN %s AND %s AND ts >= %s AND ts < %s GROUP BY 1, 2"
        )
    else:
        select = (
            f"SELECT series_id, date_bin(INTERVAL '{width}', bucket, {EPOCH}), sum(n), sum(total), min(lo), "
            f"max(hi) FROM {source} WHERE series_id BETWEEN %s AND %s AND bucket >= %s AND bucket < %s GROUP BY 1, 2"
        )
    con.execute(f"INSERT INTO {table} {select}", [lo, hi, start, end])


def refresh(con: Any) -> int:
    """Bring the rollups up to date with the readings (one transaction, under the write lock).

    Returns the number of merged ranges recomputed (0 when nothing was ingested since the last refresh).
    """
    begin_write(con)
    try:
        boxes = con.execute("DELETE FROM rollup_dirty RETURNING lo, hi, t0, t1").fetchall()
        floor = retained_from(con)
        if floor is not None:  # days before a retention cutoff live on in the rollups only: never recompute them
            kept = floor.to_pydatetime()
            boxes = [(lo, hi, max(t0, kept), t1) for lo, hi, t0, t1 in boxes if t1 >= kept]
        merged = merge_ranges([tuple(b) for b in boxes], dt.timedelta(days=1))
        for box in merged:
            _recompute(con, "readings_hourly", "reading_values", "1 hour", *box)
        for box in merged:
            _recompute(con, "readings_daily", "readings_hourly", "1 day", *box)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(merged)


def _aligned(value: object, width_us: int) -> bool:
    if value is None:
        return True
    stamp = pd.Timestamp(ts_literal(value))
    return int(stamp.value // 1000) % width_us == 0


def rollup_readings(
    read_only: bool,
    con: PgConnection,
    asset_id: str,
    series: dict[int, str],
    start: object,
    end: object,
    resample: str,
    agg: str,
) -> pd.DataFrame | None:
    """The resampled readings from a rollup, or ``None`` when no rollup can answer exactly (see the module)."""
    micros = queries.bucket_micros(resample)
    if agg not in ROLLUP_AGGREGATES or not series:
        return None
    table = None
    for name, width in (("readings_daily", DAY_US), ("readings_hourly", HOUR_US)):
        if micros % width == 0 and _aligned(start, width) and _aligned(end, width):
            table = name
            break
    if table is None:
        return None
    dirty = con.execute("SELECT EXISTS (SELECT 1 FROM rollup_dirty)").fetchall()[0][0]
    if dirty:
        if read_only:
            return None  # a read-only store cannot refresh; the raw readings answer
        refresh(con.con)
    ids = ", ".join(str(int(i)) for i in sorted(series))
    where = f"h.series_id IN ({ids}) AND {queries.time_filter('h.bucket', start, end)}"
    return queries.frame(
        con,  # type: ignore[arg-type]
        f"SELECT c.asset_id, date_bin({micros} * INTERVAL '1 microsecond', h.bucket, {EPOCH}) AS ts, c.channel, "
        f"{ROLLUP_AGGREGATES[agg]} AS value FROM {table} h JOIN channels c ON c.series_id = h.series_id "
        f"WHERE {where} GROUP BY 1, 2, 3 ORDER BY 2, 3",
    )
