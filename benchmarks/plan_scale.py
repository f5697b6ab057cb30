"""Planner scale: 500 assets over a 30-day horizon with crews, a calendar, planned stops and parts (issue 16).

The problem is :func:`forewarn.plan.demo.demo_problem` (Weibull risk curves, three skills with day crews and
no work at weekends, 40 lines each stopping one day a week, four parts with stock and lead times). Prints the median wall time of ``--runs`` plans (model building and
HiGHS solving), the number of jobs and the optimality gap HiGHS reports.

    .venv/bin/python benchmarks/plan_scale.py --assets 500 --days 30 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from forewarn.plan import plan_maintenance
from forewarn.plan.demo import demo_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    times, results = [], []
    for run in range(args.runs):
        p = demo_problem(args.assets, args.days, seed=run)
        t0 = time.perf_counter()
        r = plan_maintenance(p)
        times.append(time.perf_counter() - t0)
        results.append(r)
        print(
            f"run {run}: {times[-1]:.2f} s (build {r.build_s:.2f}, solve {r.solve_s:.2f}), {r.variables} variables, "
            f"{r.constraints} rows, {len(r.orders)} jobs, {len(r.deferred)} deferred, status {r.status}, "
            f"gap {r.gap:.2e}, saving {r.objective:,.0f} (bound {r.bound:,.0f})"
        )
    out = {
        "assets": args.assets,
        "days": args.days,
        "runs": args.runs,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "max_gap": max(r.gap for r in results),
        "statuses": sorted({r.status for r in results}),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
