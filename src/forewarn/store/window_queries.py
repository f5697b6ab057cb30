"""The queries that read each asset's last window, and the readings' spacing, in the dialect of the store's backend.

The service (:mod:`forewarn.serve.recent`) and training (:mod:`forewarn.train.dataset`) ask the store for a few
things ``Store.readings`` does not answer in one query: the last ``rows`` readings of every series of many assets
at once, the last ``rows`` buckets of many assets, and the median spacing of consecutive readings. DuckDB answers
them with its own functions (``max(x, n)``, ``list_min``, ``time_bucket``, ``median``, ``GROUP BY ALL``);
PostgreSQL with its own (an index scan per series for the n newest readings, ``date_bin``,
``percentile_cont``). Both return the same frames, so the callers hold no SQL of either dialect.

>>> from forewarn.store import Store
>>> import pandas as pd
>>> with Store() as db:
...     _ = db.ingest_readings(pd.DataFrame({"asset_id": "P-1", "channel": "temp", "value": [1.0, 2.0, 4.0],
...         "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:10", "2024-01-01 00:30"], utc=True)}))
...     last_rows(db, ["P-1"], ["temp"], 2, None)["value"].tolist(), median_spacing_us(db, ["P-1"]) / 60e6
([2.0, 4.0], 15.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from forewarn.store import hold
from forewarn.store.pg_sql import LAST_TS, is_postgres_url
from forewarn.store.store import Store
from forewarn.store.tables import quote_literal


def is_postgres(store: Store) -> bool:
    """Whether ``store`` is the server store (:class:`forewarn.store.postgres.PgStore`)."""
    return is_postgres_url(getattr(store, "url", ""))


def last_reading_us(store: Store, asset_id: str) -> int | None:
    """The time of the asset's newest reading, in Unix microseconds (``None`` without readings)."""
    return last_reading_times(store, [asset_id]).get(asset_id)


def last_reading_times(store: Store, asset_ids: Sequence[str]) -> dict[str, int]:
    """The time of each asset's newest reading, in Unix microseconds, in one query (assets without readings are
    left out)."""
    if not asset_ids:
        return {}
    pg = is_postgres(store)
    newest = f"max({LAST_TS})" if pg else "max(ts)"  # PostgreSQL: each series' key, backwards
    table, key = ("channels c", "c.asset_id") if pg else ("readings", "asset_id")
    if len(asset_ids) == 1:  # the service's hot path: no grouping, an equality (a third faster on DuckDB)
        found = store.sql(f"SELECT epoch_us({newest}) AS t FROM {table} WHERE {key} = ?", [str(asset_ids[0])])["t"]
        return {} if not len(found) or pd.isna(found.iloc[0]) else {str(asset_ids[0]): int(found.iloc[0])}
    rows = store.sql(
        f"SELECT {key} AS asset_id, epoch_us({newest}) AS t FROM {table} WHERE {key} IN (SELECT unnest(?)) GROUP BY 1",
        [list(map(str, asset_ids))],
    )
    return {str(a): int(t) for a, t in zip(rows["asset_id"], rows["t"], strict=True) if not pd.isna(t)}


def last_rows(
    store: Store, asset_ids: Sequence[str], channels: Sequence[str], rows: int, since: pd.Timestamp | None
) -> pd.DataFrame:
    """``asset_id, ts, channel, value`` of the last ``rows`` readings of each channel of each asset, none before
    ``since`` (all when ``None``); unsorted."""
    bound = "" if since is None else " AND ts >= ?"
    extra = [] if since is None else [since, since]
    if is_postgres(store):
        # the rows-th newest reading of each series: a backward scan of its (series_id, ts) key, rows entries long
        return store.sql(
            "WITH s AS (SELECT c.asset_id, c.channel, c.series_id, (SELECT min(x.ts) FROM (SELECT ts FROM "
            f"reading_values v WHERE v.series_id = c.series_id{bound} ORDER BY ts DESC LIMIT ?) AS x) AS since "
            "FROM channels c WHERE c.asset_id IN (SELECT unnest(?)) AND c.channel IN (SELECT unnest(?))) "
            "SELECT s.asset_id, r.ts, s.channel, r.value FROM reading_values r JOIN s ON r.series_id = s.series_id "
            f"WHERE r.ts >= s.since{bound.replace('ts', 'r.ts')}",
            [*extra[:1], int(rows), list(asset_ids), list(channels), *extra[1:]],
        )
    # the time of each series' rows-th newest reading (a top-n aggregate: half the time of ranking every reading
    # with a window function, which sorts each asset's whole history), then the readings since then
    return store.sql(
        "WITH since AS (SELECT asset_id, channel, list_min(max(ts, ?)) AS since FROM readings "
        f"WHERE asset_id IN (SELECT unnest(?)) AND channel IN (SELECT unnest(?)){bound} GROUP BY asset_id, channel) "
        "SELECT r.asset_id, r.ts, r.channel, r.value FROM readings r JOIN since s "
        f"ON r.asset_id = s.asset_id AND r.channel = s.channel AND r.ts >= s.since{bound.replace('ts', 'r.ts')}",
        [int(rows), list(asset_ids), list(channels), *extra],
    )


