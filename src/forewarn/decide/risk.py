"""From a failure probability to what a planner reads: health score, risk level and a recommended action.

The risk level is anchored on the asset class's cost-based alert threshold ``t`` (see
:mod:`forewarn.decide.thresholds`), so "high" always means "alerting is worth its cost":

============  =======================================
level         calibrated probability ``p``
============  =======================================
``low``       ``p < t / 2``
``medium``    ``t / 2 <= p < t``
``high``      ``t <= p < (1 + t) / 2``
``critical``  ``p >= (1 + t) / 2``
============  =======================================

A probability that is not a number (NaN: the model could not tell) is ``unknown`` (:data:`UNKNOWN`), never
``low``: a risk that was not measured must not rank with the healthy assets. ``unknown`` is not one of
:data:`RISK_LEVELS` (the levels an alert or a case may carry).

The health score is ``100 * (1 - p)``: 100 for an asset that will not fail within the horizon, 0 for one
that certainly will (NaN stays NaN).

>>> risk_level(0.02, 0.1), risk_level(0.07, 0.1), risk_level(0.3, 0.1), risk_level(0.8, 0.1)
('low', 'medium', 'high', 'critical')
>>> risk_level(float("nan"), 0.1)
'unknown'
>>> health_score(0.25)
75.0
>>> recommended_action("high", rul_low=12.0, unit="cycles", top_sensor="bearing_temp")
'plan maintenance within 12 cycles; inspect bearing_temp first'
"""

from __future__ import annotations

import math

#: the levels of a measured risk, lowest first (an alert or a case carries one of these)
RISK_LEVELS = ("low", "medium", "high", "critical")
#: the level of a probability that is not a number: no answer, not a low risk
UNKNOWN = "unknown"


def risk_level(probability: float, threshold: float) -> str:
    """The risk level of a calibrated failure probability for a class whose alert threshold is ``threshold``
    (:data:`UNKNOWN` for NaN)."""
    p = float(probability)
    t = min(max(float(threshold), 0.0), 1.0)
    if math.isnan(p):
        return UNKNOWN
    if p >= (1.0 + t) / 2.0:
        return "critical"
    if p >= t:
        return "high"
    if p >= t / 2.0:
        return "medium"
    return "low"


def health_score(probability: float) -> float:
    """Health 0-100 (higher is healthier), rounded to one decimal."""
    p = min(max(float(probability), 0.0), 1.0)
    return round(100.0 * (1.0 - p), 1)


def recommended_action(
    level: str, *, rul_low: float | None = None, unit: str = "", top_sensor: str | None = None
) -> str:
    """A one-line action for a risk level (one of :data:`RISK_LEVELS` or :data:`UNKNOWN`); names the pessimistic
    RUL and the sensor to look at first.

    >>> recommended_action(UNKNOWN)
    "no prediction (the model gave no probability); check that the asset's sensors report"
    """
    within = ""
    if rul_low is not None and math.isfinite(rul_low):
        within = " now" if rul_low < 1 else f" within {rul_low:.0f} {unit}".rstrip()
    look = f"; inspect {top_sensor} first" if top_sensor else ""
    if level == "critical":
        return f"stop and repair as soon as possible{'' if within == ' now' else within}{look}"
    if level == "high":
        return f"plan maintenance{within}{look}"
    if level == "medium":
        return f"schedule an inspection at the next planned stop{look}"
    if level == "low":
        return "no action; keep monitoring"
    if level == UNKNOWN:
        return "no prediction (the model gave no probability); check that the asset's sensors report"
    raise ValueError(f"unknown risk level {level!r}; expected one of {', '.join((*RISK_LEVELS, UNKNOWN))}")
