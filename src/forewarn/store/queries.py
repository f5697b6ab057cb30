"""Reading the store back: readings (raw, resampled or wide), latest values, events and fleet views.

Readings queries go to ``reading_values`` with constant bounds on ``series_id`` and ``ts`` written into
the SQL (values Forewarn formats itself, never user text), so DuckDB prunes row groups with its zone maps
before reading anything: one asset's last day out of ten million readings is a few milliseconds.
Results come back through Arrow, so ``ts`` is ``datetime64[us, UTC]`` and text columns are pandas strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.base.timespan import timespan
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.schema import EVENT_COLUMNS, EventKind
from forewarn.store import hold
from forewarn.store.tables import fetch_value, ts_literal

AGGREGATES = {
    "mean": "avg(r.value)",
    "min": "min(r.value)",
    "max": "max(r.value)",
    "sum": "sum(r.value)",
    "count": "CAST(count(r.value) AS DOUBLE)",
    "first": "arg_min(r.value, r.ts)",
    "last": "arg_max(r.value, r.ts)",
    "median": "median(r.value)",
    "std": "stddev_samp(r.value)",
}


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Run a query and return a pandas frame by way of Arrow (UTC timestamps, pandas strings)."""
    return con.sql(sql, params=params).to_arrow_table().to_pandas()


def time_filter(column: str, start: object = None, end: object = None) -> str:
    """SQL condition for the half-open window ``start <= column < end`` (either bound may be ``None``).

    >>> time_filter("ts", "2024-01-01", None)
    "ts >= TIMESTAMPTZ '2024-01-01T00:00:00.000000+00:00'"
    >>> time_filter("ts")
    'true'
    """
    parts = []
    if start is not None:
        parts.append(f"{column} >= TIMESTAMPTZ '{ts_literal(start, name='start')}'")
    if end is not None:
        parts.append(f"{column} < TIMESTAMPTZ '{ts_literal(end, name='end')}'")
    return " AND ".join(parts) or "true"


def match_filter(
    equal: Mapping[str, object], column: str = "ts", start: object = None, end: object = None
) -> tuple[str, list[object]]:
    """SQL condition with ``?`` parameters: each named column equal to its value (``None`` values are left out) and
    ``start <= column < end`` (either bound may be ``None``); for tables outside the readings (alerts, cases).

    >>> match_filter({"asset_id": "P-1", "case_id": None}, start="2024-01-01")
    ('asset_id = ? AND ts >= ?', ['P-1', Timestamp('2024-01-01 00:00:00')])
    >>> match_filter({})
    ('true', [])
    """
    where: list[str] = []
    params: list[object] = []
    for name, value in equal.items():
        if value is not None:
            where.append(f"{name} = ?")
            params.append(value)
    for op, value in ((">=", start), ("<", end)):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(pd.Timestamp(value))
    return " AND ".join(where) or "true", params


def bucket_micros(resample: str) -> int:
    """Width of a resampling bucket such as ``"15min"`` or ``"1h"`` in microseconds.

    >>> bucket_micros("15min"), bucket_micros("1h"), bucket_micros("1d")
    (900000000, 3600000000, 86400000000)
    """
    try:
        width = timespan(resample)
    except (TypeError, ValueError):
        raise ConfigError(
            f"resample={resample!r} is not a fixed time span; "
            "use a pandas-style span such as '30s', '15min', '1h' or '1D'"
        ) from None
    micros = int(width / pd.Timedelta(microseconds=1))
    if micros <= 0:
        raise ConfigError(f"resample={resample!r} must be a positive time span, for example '1h'")
    return micros


CATALOG_VERSION = "SELECT (SELECT count(*) FROM assets), (SELECT coalesce(max(series_id), 0) FROM channels)"


