"""The estimator protocol, the model registry, and safe save/load.

Names are imported on first use (PEP 562), so ``forewarn.base.registry.names()`` does not load pandas.

>>> from forewarn.base import RULRegressor, register, save, load
>>> RULRegressor.task
'rul'
"""

from forewarn._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(
        ("AnomalyDetector", "Estimator", "FailurePredictor", "FaultClassifier", "RULRegressor", "as_frame", "clone"),
        "estimator",
    ),
    **dict.fromkeys(("data_hash", "load", "read_manifest", "save"), "persistence"),
    **dict.fromkeys(("create", "get", "names", "register"), "registry"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
