"""Servable models: a saved estimator plus the recipe that feeds it (``serving.json``), and the registry of their
versions. Written by ``forewarn train`` and the demos, read by ``score``, ``backtest``, the service and the stream.

It sits below the use cases (``train/``, ``backtest/``) and the faces (``serve/``, ``cli/``) that all need it.
"""

from forewarn.bundles.bundle import Bundle, ServingSpec, make_bundle
from forewarn.bundles.registry import ModelRegistry

__all__ = ["Bundle", "ModelRegistry", "ServingSpec", "make_bundle"]
