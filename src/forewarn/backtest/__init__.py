"""Backtests of a plant's own history: ``forewarn.backtest(store, by="site", task="failure", horizon="7d")``.

The package is callable (``forewarn.backtest(...)`` is :func:`~forewarn.backtest.runner.backtest`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from forewarn.backtest.runner import backtest

__all__ = ["backtest"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return backtest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
