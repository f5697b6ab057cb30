"""Production KPIs over HTTP: OEE (ISO 22400-2), the six big losses, MTBF/MTTR, the downtime Pareto and the
ranked opportunities, from records sent in the body or from a small simulated fleet (the dashboard's demo).

>>> from fastapi.testclient import TestClient
>>> from forewarn.serve import ServeSettings, create_app
>>> client = TestClient(create_app(ServeSettings()))
>>> body = {"records": [{"asset_id": "P1", "line_id": "L1", "planned_busy_h": 8, "down_failure_h": 1,
...                      "produced": 480, "good": 456, "ideal_rate": 100}], "by": "line"}
>>> client.post("/api/v1/kpi", json=body).json()["groups"][0]["oee"]
0.57
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from forewarn.serve.api.schemas import ERRORS, Strict

router = APIRouter(tags=["kpi"], responses=ERRORS)
MAX_ROWS = 200_000
Group = Literal["asset", "line", "site", "shift", "day"]


class Record(Strict):
    """One asset over one period (see ``forewarn.kpi.oee``)."""

    asset_id: Annotated[str, Field(min_length=1, max_length=200)]
    line_id: Annotated[str, Field(max_length=200)] | None = None
    site_id: Annotated[str, Field(max_length=200)] | None = None
    shift: Annotated[str, Field(max_length=50)] | None = None
    day: Annotated[str, Field(max_length=50)] | None = None
    planned_busy_h: Annotated[float, Field(ge=0, le=1e6)]
    down_failure_h: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    down_changeover_h: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    down_starvation_h: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    down_minor_stop_h: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    produced: Annotated[float, Field(ge=0, le=1e12)]
    good: Annotated[float, Field(ge=0, le=1e12)]
    ideal_rate: Annotated[float, Field(gt=0, le=1e9)]
    energy_kwh: Annotated[float, Field(ge=0, le=1e12)] = 0.0
    startup_scrap: Annotated[float, Field(ge=0, le=1e12)] = 0.0


class Stop(Strict):
    """A stop: ``reason`` failure, changeover, starvation, minor_stop or planned_maintenance."""

    asset_id: Annotated[str, Field(min_length=1, max_length=200)]
    start: str
    end: str
    reason: Literal["failure", "changeover", "starvation", "minor_stop", "planned_maintenance"]


class KpiRequest(Strict):
    records: Annotated[list[Record], Field(min_length=1, max_length=MAX_ROWS)]
    events: Annotated[list[Stop], Field(max_length=MAX_ROWS)] = []
    by: Group = "line"
    top: Annotated[int, Field(ge=1, le=20)] = 3


def _frame(rows: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame([r.model_dump() for r in rows])
    return frame.dropna(axis=1, how="all")


@router.post("/kpi", summary="OEE, losses, MTBF/MTTR, downtime Pareto and opportunities of production records")
async def kpi(body: KpiRequest) -> dict[str, Any]:
    from forewarn.kpi import kpi_report

    records = _frame(body.records)
    events = _frame(body.events) if body.events else None
    return await run_in_threadpool(kpi_report, records, events, body.by, body.top)


def _twin(assets: int, days: int, seed: int, by: str) -> dict[str, Any]:
    from forewarn.kpi import kpi_report
    from forewarn.twin.fleet import build_fleet
    from forewarn.twin.production import production_data

    data = production_data(build_fleet(sites=min(2, assets), assets=assets, days=days, seed=seed, interval="1h"))
    report = kpi_report(data.records, data.events, by=by)
    report["source"] = f"simulated fleet: {assets} assets, {days} days, seed {seed}"
    return report


@router.get("/kpi/twin", summary="The same report on a small simulated fleet (a demonstration without plant data)")
async def kpi_twin(
    assets: Annotated[int, Query(ge=1, le=20)] = 12,
    days: Annotated[int, Query(ge=1, le=30)] = 14,
    seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    by: Group = "line",
) -> dict[str, Any]:
    return await run_in_threadpool(_twin, assets, days, seed, by)
