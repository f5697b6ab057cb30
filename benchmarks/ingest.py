"""Benchmark of the embedded store: bulk ingest (Parquet, CSV, wide Parquet), idempotent re-ingest, and
the latency of one asset's last 24 hours.

The data is generated in a temporary folder: ``--assets`` assets x ``--channels`` channels at 1-minute
resolution, ``--readings`` readings in all (default 10 million = 1000 x 10 x 1000 minutes), written in
time order (every minute, every asset), the way a plant historian exports. Each ingest runs ``--runs``
times into a fresh store (a file, or ``:memory:`` with ``--in-memory``) and the median wall and CPU times are
reported; the re-ingest of the same Parquet file
into a filled store times the idempotent path; the query figure is the median (and 95th percentile) of
``--queries`` calls of ``Store.readings(asset, start=last_ts - 24h)`` over random assets.

Run: ``.venv/bin/python benchmarks/ingest.py`` (full size) or ``--readings 1000000`` for a quick run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forewarn.store import Store

TARGETS = {"parquet": 2_000_000, "csv": 500_000}


def make_data(folder: Path, n_readings: int, n_assets: int, n_channels: int, seed: int) -> dict[str, Path]:
    """Write the long Parquet, long CSV and wide Parquet files; return their paths by name."""
    minutes = max(1, n_readings // (n_assets * n_channels))
    rng = np.random.default_rng(seed)
    series = n_assets * n_channels
    asset_names = np.array([f"asset-{i:05d}" for i in range(n_assets)], dtype=object)
    channel_names = np.array([f"ch{i:02d}" for i in range(n_channels)], dtype=object)
    asset_idx = np.tile(np.repeat(np.arange(n_assets, dtype=np.int32), n_channels), minutes)
    channel_idx = np.tile(np.arange(n_channels, dtype=np.int32), n_assets * minutes)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    ts = start + np.repeat(np.arange(minutes, dtype=np.int64), series) * np.timedelta64(60_000_000, "us")
    values = rng.normal(50.0, 5.0, size=series * minutes).round(4)
    long = pa.table(
        {
            "asset_id": pa.DictionaryArray.from_arrays(pa.array(asset_idx), pa.array(asset_names)).cast(pa.string()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "channel": pa.DictionaryArray.from_arrays(pa.array(channel_idx), pa.array(channel_names)).cast(pa.string()),
            "value": pa.array(values),
        }
    )
    paths = {"parquet": folder / "long.parquet", "csv": folder / "long.csv", "wide parquet": folder / "wide.parquet"}
    pq.write_table(long, paths["parquet"])
    con = duckdb.connect()
    con.register("long_table", long)
    con.execute(
        f"COPY (SELECT asset_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ') AS ts, channel, value FROM long_table) "
        f"TO '{paths['csv']}' (HEADER, DELIMITER ',')"
    )
    con.execute(
        f"COPY (PIVOT long_table ON channel USING first(value) GROUP BY asset_id, ts ORDER BY ts, asset_id) "
        f"TO '{paths['wide parquet']}' (FORMAT parquet)"
    )
    con.close()
    return paths


def _store_path(folder: Path, name: str, in_memory: bool) -> str | Path:
    return ":memory:" if in_memory else folder / f"bench-{name}.duckdb"


def time_ingest(path: Path, folder: Path, runs: int, in_memory: bool) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``runs`` ingests of ``path`` into fresh stores, and
    the readings written. CPU time (all threads of this process) shows how much work an ingest is when
    other processes share the machine and stretch the wall time."""
    seconds, cpu, written = [], [], 0
    for run in range(runs):
        db = _store_path(folder, f"{path.stem}-{run}", in_memory)
        with Store(db) as store:
            began, began_cpu = time.perf_counter(), time.process_time()
            report = store.ingest_file(path)
            seconds.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            written = report.written
        if isinstance(db, Path):
            db.unlink()
    return statistics.median(seconds), statistics.median(cpu), written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-memory", action="store_true", help="use :memory: stores instead of files")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other processes on the machine stretch wall times; see the cpu figures

    with tempfile.TemporaryDirectory(prefix="forewarn-bench-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        paths = make_data(folder, args.readings, args.assets, args.channels, args.seed)
        print(
            f"generated data in {time.perf_counter() - began:.1f} s: "
            + ", ".join(f"{name} {p.stat().st_size / 1e6:.0f} MB" for name, p in paths.items())
        )
        rows = []
        for name, path in paths.items():
            seconds, cpu, written = time_ingest(path, folder, args.runs, args.in_memory)
            target = TARGETS.get(name)
            rows.append(
                (
                    f"ingest {name} (median of {args.runs})",
                    f"{seconds:.2f} s (cpu {cpu:.2f} s)",
                    f"{written / seconds:,.0f} readings/s",
                    f">= {target:,}/s" if target else "-",
                    ("yes" if written / seconds >= target else "NO") if target else "-",
                )
            )

        with Store(_store_path(folder, "query", args.in_memory)) as store:
            report = store.ingest_file(paths["parquet"])
            began, began_cpu = time.perf_counter(), time.process_time()
            again = store.ingest_file(paths["parquet"])
            seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
            assert again.written == 0 and store.count_readings() == report.written
            rows.append(
                (
                    "re-ingest parquet (idempotent, 0 written)",
                    f"{seconds:.2f} s (cpu {cpu:.2f} s)",
                    f"{report.written / seconds:,.0f} readings/s checked",
                    "-",
                    "-",
                )
            )
            rng = np.random.default_rng(args.seed)
            assets = list(store.assets()["asset_id"])
            last = store.fleet_summary().set_index("asset_id")["last_ts"]
            latencies, returned = [], []
            store.readings(assets[0], start=last[assets[0]] - pd.Timedelta("24h"))  # warm the caches once
            for asset in rng.choice(assets, size=args.queries):
                began = time.perf_counter()
                frame = store.readings(str(asset), start=last[asset] - pd.Timedelta("24h"))
                latencies.append(time.perf_counter() - began)
                returned.append(len(frame))
            median_ms = statistics.median(latencies) * 1000
            p95_ms = float(np.percentile(latencies, 95)) * 1000
            rows.append(
                (
                    f"last 24 h of one asset (median of {args.queries})",
                    f"{median_ms:.1f} ms",
                    f"p95 {p95_ms:.1f} ms, {int(np.median(returned)):,} rows",
                    "<= 20 ms",
                    "yes" if median_ms <= 20 else "NO",
                )
            )

    print(
        f"\n{args.readings:,} readings = {args.assets} assets x {args.channels} channels x 1-minute steps; "
        f"{os.cpu_count()} CPUs (1-min load average {load_before:.1f} before the run), "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}, "
        f"{'in-memory' if args.in_memory else 'file-backed'} stores\n"
    )
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    header = ("measurement", "time", "rate", "target", "met")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
