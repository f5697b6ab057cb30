"""Issue 20's targets: the store on PostgreSQL beside DuckDB, in one run.

* ``ingest``: bulk ingest of ``--rows`` readings (``--assets`` assets x 10 channels at one-minute sampling,
  ending now) through ``Store.ingest_readings`` with Arrow tables of ``--batch`` readings (the store's own
  path: staged and validated by DuckDB, then written; PostgreSQL by binary COPY). Readings per second,
  per backend, over the whole load, plus the median rate of the batches.
* ``last24h``: one asset's last 24 hours (10 channels, 14,400 readings) through ``Store.readings``: the
  median and 95th percentile of ``--repeats`` queries, each for an asset drawn at random.
* ``rollup`` (PostgreSQL): the time to refresh the hourly and daily rollups after the load, and one asset's
  last 30 days at ``1h`` mean from the rollup vs from the raw readings.
* ``bucketed``: one asset's last 24 h (whole hours) at ``1h`` buckets through ``Store.readings(resample="1h")``,
  and the service's last-window query (``window_queries.last_buckets``, 24 buckets of 1 h), with no channel held
  (``plain``; on PostgreSQL the rollup answers the hourly means) and with every channel held 8 h (``held``: the
  time-weighted buckets of :mod:`forewarn.store.hold`, read from the readings), median and 95th percentile of
  ``--repeats`` queries each; the holds are cleared afterwards. The readings here are every minute, not on
  change, so a held read weighs 14,400 readings: the dense case.

PostgreSQL comes from ``--url`` or a throwaway server started here (Debian's ``initdb``/``pg_ctl`` on
127.0.0.1, default settings: ``fsync`` on). DuckDB writes a file in the work folder. The machine is shared:
every figure says the load average when it was taken. Run: ``python benchmarks/store_pg.py --rows 10000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

CHANNELS = tuple(f"ch{i:02d}" for i in range(10))
STEP_US = 60_000_000


def batches(rows: int, assets: int, batch: int, end_us: int):
    """Arrow tables of long readings, asset by asset, ``batch`` readings each (time order within an asset)."""
    per_asset = rows // assets
    steps = per_asset // len(CHANNELS)
    start_us = end_us - steps * STEP_US
    rng = np.random.default_rng(0)
    step_per_batch = max(1, batch // len(CHANNELS))
    for a in range(assets):
        name = f"asset-{a:05d}"
        for first in range(0, steps, step_per_batch):
            n = min(step_per_batch, steps - first)
            ts = start_us + (first + np.arange(n, dtype=np.int64)) * STEP_US
            yield pa.table(
                {
                    "asset_id": pa.array([name] * (n * len(CHANNELS)), pa.string()),
                    "ts": pa.array(np.repeat(ts, len(CHANNELS)), pa.timestamp("us", tz="UTC")),
                    "channel": pa.array(list(CHANNELS) * n, pa.string()),
                    "value": pa.array(rng.normal(50.0, 5.0, n * len(CHANNELS))),
                }
            )


def load() -> float:
    return round(os.getloadavg()[0], 1)


def server_cpu_s(store: Store) -> float:
    """CPU seconds (user + system) used so far by the server processes of the store's database (local server)."""
    from forewarn.store.postgres import PgStore

    if not isinstance(store, PgStore):
        return 0.0
    with store.connection() as con:
        pids = [r[0] for r in con.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def ingest(store: Store, args: argparse.Namespace, end_us: int) -> dict[str, float]:
    """Wall-clock rates, and CPU seconds per million readings (this process; the server's backends): on a loaded
    machine the wall clock measures the load, the CPU seconds what the work costs."""
    tables = list(batches(args.rows, args.assets, args.batch, end_us))  # generated before the clock starts
    rates, total = [], 0
    cpu0, server0, started = time.process_time(), server_cpu_s(store), time.perf_counter()
    for table in tables:
        t = time.perf_counter()
        report = store.ingest_readings(table)
        rates.append(report.written / (time.perf_counter() - t))
        total += report.written
    seconds = time.perf_counter() - started
    client_cpu, server_cpu = time.process_time() - cpu0, server_cpu_s(store) - server0
    return {
        "readings": total,
        "seconds": round(seconds, 2),
        "readings_per_s": round(total / seconds),
        "median_batch_readings_per_s": round(statistics.median(rates)),
        "client_cpu_s_per_million": round(client_cpu / total * 1e6, 3),
        "server_cpu_s_per_million": round(server_cpu / total * 1e6, 3),
        "load_avg": load(),
    }


def last24h(store: Store, args: argparse.Namespace, end_us: int) -> dict[str, float]:
    end = np.datetime64(end_us, "us")
    start = end - np.timedelta64(24, "h")
    rng = random.Random(1)
    times, n = [], 0
    store.readings("asset-00000", str(start) + "Z", str(end) + "Z")  # warm the series index
    for _ in range(args.repeats):
        asset = f"asset-{rng.randrange(args.assets):05d}"
        t = time.perf_counter()
        got = store.readings(asset, str(start) + "Z", str(end) + "Z")
        times.append((time.perf_counter() - t) * 1000)
        n = len(got)
    times.sort()
    out = {
        "rows_returned": n,
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "load_avg": load(),
    }
    out.update(server_side_ms(store, args, str(start) + "Z", str(end) + "Z"))
    return out


def server_side_ms(store: Store, args: argparse.Namespace, start: str, end: str) -> dict[str, float]:
    """PostgreSQL's own execution time of the last-24h query (EXPLAIN ANALYZE): the part no client load adds."""
    from forewarn.store.pg_sql import READINGS_QUERY
    from forewarn.store.postgres import PgStore

    if not isinstance(store, PgStore):
        return {}
    rng = random.Random(2)
    runs = []
    with store.connection() as con:
        for _ in range(min(args.repeats, 20)):
            asset = f"asset-{rng.randrange(args.assets):05d}"
            ids = [r[0] for r in con.execute("SELECT series_id FROM channels WHERE asset_id = %s", [asset])]
            plan = con.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + READINGS_QUERY, [ids, start, end]).fetchone()[0]
            runs.append(float(plan[0]["Execution Time"]))
    return {"server_execution_median_ms": round(statistics.median(runs), 2)}


