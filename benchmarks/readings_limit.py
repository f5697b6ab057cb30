"""``GET /assets/{id}/readings`` without ``resample``: the last ``limit`` rows read by the store's query
(``Store.readings(..., limit=n)``) against the whole history read and its tail kept (the route until 2026-12-06).

Usage (a 1-minute plant of 60 days, as in BENCHMARKS.md "Own data", 2026-12-05 21:25 UTC)::

    .venv/bin/forewarn simulate --sites 1 --assets 4 --days 60 --interval 1min --store /tmp/min.duckdb
    .venv/bin/python benchmarks/readings_limit.py --store /tmp/min.duckdb --repeat 5
    .venv/bin/python benchmarks/readings_limit.py --store postgresql://... --repeat 5   # the server store

Prints, per limit, the median (and each run) of: the store's read with the limit, the whole read and its tail, and
the route's answer through the app (``TestClient``, JSON included), with the rows each gave (they must agree).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from forewarn.store import Store


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median seconds of ``repeat`` runs (after one warm-up), each run's seconds and the last result."""
    out = run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--asset", default=None, help="default: the first asset")
    parser.add_argument("--limits", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--route", action="store_true", help="also time the route through the app")
    args = parser.parse_args()
    with Store(args.store, read_only=True) as db:
        asset = args.asset or str(db.assets()["asset_id"].iloc[0])
        summary = db.fleet_summary().set_index("asset_id").loc[asset]
        print(
            f"{args.store}: {asset}, {int(summary['n_readings']):,} readings, {summary['first_ts']} to "
            f"{summary['last_ts']}"
        )
        for n in args.limits:
            new, new_runs, got = timed(lambda n=n: db.readings(asset, wide=True, limit=n), args.repeat)
            old, old_runs, kept = timed(lambda n=n: db.readings(asset, wide=True).tail(n), args.repeat)
            assert got.reset_index(drop=True).equals(kept.reset_index(drop=True)), "the two reads differ"
            print(
                f"limit {n}: store query {new * 1000:.1f} ms ({', '.join(f'{t * 1000:.1f}' for t in new_runs)}); "
                f"whole read + tail {old * 1000:.1f} ms ({', '.join(f'{t * 1000:.1f}' for t in old_runs)}); "
                f"{len(got)} rows"
            )
    if args.route:
        from fastapi.testclient import TestClient

        from forewarn.serve import ServeSettings, create_app

        settings = ServeSettings(store=args.store, models=None, evaluate_on_start=False, extra={"read_only": True})
        with TestClient(create_app(settings)) as client:
            for n in args.limits:
                url = f"/api/v1/assets/{asset}/readings"
                median, runs, answer = timed(lambda n=n, url=url: client.get(url, params={"limit": n}), args.repeat)
                assert answer.status_code == 200, answer.text
                print(
                    f"route, limit {n}: {median * 1000:.1f} ms ({', '.join(f'{t * 1000:.1f}' for t in runs)}); "
                    f"{len(answer.json()['ts'])} rows"
                )


if __name__ == "__main__":
    main()
