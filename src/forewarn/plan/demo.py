"""A synthetic planning problem (the planner's benchmark and the dashboard's demonstration).

Risk curves come from Weibull times to failure (shape 2, scales drawn from 20 to 400 days, so about a third of
the fleet is at risk within a month); three skills with day crews and no work at weekends; 40 lines, each
stopping one day a week; four parts with stock and lead times; costs drawn per asset.

>>> problem = demo_problem(assets=10, days=7, seed=0)
>>> len(problem.assets), sorted(problem.crew_hours)
(10, ['electrical', 'instrument', 'mechanical'])
"""

from __future__ import annotations

import numpy as np

from forewarn.plan.schedule import AssetRisk, PlanProblem

__all__ = ["demo_problem"]


def demo_problem(assets: int = 500, days: int = 30, seed: int = 0, time_limit_s: float = 10.0) -> PlanProblem:
    """``assets`` assets over ``days`` days (see the module docstring)."""
    rng = np.random.default_rng(seed)
    skills = ("mechanical", "electrical", "instrument")
    parts = {"bearing": (6, 5), "seal": (4, 7), "winding": (1, 14), "impeller": (2, 10)}
    t = np.arange(1, days + 1)
    lines = max(1, min(40, assets // 4))
    risk = []
    for i in range(assets):
        scale = rng.uniform(20.0, 400.0)
        risk.append(
            AssetRisk(
                f"A{i:04d}",
                f"L{i % lines:02d}",
                1.0 - np.exp(-((t / scale) ** 2)),
                failure_cost=float(rng.uniform(5_000, 30_000)),
                failure_downtime_h=float(rng.uniform(8, 72)),
                job_cost=float(rng.uniform(500, 3_000)),
                job_hours=float(rng.choice([2.0, 4.0, 8.0])),
                skill=skills[int(rng.integers(0, 3))],
                part=[None, "bearing", "seal", "winding", "impeller"][int(rng.integers(0, 5))],
            )
        )
    weekday = np.arange(days) % 7 < 5
    scale_crew = assets / 500.0  # the crews of 500 assets, scaled, and at least one 8 h shift per skill
    crews = {
        name: max(8.0, hours * scale_crew) * weekday
        for name, hours in (("mechanical", 48.0), ("electrical", 24.0), ("instrument", 16.0))
    }
    stops = {f"L{k:02d}": list(range(k % 7, days, 7)) for k in range(lines)}
    return PlanProblem(
        risk, horizon_days=days, crew_hours=crews, planned_stops=stops, parts=parts, time_limit_s=time_limit_s
    )
