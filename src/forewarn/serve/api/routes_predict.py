"""Predictions on data sent in the request: one ad-hoc window, or a batch (JSON or Arrow IPC).

The JSON endpoints read their bodies with :mod:`forewarn.serve.api.bodies` (orjson into numpy, the pydantic
models of :mod:`~forewarn.serve.api.schemas` as referee and as the OpenAPI description) and answer with
orjson: FastAPI's own parsing and encoding cost more than the model for one window or a batch.

A model trained with the age since renewal (``live.age_feature`` in ``GET /api/v1/models``, :mod:`forewarn.features.age`)
reads it as follows: ``POST /predict`` takes it in the body (``age_h``: hours since the asset's last renewal at the
last row; a window has no times, so it cannot be counted from the store), unknown (NaN) when left out; the batch
endpoints' ``readings`` (``asset_id``, ``ts``) get it counted from the store's maintenance events
(:func:`~forewarn.features.age.hours_since_renewal` over every renewal of those assets, as training counts it);
``features`` must hold the ``age_h`` column like any other feature.

Too few channels (:mod:`forewarn.features.coverage`, the rule of ``forewarn score`` and the health answers): a
``POST /predict`` window whose rows hold readings of less than the minimum share of the model's channels (of those
the ``asset_class``'s assets send in the store, when the body names a class; ``FOREWARN_MIN_CHANNEL_SHARE``, default
0.75, read when the service starts) is answered **200** with ``status: "insufficient data"``, no health, probability or RUL, risk ``unknown`` and
``channels_missing``: the request is well formed, the answer is that the data cannot tell (a 422 would read as a
malformed body, and a client could not tell it from one). A window with none of the model's channels stays 422.
Scored windows list the channels they lack in ``channels_missing`` too (a warning).

The batch endpoints apply the same rule to every row (:mod:`forewarn.serve.batch_coverage`): a row whose window
(its asset's last ``window`` rows up to it) holds readings of less than the minimum share of the channels expected
of the asset (its class: the body's ``asset_class``, else the class the store knows the asset by, else all the
model's channels) gets null probability, health and RUL and risk ``unknown``; the answer stays columnar, one entry
per input row: ``status`` (``in_service`` or ``insufficient data``) and ``channels_missing`` (a list per row, empty
when complete; in the Arrow answer a ``list<string>`` column). ``features`` rows have no asset: a channel whose
window statistics (mean, std, min, max, slope) are all blank counts as not read, against all the model's channels
(or the body's class); a sequence model's feature rows (steps forward-filled, missing as 0) are scored as given.
A sequence model's ``readings`` read a channel with no reading yet as its asset class's training mean (the body's
``asset_class``, else the class the store knows the asset by: :meth:`~forewarn.bundles.bundle.ServingSpec.absent`),
as ``forewarn score`` and the asset's health read it.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from forewarn.bundles.bundle import Bundle, Predictions
from forewarn.decide.risk import RISK_LEVELS, UNKNOWN
from forewarn.features.age import hours_since_renewal, with_age
from forewarn.features.coverage import INSUFFICIENT, Coverage, coverage_of
from forewarn.serve.api.bodies import json_body, parse_batch, parse_window
from forewarn.serve.api.deps import service_of
from forewarn.serve.api.middleware import FieldError
from forewarn.serve.api.schemas import (
    ERRORS,
    BatchPrediction,
    BatchPredictRequest,
    Ident,
    Name,
    Prediction,
    PredictRequest,
)
from forewarn.serve.batch_coverage import IN_SERVICE, RowCoverage, read_from_features, read_in_windows, row_coverage

router = APIRouter(tags=["predict"], responses=ERRORS)
ARROW = "application/vnd.apache.arrow.stream"


@router.post(
    "/predict",
    response_model=Prediction,
    openapi_extra=json_body(PredictRequest),
    summary="Predict for one window of readings (oldest first); explains the last row",
)
async def predict(request: Request) -> Response:
    # computed on the event loop: a window costs a few hundred microseconds of CPU, less than a thread hop.
    # The body is read by bodies.parse_window (orjson into numpy), not by FastAPI: see that module; from there
    # to the answer no pandas object is built (Decider.decide_row).
    body = parse_window(await request.body(), request.headers.get("content-type"))
    svc = service_of(request)
    bundle = svc.bundle_for(body.asset_class, body.model_id)
    spec = bundle.spec
    if not body.channels & set(spec.channels):
        raise FieldError(["body", "rows"], f"no reading of the model's channels; it reads {', '.join(spec.channels)}")
    values = body.matrix(spec.channels)
    reported = svc.scores.class_channels() if body.asset_class is not None else None
    cover = coverage_of(values, spec.channels, int(spec.window), body.asset_class, reported, svc.scores.min_share)
    about = {
        "model_id": bundle.model_id,
        "version": bundle.version,
        "ignored_channels": sorted(body.channels - set(spec.channels)),
        "channels_missing": list(cover.missing),
    }
    if not cover.sufficient:
        return json_response({**insufficient(cover), **about})
    features = spec.last_row(values, body.asset_class)
    if spec.age_feature:
        features = with_age(features, np.nan if body.age_h is None else body.age_h)[0]
    result = svc.decider.decide_row(bundle, features, body.asset_class)
    request.app.state.metrics.predicted(bundle.model_id, "predict")
    return json_response({**result, **about, "status": IN_SERVICE})


def insufficient(cover: Coverage) -> dict[str, Any]:
    """The decision fields of a window with too few channels: nothing said, and why."""
    return {
        "health": None,
        "probability": None,
        "threshold": None,
        "rul": None,
        "rul_low": None,
        "rul_high": None,
        "risk_level": UNKNOWN,
        "recommended_action": cover.action(),
        "contributions": [],
        "status": INSUFFICIENT,
    }


def json_response(content: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer encoded by orjson (numpy arrays as lists; NaN and infinities as ``null``)."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json", headers=headers
    )


def _features_of(
    bundle: Bundle,
    frame: pd.DataFrame,
    kind: str,
    where: list[Any],
    request: Request | None = None,
    asset_class: str | None = None,
) -> pd.DataFrame:
    if kind == "features":
        missing = [c for c in bundle.feature_names if c not in frame.columns]
        if missing:
            raise FieldError(
                where,
                f"missing feature column(s) {', '.join(missing[:8])}"
                f"{' ...' if len(missing) > 8 else ''}; the model reads {len(bundle.feature_names)}"
                " features (GET /api/v1/models lists them by channel)",
            )
        return frame[bundle.feature_names]
    for column in ("asset_id", "ts"):
        if column not in frame.columns:
            raise FieldError([*where, column], f"readings need an {column!r} column")
    spec = bundle.spec
    if not set(spec.channels) & set(frame.columns):
        raise FieldError(where, f"no column of the model's channels; it reads {', '.join(spec.channels)}")
    wide = frame.reindex(columns=["asset_id", "ts", *spec.channels])
    classes = None
    if spec.sequence:  # absent channels read the class's training means: the body's class, else the store's
        ids = wide["asset_id"].astype(str)
        found = _store_classes(request, wide) if asset_class is None and request is not None else None
        classes = dict(zip(ids, [asset_class] * len(ids) if found is None else found, strict=True))
    features = spec.window_frame(wide, classes)
    if spec.age_feature:
        renewed = None if request is None else _store_renewals(request, wide)
        features[spec.age_feature] = hours_since_renewal(wide["asset_id"], wide["ts"], renewed)
    return features[bundle.feature_names]


def _store_renewals(request: Request, wide: pd.DataFrame) -> pd.DataFrame:
    """Every renewal of the assets in ``wide`` recorded in the service's store (``asset_id, ts``)."""
    from forewarn.train.labels import renewals

    ids = sorted(set(wide["asset_id"].astype(str)))
    events = service_of(request).store.sql(
        "SELECT asset_id, ts, kind, action, result FROM events WHERE asset_id IN (SELECT unnest(?)) "
        "AND kind = 'maintenance'",
        [ids],
    )
    return renewals(events) if len(events) else pd.DataFrame(columns=["asset_id", "ts"])


