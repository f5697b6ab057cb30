"""Writing a simulated fleet: one rendering pass into a store and/or Parquet files, with bounded memory.

>>> import tempfile
>>> from forewarn.twin.fleet import simulate_fleet
>>> fleet = simulate_fleet(sites=1, assets=2, days=1, seed=5, interval="1h")
>>> sorted(write_fleet(fleet, parquet_dir=tempfile.mkdtemp())["paths"])
['assets', 'events', 'readings', 'sensor_faults', 'truth']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from forewarn.exceptions import ConfigError

__all__ = ["write_fleet"]


def write_fleet(
    fleet: Any,
    *,
    store: Any = None,
    parquet_dir: str | Path | None = None,
    chunks_per_batch: int = 7,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Render ``fleet`` (a :class:`~forewarn.twin.fleet.Fleet`) once and write it (streaming, bounded memory).

    Into ``store`` (a :class:`forewarn.store.Store`): sites, lines, assets, then readings in batches of
    ``chunks_per_batch`` chunks (Arrow tables, the store's vectorised path), then events. Into ``parquet_dir``:
    ``readings.parquet`` and ``truth.parquet`` (zstd, one row group per chunk, so rows run chunk by chunk and
    asset by asset within a chunk), ``events.parquet``, ``sensor_faults.parquet`` and ``assets.json``.
    ``progress`` is called with the asset-minutes done after each chunk. Returns
    ``{"reports": [IngestReport, ...], "paths": {name: Path}, "asset_minutes": int}``.
    """
    if store is None and parquet_dir is None:
        raise ConfigError("nothing to write: give a store and/or a Parquet folder")
    out = Path(parquet_dir) if parquet_dir is not None else None
    paths: dict[str, Path] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: out / f"{name}.parquet" for name in ("readings", "truth", "events", "sensor_faults")}
    reports: list[Any] = []
    source = f"twin seed={fleet.config.seed}"
    if store is not None:
        store.add_sites(fleet.sites)
        store.add_lines(fleet.lines)
        store.add_assets(fleet.assets)
    writers: dict[str, Any] = {}
    batch: list[pa.Table] = []
    done = 0
    try:
        for chunk in fleet.iter_chunks():
            readings = chunk.readings_table()
            if out is not None:
                for name, table in (("readings", readings), ("truth", chunk.truth_table())):
                    if name not in writers:
                        # dictionary-encode only the keys: trying it on noisy floats costs 8x the time
                        writers[name] = pq.ParquetWriter(
                            paths[name], table.schema, compression="zstd", use_dictionary=["asset_id", "active_fault"]
                        )
                    writers[name].write_table(table)
            if store is not None:
                batch.append(readings)
                if len(batch) >= chunks_per_batch:
                    reports.append(store.ingest_readings(pa.concat_tables(batch), source=source))
                    batch = []
            done += chunk.asset_minutes
            if progress is not None:
                progress(done)
    finally:
        for writer in writers.values():
            writer.close()
    if store is not None:
        if batch:
            reports.append(store.ingest_readings(pa.concat_tables(batch), source=source))
        reports.append(store.ingest_events(fleet.events, source=source))
    if out is not None:
        fleet.events.to_parquet(paths["events"], index=False)
        fleet.sensor_faults.to_parquet(paths["sensor_faults"], index=False)
        paths["assets"] = out / "assets.json"
        paths["assets"].write_text(json.dumps(fleet.catalog(), indent=1, default=str))
    return {"reports": reports, "paths": paths, "asset_minutes": done}
