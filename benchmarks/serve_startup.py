"""Start-up time of the service (``create_app`` and its lifespan, start-up evaluation included) on the sample store.

Builds :mod:`forewarn.serve.sample` (``--assets`` pumps, a LightGBM RUL bundle) in a temporary folder, records a
failure of one pump (a down asset: the start-up evaluation files its failure case), then times ``--runs`` fresh
starts of the app (a Starlette ``TestClient`` entering the lifespan, then ``GET /healthz``) in three settings:
with the models folder, with none (``serve`` without ``--models``: the failure cases only), and with
``--no-evaluate``. Prints the median and the spread of each, and the load average.

    .venv/bin/python benchmarks/serve_startup.py --assets 24 --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import build_sample
from forewarn.store import Store


def start_once(settings: ServeSettings) -> float:
    """Seconds from ``create_app`` to the first ``/healthz`` answer of a fresh app (its start-up included)."""
    began = time.perf_counter()
    with TestClient(create_app(settings)) as client:
        client.get("/healthz")
        elapsed = time.perf_counter() - began
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=24)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        sample = build_sample(Path(folder), n_assets=args.assets, n_train=30, seed=0)
        with Store(sample.store) as db:
            last = pd.Timestamp(db.readings("P-001", wide=True)["ts"].max())
            failure = {"asset_id": "P-001", "ts": last + pd.Timedelta(hours=1), "kind": "failure"}
            db.ingest_events(pd.DataFrame([failure]), source="bench")
        cases = Path(folder) / "cases.duckdb"
        setups = {
            "with models, evaluate at start": {"models": str(sample.models)},
            "no models (failure cases only)": {"models": None},
            "with models, --no-evaluate": {"models": str(sample.models), "evaluate_on_start": False},
        }
        for label, extra in setups.items():
            times = []
            for _ in range(args.runs + 1):  # the first run warms imports and the file cache: not counted
                cases.unlink(missing_ok=True)  # every start files its cases afresh
                settings = ServeSettings(store=str(sample.store), cases=str(cases), token="t" * 20, **extra)  # type: ignore[arg-type]
                times.append(start_once(settings))
            kept = times[1:]
            print(
                f"{label:34s} median {statistics.median(kept) * 1000:7.1f} ms "
                f"(min {min(kept) * 1000:.1f}, max {max(kept) * 1000:.1f}, {len(kept)} runs)"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
