"""The estimator protocol, the model registry, and safe save/load.

>>> from forewarn.base import RULRegressor, register, save, load
>>> RULRegressor.task
'rul'
"""

from forewarn.base.estimator import (
    AnomalyDetector,
    Estimator,
    FailurePredictor,
    FaultClassifier,
    RULRegressor,
    as_frame,
    clone,
)
from forewarn.base.persistence import data_hash, load, read_manifest, save
from forewarn.base.registry import create, get, names, register

__all__ = [
    "AnomalyDetector", "Estimator", "FailurePredictor", "FaultClassifier", "RULRegressor", "as_frame", "clone",
    "create", "data_hash", "get", "load", "names", "read_manifest", "register", "save",
]
