"""Alerts and cases: list, evaluate now, acknowledge, close with a note (one open case per asset); and the stream's
outbox (``stream_alerts``: the alerts the stream's own models raised, kept for compatibility; the stream files each
into the case book, so ``/alerts`` lists them too, with ``source = "stream"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from forewarn.serve.api.deps import Service, TokenFirstRoute, require_token
from forewarn.serve.api.schemas import (
    ERRORS,
    AcknowledgeRequest,
    AlertOut,
    Case,
    CloseRequest,
    EvaluateRequest,
    Ident,
    OpenedAlert,
    StreamAlertOut,
)


class CaseOut(Case):
    """A case, with what opened it: ``health`` (a forewarning of the served models or the stream), ``failure`` (a
    recorded failure with no renewing maintenance since: the asset is down; the maintenance closes it) or
    ``drift`` (``forewarn monitor``)."""

    kind: str | None = "health"


router = APIRouter(tags=["alerts and cases"], responses=ERRORS, route_class=TokenFirstRoute)
CaseId = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=5000)]


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def list_alerts(
    svc: Service,
    asset_id: Annotated[Ident | None, Query()] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Limit = 1000,
) -> list[dict[str, Any]]:
    return svc.cases.alerts(asset_id=asset_id, case_id=case_id, start=start, end=end, limit=limit)


@router.get(
    "/stream/alerts",
    response_model=list[StreamAlertOut],
    summary="Alerts of the stream's own models (forewarn stream, serve --stream), newest first",
)
def list_stream_alerts(
    svc: Service,
    asset_id: Annotated[Ident | None, Query()] = None,
    model_id: Annotated[Ident | None, Query()] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Limit = 1000,
) -> list[dict[str, Any]]:
    return svc.stream_alerts(asset_id=asset_id, model_id=model_id, start=start, end=end, limit=limit)


@router.post(
    "/alerts/evaluate",
    response_model=list[OpenedAlert],
    dependencies=[Depends(require_token)],
    summary="Score assets now (all, or those listed) and open alerts and cases where the policy says so",
)
def evaluate(svc: Service, body: EvaluateRequest) -> Any:
    if body.asset_ids is not None:
        for asset_id in body.asset_ids:
            svc.asset(asset_id)
    return svc.evaluate(body.asset_ids)


@router.get("/cases", response_model=list[CaseOut], summary="Cases, newest first ('open' includes acknowledged)")
def list_cases(
    svc: Service,
    status: Literal["open", "acknowledged", "closed"] | None = None,
    asset_id: Annotated[Ident | None, Query()] = None,
    limit: Limit = 500,
) -> list[dict[str, Any]]:
    return svc.cases.cases(status=status, asset_id=asset_id, limit=limit)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case")
def get_case(svc: Service, case_id: CaseId) -> dict[str, Any]:
    return svc.cases.case(case_id)


@router.post(
    "/cases/{case_id}/acknowledge",
    response_model=CaseOut,
    dependencies=[Depends(require_token)],
    summary="Acknowledge a case (someone is on it)",
)
def acknowledge(svc: Service, case_id: CaseId, body: AcknowledgeRequest) -> dict[str, Any]:
    return svc.cases.acknowledge(case_id, by=body.by, note=body.note)


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseOut,
    dependencies=[Depends(require_token)],
    summary="Close a case with a note saying what was found or done",
)
def close(svc: Service, case_id: CaseId, body: CloseRequest) -> dict[str, Any]:
    return svc.cases.close(case_id, note=body.note, by=body.by)
