"""An asset's trend: health, failure probability and RUL at readings spread over its history.

The trend is computed with the same window features as training (:func:`~forewarn.features.window.window_features`
over the asset's history since its latest renewal, and the age since that renewal,
:func:`~forewarn.features.age.hours_since_renewal`, when the model reads it), then thinned to at most ``points`` rows
before the model runs.
It is not cached: a trend is asked for once per asset page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.decide.risk import health_score
from forewarn.features.age import hours_since_renewal
from forewarn.serve.answers import TrendAnswer, num
from forewarn.serve.live import LiveModels, Plant
from forewarn.serve.recent import RecentReadings

TREND_POINTS = 1000


def asset_trend(
    asset_id: str, *, plant: Plant, models: LiveModels, recent: RecentReadings, points: int = TREND_POINTS
) -> TrendAnswer:
    """Health, probability and RUL at every reading of an asset's history (thinned to ``points``)."""
    info = plant.info(asset_id)
    bundle = models.bundle_for(info["asset_class"])
    marks = recent.events([asset_id]).get(asset_id)
    spec = bundle.spec
    frame = recent.history(asset_id, spec, None, None if marks is None else marks[1])
    out: TrendAnswer = {
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
    }
    if frame.empty or not frame[list(spec.channels)].notna().to_numpy().any():
        return out  # none of the model's channels: not scored (was scored on no data, health 99), as /health says
    frame = frame.assign(asset_id=asset_id)
    features = spec.window_frame(frame)
    if spec.age_feature:
        renewed = {asset_id: None if marks is None else marks[1]}
        features[spec.age_feature] = hours_since_renewal(frame["asset_id"], frame["ts"], renewed)
    keep = np.unique(np.linspace(0, len(frame) - 1, min(points, len(frame))).round().astype(int))
    X = features[bundle.feature_names].iloc[keep].reset_index(drop=True)
    predictions = bundle.predict(X)
    out["ts"] = [pd.Timestamp(t).isoformat() for t in frame["ts"].iloc[keep]]
    out["probability"] = [num(p) for p in predictions.probability]
    out["health"] = [num(health_score(p)) for p in predictions.probability]
    for name in ("rul", "rul_low", "rul_high"):
        values = getattr(predictions, name)
        out[name] = [] if values is None else [num(v) for v in values]
    return out
