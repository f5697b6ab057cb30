"""Failure predictors: ``predict_proba(X)``, the calibrated probability of failure within the labels' horizon."""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:
    from forewarn.models.failure.lightgbm_failure import LightGBMFailure
    from forewarn.models.failure.logistic_failure import LogisticFailure

__all__ = ["LightGBMFailure", "LogisticFailure"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {  # a submodule is imported when a name of it is asked for
        "LightGBMFailure": "lightgbm_failure",
        "LogisticFailure": "logistic_failure",
    },
)
