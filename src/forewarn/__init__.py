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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # ~30 ms of imports: only when asked

    try:
        return version("forewarn")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()["__version__"] = found = _version()
        return found
    if name in ("train", "backtest"):
        import importlib

        return importlib.import_module(f"forewarn.{name}")  # a callable module: forewarn.train(...)
    if name == "score":
        from forewarn.train.score import score

        return score
    raise AttributeError(f"module 'forewarn' has no attribute {name!r}")
