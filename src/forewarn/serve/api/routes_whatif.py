"""What-if through the digital twin: Monte Carlo futures of one asset under a planner's scenario.

A what-if costs seconds of CPU (one at its maximum, 500 runs over 365 days, about 7 s), so it needs the API
token like a write, and at most ``ServeSettings.what_if_concurrency`` run at once: a request beyond them is
answered 429 with ``Retry-After`` at once, instead of queueing behind them (or slowing every read down).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.schema import Asset
from forewarn.serve.api.deps import Service, TokenFirstRoute, require_token
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.routes_assets import AssetId
from forewarn.serve.api.schemas import ERRORS, Problem, Strict
from forewarn.serve.service import HealthService

router = APIRouter(tags=["what-if"], responses=ERRORS, route_class=TokenFirstRoute)
HISTORY = pd.Timedelta(days=14)  # recent readings the twin is calibrated on
RETRY_AFTER_S = 5


class Slots:
    """At most ``size`` what-if runs at once (thread-safe); :meth:`taken` raises a 429 when all are in use.

    >>> slots = Slots(1)
    >>> with slots.taken():
    ...     with slots.taken():
    ...         pass
    Traceback (most recent call last):
    ...
    fastapi.exceptions.HTTPException: 429: ...
    """

    def __init__(self, size: int):
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def taken(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise HTTPException(
                429,
                f"{self.size} what-if run(s) are in progress, the most this service runs at "
                f"once; try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self._free.release()


class WhatIfRequest(Strict):
    """A scenario: ``load`` multiplies the usual load (1.1 = 110 %), ``cooling`` the winding's cooling; an
    ambient temperature or offset; a full service in ``maintenance_in_days``."""

    load: Annotated[float, Field(gt=0, le=1.5)] = 1.0
    ambient_c: Annotated[float, Field(ge=-50, le=80)] | None = None
    ambient_offset_c: Annotated[float, Field(ge=-40, le=40)] = 0.0
    cooling: Annotated[float, Field(ge=0.05, le=2.0)] = 1.0
    maintenance_in_days: Annotated[float, Field(ge=0, le=3650)] | None = None
    runs: Annotated[int, Field(ge=1, le=500)] = 100
    horizon_days: Annotated[float, Field(gt=0, le=365)] = 90.0
    seed: Annotated[int, Field(ge=0, le=2**31)] = 0


def _days(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _what_if(svc: HealthService, asset_id: str, body: WhatIfRequest) -> dict[str, Any]:
    from forewarn.twin.whatif import Scenario, what_if

    info = svc.asset(asset_id)
    row = svc.assets().loc[asset_id]
    last = svc.store.latest([asset_id])
    if last.empty:
        raise DataNotFoundError(f"asset {asset_id!r} has no readings; the twin is calibrated on recent readings")
    end = pd.Timestamp(last["ts"].max())
    readings = svc.store.readings(asset_id, end - HISTORY, None, wide=True)
    install = row["install_date"]
    asset = Asset(
        asset_id,
        asset_class=info["asset_class"],
        line_id=info["line_id"],
        site_id=info["site_id"],
        install_date=None if install is None or pd.isna(install) else pd.Timestamp(install).date(),
        metadata=dict(row["metadata"] or {}),
    )
    scenario = Scenario(
        load=body.load,
        ambient_c=body.ambient_c,
        ambient_offset_c=body.ambient_offset_c,
        cooling=body.cooling,
        maintenance_in_days=body.maintenance_in_days,
    )
    try:
        result = what_if(
            readings, scenario, runs=body.runs, horizon_days=body.horizon_days, seed=body.seed, asset=asset
        )
    except ConfigError:
        raise
    except (KeyError, ValueError, IndexError) as err:  # readings the twin cannot be calibrated on
        raise FieldError(
            ["path", "asset_id"],
            f"the twin cannot be calibrated on asset {asset_id!r}'s readings "
            f"({type(err).__name__}: {err}); it needs the channels the "
            f"twin simulates for class {info['asset_class']!r}",
        ) from None
    summary = result.summary()
    return {
        "asset_id": asset_id,
        "scenario": body.model_dump(),
        "runs": summary["runs"],
        "horizon_days": summary["horizon_days"],
        "fail_fraction": summary["fail_fraction"],
        "p10_days": _days(summary["p10_days"]),
        "median_days": _days(summary["median_days"]),
        "p90_days": _days(summary["p90_days"]),
        "failure_modes": summary["modes"],
        "days": [int(d) for d in result.days],
        "trajectories": {
            name: {
                "p10": [None if np.isnan(v) else float(v) for v in q[:, 0]],
                "p50": [None if np.isnan(v) else float(v) for v in q[:, 1]],
                "p90": [None if np.isnan(v) else float(v) for v in q[:, 2]],
            }
            for name, q in result.trajectories.items()
        },
    }


@router.post(
    "/assets/{asset_id:path}/what-if",
    dependencies=[Depends(require_token)],
    responses={
        429: {
            "model": Problem,
            "description": "as many what-if runs as allowed are in progress; retry after Retry-After seconds",
        }
    },
    summary="Time-to-failure distribution of an asset under a scenario (digital twin, Monte Carlo)",
)
async def asset_what_if(request: Request, svc: Service, asset_id: AssetId, body: WhatIfRequest) -> dict[str, Any]:
    slots: Slots = request.app.state.what_if_slots
    with slots.taken():
        return await run_in_threadpool(_what_if, svc, asset_id, body)
