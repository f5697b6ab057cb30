"""The shapes of the service's answers: typed dicts, JSON-ready as they are.

The answers stay plain dicts (a health answer is cached and encoded to JSON on the hot path, where building and
dumping a model object per request would cost more than the lookup), but each has one declared shape here, which
the API's response models (:mod:`forewarn.serve.api.schemas`) mirror.

>>> num(float("nan")) is None, num(2), num(None)
(True, 2.0, None)
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

import pandas as pd

#: ``(latest failure, latest renewal)`` of an asset (see :func:`forewarn.train.labels.latest_marks`)
Marks = tuple[pd.Timestamp | None, pd.Timestamp | None]


def num(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class AssetInfo(TypedDict):
    """Where an asset sits in the plant."""

    asset_id: str
    asset_class: str
    site_id: str | None
    line_id: str | None
    name: str


class Contribution(TypedDict):
    """How much one sensor pushes towards failure (positive raises risk)."""

    sensor: str
    contribution: float | None


class Decision(TypedDict):
    """A model's outputs for one row turned into a decision: risk, action and the sensors driving it."""

    health: float | None
    probability: float | None
    threshold: float | None
    rul: float | None
    rul_low: float | None
    rul_high: float | None
    risk_level: str
    recommended_action: str
    contributions: list[Contribution]


class HealthAnswer(AssetInfo, Decision):
    """The health of one asset (``GET /assets/{id}/health``, one entry of ``GET /fleet/health``).

    ``status`` is ``"in_service"``, ``"down"`` (the latest failure has no maintenance after it), ``"insufficient
    data"`` (too few of its channels in the window, :mod:`forewarn.features.coverage`: no health, probability or
    RUL), or ``None`` (not scored: no readings, or no model); ``renewed_at``: the latest maintenance, where the window
    starts; ``channels_missing``: the channels it is expected to send with no reading in the window (a warning when
    it is scored); ``label``: the stored label the model learned (its probability is of that label being set), None
    when it learned failures (probability of a failure within ``horizon``).
    """

    model_id: str
    version: str
    horizon: float
    label: str | None
    unit: str
    ts: str | None
    open_case: int | None
    status: str | None
    renewed_at: str | None
    channels_missing: list[str]


class TrendAnswer(TypedDict):
    """Health, probability and RUL at readings spread over an asset's history (``GET /assets/{id}/trend``)."""

    asset_id: str
    model_id: str
    version: str
    unit: str
    ts: list[str]
    health: list[float | None]
    probability: list[float | None]
    rul: list[float | None]
    rul_low: list[float | None]
    rul_high: list[float | None]


class FiledAlert(TypedDict):
    """An alert just opened by the alert policy, with the case it was filed on."""

    asset_id: str
    ts: str
    model_id: str
    score: float
    risk_level: str
    explanation: dict[str, float]
    probability: float | None
    rul: float | None
    case_id: int
