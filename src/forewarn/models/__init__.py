"""Estimators, one sub-package per task; all follow :mod:`forewarn.base` and register by name."""
