"""Failure predictors: ``predict_proba(X)``, the calibrated probability of failure within the labels' horizon."""

from forewarn.models.failure.lightgbm_failure import LightGBMFailure
from forewarn.models.failure.logistic_failure import LogisticFailure

__all__ = ["LightGBMFailure", "LogisticFailure"]
