"""Issue 20: the service and training on a PostgreSQL store beside the same data in DuckDB, in one run.

* ``fleet_health``: the service's health of every asset with its cache dropped before each call (the windows of
  many assets read in one query: ``forewarn.store.window_queries``), median of ``--repeats``.
* ``file_alerts``: ``CaseBook.file_alerts`` of one alert per asset (one transaction), median of ``--repeats``.
* ``load_dataset``: what ``forewarn train`` reads (assets, the interval chosen from the readings' spacing, the
  resampled readings, labels from events), median of ``--repeats``.

Data: a run-to-failure twin fleet (``--assets`` pumps, ``--days`` days at ``--interval``), written into a DuckDB
file and into a throwaway PostgreSQL server started here (Debian's initdb/pg_ctl on 127.0.0.1, default durability).
The machine is shared: the load average is printed with the figures, and CPU seconds of this process beside the
wall clock (the server's own CPU is not counted). Run: ``python benchmarks/serve_train_pg.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.serve.service import HealthService
from forewarn.serve.settings import ServeSettings
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres
from forewarn.train import train
from forewarn.train.dataset import load_dataset
from forewarn.train.spec import TrainSpec
from forewarn.twin.fleet import FleetConfig, simulate_fleet


def timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": round(statistics.median(walls), 4), "cpu_s": round(statistics.median(cpus), 4)}


def measure(store_target: str, models: Path, spec: TrainSpec, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    service = HealthService(ServeSettings(store=store_target, models=str(models), evaluate_on_start=False))
    try:
        n_assets = len(service.assets())

        def fleet() -> None:
            service.cache.clear()
            service.recent.window_starts.clear()
            assert len(service.fleet()) == n_assets

        out["fleet_health"] = timed(fleet, repeats)
    finally:
        service.close()
    with Store(store_target, read_only=True) as db:
        ids = db.assets()["asset_id"].astype(str).tolist()
        out["load_dataset"] = timed(lambda: load_dataset(db, spec), repeats)
        book = CaseBook(casebook_path_for(db) if store_target.startswith("postgresql") else ":memory:")
    hour = iter(range(10**6))

    def file_alerts() -> None:
        t = pd.Timestamp("2025-01-01T00:00:00Z") + pd.Timedelta(hours=next(hour))
        book.file_alerts([Alert(a, t, "bench", 0.9, "high", {"temp": 1.0}, source="bench") for a in ids])

    out["file_alerts"] = timed(file_alerts, repeats)
    book.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--interval", default="10min")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = FleetConfig(
        sites=1,
        assets=args.assets,
        days=args.days,
        interval=args.interval,
        degradation_scale=5.0,
        policies=("run_to_failure",),
        start="2024-03-01",
    )
    fleet = simulate_fleet(config, seed=7)
    spec = TrainSpec(task="failure", horizon="72h")
    result: dict[str, Any] = {"config": {k: str(v) for k, v in vars(args).items()}, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp, LocalPostgres(Path(tmp) / "pg") as server:
        duck = str(Path(tmp) / "plant.duckdb")
        url = server.create_database("plant")
        for target in (duck, url):
            with Store(target) as db:
                fleet.to_store(db)
        models = Path(tmp) / "models"
        train(duck, models, task="failure", horizon="72h", model="logistic-failure", seed=1)
        with Store(duck, read_only=True) as db:
            result["readings"] = db.count_readings()
        result["duckdb"] = measure(duck, models, spec, args.repeats)
        result["postgresql"] = measure(url, models, spec, args.repeats)
    result["load_after"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
