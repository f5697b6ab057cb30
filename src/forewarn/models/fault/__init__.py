"""Fault (failure type) classifiers: ``predict_proba(X)`` with one column per entry of ``classes_``."""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:
    from forewarn.models.fault.lightgbm_fault import LightGBMFault
    from forewarn.models.fault.spectral_gbm import SpectralGBM

__all__ = ["LightGBMFault", "SpectralGBM"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {  # a submodule is imported when a name of it is asked for
        "LightGBMFault": "lightgbm_fault",
        "SpectralGBM": "spectral_gbm",
    },
)