def _predict_batch(
    request: Request, frame: pd.DataFrame, kind: str, model_id: str | None, asset_class: str | None, where: list[Any]
) -> tuple[Bundle, Predictions, RowCoverage | None]:
    svc = service_of(request)
    if len(frame) > svc.settings.max_batch_rows:
        raise FieldError(where, f"{len(frame)} rows is more than the limit of {svc.settings.max_batch_rows} per batch")
    bundle = svc.bundle_for(asset_class, model_id)
    X = _features_of(bundle, frame, kind, where, request, asset_class)
    predictions = bundle.predict(X)
    request.app.state.metrics.predicted(bundle.model_id, "batch", len(X))
    cover = _batch_coverage(request, bundle, frame if kind != "features" else X, kind, asset_class)
    return bundle, (predictions if cover is None else _blanked(predictions, cover.scored)), cover


def _batch_coverage(
    request: Request, bundle: Bundle, frame: pd.DataFrame, kind: str, asset_class: str | None
) -> RowCoverage | None:
    """The coverage rule for every row (None: feature rows that cannot tell which channels were read)."""
    spec, svc = bundle.spec, service_of(request)
    if kind == "features":
        read = None if spec.sequence else read_from_features(frame, spec.channels, spec.stats)
        classes: str | None | np.ndarray = asset_class
    else:
        values = frame.reindex(columns=list(spec.channels)).to_numpy(dtype="float64", na_value=np.nan)
        ts = frame["ts"].to_numpy(dtype="datetime64[ns]")  # UTC, not an array of Timestamp objects
        read = read_in_windows(frame["asset_id"].to_numpy(), ts, values, int(spec.window))
        classes = asset_class if asset_class is not None else _store_classes(request, frame)
    if read is None:
        return None
    named = classes is not None and (isinstance(classes, str) or bool(pd.notna(classes).any()))
    reported = svc.scores.class_channels() if named else None
    return row_coverage(read, spec.channels, classes, reported, svc.scores.min_share)


