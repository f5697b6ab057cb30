"""Predictions on data sent in the request: one ad-hoc window, or a batch (JSON or Arrow IPC)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from forewarn.decide.risk import health_score, risk_level
from forewarn.features.window import window_features
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.routes_assets import service
from forewarn.serve.api.schemas import (
    ERRORS,
    BatchPrediction,
    BatchPredictRequest,
    Ident,
    Name,
    Prediction,
    PredictRequest,
)
from forewarn.serve.bundle import Bundle, Predictions
from forewarn.serve.features import last_row_features
from forewarn.serve.service import num

router = APIRouter(tags=["predict"], responses=ERRORS)
ARROW = "application/vnd.apache.arrow.stream"


@router.post("/predict", response_model=Prediction,
             summary="Predict for one window of readings (oldest first); explains the last row")
async def predict(request: Request, body: PredictRequest) -> Any:
    # computed on the event loop: a single window costs about a millisecond of CPU, less than a thread hop
    svc = service(request)
    bundle = svc.bundle_for(body.asset_class, body.model_id)
    spec = bundle.spec
    sent = {name for row in body.rows for name in row}
    if not sent & set(spec.channels):
        raise FieldError(["body", "rows"], f"no reading of the model's channels; it reads {', '.join(spec.channels)}")
    values = np.array([[np.nan if row.get(c) is None else row[c] for c in spec.channels] for row in body.rows],
                      dtype="float64")
    features = last_row_features(values, spec.channels, window=spec.window, stats=spec.stats, ewm_span=spec.ewm_span)
    result = svc.decide(bundle, bundle.feature_frame(features), body.asset_class)
    request.app.state.metrics.predictions.labels(bundle.model_id, "predict").inc()
    return JSONResponse({**result, "model_id": bundle.model_id, "version": bundle.version,
                         "ignored_channels": sorted(sent - set(spec.channels))})


def _features_of(bundle: Bundle, frame: pd.DataFrame, kind: str, where: list[Any]) -> pd.DataFrame:
    if kind == "features":
        missing = [c for c in bundle.feature_names if c not in frame.columns]
        if missing:
            raise FieldError(where, f"missing feature column(s) {', '.join(missing[:8])}"
                                    f"{' ...' if len(missing) > 8 else ''}; the model reads {len(bundle.feature_names)}"
                                    " features (GET /api/v1/models lists them by channel)")
        return frame[bundle.feature_names]
    for column in ("asset_id", "ts"):
        if column not in frame.columns:
            raise FieldError([*where, column], f"readings need an {column!r} column")
    spec = bundle.spec
    if not set(spec.channels) & set(frame.columns):
        raise FieldError(where, f"no column of the model's channels; it reads {', '.join(spec.channels)}")
    wide = frame.reindex(columns=["asset_id", "ts", *spec.channels])
    features = window_features(wide, group="asset_id", order="ts", columns=list(spec.channels), window=spec.window,
                               stats=spec.stats, ewm_span=spec.ewm_span)
    return features[bundle.feature_names]


def _predict_batch(request: Request, frame: pd.DataFrame, kind: str, model_id: str | None, asset_class: str | None,
                   where: list[Any]) -> tuple[Bundle, Predictions, list[str]]:
    svc = service(request)
    if len(frame) > svc.settings.max_batch_rows:
        raise FieldError(where, f"{len(frame)} rows is more than the limit of {svc.settings.max_batch_rows} per batch")
    bundle = svc.bundle_for(asset_class, model_id)
    X = _features_of(bundle, frame, kind, where)
    predictions = bundle.predict(X)
    threshold = svc.thresholds(bundle).threshold_for(asset_class)
    levels = [risk_level(p, threshold) for p in predictions.probability]
    request.app.state.metrics.predictions.labels(bundle.model_id, "batch").inc(len(X))
    return bundle, predictions, levels


@router.post("/predict/batch", response_model=BatchPrediction,
             summary="Predict many rows: model features, or wide readings per asset (features computed here)")
def predict_batch(request: Request, body: BatchPredictRequest) -> dict[str, Any]:
    if body.features is not None:
        frame, kind, where = pd.DataFrame(body.features, dtype="float64"), "features", ["body", "features"]
    else:
        readings = body.readings
        assert readings is not None  # guaranteed by the request model
        frame = pd.DataFrame({"asset_id": readings.asset_id, "ts": pd.to_datetime(readings.ts, utc=True),
                              **{k: np.asarray(v, dtype="float64") for k, v in readings.values.items()}})
        kind, where = "readings", ["body", "readings"]
    bundle, predictions, levels = _predict_batch(request, frame, kind, body.model_id, body.asset_class, where)

    def listed(values: np.ndarray | None) -> list[float | None] | None:
        return None if values is None else [num(v) for v in values]

    return {"model_id": bundle.model_id, "version": bundle.version, "n_rows": len(frame),
            "probability": listed(predictions.probability),
            "health": [num(health_score(p)) for p in predictions.probability], "rul": listed(predictions.rul),
            "rul_low": listed(predictions.rul_low), "rul_high": listed(predictions.rul_high), "risk_level": levels}


@router.post("/predict/batch/arrow", response_class=Response,
             summary="Predict many rows sent as an Arrow IPC stream; answers an Arrow IPC stream",
             openapi_extra={"requestBody": {"required": True, "content": {
                 ARROW: {"schema": {"type": "string", "format": "binary"}}}}},
             responses={200: {"content": {ARROW: {"schema": {"type": "string", "format": "binary"}}},
                              "description": "columns probability, health, rul, rul_low, rul_high (one row per input row)"}})
async def predict_batch_arrow(request: Request,
                              input: Annotated[Literal["features", "readings"], Query()] = "features",
                              model_id: Annotated[Name | None, Query()] = None,
                              asset_class: Annotated[Ident | None, Query()] = None) -> Response:
    payload = await request.body()
    return await run_in_threadpool(_arrow_batch, request, payload, input, model_id, asset_class)


def _arrow_batch(request: Request, payload: bytes, input: str, model_id: str | None, asset_class: str | None) -> Response:
    try:
        table = pa.ipc.open_stream(io.BytesIO(payload)).read_all()
    except (pa.ArrowException, OSError, ValueError) as err:
        raise FieldError(["body"], f"the body is not an Arrow IPC stream ({err}); send Content-Type {ARROW}") from None
    try:
        frame = table.to_pandas()
        if input == "features":
            frame = frame.astype("float64")
        elif "ts" in frame.columns:
            frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    except (TypeError, ValueError, pa.ArrowException) as err:
        raise FieldError(["body"], f"the Arrow table has a column that cannot be read as numbers or times: {err}") from None
    bundle, predictions, _ = _predict_batch(request, frame, input, model_id, asset_class, ["body"])
    columns = {"probability": predictions.probability, "health": 100.0 * (1.0 - predictions.probability)}
    for name in ("rul", "rul_low", "rul_high"):
        if getattr(predictions, name) is not None:
            columns[name] = getattr(predictions, name)
    sink = io.BytesIO()
    out = pa.table(columns)
    with pa.ipc.new_stream(sink, out.schema) as writer:
        writer.write_table(out)
    return Response(sink.getvalue(), media_type=ARROW,
                    headers={"x-forewarn-model": f"{bundle.model_id}:{bundle.version}"})

