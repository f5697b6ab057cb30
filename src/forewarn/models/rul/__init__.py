"""Remaining-useful-life regressors: ``predict(X)``, never negative, unit declared by the ``unit`` tag."""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:
    from forewarn.models.rul.ensemble import EnsembleRUL
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL

__all__ = ["EnsembleRUL", "LightGBMRUL"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {  # a submodule is imported when a name of it is asked for
        "EnsembleRUL": "ensemble",
        "LightGBMRUL": "lightgbm_rul",
    },
)
