"""Remaining-useful-life regressors: ``predict(X)``, never negative, unit declared by the ``unit`` tag."""

from forewarn.models.rul.ensemble import EnsembleRUL
from forewarn.models.rul.lightgbm_rul import LightGBMRUL

__all__ = ["EnsembleRUL", "LightGBMRUL"]
