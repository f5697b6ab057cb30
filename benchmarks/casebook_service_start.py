"""The first start of the service on a store with hundreds of down assets not yet filed (issue 12): the time of
``HealthService.evaluate()`` without a model on a store of ``--assets`` assets of which ``--down`` have a failure
and no maintenance since (each filed as a failure case), with a fresh case book each run; then the same call again
(everything filed already). Median of ``--runs`` runs after one warm-up, in seconds, as JSON.

    .venv/bin/python benchmarks/casebook_service_start.py --assets 2024 --down 201 --runs 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from forewarn.schema import Asset
from forewarn.serve import ServeSettings
from forewarn.serve.service import HealthService
from forewarn.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2024)
    parser.add_argument("--down", type=int, default=201)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    try:
        store = root / "plant.duckdb"
        with Store(store) as db:
            ids = [f"A{i:04d}" for i in range(args.assets)]
            db.add_assets([Asset(a, asset_class="pump") for a in ids])
            step = max(args.assets // args.down, 1)
            down = ids[::step][: args.down]
            failed = pd.Timestamp("2024-05-01", tz="UTC")
            db.ingest_events(pd.DataFrame({"asset_id": down, "ts": failed, "kind": "failure"}), source="benchmark")
        first, again, filed = [], [], []
        for run in range(args.runs + 1):
            for book in root.glob("*.cases.duckdb*"):
                book.unlink()
            svc = HealthService(ServeSettings(store=str(store)))
            began = time.perf_counter()
            opened = svc.evaluate()
            middle = time.perf_counter()
            svc.evaluate()
            done = time.perf_counter()
            svc.close()
            if run:  # the first run warms up
                first.append(middle - began)
                again.append(done - middle)
                filed.append(len(opened))
    finally:
        shutil.rmtree(root)
    out = {"first_s": round(statistics.median(first), 3), "again_s": round(statistics.median(again), 3)}
    print(json.dumps({"assets": args.assets, "down": len(down), "filed": filed, **out}))


if __name__ == "__main__":
    main()