def rollup(store: Store, end_us: int) -> dict[str, float]:
    from forewarn.store.postgres import PgStore

    assert isinstance(store, PgStore)
    t = time.perf_counter()
    ranges = store.refresh_rollups()
    refresh_s = time.perf_counter() - t
    end = np.datetime64(end_us // 3_600_000_000 * 3_600_000_000, "us")
    start = str(end - np.timedelta64(30 * 24, "h")) + "Z"
    stop = str(end) + "Z"
    timed = {}
    for label, bound in (("rollup", stop), ("raw", None)):
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            if bound is None:  # an end off the hour: the rollup cannot answer exactly, the readings do
                store.readings("asset-00001", start, str(end - np.timedelta64(1, "s")) + "Z", resample="1h")
            else:
                store.readings("asset-00001", start, bound, resample="1h")
            runs.append((time.perf_counter() - t) * 1000)
        timed[f"{label}_30d_hourly_ms"] = round(statistics.median(runs), 1)
    return {"refresh_s": round(refresh_s, 2), "ranges": ranges, **timed, "load_avg": load()}


def bucketed(store: Store, args: argparse.Namespace, end_us: int) -> dict[str, object]:
    """One asset's last 24 h at 1 h buckets and its last window of 24 buckets, without and with holds."""
    from forewarn.store.hold import NO_START
    from forewarn.store.window_queries import last_buckets

    end = np.datetime64(end_us // 3_600_000_000 * 3_600_000_000, "us")
    start, stop = str(end - np.timedelta64(24, "h")) + "Z", str(end) + "Z"
    names = [f"asset-{a:05d}" for a in range(args.assets)]
    out: dict[str, object] = {}
    for label, hold in (("plain", None), ("held", "8h")):
        if hold is not None:
            t = time.perf_counter()
            for name in names:
                store.set_hold(name, None, hold)
            out["set_hold_s"] = round(time.perf_counter() - t, 2)
        rng = random.Random(3)
        store.readings(names[0], start, stop, resample="1h")  # warm the series index
        reads, windows, rows = [], [], 0
        for _ in range(args.repeats):
            name = names[rng.randrange(args.assets)]
            t = time.perf_counter()
            rows = len(store.readings(name, start, stop, resample="1h"))
            reads.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            last_buckets(store, [name], list(CHANNELS), 24, 3_600_000_000, [NO_START])
            windows.append((time.perf_counter() - t) * 1000)
        reads.sort()
        windows.sort()
        out[label] = {
            "rows_returned": rows,
            "readings_1h_median_ms": round(statistics.median(reads), 2),
            "readings_1h_p95_ms": round(reads[int(0.95 * (len(reads) - 1))], 2),
            "last_window_median_ms": round(statistics.median(windows), 2),
            "last_window_p95_ms": round(windows[int(0.95 * (len(windows) - 1))], 2),
            "load_avg": load(),
        }
    for name in names:
        store.set_hold(name, None, "0")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--url", default=None, help="postgresql:// URL of an empty database (default: a local server)")
    parser.add_argument("--backends", default="duckdb,postgres")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--no-bucketed",
        dest="bucketed",
        action="store_false",
        help="skip the 1 h bucketed reads with and without holds",
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="store-pg-"))
    end_us = int(time.time()) // 60 * 60 * 1_000_000
    results: dict[str, object] = {"rows": args.rows, "assets": args.assets, "batch": args.batch}
    server = None
    try:
        for backend in args.backends.split(","):
            if backend == "duckdb":
                target = str(work / "bench.duckdb")
            else:
                if args.url is None:
                    server = LocalPostgres(work / "pg").start()
                    target = server.create_database("bench")
                else:
                    target = args.url
            with Store(target) as store:
                part: dict[str, object] = {"ingest": ingest(store, args, end_us)}
                print(json.dumps({backend: part}), flush=True)
                part["last24h"] = last24h(store, args, end_us)
                if backend == "postgres":
                    part["rollup"] = rollup(store, end_us)
                if args.bucketed:
                    part["bucketed"] = bucketed(store, args, end_us)
                results[backend] = part
                print(json.dumps({backend: part}), flush=True)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
