"""The maintenance planner over HTTP: a schedule (HiGHS) from each asset's risk, costs, crews, calendar and
parts, with each job's saving and reason and the optimality gap. Solving costs up to ``time_limit_s`` of CPU,
so it needs the API token, like a write.

>>> from fastapi.testclient import TestClient
>>> from forewarn.serve import ServeSettings, create_app
>>> client = TestClient(create_app(ServeSettings(token="s3cret-token-123")))
>>> body = {"horizon_days": 3, "crew_hours": {"mechanical": 8}, "downtime_cost_h": 100,
...         "assets": [{"asset_id": "A", "line_id": "L1", "cdf": [0.1, 0.3, 0.6], "failure_cost": 10000,
...                     "failure_downtime_h": 10, "job_cost": 1000, "job_hours": 2}]}
>>> answer = client.post("/api/v1/plan", json=body, headers={"Authorization": "Bearer s3cret-token-123"}).json()
>>> [(o["asset_id"], o["day"], o["saving"]) for o in answer["orders"]], answer["summary"]["optimality_gap"]
([('A', 0, 5400.0)], 0.0)
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import Field, model_validator
from starlette.concurrency import run_in_threadpool

from forewarn.serve.api.deps import TokenFirstRoute, require_token
from forewarn.serve.api.schemas import ERRORS, Strict

router = APIRouter(tags=["plan"], responses=ERRORS, route_class=TokenFirstRoute)
Name = Annotated[str, Field(min_length=1, max_length=200)]


class PlanAsset(Strict):
    """One asset: its risk as ``cdf`` (probability of failing by the end of each day), or ``failure_probability``
    within the horizon, or ``rul_p50_days`` with ``rul_p90_days``; costs, crew skill and spare part."""

    asset_id: Name
    line_id: Name = "default"
    cdf: Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(max_length=366)] | None = None
    failure_probability: Annotated[float, Field(ge=0, le=1)] | None = None
    rul_p50_days: Annotated[float, Field(gt=0, le=1e5)] | None = None
    rul_p90_days: Annotated[float, Field(gt=0, le=1e5)] | None = None
    failure_cost: Annotated[float, Field(ge=0, le=1e9)] = 10_000.0
    failure_downtime_h: Annotated[float, Field(ge=0, le=1e4)] = 24.0
    job_cost: Annotated[float, Field(ge=0, le=1e9)] = 1_000.0
    job_hours: Annotated[float, Field(ge=0, le=1e3)] = 4.0
    skill: Name = "mechanical"
    part: Name | None = None

    @model_validator(mode="after")
    def _one_risk(self) -> PlanAsset:
        if (
            self.cdf is None
            and self.failure_probability is None
            and (self.rul_p50_days is None or self.rul_p90_days is None)
        ):
            raise ValueError("give cdf, failure_probability, or rul_p50_days with rul_p90_days")
        return self


class PartStock(Strict):
    on_hand: Annotated[int, Field(ge=0, le=1_000_000)]
    lead_days: Annotated[int, Field(ge=0, le=3650)]


class PlanRequest(Strict):
    assets: Annotated[list[PlanAsset], Field(min_length=1, max_length=5000)]
    horizon_days: Annotated[int, Field(ge=1, le=366)] = 30
    crew_hours: dict[
        Name,
        Annotated[float, Field(ge=0, le=1e4)]
        | Annotated[list[Annotated[float, Field(ge=0, le=1e4)]], Field(max_length=366)],
    ] = {"mechanical": 16.0}
    planned_stops: dict[Name, Annotated[list[Annotated[int, Field(ge=0, le=365)]], Field(max_length=366)]] = {}
    parts: dict[Name, PartStock] = {}
    downtime_cost_h: Annotated[float, Field(ge=0, le=1e9)] = 500.0
    time_limit_s: Annotated[float, Field(gt=0, le=10)] = 10.0


def _solve(body: PlanRequest) -> dict[str, Any]:
    from forewarn.plan import AssetRisk, PlanProblem, plan_maintenance
    from forewarn.plan.risk import risk_curve, summary

    assets = []
    for i, a in enumerate(body.assets):
        if a.cdf is not None:
            if len(a.cdf) != body.horizon_days:
                from forewarn.serve.api.middleware import FieldError

                raise FieldError(
                    ["body", "assets", i, "cdf"],
                    f"cdf has {len(a.cdf)} values; the horizon has {body.horizon_days} days",
                )
            cdf = np.asarray(a.cdf, dtype=float)
        else:
            cdf = risk_curve(pd.Series(a.model_dump()), body.horizon_days)
        assets.append(
            AssetRisk(
                a.asset_id,
                a.line_id,
                cdf,
                failure_cost=a.failure_cost,
                failure_downtime_h=a.failure_downtime_h,
                job_cost=a.job_cost,
                job_hours=a.job_hours,
                skill=a.skill,
                part=a.part,
            )
        )
    problem = PlanProblem(
        assets,
        horizon_days=body.horizon_days,
        crew_hours=dict(body.crew_hours),
        planned_stops=dict(body.planned_stops),
        parts={k: (v.on_hand, v.lead_days) for k, v in body.parts.items()},
        default_downtime_cost_h=body.downtime_cost_h,
        time_limit_s=body.time_limit_s,
    )
    result = plan_maintenance(problem)
    return {"summary": dict(summary(result)), "orders": result.orders, "deferred": result.deferred}


@router.post(
    "/plan",
    dependencies=[Depends(require_token)],
    summary="A maintenance schedule under crew, calendar and parts limits (HiGHS), with savings and reasons",
)
async def plan(body: PlanRequest) -> dict[str, Any]:
    return await run_in_threadpool(_solve, body)


def _demo(assets: int, days: int, seed: int) -> dict[str, Any]:
    from forewarn.plan import plan_maintenance
    from forewarn.plan.demo import demo_problem
    from forewarn.plan.risk import summary

    problem = demo_problem(assets, days, seed, time_limit_s=2.0)
    result = plan_maintenance(problem)
    crews = {k: [float(v) for v in np.asarray(h)] for k, h in problem.crew_hours.items()}
    return {
        "summary": dict(summary(result)) | {"horizon_days": days, "source": f"demo problem, seed {seed}"},
        "orders": result.orders,
        "deferred": result.deferred,
        "crew_hours": crews,
    }


@router.get("/plan/demo", summary="A plan for a small synthetic fleet (the dashboard's Gantt demonstration)")
async def plan_demo(
    assets: Annotated[int, Query(ge=1, le=100)] = 40,
    days: Annotated[int, Query(ge=1, le=30)] = 14,
    seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    return await run_in_threadpool(_demo, assets, days, seed)
