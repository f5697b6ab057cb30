"""Fault (failure type) classifiers: ``predict_proba(X)`` with one column per entry of ``classes_``."""

from forewarn.models.fault.lightgbm_fault import LightGBMFault
from forewarn.models.fault.spectral_gbm import SpectralGBM

__all__ = ["LightGBMFault", "SpectralGBM"]
