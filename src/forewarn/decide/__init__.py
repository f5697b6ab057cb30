"""Decisions: from model scores to what a planner does.

* :mod:`~forewarn.decide.calibration`: scores -> probabilities (isotonic-Platt blend, isotonic or Platt);
* :mod:`~forewarn.decide.thresholds`: an alert threshold per asset class from the costs of mistakes;
* :mod:`~forewarn.decide.risk`: health score, risk level and recommended action;
* :mod:`~forewarn.decide.alarms`: the one alarm rule of label-free detection: a continuous ``anomaly_score``
  -> ``alarm`` = 1 where an episode starts (``score >= on``, hysteresis to ``off``, refractory period), for
  frames (:func:`alarm_frame`, :func:`find_episodes`) and streams (:class:`AlarmTracker`);
* :mod:`~forewarn.decide.alerts`: hysteresis and de-duplication (one degrading asset, one alert);
* :mod:`~forewarn.decide.explain`: feature contributions mapped back to sensors;
* :mod:`~forewarn.decide.cases`: one open case per asset; acknowledge, close with a note.

>>> from forewarn.decide import AlarmRule, AlertPolicy, Calibrator, CaseBook, Costs, ThresholdPolicy, find_alarms
>>> find_alarms([0.1, 0.7, 0.2], AlarmRule(clear_rows=1))[0].tolist()
[0, 1, 0]
"""

from forewarn.decide.alarms import (
    AlarmRule,
    AlarmState,
    AlarmTracker,
    Episode,
    alarm_frame,
    episodes_table,
    find_alarms,
    find_episodes,
)
from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.calibration import Calibrator, brier_score, expected_calibration_error
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.explain import occlusion_contributions, sensor_contributions, sensor_of
from forewarn.decide.risk import RISK_LEVELS, health_score, recommended_action, risk_level
from forewarn.decide.thresholds import Costs, ThresholdPolicy, bayes_threshold, empirical_threshold

__all__ = [
    "RISK_LEVELS",
    "AlarmRule",
    "AlarmState",
    "AlarmTracker",
    "Alert",
    "AlertPolicy",
    "Calibrator",
    "CaseBook",
    "Costs",
    "Episode",
    "ThresholdPolicy",
    "alarm_frame",
    "bayes_threshold",
    "brier_score",
    "casebook_path_for",
    "empirical_threshold",
    "episodes_table",
    "expected_calibration_error",
    "find_alarms",
    "find_episodes",
    "health_score",
    "occlusion_contributions",
    "recommended_action",
    "risk_level",
    "sensor_contributions",
    "sensor_of",
]
