"""Benchmark the fleet simulator: asset-minutes simulated per second and peak memory.

Simulates ``--assets`` assets at ``--sites`` sites for ``--days`` days of 1-minute summaries (the default is the
issue's target: 100 assets for a year, 52.6 million asset-minutes) and renders every chunk of readings and ground
truth, without writing them (``--parquet DIR`` also writes them, and times that separately). Each repetition runs
in a fresh process so that its peak resident memory (``ru_maxrss``) is its own; the figures printed are the
median over ``--repeats`` runs. CPU seconds are reported beside wall seconds because a busy machine stretches
wall time but not the work done.

    python benchmarks/simulate.py                 # 100 assets x 365 days, 3 repetitions
    python benchmarks/simulate.py --days 30 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def single(args: argparse.Namespace) -> dict[str, float]:
    from forewarn.twin import FleetConfig, simulate_fleet

    config = FleetConfig(sites=args.sites, assets=args.assets, days=args.days, seed=args.seed, interval=args.interval)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fleet = simulate_fleet(config)
    wall1 = time.perf_counter()
    asset_minutes = 0
    for chunk in fleet.iter_chunks():
        asset_minutes += chunk.asset_minutes
    wall2, cpu2 = time.perf_counter(), time.process_time()
    out = {
        "asset_minutes": asset_minutes,
        "plan_s": wall1 - wall0,
        "render_s": wall2 - wall1,
        "wall_s": wall2 - wall0,
        "cpu_s": cpu2 - cpu0,
        "failures": int((fleet.events["kind"] == "failure").sum()),
    }
    if args.parquet:
        wall3 = time.perf_counter()
        fleet.to_parquet(args.parquet)
        out["parquet_s"] = time.perf_counter() - wall3
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--interval", default="1min")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parquet", default=None, help="also write readings/truth Parquet here, timed apart")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(single(args)))
        return
    runs = []
    passthrough = [a for a in sys.argv[1:] if a != "--single"]
    for k in range(args.repeats):
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, __file__, *passthrough, "--single"], check=True, capture_output=True, text=True
        )
        run = json.loads(done.stdout.strip().splitlines()[-1])
        run["load_avg"] = load
        runs.append(run)
        rate = run["asset_minutes"] / run["wall_s"]
        print(
            f"run {k + 1}: {run['asset_minutes']:,} asset-minutes in {run['wall_s']:.1f} s wall "
            f"(plan {run['plan_s']:.1f} s, render {run['render_s']:.1f} s; {run['cpu_s']:.1f} s CPU) = "
            f"{rate / 1e6:.2f} M asset-minutes/s wall, {run['asset_minutes'] / run['cpu_s'] / 1e6:.2f} M per CPU-s; "
            f"peak RSS {run['peak_rss_mib']:.0f} MiB; {run['failures']} failures; load average {load:.1f}"
            + (f"; Parquet write {run['parquet_s']:.1f} s" if "parquet_s" in run else "")
        )

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    minutes = runs[0]["asset_minutes"]
    print(
        f"median of {len(runs)}: {args.assets} assets x {args.days} days at {args.interval}: "
        f"{median('wall_s'):.1f} s wall, {minutes / median('wall_s') / 1e6:.2f} M asset-minutes/s "
        f"(target >= 2), {minutes / median('cpu_s') / 1e6:.2f} M asset-minutes per CPU-second, "
        f"peak RSS {median('peak_rss_mib'):.0f} MiB, on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
