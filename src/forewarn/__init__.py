"""Forewarn: predictive maintenance that says which machine will fail, why, and how soon.

The use cases a plant runs on its own data are here too, imported on first use (``import forewarn`` stays light):
``forewarn.train(store, models, ...)``, ``forewarn.backtest(store, ...)``, ``forewarn.score(store, models)``.

>>> import forewarn
>>> forewarn.__version__.count(".") >= 2
True
>>> callable(forewarn.score)
True
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("forewarn")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "backtest", "score", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "backtest"):
        import importlib

        return importlib.import_module(f"forewarn.{name}")  # a callable module: forewarn.train(...)
    if name == "score":
        from forewarn.train.score import score

        return score
    raise AttributeError(f"module 'forewarn' has no attribute {name!r}")
