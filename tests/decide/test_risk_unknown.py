"""A probability that is not a number is an unknown risk, never a low one (issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forewarn.decide.risk import RISK_LEVELS, UNKNOWN, health_score, recommended_action, risk_level
from forewarn.serve.api.routes_predict import risk_levels


def test_nan_probability_is_unknown_and_has_an_action() -> None:
    assert risk_level(float("nan"), 0.2) == UNKNOWN == "unknown"
    assert UNKNOWN not in RISK_LEVELS  # a case or an alert never carries it
    assert "no prediction" in recommended_action(UNKNOWN, rul_low=float("nan"), unit="h", top_sensor="vib")
    assert math.isnan(health_score(float("nan")))
    assert risk_levels(np.array([np.nan, 0.0, 0.9]), 0.2) == [UNKNOWN, "low", "critical"]
    with pytest.raises(ValueError, match="unknown risk level 'purple'"):
        recommended_action("purple")
