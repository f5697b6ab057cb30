"""The lake: the store's scale-out form, a hive-partitioned Parquet folder a Ray cluster reads in place.

Layout (``forewarn export --store DB --out LAKE``)::

    LAKE/lake.json                     what was exported: format, readings, assets, events, time range
    LAKE/assets.parquet                the asset registry (asset_id, asset_class, site_id, line_id, name,
                                       install_date, metadata as JSON text)
    LAKE/channels.parquet              asset_id, channel, unit, description
    LAKE/events.parquet                failures, maintenance and inspections (asset_id, ts, kind, ...)
    LAKE/readings/site_id=S/asset_id=A/date=YYYY-MM-DD/data_0.parquet   ts, channel, value (UTC days)

The readings part is :meth:`forewarn.store.Store.export_parquet` (:mod:`forewarn.store.export`); everything
here goes through the Store's public API, so the lake is the same from DuckDB or PostgreSQL. Readers prune
partitions before opening a file: a site, an asset or a time range reads only the folders that can hold it
(``date`` is compared as text, which orders ISO dates), and ``asset_days`` lists an asset's days from the folder
names alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from forewarn.distributed.manifest import FORMAT, check_lake
from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.store.queries import bucket_micros

NULL_KEY = "__HIVE_DEFAULT_PARTITION__"
PARTITIONING = ds.partitioning(
    pa.schema([("site_id", pa.string()), ("asset_id", pa.string()), ("date", pa.string())]), flavor="hive"
)


def export_lake(
    store: str | os.PathLike[str] | Store, out: str | os.PathLike[str], *, start: object = None, end: object = None
) -> dict[str, Any]:
    """Write the store's readings in ``[start, end)``, its asset registry, channels and events as a lake under
    ``out`` (a new or empty folder); returns the manifest written to ``lake.json``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"lake folder {str(out)!r} is not empty; choose a new or empty folder")
    db = store if isinstance(store, Store) else Store(store, read_only=True)
    try:
        files = db.export_parquet(out / "readings", start=start, end=end)
        assets = db.assets()
        assets["metadata"] = [json.dumps(m or {}, sort_keys=True, default=str) for m in assets["metadata"]]
        assets.to_parquet(out / "assets.parquet", index=False)
        db.channels().to_parquet(out / "channels.parquet", index=False)
        events = db.events()
        events = events.astype({c: "string" for c in events.columns if events[c].dtype == object})
        events.to_parquet(out / "events.parquet", index=False)
    finally:
        if db is not store:
            db.close()
    readings = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    manifest = {
        "format": FORMAT,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "start": None if start is None else str(start),
        "end": None if end is None else str(end),
        "readings": int(readings),
        "files": len(files),
        "assets": len(assets),
        "events": len(events),
    }
    (out / "lake.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def assets(lake: str | os.PathLike[str]) -> pd.DataFrame:
    """The lake's asset registry, sorted by ``asset_id``."""
    table = pd.read_parquet(check_lake(lake) / "assets.parquet")
    return table.sort_values("asset_id", ignore_index=True)


def class_channel_pairs(lake: str | os.PathLike[str]) -> pd.DataFrame:
    """``asset_class, channel``: the channels each asset of the lake reports, with its class (the rows
    :func:`forewarn.features.coverage.class_channels` reads, as the store's query gives them)."""
    channels = pd.read_parquet(check_lake(lake) / "channels.parquet", columns=["asset_id", "channel"])
    registry = assets(lake)[["asset_id", "asset_class"]]
    return channels.merge(registry, on="asset_id")[["asset_class", "channel"]].drop_duplicates()


def events(lake: str | os.PathLike[str]) -> pd.DataFrame:
    """The lake's events, sorted by ``ts``."""
    table = pd.read_parquet(check_lake(lake) / "events.parquet")
    return table.sort_values("ts", kind="stable", ignore_index=True)


def _utc(value: object) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def read_readings(
    lake: str | os.PathLike[str],
    *,
    sites: Sequence[str] | None = None,
    assets: Sequence[str] | None = None,
    start: object = None,
    end: object = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Readings in ``[start, end)`` of the chosen sites and assets: ``site_id, asset_id, ts, channel, value``,
    sorted by asset, time and channel. Partitions outside the choice are never opened."""
    dataset = ds.dataset(check_lake(lake) / "readings", format="parquet", partitioning=PARTITIONING)
    condition = pc.scalar(True)
    if sites is not None:
        condition &= pc.field("site_id").isin([str(s) for s in sites])
    if assets is not None:
        condition &= pc.field("asset_id").isin([str(a) for a in assets])
    if start is not None:
        condition &= (pc.field("date") >= _utc(start).strftime("%Y-%m-%d")) & (pc.field("ts") >= _utc(start))
    if end is not None:
        condition &= (pc.field("date") <= _utc(end).strftime("%Y-%m-%d")) & (pc.field("ts") < _utc(end))
    if channels is not None:
        condition &= pc.field("channel").isin([str(c) for c in channels])
    table = dataset.to_table(columns=["site_id", "asset_id", "ts", "channel", "value"], filter=condition)
    frame = table.to_pandas()
    return frame.sort_values(["asset_id", "ts", "channel"], kind="stable", ignore_index=True)


def asset_folder(lake: str | os.PathLike[str], site_id: object, asset_id: str) -> Path:
    """The folder of one asset's readings (ids percent-encoded as the export writes them)."""
    site = NULL_KEY if site_id is None or pd.isna(site_id) else quote(str(site_id), safe="")
    return Path(lake) / "readings" / f"site_id={site}" / f"asset_id={quote(str(asset_id), safe='')}"


def asset_days(lake: str | os.PathLike[str], site_id: object, asset_id: str) -> list[str]:
    """The UTC days (``YYYY-MM-DD``) that hold readings of the asset, from the folder names, sorted."""
    folder = asset_folder(lake, site_id, asset_id)
    if not folder.is_dir():
        return []
    return sorted(p.name.removeprefix("date=") for p in folder.iterdir() if p.name.startswith("date="))


def _read_days(folder: Path, days: Sequence[str]) -> pd.DataFrame:
    tables = [
        pq.read_table(f, columns=["ts", "channel", "value"])
        for d in days
        for f in (folder / f"date={d}").glob("*.parquet")
    ]
    if not tables:
        return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[us, UTC]"), "channel": [], "value": []})
    return pa.concat_tables(tables).to_pandas()


def resampled(long: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Long readings averaged into ``interval`` buckets aligned on the Unix epoch, labelled by their start, wide
    (``ts`` and one column per channel, sorted), as :meth:`forewarn.store.Store.readings` resamples.

    >>> long = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01 00:10", "2024-01-01 00:50", "2024-01-01 01:20"],
    ...                      utc=True), "channel": "t", "value": [1.0, 3.0, 5.0]})
    >>> resampled(long, "1h")["t"].tolist()
    [2.0, 5.0]
    """
    width = bucket_micros(interval)
    micros = long["ts"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    bucket = pd.to_datetime(np.floor_divide(micros, width) * width, unit="us", utc=True)
    means = long.assign(ts=bucket).groupby(["ts", "channel"], sort=True)["value"].mean()
    wide = means.unstack("channel").sort_index(axis=1).reset_index()
    wide.columns.name = None
    return wide


def asset_tail(
    lake: str | os.PathLike[str],
    site_id: object,
    asset_id: str,
    *,
    interval: str,
    rows: int,
    since: object = None,
) -> tuple[pd.DataFrame, int]:
    """The asset's last ``rows`` buckets at ``interval`` since ``since`` (wide), and the readings read for them.

    Days are read newest first until the buckets before the oldest day read are enough, plus one more day so that a
    bucket that straddles midnight is whole; no other partition is opened."""
    days = asset_days(lake, site_id, asset_id)
    if since is not None and not pd.isna(since):
        first = _utc(since).strftime("%Y-%m-%d")
        days = [d for d in days if d >= first]
    folder = asset_folder(lake, site_id, asset_id)
    width = pd.to_timedelta(bucket_micros(interval), unit="us")
    per_day = max(1, int(pd.Timedelta("1D") / width))
    take = min(len(days), rows // per_day + 2)
    while True:
        long = _read_days(folder, days[len(days) - take :])
        if since is not None and not pd.isna(since):
            long = long[long["ts"] >= _utc(since)]
        wide = resampled(long, interval) if len(long) else pd.DataFrame({"ts": long["ts"]})
        if take >= len(days) or len(wide) > rows + per_day + 1:
            break
        take = min(len(days), take * 2)
    return wide.tail(rows).reset_index(drop=True), int(len(long))
