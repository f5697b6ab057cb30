"""Forewarn: predictive maintenance that says which machine will fail, why, and how soon.

The use cases a plant runs on its own data are here too, imported on first use (``import forewarn`` stays light):
``forewarn.train(store, models, ...)``, ``forewarn.backtest(store, ...)``, ``forewarn.score(store, models)``.
``import forewarn`` imports none of numpy, pandas, LightGBM, torch or FastAPI (a test checks it), and even
``__version__`` is read from the installed metadata when first asked for.

>>> import forewarn
>>> forewarn.__version__.count(".") >= 2
True
>>> callable(forewarn.score)
True
"""

from typing import Any

__all__ = ["__version__", "backtest", "score", "train"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from forewarn._version import installed_version

        globals()["__version__"] = found = installed_version()
        return found
    if name in ("train", "backtest"):
        import importlib

        return importlib.import_module(f"forewarn.{name}")  # a callable module: forewarn.train(...)
    if name == "score":
        from forewarn.train.score import score

        return score
    raise AttributeError(f"module 'forewarn' has no attribute {name!r}")
