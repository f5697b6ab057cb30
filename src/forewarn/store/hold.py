"""Channels recorded on change: a value holds until the channel's next reading, at most ``hold`` long.

Plant historians (PI, IP.21, Wonderware, Canary) keep a tag's value only when it moves past a deadband, with a
heartbeat at most every few hours (PI's CompMax: 8 h by default). An export of such *recorded* values has one
row for a temperature that stayed flat for five hours. Averaging the readings that fall in each bucket reads
those hours as missing and biases a bucket's mean toward the moments of change.

A channel's ``hold`` (``channels.hold_us``, microseconds; 0 or NULL: not held) says its readings were recorded
on change: each reading's value holds from its time until the channel's next reading, at most ``hold`` later,
and never past the asset's newest reading (of any channel: the store does not reach into the future). Bucketed
at an interval, a held channel's value in a bucket is the **time-weighted mean** of the values holding in it,
over the part of the bucket they cover (:func:`held_buckets_sql`); a bucket whose covered part is a single
instant (the asset's newest reading on its first microsecond) gets the value holding then. Only buckets are
derived: the stored readings stay as recorded (no row is invented), and raw reads return them unchanged.

Every path that buckets readings reads it through the store: ``Store.readings(resample=...)`` (train, backtest,
score, detect ``--store --interval``, the service's history) and the service's last-window query
(:func:`forewarn.store.window_queries.last_buckets`), so a served prediction equals the offline one.

A hold is set at ingest (``--hold 8h`` for every channel of the batch, or a tag map's ``hold`` column per tag)
or with :meth:`Store.set_hold`, on both backends. The rule above is written once, as SQL, by
:func:`held_buckets_sql` for the embedded store (:mod:`forewarn.store.queries`); the server store runs the same
rule in a form PostgreSQL plans cheaply (:func:`forewarn.store.pg_hold.held_buckets_sql`, held equal to this one to
1e-9 by ``tests/store/test_pg_hold*.py``). PostgreSQL read this text in a dialect of its own until 2026-12-06;
``benchmarks/pg_held_read.py`` loads that revision of this file from git for its "before".

>>> hold_micros("8h"), hold_micros("90min"), hold_micros("0"), hold_micros(None)
(28800000000, 5400000000, 0, 0)
>>> hold_micros("-2h")
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: hold='-2h' must be a positive time span such as 8h or 30min (0 for none)
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from forewarn.base.timespan import timespan
from forewarn.exceptions import ConfigError

#: the column of ``channels`` holding each channel's hold, in microseconds (0 or NULL: not held)
HOLD_COLUMN = "hold_us"
#: the DDL that adds the column to a store written before it existed
ADD_COLUMN = f"ALTER TABLE channels ADD COLUMN IF NOT EXISTS {HOLD_COLUMN} BIGINT DEFAULT 0"
#: the longest hold accepted (a value held longer than a month is a stale tag, not a flat one)
MAX_HOLD_US = 31 * 24 * 3_600_000_000
#: the lower bound of a read without a start (Unix microseconds, year 1677)
NO_START = -(2**62)
#: a term of the store's catalogue version that changes whenever a hold is set (forewarn.store.queries.SeriesIndex)
HOLDS_VERSION = f", (SELECT coalesce(bit_xor(hash(series_id, {HOLD_COLUMN})), 0) FROM channels WHERE {HOLD_COLUMN} > 0)"
#: the same term in PostgreSQL's dialect (:class:`forewarn.store.pg_hold.PgSeriesIndex`)
PG_HOLDS_VERSION = (
    f", (SELECT md5(coalesce(string_agg(series_id || ':' || {HOLD_COLUMN}, ',' ORDER BY series_id), '')) "
    f"FROM channels WHERE {HOLD_COLUMN} > 0)"
)
#: the hint of every refused hold
HOLD_HINT = "a hold is a positive time span such as 8h or 30min (0 for none), at most 31 days"


def hold_micros(text: str | None, *, name: str = "hold") -> int:
    """A hold such as ``"8h"`` in microseconds; ``None``, ``""`` and ``"0"`` are 0 (not held).

    A span that is not one, negative, or longer than 31 days is refused, naming ``name``.
    """
    if text is None or not str(text).strip() or str(text).strip() == "0":
        return 0
    try:
        span = timespan(str(text))
    except (TypeError, ValueError):
        span = None
    if span is None or span.value <= 0:
        raise ConfigError(f"{name}={text!r} must be a positive time span such as 8h or 30min (0 for none)")
    micros = int(span.value // 1000)
    if micros > MAX_HOLD_US:
        raise ConfigError(f"{name}={text!r} is longer than 31 days; {HOLD_HINT}")
    return micros


def has_hold_column(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store's ``channels`` table has the hold column (a store opened read-only that was written
    before holds existed has not: none of its channels is held)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'channels' AND column_name = ?",
            [HOLD_COLUMN],
        ).fetchall()[0][0]
    )


def series_holds(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    """``series_id -> hold`` (microseconds) of every held channel."""
    if not has_hold_column(con):
        return {}
    rows = con.execute(f"SELECT series_id, {HOLD_COLUMN} FROM channels WHERE {HOLD_COLUMN} > 0").fetchall()
    return {int(s): int(h) for s, h in rows}


def set_holds(con: duckdb.DuckDBPyConnection, holds: Iterable[tuple[str, str, int]]) -> int:
    """Set the hold of each ``(asset_id, channel, micros)`` (0: not held); returns how many were given."""
    rows = [[int(h), str(a), str(c)] for a, c, h in holds]
    if rows:
        con.executemany(f"UPDATE channels SET {HOLD_COLUMN} = ? WHERE asset_id = ? AND channel = ?", rows)
    return len(rows)


#: the Unix epoch as a PostgreSQL time
PG_EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
#: PostgreSQL's earliest time read for a held series (year -1199: :data:`NO_START` is before PostgreSQL's range)
PG_FLOOR_US = -(10**17)


def held_buckets_sql(width_us: int, series_sql: str, prune: str = "true") -> str:
    """SQL of ``asset_id, ts, channel, value``: the time-weighted bucket means of held series (DuckDB).

    ``series_sql`` selects one row per held series: ``series_id, asset_id, channel, hold_us, lo_us, hi_us``; the
    buckets (``width_us`` wide, aligned on the Unix epoch, labelled by their start like every resampled read)
    cover ``[lo_us, hi_us)``: ``lo_us`` the first instant wanted (a very negative number for all), ``hi_us`` the
    end (the asset's newest reading plus one microsecond, or an earlier end). Readings from ``lo_us - hold_us``
    on are read, so a value recorded before ``lo_us`` still holds into it. ``prune``: a condition on the readings
    ``v`` with constant bounds (their series ids, a time) that lets the store skip row groups before the join.
    PostgreSQL runs the same rule in its own form (:func:`forewarn.store.pg_hold.held_buckets_sql`).

    >>> "unnest(range(b0, s1, 3600000000::BIGINT))" in held_buckets_sql(3_600_000_000, "SELECT 1")
    True
    """
    w = int(width_us)
    return (
        f"WITH hs AS ({series_sql}), "
        "hv AS (SELECT hs.asset_id, hs.channel, hs.lo_us, hs.hi_us, hs.hold_us, v.series_id, epoch_us(v.ts) AS t, "
        f"v.value FROM reading_values v JOIN hs ON v.series_id = hs.series_id WHERE ({prune}) "
        "AND epoch_us(v.ts) >= hs.lo_us - hs.hold_us AND epoch_us(v.ts) < hs.hi_us), "
        "hr AS (SELECT *, lead(t) OVER (PARTITION BY series_id ORDER BY t) AS nxt FROM hv), "
        "seg AS (SELECT asset_id, channel, value, greatest(t, lo_us) AS s0, "
        "least(coalesce(nxt, hi_us), t + hold_us, hi_us) AS s1 FROM hr), "
        f"sb AS (SELECT *, s0 - ((s0 % {w}) + {w}) % {w} AS b0 FROM seg WHERE s1 > s0), "
        # most segments lie in one bucket; only those that cross a boundary are cut into one piece per bucket
        f"piece AS (SELECT asset_id, channel, value, b0 AS b, s1 - s0 AS d FROM sb WHERE s1 <= b0 + {w} "
        f"UNION ALL SELECT asset_id, channel, value, b, least(s1, b + {w}) - greatest(s0, b) AS d FROM sb, "
        f"unnest(range(b0, s1, {w}::BIGINT)) AS u(b) WHERE s1 > b0 + {w}) "
        "SELECT asset_id, make_timestamptz(b) AS ts, channel, sum(value * d) / sum(d) AS value FROM piece "
        "GROUP BY asset_id, b, channel"
    )
