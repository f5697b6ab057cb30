"""Failure within a horizon: class-weighted logistic regression (a transparent baseline), calibrated.

Features are standardised with the training mean and spread; an L2-penalised logistic regression
(``C``) with class weights gives the raw margin ``w . z + b``; calibration as for every failure predictor
(:mod:`forewarn.models.failure._calibrated`). ``coefficients()`` shows each feature's weight on the
standardised scale. State: mean, scale, weights, intercept and the calibration knots.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"temp": rng.normal(70, 5, 2000), "load": rng.normal(size=2000)})
>>> y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(X["temp"] - 80)))).astype(int)
>>> model = LogisticFailure().fit(X, y)
>>> cool, hot = model.predict_proba(pd.DataFrame({"temp": [65.0, 85.0], "load": [0.0, 0.0]}))
>>> bool(cool < 0.05 and hot > 0.8), model.coefficients().index[0]
(True, 'temp')
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from forewarn.base.registry import register
from forewarn.models.failure._calibrated import CalibratedFailurePredictor

_Linear = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@register("logistic-failure")
class LogisticFailure(CalibratedFailurePredictor):
    """Standardise -> class-weighted logistic regression -> calibration. ``C``: inverse L2 strength."""

    def __init__(self, *, C: float = 1.0, class_weight: str | None = "balanced",  # noqa: N803 - the usual name
                 calibration: str | None = "isotonic", calibration_folds: int = 3, max_iter: int = 2000,
                 seed: int = 0):
        self.C = C
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.seed = seed

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> _Linear:
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        with warnings.catch_warnings():
            # lbfgs stopping at max_iter still gives a usable (slightly under-fitted) model; calibration follows
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = LogisticRegression(C=self.C, max_iter=self.max_iter).fit((values - mean) / scale, y,
                                                                              sample_weight=weights)
        return mean, scale, fitted.coef_[0].copy(), fitted.intercept_.copy()

    def _margin(self, model: _Linear, values: np.ndarray) -> np.ndarray:
        mean, scale, coef, intercept = model
        return ((values - mean) / scale) @ coef + intercept[0]

    def _keep(self, model: _Linear) -> None:
        self.mean_, self.scale_, self.coef_, self.intercept_ = model

    def coefficients(self) -> pd.Series:
        """Weight per feature on the standardised scale, largest magnitude first."""
        self._check_fitted()
        weights = pd.Series(self.coef_, index=list(self.feature_names_in_))
        return weights.reindex(weights.abs().sort_values(ascending=False).index)

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "coef_", "intercept_", *self._calibration_state())

    def _restore(self) -> None:
        self.model_ = (self.mean_, self.scale_, self.coef_, self.intercept_)
