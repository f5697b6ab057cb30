"""The readings a health score is computed from: each asset's last window, read from the store.

Readings are read at the bundle's sampling ``interval`` (``ServingSpec.interval``; empty = raw rows): averaged into
buckets aligned on the Unix epoch and labelled by their start, exactly as ``Store.readings(resample=interval)``
returns them, so the service computes the features the model was trained on. The last bucket is scored as it
stands (the mean of the readings it holds so far): the same last row that the offline path (``window_features`` on
the store's resample of the whole history) gives on the same data, and a health that moves as readings arrive
instead of lagging an interval behind.

Readings before an asset's latest renewal (``since``) are never in its window. The queries that read many assets'
windows at once are the store's (:mod:`forewarn.store.window_queries`), in the dialect of its backend (DuckDB or
PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import ServingSpec
from forewarn.serve.answers import Marks
from forewarn.store import Store
from forewarn.store.queries import bucket_micros
from forewarn.store.window_queries import last_buckets, last_reading_us, last_rows
from forewarn.train.labels import latest_marks

#: each asset's last instants: ``{asset_id: (times, instants x channels)}``, oldest first
Recent = dict[str, tuple[pd.DatetimeIndex, np.ndarray]]


class RecentReadings:
    """Reads the last ``rows`` instants (or buckets) of one asset or of many at once (thread-safe)."""

    def __init__(self, store: Store):
        self.store = store
        # per (channels, rows): the first instant of each asset's window when it was last read (see recent_many)
        self.window_starts: dict[tuple[tuple[str, ...], int], dict[str, pd.Timestamp]] = {}

    def events(self, asset_ids: list[str]) -> dict[str, Marks]:
        """``{asset_id: (latest failure, latest renewal)}`` of the assets that have either (one query; a renewal is
        what :func:`forewarn.train.labels.renewals` says renews life, as in training and ``forewarn score``)."""
        if not asset_ids:
            return {}
        found = self.store.sql(
            "SELECT asset_id, ts, kind, action, result FROM events "
            "WHERE asset_id IN (SELECT unnest(?)) AND kind IN ('failure', 'maintenance')",
            [asset_ids],
        )
        return latest_marks(found)

    def history(
        self, asset_id: str, spec: ServingSpec, rows: int | None, since: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """An asset's readings as wide rows (every channel's instants, or buckets at the spec's interval), the last
        ``rows`` of them (all: ``None``), none before ``since`` (the asset's latest maintenance).

        Raw rows: the last ``rows`` begin no earlier than the window :meth:`recent_many` last found for the model's
        channels (a subset of the asset's channels; readings are only added), so that start bounds the read when
        known."""
        if spec.interval:
            return self._buckets(asset_id, spec, rows, since)
        frame = None
        start = None if rows is None else self.window_starts.get((tuple(spec.channels), int(rows)), {}).get(asset_id)
        if rows is not None and start is not None and (since is None or start > since):
            frame = self.store.readings(asset_id, start, wide=True)
            if len(frame) < rows:  # fewer instants than a window since then: not a bound any more
                frame = None
        if frame is None:
            frame = self.store.readings(asset_id, since, wide=True)
        if rows is not None:
            frame = frame.tail(rows)
        return frame.reindex(columns=["ts", *spec.channels])

    def _buckets(self, asset_id: str, spec: ServingSpec, rows: int | None, since: pd.Timestamp | None) -> pd.DataFrame:
        """:meth:`history` at the spec's interval: ``Store.readings(resample=interval, wide=True)`` from ``since``,
        its last ``rows`` buckets. The read starts ``rows`` buckets before the one of the asset's last reading (no
        earlier bucket can be among the last ``rows``), and again from ``since`` when empty buckets leave fewer."""
        start = since
        if rows is not None:
            last = last_reading_us(self.store, asset_id)
            if last is not None:
                width = bucket_micros(spec.interval)
                bound = pd.Timestamp((last // width - (int(rows) - 1)) * width, unit="us", tz="UTC")
                start = bound if since is None else max(bound, since)
        frame = self.store.readings(asset_id, start, resample=spec.interval, wide=True)
        if rows is not None and len(frame) < rows and start is not None and (since is None or start > since):
            frame = self.store.readings(asset_id, since, resample=spec.interval, wide=True)
        if rows is not None:
            frame = frame.tail(rows)
        return frame.reindex(columns=["ts", *spec.channels])

    def one(self, asset_id: str, spec: ServingSpec, marks: Marks | None) -> Recent:
        """One asset's recent rows (since its latest renewal) in the layout of :meth:`recent_many`."""
        frame = self.history(asset_id, spec, spec.history_rows, None if marks is None else marks[1])
        return (
            {}
            if frame.empty
            else {
                asset_id: (
                    pd.DatetimeIndex(frame["ts"]),
                    frame[list(spec.channels)].to_numpy(dtype="float64", na_value=np.nan),
                )
            }
        )

    def recent_buckets(
        self,
        asset_ids: list[str],
        channels: tuple[str, ...],
        rows: int,
        interval: str,
        since: Mapping[str, pd.Timestamp],
    ) -> Recent:
        """:meth:`recent_many` at a sampling interval, in one query: each asset's readings of ``channels`` from
        ``rows`` buckets before the bucket of its last reading (and not before its ``since``), averaged per bucket.
        A time bound: empty buckets in that span leave fewer than ``rows`` rows (the single-asset read,
        :meth:`history`, reads further back then)."""
        renew = [since.get(a) for a in asset_ids]
        long = last_buckets(
            self.store,
            asset_ids,
            channels,
            rows,
            bucket_micros(interval),
            [-(2**62) if t is None else int(t.value // 1000) for t in renew],
        )
        if long.empty:
            return {}
        wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="first")
        wide = wide.reindex(columns=list(channels)).sort_index()
        out: Recent = {}
        for asset_id, part in wide.groupby(level=0, sort=False):
            part = part.tail(rows)
            out[str(asset_id)] = (
                pd.DatetimeIndex(part.index.get_level_values(1)),
                part.to_numpy(dtype="float64", na_value=np.nan),
            )
        return out

    def recent_many(self, asset_ids: list[str], channels: tuple[str, ...], rows: int) -> Recent:
        """The last ``rows`` instants of many assets: ``{asset_id: (times, instants x channels)}``, oldest first.

        Readings are only added, so an asset's window never starts before it did when it was last read: that start
        bounds the query (the store skips older row groups instead of reading each asset's whole history). An asset
        that has fewer than ``rows`` instants since the bound (readings replaced or removed since) is read again
        without it, so the bound never changes an answer.
        """
        starts = self.window_starts.setdefault((tuple(channels), int(rows)), {})
        known = {a: starts.get(a) for a in asset_ids}  # one look each: another thread may update them meanwhile
        hinted = [a for a, start in known.items() if start is not None]
        unbounded = [a for a, start in known.items() if start is None]
        out: Recent = {}
        if hinted:
            bounded = self.query(hinted, channels, rows, since=min(s for s in known.values() if s is not None))
            short = [a for a in hinted if a not in bounded or len(bounded[a][0]) < rows]
            out.update((a, bounded[a]) for a in hinted if a not in short)
            unbounded += short
        if unbounded:
            out.update(self.query(unbounded, channels, rows, since=None))
        for asset_id, (times, _) in out.items():
            if len(times) >= rows:  # a full window: its first instant bounds the next query
                starts[asset_id] = times[0]
            else:
                starts.pop(asset_id, None)
        return out

    def query(self, asset_ids: list[str], channels: tuple[str, ...], rows: int, since: pd.Timestamp | None) -> Recent:
        """:meth:`recent_many` in one query over readings from ``since`` on (all when ``None``), cut from one
        pivoted matrix (no frame per asset, which cost more than the query for a fleet)."""
        long = last_rows(self.store, asset_ids, channels, rows, since)
        if long.empty:
            return {}
        wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="first")
        wide = wide.reindex(columns=list(channels))  # rows sorted by asset, then time
        assets = wide.index.get_level_values(0).to_numpy()
        times = pd.DatetimeIndex(wide.index.get_level_values(1))
        values = wide.to_numpy(dtype="float64", na_value=np.nan)
        bounds = np.flatnonzero(assets[1:] != assets[:-1]) + 1
        starts, ends = np.r_[0, bounds].tolist(), np.r_[bounds, len(assets)].tolist()
        return {
            str(assets[a]): (times[max(a, b - rows) : b], values[max(a, b - rows) : b])
            for a, b in zip(starts, ends, strict=True)
        }