def _store_classes(request: Request, frame: pd.DataFrame) -> np.ndarray:
    """The class the store knows each row's asset by (None for an asset it does not know)."""
    table = service_of(request).plant.table()
    known = pd.Series(table["asset_class"].astype(str).to_numpy(), index=table["asset_id"].astype(str).to_numpy())
    found = frame["asset_id"].astype(str).map(known).to_numpy(dtype=object)
    found[pd.isna(found)] = None
    return found


def _blanked(predictions: Predictions, scored: np.ndarray) -> Predictions:
    """``predictions`` with NaN (``null``) where a row is not ``scored``."""
    if scored.all():
        return predictions

    def blank(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else np.where(scored, np.asarray(values, dtype="float64"), np.nan)

    return Predictions(
        probability=np.where(scored, predictions.probability, np.nan),
        raw=np.where(scored, np.asarray(predictions.raw, dtype="float64"), np.nan),
        rul=blank(predictions.rul),
        rul_low=blank(predictions.rul_low),
        rul_high=blank(predictions.rul_high),
    )


def risk_levels(probability: np.ndarray, threshold: float) -> list[str]:
    """:func:`~forewarn.decide.risk.risk_level` of every probability, vectorised (NaN is ``unknown``, as there).

    >>> risk_levels(np.array([0.02, 0.07, 0.3, 0.8, np.nan]), 0.1)
    ['low', 'medium', 'high', 'critical', 'unknown']
    """
    p = np.asarray(probability, dtype="float64")
    t = min(max(float(threshold), 0.0), 1.0)
    # t / 2 <= t <= (1 + t) / 2, so counting the bounds reached is the cascade of risk_level; NaN is the 5th level
    index = (p >= t / 2.0).astype(np.int8) + (p >= t) + (p >= (1.0 + t) / 2.0)
    index[np.isnan(p)] = len(RISK_LEVELS)
    levels = (*RISK_LEVELS, UNKNOWN)
    return [levels[i] for i in index.tolist()]


def health_scores(probability: np.ndarray) -> np.ndarray:
    """:func:`~forewarn.decide.risk.health_score` of every probability, vectorised (NaN stays NaN: ``null``).

    ``np.round`` (``rint(10 x) / 10``) equals Python's correctly rounded ``round(x, 1)`` except where ``10 x``
    lies within rounding error of a half; those few are rounded by Python.

    >>> health_scores(np.array([0.25, 0.0005, 0.00035, np.nan])).tolist()
    [75.0, 100.0, 100.0, nan]
    """
    scaled = 100.0 * (1.0 - np.clip(np.asarray(probability, dtype="float64"), 0.0, 1.0))
    out = np.round(scaled, 1)
    tenths = scaled * 10.0
    for i in np.flatnonzero(np.abs(tenths - np.floor(tenths) - 0.5) < 1e-6).tolist():
        out[i] = round(float(scaled[i]), 1)
    return out


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    openapi_extra=json_body(BatchPredictRequest),
    summary="Predict many rows: model features (columns or a table), or wide readings per asset",
)
async def predict_batch(request: Request) -> Response:
    payload = await request.body()
    return await run_in_threadpool(_json_batch, request, payload, request.headers.get("content-type"))