class SeriesIndex:
    """Which series (``series_id -> channel``) each asset has, cached between queries.

    Assets and channels are only ever added (series ids are never reused), so the pair (number of assets,
    largest series id) changes whenever the catalogue does, whichever connection of the process wrote it:
    :meth:`is_current` compares it in one cheap query.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        # the DuckDB store's held channels (forewarn.store.hold), part of the version: a hold set since changes it
        duck = isinstance(con, duckdb.DuckDBPyConnection) and hold.has_hold_column(con)
        self._version_sql = CATALOG_VERSION + (hold.HOLDS_VERSION if duck else "")
        self.version = tuple(con.execute(self._version_sql).fetchall()[0])
        self.assets = {str(r[0]) for r in con.execute("SELECT asset_id FROM assets").fetchall()}
        self.series: dict[str, dict[int, str]] = {}
        for asset, sid, name in con.execute("SELECT asset_id, series_id, channel FROM channels").fetchall():
            self.series.setdefault(str(asset), {})[int(sid)] = str(name)
        self.holds: dict[int, int] = hold.series_holds(con) if duck else {}

    def is_current(self, con: duckdb.DuckDBPyConnection) -> bool:
        """True while no asset or channel was added (and no hold set) since the index was built."""
        return tuple(con.execute(self._version_sql).fetchall()[0]) == self.version

    def of(self, asset_id: str, channels: Sequence[str] | None = None) -> dict[int, str]:
        """Series of one asset, optionally only the named channels; unknown names raise DataNotFoundError."""
        if asset_id not in self.assets:
            raise DataNotFoundError(f"unknown asset {asset_id!r}; Store.assets() lists the known ones")
        found = self.series.get(asset_id, {})
        if channels is None:
            return dict(found)
        wanted = {str(c) for c in ([channels] if isinstance(channels, str) else channels)}
        missing = sorted(wanted - set(found.values()))
        if missing:
            raise DataNotFoundError(
                f"asset {asset_id!r} has no channel(s) {', '.join(missing)}; "
                f"it has {', '.join(sorted(found.values())) or 'none'}"
            )
        return {sid: name for sid, name in found.items() if name in wanted}


def _series_filter(ids: Sequence[int]) -> str:
    if not ids:
        return "false"
    listed = ", ".join(str(int(i)) for i in sorted(ids))
    return f"r.series_id BETWEEN {min(ids)} AND {max(ids)} AND r.series_id IN ({listed})"


def _raw_readings(con: duckdb.DuckDBPyConnection, asset_id: str, series: dict[int, str], where: str) -> pd.DataFrame:
    """Raw readings of one asset, sorted by ``ts`` then channel name.

    The hot path of dashboards: no join and no SQL sort. DuckDB returns the pruned rows as NumPy arrays;
    channel names come from ``series`` and the sort is one ``np.lexsort`` (measured about twice as fast
    as ``ORDER BY`` plus a join for a day of one asset).
    """
    found = con.execute(f"SELECT r.series_id, r.ts, r.value FROM reading_values r WHERE {where}").fetchnumpy()
    ts = np.asarray(found["ts"]).astype("datetime64[us]").view(np.int64)
    return long_frame(asset_id, series, np.asarray(found["series_id"]), ts, np.asarray(found["value"]))


def long_frame(
    asset_id: str, series: dict[int, str], series_id: np.ndarray, ts_us: np.ndarray, value: np.ndarray
) -> pd.DataFrame:
    """The long frame of one asset's raw readings given as arrays (``ts_us``: Unix microseconds), sorted by
    ``ts`` then channel name with one ``np.lexsort``."""
    by_name = sorted(series, key=lambda sid: series[sid])
    ids = np.array(sorted(series), dtype=np.int64)
    rank_of_id = np.array([by_name.index(int(sid)) for sid in ids], dtype=np.int32)
    ts = np.asarray(ts_us, dtype=np.int64)
    rank = rank_of_id[np.searchsorted(ids, np.asarray(series_id, dtype=np.int64))]
    order = np.lexsort((rank, ts))
    names = pa.array([series[sid] for sid in by_name], pa.string())
    return pa.table(
        {
            "asset_id": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(len(order), np.int32)), pa.array([asset_id], pa.string())
            ).cast(pa.string()),
            "ts": pa.array(ts[order], pa.timestamp("us", tz="UTC")),
            "channel": pa.DictionaryArray.from_arrays(pa.array(rank[order]), names).cast(pa.string()),
            "value": pa.array(np.asarray(value, dtype=np.float64)[order], pa.float64()),
        }
    ).to_pandas()


def shape(long: pd.DataFrame, asset_id: str, series: dict[int, str], wide: bool) -> pd.DataFrame:
    """``long`` as it is, or wide (``asset_id, ts, <channel>...``, channels of ``series`` in name order)."""
    if not wide:
        return long
    table = long.pivot(index="ts", columns="channel", values="value")
    table = table.reindex(columns=sorted(series.values())).reset_index()
    table.columns.name = None
    table.insert(0, "asset_id", pd.Series([str(asset_id)] * len(table), dtype=long["asset_id"].dtype))
    return table


def readings(
    con: duckdb.DuckDBPyConnection,
    asset_id: str,
    start: object = None,
    end: object = None,
    *,
    channels: Sequence[str] | None = None,
    resample: str | None = None,
    agg: str = "mean",
    wide: bool = False,
    index: SeriesIndex | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """One asset's readings in ``[start, end)``: long frame sorted by ``ts`` then ``channel``.

    With ``resample`` the values are aggregated (``agg``) into buckets aligned on the Unix epoch, labelled
    by their start; with ``wide`` channels become columns (``asset_id, ts, <channel>...``). ``index``
    saves looking the asset's series up again. ``limit``: only the last ``limit`` times (rows of the wide frame;
    buckets when resampled), found by the query (:func:`last_times_start`), not by reading the whole span.
    """
    if agg not in AGGREGATES:
        raise ConfigError(f"agg={agg!r} is not supported; use one of {', '.join(AGGREGATES)}")
    check_limit(limit)
    index = index or SeriesIndex(con)
    series = index.of(str(asset_id), channels)
    where = f"{_series_filter(list(series))} AND {time_filter('r.ts', start, end)}"
    if resample is None:
        if limit is not None:
            first = last_times_start(con, where, "r.ts", limit)
            where = "false" if first is None else f"{where} AND {time_filter('r.ts', first)}"
        long = _raw_readings(con, str(asset_id), series, where)
    else:
        holds = {s: h for s, h in index.holds.items() if s in series}
        if agg != "mean" or not holds:
            holds = {}  # a hold weighs a bucket's mean by time; the other aggregates read the recorded values
        width = bucket_micros(resample)
        bucket = f"time_bucket(to_microseconds({width}::BIGINT), r.ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
        plain = [s for s in series if s not in holds]
        long = frame(
            con,
            f"SELECT c.asset_id, {bucket} AS ts, c.channel, {AGGREGATES[agg]} AS value "
            f"FROM reading_values r JOIN channels c ON c.series_id = r.series_id "
            f"WHERE {_series_filter(plain)} AND {time_filter('r.ts', start, end)} "
            "GROUP BY ALL ORDER BY ts, c.channel",
        )
        if holds:
            held = frame(con, _held_sql(con, str(asset_id), index, holds, start, end, width))
            long = pd.concat([long, held], ignore_index=True).sort_values(["ts", "channel"], ignore_index=True)
        long = last_times(long, limit)
    return shape(long, str(asset_id), series, wide)


def _held_sql(
    con: duckdb.DuckDBPyConnection,
    asset_id: str,
    index: SeriesIndex,
    holds: dict[int, int],
    start: object,
    end: object,
    width: int,
) -> str:
    """:func:`forewarn.store.hold.held_buckets_sql` for the held series ``holds`` of one asset in ``[start, end)``:
    from ``start`` (all history without one) to the asset's newest reading of any channel (or ``end``)."""
    every = list(index.of(asset_id))
    last = fetch_value(con, f"SELECT epoch_us(max(r.ts)) FROM reading_values r WHERE {_series_filter(every)}")
    hi = (int(last) + 1) if last is not None else 0
    if end is not None:
        hi = min(hi, _micros(end, "end"))
    lo = hold.NO_START if start is None else _micros(start, "start")
    ids = ", ".join(str(int(s)) for s in sorted(holds))
    first = None if start is None else pd.Timestamp(lo - max(holds.values()), unit="us", tz="UTC")
    return hold.held_buckets_sql(
        width,
        f"SELECT c.series_id, c.asset_id, c.channel, c.{hold.HOLD_COLUMN} AS hold_us, {lo}::BIGINT AS lo_us, "
        f"{hi}::BIGINT AS hi_us FROM channels c WHERE c.series_id IN ({ids})",
        prune=f"{_series_filter(list(holds)).replace('r.', 'v.')} AND {time_filter('v.ts', first, end)}",
    )


