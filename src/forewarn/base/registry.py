"""Models by name: the CLI, the API, benchmarks and federation find estimators here.

>>> from forewarn.base.registry import get, names
>>> "isolation-forest" in names(task="anomaly")
True
>>> get("isolation-forest").__name__
'IsolationForestDetector'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from forewarn.exceptions import RegistryError

E = TypeVar("E", bound=type)

_REGISTRY: dict[str, type] = {}
#: modules that register the built-in models when imported
_BUILTIN_MODULES = (
    "forewarn.models.anomaly.isolation_forest",
    "forewarn.models.anomaly.pca",
    "forewarn.models.rul.lightgbm_rul",
    "forewarn.models.failure.lightgbm_failure",
    "forewarn.models.failure.logistic_failure",
    "forewarn.models.fault.lightgbm_fault",
    "forewarn.models.fault.spectral_gbm",
    "forewarn.models.deep.cnn_fault",
    "forewarn.models.anomaly.knn",
    "forewarn.models.anomaly.mset",
    "forewarn.models.anomaly.var_residual",
    "forewarn.models.deep.autoencoder",
    "forewarn.models.rul.ensemble",
    "forewarn.models.deep.rul_cnn",
    "forewarn.models.deep.conv_autoencoder",
    "forewarn.models.failure.sklearn_models",
    "forewarn.models.rul.sklearn_models",
    "forewarn.models.deep.lstm_attention",
)
_loaded = False


def register(name: str) -> Callable[[E], E]:
    """Class decorator: make an estimator findable as ``name``."""

    def decorate(cls: E) -> E:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise RegistryError(f"model name {name!r} is already taken by {existing.__qualname__}")
        cls.registry_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def get(name: str) -> type:
    """The estimator class registered as ``name``."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RegistryError(f"no model named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def names(task: str | None = None) -> list[str]:
    """Registered names, optionally only those of one task (anomaly, failure, rul, fault)."""
    _load_builtins()
    return sorted(n for n, cls in _REGISTRY.items() if task is None or getattr(cls, "task", None) == task)


def create(name: str, **params: object):  # type: ignore[no-untyped-def]
    """A new estimator of the model registered as ``name``."""
    return get(name)(**params)
