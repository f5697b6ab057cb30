"""Forewarn: predictive maintenance that says which machine will fail, why, and how soon.

>>> import forewarn
>>> forewarn.__version__.count(".") >= 2
True
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("forewarn")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
