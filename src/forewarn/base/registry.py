"""Models by name: the CLI, the API, benchmarks and federation find estimators here.

The built-in models are a table of ``"module:Class"`` entries with their task, so listing them
(:func:`names`) imports nothing and asking for one (:func:`get`) imports only its module: ``get("pca-t2q")``
does not load torch or LightGBM. A plugin (or a model defined in a notebook) registers its class with the
:func:`register` decorator, which the built-in classes carry too (it sets ``registry_name``).

>>> from forewarn.base.registry import get, names
>>> "isolation-forest" in names(task="anomaly")
True
>>> get("isolation-forest").__name__
'IsolationForestDetector'
>>> BUILTINS["isolation-forest"]
('forewarn.models.anomaly.isolation_forest:IsolationForestDetector', 'anomaly')
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TypeVar

from forewarn.exceptions import RegistryError

E = TypeVar("E", bound=type)

#: the built-in models: name -> ("module:Class", task); a test checks each class's ``registry_name`` and ``task``
BUILTINS: dict[str, tuple[str, str]] = {
    # anomaly detectors
    "isolation-forest": ("forewarn.models.anomaly.isolation_forest:IsolationForestDetector", "anomaly"),
    "pca-t2q": ("forewarn.models.anomaly.pca:PCADetector", "anomaly"),
    "knn": ("forewarn.models.anomaly.knn:KNNDetector", "anomaly"),
    "mset": ("forewarn.models.anomaly.mset:MSETDetector", "anomaly"),
    "var-residual": ("forewarn.models.anomaly.var_residual:VARResidualDetector", "anomaly"),
    "ensemble": ("forewarn.models.anomaly.ensemble:EnsembleDetector", "anomaly"),
    "autoencoder": ("forewarn.models.deep.autoencoder:AutoencoderDetector", "anomaly"),
    "conv-ae": ("forewarn.models.deep.conv_autoencoder:ConvAutoencoderDetector", "anomaly"),
    # failure predictors
    "lightgbm-failure": ("forewarn.models.failure.lightgbm_failure:LightGBMFailure", "failure"),
    "logistic-failure": ("forewarn.models.failure.logistic_failure:LogisticFailure", "failure"),
    "random-forest-failure": ("forewarn.models.failure.sklearn_models:RandomForestFailure", "failure"),
    "extra-trees-failure": ("forewarn.models.failure.sklearn_models:ExtraTreesFailure", "failure"),
    "gradient-boosting-failure": ("forewarn.models.failure.sklearn_models:GradientBoostingFailure", "failure"),
    "knn-failure": ("forewarn.models.failure.sklearn_models:KNNFailure", "failure"),
    "mlp-failure": ("forewarn.models.failure.sklearn_models:MLPFailure", "failure"),
    "lstm-attention-failure": ("forewarn.models.deep.lstm_attention:LSTMAttentionFailure", "failure"),
    # remaining-useful-life regressors
    "lightgbm-rul": ("forewarn.models.rul.lightgbm_rul:LightGBMRUL", "rul"),
    "ensemble-rul": ("forewarn.models.rul.ensemble:EnsembleRUL", "rul"),
    "random-forest-rul": ("forewarn.models.rul.sklearn_models:RandomForestRUL", "rul"),
    "extra-trees-rul": ("forewarn.models.rul.sklearn_models:ExtraTreesRUL", "rul"),
    "gradient-boosting-rul": ("forewarn.models.rul.sklearn_models:GradientBoostingRUL", "rul"),
    "knn-rul": ("forewarn.models.rul.sklearn_models:KNNRUL", "rul"),
    "mlp-rul": ("forewarn.models.rul.sklearn_models:MLPRUL", "rul"),
    "cnn-rul": ("forewarn.models.deep.rul_cnn:CNNRUL", "rul"),
    "lstm-attention-rul": ("forewarn.models.deep.lstm_attention:LSTMAttentionRUL", "rul"),
    # fault classifiers
    "lightgbm-fault": ("forewarn.models.fault.lightgbm_fault:LightGBMFault", "fault"),
    "spectral-gbm": ("forewarn.models.fault.spectral_gbm:SpectralGBM", "fault"),
    "cnn-fault": ("forewarn.models.deep.cnn_fault:CNNFault", "fault"),
}

#: classes by name: built-ins once imported, and every class a plugin registered
_REGISTRY: dict[str, type] = {}
_lock = threading.Lock()


def _path_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register(name: str) -> Callable[[E], E]:
    """Class decorator: make an estimator findable as ``name``.

    A name is taken once: registering another class under a built-in's name, or under a name a different
    class holds, raises :class:`~forewarn.exceptions.RegistryError` (the same class registered again, as when
    its module is reloaded, replaces itself).
    """

    def decorate(cls: E) -> E:
        builtin = BUILTINS.get(name)
        if builtin is not None and builtin[0] != _path_of(cls):
            raise RegistryError(
                f"model name {name!r} is already taken by the built-in {builtin[0]}; register under another name"
            )
        with _lock:
            existing = _REGISTRY.get(name)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise RegistryError(f"model name {name!r} is already taken by {existing.__qualname__}")
            cls.registry_name = name  # type: ignore[attr-defined]
            _REGISTRY[name] = cls
        return cls

    return decorate


def get(name: str) -> type:
    """The estimator class registered as ``name`` (a built-in's module is imported on the first call)."""
    found = _REGISTRY.get(name)
    if found is not None:
        return found
    if name not in BUILTINS:
        raise RegistryError(f"no model named {name!r}; known: {', '.join(names())}")
    module, _, attribute = BUILTINS[name][0].partition(":")
    cls: type = getattr(importlib.import_module(module), attribute)  # importing it runs its @register
    if _REGISTRY.get(name) is not cls:
        raise RegistryError(
            f"{BUILTINS[name][0]} is not registered as {name!r}: the table in "
            f"forewarn.base.registry and the class's @register disagree"
        )
    return cls


def names(task: str | None = None) -> list[str]:
    """Registered names, optionally only those of one task (anomaly, failure, rul, fault); imports no model."""
    tasks = {name: entry[1] for name, entry in BUILTINS.items()}
    tasks.update((name, getattr(cls, "task", "")) for name, cls in list(_REGISTRY.items()) if name not in BUILTINS)
    return sorted(name for name, of in tasks.items() if task is None or of == task)


def create(name: str, **params: object):  # type: ignore[no-untyped-def]
    """A new estimator of the model registered as ``name``."""
    return get(name)(**params)
