"""The installed version of Forewarn, read from the package metadata (at the bottom of the layers: the top package
and saved models' manifests both ask for it).

>>> installed_version().count(".") >= 2
True
"""

from __future__ import annotations


def installed_version() -> str:
    """``forewarn``'s version as installed, or ``0.0.0+unknown`` in a source tree that was never installed."""
    from importlib.metadata import PackageNotFoundError, version  # ~30 ms of imports: only when asked

    try:
        return version("forewarn")
    except PackageNotFoundError:
        return "0.0.0+unknown"
