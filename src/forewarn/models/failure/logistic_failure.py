"""Failure within a horizon: class-weighted logistic regression (a transparent baseline), calibrated.

Missing values are replaced by the training medians, then features are standardised with the training mean and
spread (:class:`~forewarn.models.sklearn_state.Standardiser`, shared with the scikit-learn zoo); an L2-penalised logistic regression
(``C``) with class weights gives the raw margin ``w . z + b``; calibration as for every failure predictor
(:mod:`forewarn.models.failure._calibrated`). ``coefficients()`` shows each feature's weight on the
standardised scale. State: medians, mean, scale, weights, intercept and the calibration knots.

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

from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.models.failure._calibrated import CALIBRATED_CONSTRAINTS, CalibratedFailurePredictor
from forewarn.models.sklearn_state import Standardiser

_Linear = tuple[Standardiser, np.ndarray, np.ndarray]


@register("logistic-failure")
class LogisticFailure(CalibratedFailurePredictor):
    """Impute and standardise -> class-weighted logistic regression -> calibration. ``C``: inverse L2 strength."""

    tags = {"nan_allowed": True}
    parameter_constraints = {
        "C": [Interval(float, 0, None, closed="right")],
        "max_iter": [Interval(int, 1)],
        **CALIBRATED_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        C: float = 1.0,
        class_weight: str | None = "balanced",  # noqa: N803 - the usual name
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        max_iter: int = 2000,
        seed: int = 0,
    ):
        self.C = C
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.seed = seed

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> _Linear:
        scaler = Standardiser.fit(values)
        with warnings.catch_warnings():
            # lbfgs stopping at max_iter still gives a usable (slightly under-fitted) model; calibration follows
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
                scaler.transform(values), y, sample_weight=weights
            )
        return scaler, fitted.coef_[0].copy(), fitted.intercept_.copy()

    def _margin(self, model: _Linear, values: np.ndarray) -> np.ndarray:
        scaler, coef, intercept = model
        return scaler.transform(values) @ coef + intercept[0]

    def _keep(self, model: _Linear) -> None:
        scaler, self.coef_, self.intercept_ = model
        self.median_, self.mean_, self.scale_ = scaler.median, scaler.mean, scaler.scale

    def coefficients(self) -> pd.Series:
        """Weight per feature on the standardised scale, largest magnitude first."""
        self._check_fitted()
        weights = pd.Series(self.coef_, index=list(self.feature_names_in_))
        return weights.reindex(weights.abs().sort_values(ascending=False).index)

    def _state_names(self) -> tuple[str, ...]:
        return ("median_", "mean_", "scale_", "coef_", "intercept_", *self._calibration_state())

    def _restore(self) -> None:
        self.model_ = (Standardiser(self.median_, self.mean_, self.scale_), self.coef_, self.intercept_)