def _micros(value: object, name: str) -> int:
    """A time bound (as :func:`time_filter` reads it) in Unix microseconds."""
    return int(pd.Timestamp(ts_literal(value, name=name)).value // 1000)


def check_limit(limit: int | None) -> None:
    """Refuse a ``limit`` of readings that is not a positive whole number (None: no limit).

    >>> check_limit(0)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: limit=0 must be a positive whole number of times (or None for all)
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1):
        raise ConfigError(f"limit={limit!r} must be a positive whole number of times (or None for all)")


def last_times_start(con: duckdb.DuckDBPyConnection, where: str, column: str, limit: int) -> pd.Timestamp | None:
    """The earliest of the last ``limit`` distinct times (``column``) of the rows of ``reading_values r`` that
    ``where`` selects, None when it selects none: the bound that keeps the last ``limit`` rows of the wide frame."""
    found = con.execute(
        f"SELECT min(t) FROM (SELECT DISTINCT {column} AS t FROM reading_values r WHERE {where} "
        f"ORDER BY t DESC LIMIT {int(limit)})"
    ).fetchone()
    return None if found is None or found[0] is None else pd.Timestamp(found[0])


def last_times(long: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The rows of a long frame sorted by time whose time is among its last ``limit`` distinct times (all of them
    without a limit).

    >>> long = pd.DataFrame({"ts": [1, 1, 2, 3, 3], "channel": ["a", "b", "a", "a", "b"], "value": range(5)})
    >>> last_times(long, 2)["value"].tolist()
    [2, 3, 4]
    """
    if limit is None or long.empty:
        return long
    times = long["ts"].unique()
    if len(times) <= limit:
        return long
    return long[(long["ts"] >= times[-int(limit)]).to_numpy()].reset_index(drop=True)


def latest(con: duckdb.DuckDBPyConnection, asset_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Last reading per asset and channel: ``asset_id, channel, ts, value``."""
    where = "true"
    if asset_ids is not None:
        ids = [str(a) for a in ([asset_ids] if isinstance(asset_ids, str) else asset_ids)]
        known = {
            r[0]
            for r in con.execute("SELECT asset_id FROM assets WHERE asset_id IN (SELECT unnest(?))", [ids]).fetchall()
        }
        missing = sorted(set(ids) - known)
        if missing:
            raise DataNotFoundError(f"unknown asset(s) {', '.join(missing)}; Store.assets() lists the known ones")
        sids = [
            r[0]
            for r in con.execute(
                "SELECT series_id FROM channels WHERE asset_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        ]
        where = _series_filter(sids)
    return frame(
        con,
        f"""
        WITH last AS (SELECT r.series_id, max(r.ts) AS ts, arg_max(r.value, r.ts) AS value
                      FROM reading_values r WHERE {where} GROUP BY r.series_id)
        SELECT c.asset_id, c.channel, l.ts, l.value FROM last l JOIN channels c USING (series_id)
        ORDER BY c.asset_id, c.channel""",
    )


def events(
    con: duckdb.DuckDBPyConnection,
    asset_id: str | None = None,
    *,
    kind: str | None = None,
    start: object = None,
    end: object = None,
) -> pd.DataFrame:
    """Events (failures, maintenance, inspections) sorted by ``ts``; filters are optional."""
    conditions, params = [time_filter("ts", start, end)], []
    if asset_id is not None:
        conditions.append("asset_id = ?")
        params.append(str(asset_id))
    if kind is not None:
        allowed = [k.value for k in EventKind]
        if str(kind) not in allowed:
            raise ConfigError(f"kind={kind!r} is not an event kind; use one of {', '.join(allowed)}")
        conditions.append("kind = ?")
        params.append(str(kind))
    return frame(
        con,
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE {' AND '.join(conditions)} ORDER BY ts, asset_id, kind",
        params,
    )


def assets(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """All assets with their class, place in the hierarchy, install date and metadata (a dict)."""
    out = frame(
        con,
        "SELECT asset_id, asset_class, site_id, line_id, name, install_date, "
        "CAST(metadata AS VARCHAR) AS metadata FROM assets ORDER BY asset_id",
    )
    out["metadata"] = pd.Series([json.loads(m) if m else {} for m in out["metadata"]], index=out.index, dtype=object)
    return out


def channels(con: duckdb.DuckDBPyConnection, asset_id: str | None = None) -> pd.DataFrame:
    """Channels (``asset_id, channel, unit, description``), of one asset or of all."""
    where, params = ("WHERE asset_id = ?", [str(asset_id)]) if asset_id is not None else ("", [])
    return frame(
        con, f"SELECT asset_id, channel, unit, description FROM channels {where} ORDER BY asset_id, channel", params
    )


def hierarchy(con: duckdb.DuckDBPyConnection) -> dict[str | None, dict[str | None, list[str]]]:
    """``{site_id: {line_id: [asset_id, ...]}}`` over declared sites and lines and all assets.

    Assets without a site sit under ``None``, and those without a line under ``None`` of their site.
    """
    tree: dict[str | None, dict[str | None, list[str]]] = {}
    for (site,) in con.execute("SELECT site_id FROM sites ORDER BY site_id").fetchall():
        tree.setdefault(site, {})
    for line, site in con.execute("SELECT line_id, site_id FROM lines ORDER BY line_id").fetchall():
        tree.setdefault(site, {}).setdefault(line, [])
    for asset, site, line in con.execute("SELECT asset_id, site_id, line_id FROM assets ORDER BY asset_id").fetchall():
        tree.setdefault(site, {}).setdefault(line, []).append(asset)
    return tree


def fleet_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per asset: class, site, line, reading counts and span, failures and last maintenance.

    ``n_channels`` counts channels that hold readings.
    """
    return frame(
        con,
        """
        WITH per_series AS (SELECT series_id, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts
                            FROM reading_values GROUP BY series_id),
             per_asset AS (SELECT c.asset_id, sum(p.n) AS n_readings, count(p.series_id) AS n_channels,
                                  min(p.first_ts) AS first_ts, max(p.last_ts) AS last_ts
                           FROM channels c JOIN per_series p USING (series_id) GROUP BY c.asset_id),
             per_event AS (SELECT asset_id, count(*) FILTER (WHERE kind = 'failure') AS n_failures,
                                  max(ts) FILTER (WHERE kind = 'failure') AS last_failure_ts,
                                  max(ts) FILTER (WHERE kind = 'maintenance') AS last_maintenance_ts
                           FROM events GROUP BY asset_id)
        SELECT a.asset_id, a.asset_class, a.site_id, a.line_id,
               CAST(coalesce(p.n_readings, 0) AS BIGINT) AS n_readings,
               CAST(coalesce(p.n_channels, 0) AS BIGINT) AS n_channels, p.first_ts, p.last_ts,
               CAST(coalesce(e.n_failures, 0) AS BIGINT) AS n_failures, e.last_failure_ts, e.last_maintenance_ts
        FROM assets a LEFT JOIN per_asset p USING (asset_id) LEFT JOIN per_event e USING (asset_id)
        ORDER BY a.asset_id""",
    )
