"""An asset's trend: health, failure probability and RUL at readings spread over its history.

The trend is computed with the same window features as training (:func:`~forewarn.features.window.window_features`
over the asset's history since its latest renewal, and the age since that renewal,
:func:`~forewarn.features.age.hours_since_renewal`, when the model reads it), then thinned to at most ``points`` rows
before the model runs.

Each point follows the channel coverage rule of the health answers (:mod:`forewarn.features.coverage`, applied
row by row as the batch predictions do, :mod:`forewarn.serve.batch_coverage`): a point whose window (the last
``window`` rows up to it) holds readings of less than the minimum share of the channels the asset's class sends
has no health, probability or RUL (``null``), ``status`` ``"insufficient data"``, and its ``channels_missing``
listed; a scored point lists the expected channels its window lacks as a warning (``status`` ``"in_service"``).
An asset that failed and was not renewed since (``down`` in its health answer) has ``status`` ``"down"`` and no
figures at the points from its failure on: those readings are a broken machine's.
It is not cached: a trend is asked for once per asset page.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forewarn.decide.risk import health_score
from forewarn.features.age import hours_since_renewal
from forewarn.features.coverage import store_class_channels
from forewarn.serve.answers import TrendAnswer, num
from forewarn.serve.batch_coverage import read_in_windows, row_coverage
from forewarn.serve.live import LiveModels, Plant
from forewarn.serve.recent import RecentReadings
from forewarn.train.labels import is_down

TREND_POINTS = 1000
#: a point's status at or after a failure that no maintenance has renewed yet (no figures: a broken machine)
DOWN = "down"


class CoveredTrend(TrendAnswer):
    """:class:`~forewarn.serve.answers.TrendAnswer` with the coverage rule's answer at each point: ``status``
    (``"in_service"``, ``"insufficient data"`` or ``"down"``) and ``channels_missing`` (the expected channels with no reading in
    the point's window)."""

    status: list[str]
    channels_missing: list[list[str]]


def asset_trend(
    asset_id: str,
    *,
    plant: Plant,
    models: LiveModels,
    recent: RecentReadings,
    points: int = TREND_POINTS,
    reported: Mapping[str, frozenset[str]] | None = None,
    min_share: float | None = None,
) -> CoveredTrend:
    """Health, probability and RUL at every reading of an asset's history (thinned to ``points``); ``reported``:
    the channels each asset class sends (:func:`~forewarn.features.coverage.store_class_channels`, read from the
    store when not given); ``min_share``: the coverage rule's minimum (``FOREWARN_MIN_CHANNEL_SHARE`` when None)."""
    info = plant.info(asset_id)
    bundle = models.bundle_for(info["asset_class"])
    marks = recent.events([asset_id]).get(asset_id)
    spec = bundle.spec
    frame = recent.history(asset_id, spec, None, None if marks is None else marks[1])
    out: CoveredTrend = {
        "asset_id": asset_id,
        "model_id": bundle.model_id,
        "version": bundle.version,
        "unit": bundle.unit,
        "ts": [],
        "health": [],
        "probability": [],
        "rul": [],
        "rul_low": [],
        "rul_high": [],
        "status": [],
        "channels_missing": [],
    }
    channels = list(spec.channels)
    if frame.empty or not frame[channels].notna().to_numpy().any():
        return out  # none of the model's channels: not scored (was scored on no data, health 99), as /health says
    frame = frame.assign(asset_id=asset_id)
    features = spec.window_frame(frame, {asset_id: info["asset_class"]})
    if spec.age_feature:
        renewed = {asset_id: None if marks is None else marks[1]}
        features[spec.age_feature] = hours_since_renewal(frame["asset_id"], frame["ts"], renewed)
    keep = np.unique(np.linspace(0, len(frame) - 1, min(points, len(frame))).round().astype(int))
    values = frame[channels].to_numpy(dtype="float64", na_value=np.nan)
    read = read_in_windows(np.zeros(len(frame), dtype=np.int64), np.arange(len(frame)), values, int(spec.window))
    if reported is None:
        reported = store_class_channels(recent.store)
    cover = row_coverage(read[keep], channels, info["asset_class"], reported, min_share)
    X = features[bundle.feature_names].iloc[keep].reset_index(drop=True)
    predictions = bundle.predict(X)
    status = list(cover.status)
    scored = np.asarray(cover.scored, dtype=bool)
    if is_down(marks):  # failed and not repaired: readings from the failure on are a broken machine's, as /health says
        broken = (frame["ts"].iloc[keep] >= pd.Timestamp(marks[0])).to_numpy()  # type: ignore[index]
        scored = scored & ~broken
        status = [DOWN if b else s for s, b in zip(status, broken, strict=True)]

    def masked(values: np.ndarray | None) -> list[float | None]:
        return [] if values is None else [num(v) if ok else None for v, ok in zip(values, scored, strict=True)]

    out["ts"] = [pd.Timestamp(t).isoformat() for t in frame["ts"].iloc[keep]]
    probability = np.asarray(predictions.probability, dtype="float64")
    out["probability"] = masked(probability)
    out["health"] = masked(np.asarray([health_score(p) for p in probability], dtype="float64"))
    out["rul"], out["rul_low"], out["rul_high"] = (
        masked(getattr(predictions, name)) for name in ("rul", "rul_low", "rul_high")
    )
    out["status"] = status
    out["channels_missing"] = [list(m) for m in cover.missing]
    return out
