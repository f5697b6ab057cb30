"""How long ``forewarn monitor`` takes over 100 assets x 30 days (issue 18 target: 30 s or less).

A twin fleet (100 assets, 4 sites, 1-hour summaries) is written to a DuckDB store; a model (logistic-failure,
72 h horizon, 3-hour interval) is trained on its first ``--trained-days``; the remaining 30 days are monitored.
The first run fits the drift references (cold); the following ``--runs`` reuse them (warm, the usual case:
references are fitted once per model version). Medians are printed; the machine may be loaded by others.

    .venv/bin/python benchmarks/monitor_speed.py --assets 100 --trained-days 60 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

import forewarn.train
from forewarn.monitor.runner import monitor
from forewarn.store import Store
from forewarn.twin import FleetConfig, simulate_fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--trained-days", type=int, default=60)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    config = FleetConfig(
        sites=4,
        assets=args.assets,
        days=args.trained_days + args.days,
        interval="1h",
        seed=0,
        degradation_scale=5.0,
        policies=("run_to_failure",),
    )
    t = time.perf_counter()
    fleet = simulate_fleet(config)
    with Store(folder / "plant.duckdb") as db:
        fleet.to_store(db)
    print(f"store: {fleet.readings.shape[0]:,} rows in {time.perf_counter() - t:.0f} s", flush=True)
    cut = fleet.readings["ts"].min() + pd.Timedelta(days=args.trained_days)
    # the model knows only the first days: train on a store copy cut there
    with Store(folder / "trained.duckdb") as db:
        db.add_sites(fleet.sites)
        db.add_lines(fleet.lines)
        db.add_assets(fleet.assets)
        db.ingest_readings(fleet.readings[fleet.readings["ts"] < cut])
        db.ingest_events(fleet.events[fleet.events["ts"] < cut])
    t = time.perf_counter()
    forewarn.train(
        folder / "trained.duckdb",
        folder / "models",
        task="failure",
        horizon="72h",
        interval="3h",
        model="logistic-failure",
    )
    print(f"trained in {time.perf_counter() - t:.0f} s", flush=True)
    timings, cpu = [], []
    for run in range(args.runs + 1):
        t, c = time.perf_counter(), time.process_time()
        report = monitor(
            folder / "plant.duckdb",
            folder / "models",
            days=args.days,
            reference_days=args.trained_days,
            refresh=run == 0,
        )
        timings.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        model = report["models"][0]
        print(
            f"run {run} ({'cold' if run == 0 else 'warm'}): {timings[-1]:.1f} s wall, {cpu[-1]:.1f} s CPU, "
            f"{model['assets']} assets, "
            f"{len(model['drift_alerts'])} drift alerts; feature drift per class ({model['features_by_class']['basis']}): "
            + ", ".join(f"{e['asset_class']} {e['drifted']}" for e in model["features_by_class"]["by_class"]),
            flush=True,
        )
    print(
        f"cold {timings[0]:.1f} s; warm median {statistics.median(timings[1:]):.1f} s over {args.runs} runs "
        f"({', '.join(f'{x:.1f}' for x in timings[1:])}); CPU of this process: cold {cpu[0]:.1f} s, warm median "
        f"{statistics.median(cpu[1:]):.1f} s (the other jobs' load does not count in it)"
    )


if __name__ == "__main__":
    main()
