"""Training on a plant's own data: ``forewarn.train(store, models, task=..., horizon=...)``.

The package is callable (``forewarn.train(...)`` is :func:`~forewarn.train.pipeline.train`), so the Python API
reads like the command line.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from forewarn.train.pipeline import TrainResult, train
from forewarn.train.spec import TrainSpec

__all__ = ["TrainResult", "TrainSpec", "train"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> TrainResult:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
