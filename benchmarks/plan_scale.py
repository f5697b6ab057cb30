"""Planner scale: 500 assets over a 30-day horizon with crews, a calendar, planned stops and parts (issue 16).

Risk curves come from Weibull times to failure (shape 2, scale drawn so about a third of the fleet is at risk
within the horizon); three skills with day crews and no work at weekends; each line stops one day a week;
four parts with stock and lead times. Prints the median wall time of ``--runs`` plans (model building and
HiGHS solving), the number of jobs and the optimality gap HiGHS reports.

    .venv/bin/python benchmarks/plan_scale.py --assets 500 --days 30 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from forewarn.plan import AssetRisk, PlanProblem, plan_maintenance


def problem(assets: int, days: int, seed: int) -> PlanProblem:
    rng = np.random.default_rng(seed)
    skills = ("mechanical", "electrical", "instrument")
    parts = {"bearing": (6, 5), "seal": (4, 7), "winding": (1, 14), "impeller": (2, 10)}
    t = np.arange(1, days + 1)
    risk = []
    for i in range(assets):
        scale = rng.uniform(20.0, 400.0)
        cdf = 1.0 - np.exp(-((t / scale) ** 2))
        skill = skills[int(rng.integers(0, 3))]
        part = [None, "bearing", "seal", "winding", "impeller"][int(rng.integers(0, 5))]
        risk.append(
            AssetRisk(
                f"A{i:04d}",
                f"L{i % 40:02d}",
                cdf,
                failure_cost=float(rng.uniform(5_000, 30_000)),
                failure_downtime_h=float(rng.uniform(8, 72)),
                job_cost=float(rng.uniform(500, 3_000)),
                job_hours=float(rng.choice([2.0, 4.0, 8.0])),
                skill=skill,
                part=part,
            )
        )
    weekday = np.arange(days) % 7 < 5
    crews = {"mechanical": 48.0 * weekday, "electrical": 24.0 * weekday, "instrument": 16.0 * weekday}
    stops = {f"L{k:02d}": list(range(k % 7, days, 7)) for k in range(40)}
    return PlanProblem(risk, horizon_days=days, crew_hours=crews, planned_stops=stops, parts=parts, time_limit_s=10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    times, results = [], []
    for run in range(args.runs):
        p = problem(args.assets, args.days, seed=run)
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