def last_buckets(
    store: Store,
    asset_ids: Sequence[str],
    channels: Sequence[str],
    rows: int,
    width_us: int,
    since_us: Sequence[int],
) -> pd.DataFrame:
    """``asset_id, ts, channel, value``: each asset's readings of ``channels`` averaged into buckets ``width_us``
    wide (aligned on the Unix epoch, labelled by their start), from ``rows`` buckets before the bucket of its last
    reading and not before its ``since_us`` (one per asset; a very negative number for none); unsorted."""
    width, back = int(width_us), int(rows) - 1
    if is_postgres(store):  # PostgreSQL's SQL, held channels included (forewarn.store.pg_hold)
        from forewarn.store.pg_hold import last_buckets as pg_last_buckets

        return pg_last_buckets(
            store, asset_ids, channels, rows, width, since_us, _held_pairs(store, asset_ids, channels)
        )
    bucket = f"time_bucket(to_microseconds({width}::BIGINT), r.ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    held = _held_pairs(store, asset_ids, channels)
    params = [list(asset_ids), [int(t) for t in since_us], list(asset_ids), list(channels), list(channels)]
    plain = (
        "WITH s AS (SELECT unnest(?) AS asset_id, unnest(?) AS since_us), "
        "l AS (SELECT r.asset_id, epoch_us(max(r.ts)) AS last_us FROM readings r "
        "WHERE r.asset_id IN (SELECT unnest(?)) AND r.channel IN (SELECT unnest(?)) GROUP BY r.asset_id) "
        f"SELECT r.asset_id, {bucket} AS ts, r.channel, avg(r.value) AS value FROM readings r "
        "JOIN l ON r.asset_id = l.asset_id JOIN s ON r.asset_id = s.asset_id "
        "WHERE r.channel IN (SELECT unnest(?)) AND epoch_us(r.ts) >= greatest(s.since_us, "
        f"(l.last_us // {width} - {back}) * {width})"
    )
    if not held:
        return store.sql(f"{plain} GROUP BY ALL", params)
    # channels recorded on change: their buckets weigh the values holding in them by time (forewarn.store.hold),
    # over the same window, up to the asset's newest reading of any channel, as Store.readings(resample=) does
    pairs = ", ".join(f"({quote_literal(a)}, {quote_literal(c)})" for a, c in held)
    since = ", ".join(f"({quote_literal(str(a))}, {int(t)}::BIGINT)" for a, t in zip(asset_ids, since_us, strict=True))
    series = (
        f"SELECT c.series_id, c.asset_id, c.channel, c.{hold.HOLD_COLUMN} AS hold_us, greatest(s.since_us, "
        f"(l.last_us // {width} - {back}) * {width}) AS lo_us, t.last_us + 1 AS hi_us FROM channels c "
        f"JOIN (VALUES {since}) AS s(asset_id, since_us) ON s.asset_id = c.asset_id "
        "JOIN (SELECT r.asset_id, epoch_us(max(r.ts)) AS last_us FROM readings r WHERE r.asset_id IN (SELECT unnest(?)) "
        "AND r.channel IN (SELECT unnest(?)) GROUP BY r.asset_id) AS l ON l.asset_id = c.asset_id "
        "JOIN (SELECT r.asset_id, epoch_us(max(r.ts)) AS last_us FROM readings r WHERE r.asset_id IN (SELECT unnest(?)) "
        f"GROUP BY r.asset_id) AS t ON t.asset_id = c.asset_id WHERE (c.asset_id, c.channel) IN ({pairs})"
    )
    return store.sql(
        f"SELECT * FROM ({plain} AND (r.asset_id, r.channel) NOT IN ({pairs}) GROUP BY ALL) "
        f"UNION ALL SELECT * FROM ({hold.held_buckets_sql(width, series)})",
        [*params, list(asset_ids), list(channels), list(asset_ids)],
    )


def _held_pairs(store: Store, asset_ids: Sequence[str], channels: Sequence[str]) -> list[tuple[str, str]]:
    """The ``(asset_id, channel)`` pairs of the given assets and channels that are held."""
    holds = store.holds()
    if holds.empty:
        return []
    chosen = holds[holds["asset_id"].isin([str(a) for a in asset_ids]) & holds["channel"].isin(list(channels))]
    return [(str(a), str(c)) for a, c in zip(chosen["asset_id"], chosen["channel"], strict=True)]


def median_spacing_us(store: Store, asset_ids: Sequence[str]) -> float | None:
    """The median spacing of consecutive readings of a series over the given assets, in microseconds (``None``
    with fewer than two readings of any series); repeated instants do not count."""
    gaps = (
        "SELECT epoch_us(r.ts) - lag(epoch_us(r.ts)) OVER (PARTITION BY r.series_id ORDER BY r.ts) AS d "
        "FROM reading_values r JOIN channels c ON c.series_id = r.series_id WHERE c.asset_id IN (SELECT unnest(?))"
    )
    median = "percentile_cont(0.5) WITHIN GROUP (ORDER BY d)" if is_postgres(store) else "median(d)"
    row = store.sql(f"SELECT {median} AS d FROM ({gaps}) AS gaps WHERE d > 0", [list(asset_ids)])
    value = row["d"].iloc[0] if len(row) else None
    return None if value is None or pd.isna(value) else float(value)
