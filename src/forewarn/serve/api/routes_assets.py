"""Assets: list, hierarchy, fleet health, one asset's health, trends, readings, events and labels; readings and
events ingest."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from forewarn.exceptions import IngestError
from forewarn.serve.answers import num
from forewarn.serve.api.deps import Service, TokenFirstRoute, require_token, service_of
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.schemas import ERRORS, EventsIngest, EventsResult, Health, Ident, IngestResult, ReadingsIngest
from forewarn.store import IngestReport

router = APIRouter(tags=["assets"], responses=ERRORS, route_class=TokenFirstRoute)
#: an asset id in a path: plants name assets like "Line 2/Pump 3", so a "/" (sent as %2F) is part of the id; the
#: routes take the rest of the path (``{asset_id:path}``), the ones with a suffix (``/health``) matched first
AssetId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


@router.get("/assets", summary="List assets with their place in the plant and their data")
def list_assets(
    svc: Service,
    site_id: Annotated[Ident | None, Query()] = None,
    line_id: Annotated[Ident | None, Query()] = None,
    asset_class: Annotated[Ident | None, Query()] = None,
) -> list[dict[str, Any]]:
    summary = svc.store.fleet_summary()
    for column, value in (("site_id", site_id), ("line_id", line_id), ("asset_class", asset_class)):
        if value is not None:
            summary = summary[summary[column] == value]
    return [_summary_row(r) for r in summary.itertuples()]


def _summary_row(r: Any) -> dict[str, Any]:
    return {
        "asset_id": str(r.asset_id),
        "asset_class": str(r.asset_class),
        "site_id": _text(r.site_id),
        "line_id": _text(r.line_id),
        "n_readings": int(r.n_readings),
        "n_channels": int(r.n_channels),
        "first_ts": _iso(r.first_ts),
        "last_ts": _iso(r.last_ts),
        "n_failures": int(r.n_failures),
        "last_failure_ts": _iso(r.last_failure_ts),
        "last_maintenance_ts": _iso(r.last_maintenance_ts),
    }


@router.get("/hierarchy", summary="Sites, their lines and the assets on each line")
def hierarchy(svc: Service) -> list[dict[str, Any]]:
    tree = svc.store.hierarchy()
    return [
        {"site_id": site, "lines": [{"line_id": line, "assets": list(assets)} for line, assets in lines.items()]}
        for site, lines in tree.items()
    ]


@router.get("/fleet/health", response_model=list[Health], summary="Health of every asset (filter by site and line)")
def fleet_health(
    svc: Service, site_id: Annotated[Ident | None, Query()] = None, line_id: Annotated[Ident | None, Query()] = None
) -> Any:
    return svc.fleet(site_id=site_id, line_id=line_id)


@router.get(
    "/assets/{asset_id:path}/health",
    response_model=Health,
    summary="Health score, failure probability, RUL interval, risk, action and driving sensors",
)
async def asset_health(request: Request, asset_id: AssetId) -> Any:
    # fast path: a score that nothing has changed since is served from memory, without a thread hop. The service
    # is taken from the app here, not as a dependency: solving one costs FastAPI 40-80 us, more than this answer.
    svc = service_of(request)
    cached = svc.scores.cached_json(asset_id)
    if cached is not None:
        return Response(cached, media_type="application/json")
    result = await run_in_threadpool(svc.health, asset_id)
    if result["probability"] is not None:
        request.app.state.metrics.predictions.labels(result["model_id"], "health").inc()
    return result


@router.get("/assets/{asset_id:path}/trend", summary="Health, failure probability and RUL over the asset's history")
def asset_trend(svc: Service, asset_id: AssetId, points: Annotated[int, Query(ge=2, le=5000)] = 1000) -> Any:
    return svc.trend(asset_id, points=points)


@router.get("/assets/{asset_id:path}/readings", summary="Sensor readings of one asset (wide), optionally resampled")
def asset_readings(
    svc: Service,
    asset_id: AssetId,
    start: datetime | None = None,
    end: datetime | None = None,
    resample: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]{1,6}(s|min|h|D)$")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 5000,
) -> dict[str, Any]:
    svc.asset(asset_id)
    # the last `limit` rows (buckets), found by the store's query: the span before them is not read
    frame = svc.store.readings(asset_id, start, end, resample=resample, wide=True, limit=limit)
    channels = [c for c in frame.columns if c not in ("asset_id", "ts")]
    return {
        "asset_id": asset_id,
        "ts": [pd.Timestamp(t).isoformat() for t in frame["ts"]],
        "values": {c: [num(v) for v in frame[c]] for c in channels},
    }


@router.get("/assets/{asset_id:path}/events", summary="Failures, maintenance and inspections of one asset")
def asset_events(svc: Service, asset_id: AssetId) -> list[dict[str, Any]]:
    svc.asset(asset_id)
    events = svc.store.events(asset_id)
    return [
        {
            "ts": _iso(e.ts),
            "kind": str(e.kind),
            "failure_mode": _text(e.failure_mode),
            "action": _text(e.action),
            "parts": _text(e.parts),
            "result": _text(e.result),
            "note": _text(e.note),
        }
        for e in events.itertuples()
    ]


@router.get(
    "/assets/{asset_id:path}/labels",
    summary="Labels stored by ingest --label-columns: rows and values per name, and the spans each value held",
)
def asset_labels(
    svc: Service,
    asset_id: AssetId,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5000,
    set_only: Annotated[
        bool, Query(description="Only the spans where a label is set (what the dashboard shades).")
    ] = False,
) -> dict[str, Any]:
    from forewarn.serve.labels import label_counts, label_spans

    svc.asset(asset_id)
    rows = svc.store.labels([asset_id], start=start, end=end)
    history = _history(svc, asset_id)
    return {
        "asset_id": asset_id,
        "names": label_counts(rows, history),
        **label_spans(rows, limit, history, set_only=set_only),
    }


def _history(svc: Any, asset_id: str) -> tuple[Any, Any] | None:
    """The asset's first and last reading (None without readings): a label on all of it is an attribute."""
    summary = svc.store.fleet_summary()
    row = summary[summary["asset_id"] == asset_id]
    if row.empty or pd.isna(row["first_ts"].iloc[0]):
        return None
    return row["first_ts"].iloc[0], row["last_ts"].iloc[0]


