"""Decisions: from model scores to what a planner does.

* :mod:`~forewarn.decide.calibration`: scores -> probabilities (isotonic or Platt);
* :mod:`~forewarn.decide.thresholds`: an alert threshold per asset class from the costs of mistakes;
* :mod:`~forewarn.decide.risk`: health score, risk level and recommended action;
* :mod:`~forewarn.decide.alerts`: hysteresis and de-duplication (one degrading asset, one alert);
* :mod:`~forewarn.decide.explain`: feature contributions mapped back to sensors;
* :mod:`~forewarn.decide.cases`: one open case per asset; acknowledge, close with a note.

>>> from forewarn.decide import AlertPolicy, Calibrator, CaseBook, Costs, ThresholdPolicy
"""

from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.calibration import Calibrator, brier_score, expected_calibration_error
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.explain import occlusion_contributions, sensor_contributions, sensor_of
from forewarn.decide.risk import RISK_LEVELS, health_score, recommended_action, risk_level
from forewarn.decide.thresholds import Costs, ThresholdPolicy, bayes_threshold, empirical_threshold

__all__ = [
    "RISK_LEVELS",
    "Alert",
    "AlertPolicy",
    "Calibrator",
    "CaseBook",
    "Costs",
    "ThresholdPolicy",
    "bayes_threshold",
    "brier_score",
    "casebook_path_for",
    "empirical_threshold",
    "expected_calibration_error",
    "health_score",
    "occlusion_contributions",
    "recommended_action",
    "risk_level",
    "sensor_contributions",
    "sensor_of",
]
