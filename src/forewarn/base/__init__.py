"""The estimator protocol, the model registry, and safe save/load.

Names are imported on first use (PEP 562), so ``forewarn.base.registry.names()`` does not load pandas.

>>> from forewarn.base import RULRegressor, register, save, load
>>> RULRegressor.task
'rul'
"""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:  # the real names for type checkers; at run time they come from __getattr__ on first use
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

_EXPORTS = {
    **dict.fromkeys(
        ("AnomalyDetector", "Estimator", "FailurePredictor", "FaultClassifier", "RULRegressor", "as_frame", "clone"),
        "estimator",
    ),
    **dict.fromkeys(("data_hash", "load", "read_manifest", "save"), "persistence"),
    **dict.fromkeys(("create", "get", "names", "register"), "registry"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "AnomalyDetector", "Estimator", "FailurePredictor", "FaultClassifier", "RULRegressor", "as_frame", "clone",
    "create", "data_hash", "get", "load", "names", "read_manifest", "register", "save",
]  # fmt: skip