def _json_batch(request: Request, payload: bytes, content_type: str | None) -> Response:
    body = parse_batch(payload, content_type)
    if body.features is not None:
        frame = body.features
    else:
        readings = body.readings
        assert readings is not None  # guaranteed by parse_batch
        frame = pd.DataFrame(
            {
                "asset_id": readings.asset_id,
                "ts": pd.to_datetime(readings.ts, utc=True),
                **{k: np.asarray(v, dtype="float64") for k, v in readings.values.items()},
            }
        )
    bundle, predictions, cover = _predict_batch(request, frame, body.kind, body.model_id, body.asset_class, body.where)
    threshold = service_of(request).thresholds(bundle).threshold_for(body.asset_class)
    n = len(frame)
    return json_response(
        {
            "model_id": bundle.model_id,
            "version": bundle.version,
            "n_rows": len(frame),
            "probability": predictions.probability,
            "health": health_scores(predictions.probability),
            "rul": predictions.rul,
            "rul_low": predictions.rul_low,
            "rul_high": predictions.rul_high,
            "risk_level": risk_levels(predictions.probability, threshold),
            "status": [IN_SERVICE] * n if cover is None else cover.status,
            "channels_missing": [[]] * n if cover is None else cover.missing,
        }
    )


@router.post(
    "/predict/batch/arrow",
    response_class=Response,
    summary="Predict many rows sent as an Arrow IPC stream; answers an Arrow IPC stream",
    openapi_extra={
        "requestBody": {"required": True, "content": {ARROW: {"schema": {"type": "string", "format": "binary"}}}}
    },
    responses={
        200: {
            "content": {ARROW: {"schema": {"type": "string", "format": "binary"}}},
            "description": "columns probability, health, rul, rul_low, rul_high (RUL models), status and "
            "channels_missing (list<string>), one row per input row; a row with too few of the model's channels in "
            "its window has null probability, health and RUL and status 'insufficient data'",
        }
    },
)
async def predict_batch_arrow(
    request: Request,
    input: Annotated[Literal["features", "readings"], Query()] = "features",
    model_id: Annotated[Name | None, Query()] = None,
    asset_class: Annotated[Ident | None, Query()] = None,
) -> Response:
    payload = await request.body()
    return await run_in_threadpool(_arrow_batch, request, payload, input, model_id, asset_class)


def _arrow_batch(
    request: Request, payload: bytes, input: str, model_id: str | None, asset_class: str | None
) -> Response:
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
        raise FieldError(
            ["body"], f"the Arrow table has a column that cannot be read as numbers or times: {err}"
        ) from None
    bundle, predictions, cover = _predict_batch(request, frame, input, model_id, asset_class, ["body"])
    columns: dict[str, Any] = {
        "probability": predictions.probability,
        "health": 100.0 * (1.0 - predictions.probability),
    }
    for name in ("rul", "rul_low", "rul_high"):
        if getattr(predictions, name) is not None:
            columns[name] = getattr(predictions, name)
    n = len(frame)
    columns["status"] = pa.array([IN_SERVICE] * n if cover is None else cover.status, type=pa.string())
    columns["channels_missing"] = pa.array([[]] * n if cover is None else cover.missing, type=pa.list_(pa.string()))
    sink = io.BytesIO()
    out = pa.table(columns)
    with pa.ipc.new_stream(sink, out.schema) as writer:
        writer.write_table(out)
    return Response(
        sink.getvalue(), media_type=ARROW, headers={"x-forewarn-model": f"{bundle.model_id}:{bundle.version}"}
    )