@router.post(
    "/readings",
    response_model=IngestResult,
    dependencies=[Depends(require_token)],
    summary="Store a batch of readings (all or nothing) and evaluate alerts of the assets it touches",
)
def ingest_readings(request: Request, svc: Service, body: ReadingsIngest) -> dict[str, Any]:
    records = [
        ({"asset_id": r.asset_id, "ts": r.ts, "channel": r.channel, "value": r.value}, ("readings", i))
        for i, r in enumerate(body.readings)
        if r.value is not None
    ]
    records += [
        ({"asset_id": r.asset_id, "ts": r.ts, "channel": channel, "value": value}, ("rows", i))
        for i, r in enumerate(body.rows)
        for channel, value in r.values.items()
        if value is not None
    ]
    if not records:
        raise FieldError(["body"], "every reading in the batch is null; nothing to store")
    frame = pd.DataFrame([record for record, _ in records])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    try:
        report, touched = svc.ingest(frame, source="request", strict=body.strict)
    except IngestError as err:
        where = records[err.line - 1][1] if err.line is not None and 0 < err.line <= len(records) else None
        raise _refused(err, ["body", *where, err.column or "value"] if where else ["body"]) from None
    request.app.state.metrics.readings.inc(report.written)
    opened = svc.evaluate(touched) if svc.registry is not None and touched else []
    return _stored(report, opened)


def _refused(err: IngestError, loc: list[str | int]) -> FieldError:
    """The 422 of a batch the store refused, at the record and field it names."""
    return FieldError(loc, err.reason + (f" ({err.hint})" if err.hint else ""))


def _stored(report: IngestReport, opened: list[Any]) -> dict[str, Any]:
    """The answer to a batch stored: what was read and written, and the alerts its evaluation filed."""
    return {
        "source": report.source,
        "rows_read": report.rows_read,
        "written": report.written,
        "duplicates": report.duplicates,
        "assets_created": list(report.assets_created),
        "alerts_opened": len(opened),
    }


@router.post(
    "/events",
    response_model=EventsResult,
    dependencies=[Depends(require_token)],
    summary="Record failures, maintenance and inspections (all or nothing); a failure files a case, the maintenance "
    "that renews the asset closes it",
)
def record_events(svc: Service, body: EventsIngest) -> dict[str, Any]:
    records = [event.model_dump() for event in body.events]
    frame = pd.DataFrame(records)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    try:
        report, touched = svc.record_events(frame, source="request", strict=body.strict)
    except IngestError as err:
        at = err.line - 1 if err.line is not None and 0 < err.line <= len(records) else None
        raise _refused(err, ["body"] if at is None else ["body", "events", at, err.column or "kind"]) from None
    book = svc.cases.casebook
    open_before = {a: book.open_case_id(a) for a in touched}
    opened = svc.evaluate(touched)
    closed = [case for a, case in open_before.items() if case is not None and book.open_case_id(a) != case]
    return _stored(report, opened) | {"cases_closed": closed}


# last: it would take '/health', '/trend' ... of the routes above as part of an asset id
@router.get(
    "/assets/{asset_id:path}",
    summary="One asset: its place in the plant, channels, reading span, events and labels (needs no model)",
)
def get_asset(svc: Service, asset_id: AssetId) -> dict[str, Any]:
    from forewarn.serve.labels import label_counts

    svc.asset(asset_id)  # 404 for an unknown asset
    summary = svc.store.fleet_summary()
    row = next(summary[summary["asset_id"] == asset_id].itertuples())
    history = None if pd.isna(row.first_ts) else (row.first_ts, row.last_ts)
    counts = label_counts(svc.store.labels([asset_id]), history)
    return _summary_row(row) | {
        "labels": [{"name": c["name"], "rows": c["rows"], "set_rows": c["set_rows"]} for c in counts]
    }
