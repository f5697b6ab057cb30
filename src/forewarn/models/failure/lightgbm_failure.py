"""Failure within a horizon: class-weighted LightGBM with calibrated probabilities.

The targets say whether each row's machine failed within the horizon the labels were built with (e.g. 24 h
or "this process step"); ``predict_proba`` is the calibrated probability of that. Training is described in
:mod:`forewarn.models.failure._calibrated`: out-of-fold margins of the training rows fit the calibration
(the isotonic-Platt blend by default), then one booster is trained on all rows. State: the booster as LightGBM text and the
calibration knots. Failures are up-weighted by the square root of the balancing factor by default and the
histograms are fine (``max_bin=1023``); the reasons are given in :mod:`forewarn.models.fault.lightgbm_fault`.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"wear": rng.uniform(0, 1, 3000), "noise": rng.normal(size=3000)})
>>> y = (rng.uniform(size=3000) < 0.02 + 0.6 * (X["wear"] > 0.9)).astype(int)  # rare failures
>>> model = LightGBMFailure(n_estimators=80, seed=0).fit(X, y)
>>> low, high = model.predict_proba(pd.DataFrame({"wear": [0.2, 0.97], "noise": [0.0, 0.0]}))
>>> bool(low < 0.1 and 0.4 < high < 0.85)
True
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from forewarn.base.registry import register
from forewarn.models.boosting import LIGHTGBM_CONSTRAINTS, lightgbm_dataset, lightgbm_params
from forewarn.models.failure._calibrated import CALIBRATED_CONSTRAINTS, CalibratedFailurePredictor


@register("lightgbm-failure")
class LightGBMFailure(CalibratedFailurePredictor):
    """Binary LightGBM. ``class_weight``: ``"balanced"``, ``"sqrt"`` or ``None``; ``calibration``:
    ``"isotonic-platt"`` (default), ``"isotonic"``, ``"sigmoid"`` or ``None``; ``calibration_folds``: internal folds for the calibration fit."""

    tags = {"nan_allowed": True}
    parameter_constraints = LIGHTGBM_CONSTRAINTS | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 1023,
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.seed = seed

    def _lgb_params(self) -> dict[str, Any]:
        return lightgbm_params(self, objective="binary")

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> lgb.Booster:
        data = lightgbm_dataset(values, self.feature_names_in_, y, weights)
        return lgb.train(self._lgb_params(), data, num_boost_round=self.n_estimators)

    def _margin(self, model: lgb.Booster, values: np.ndarray) -> np.ndarray:
        return model.predict(values, raw_score=True, num_threads=self.n_jobs)

    def _keep(self, model: lgb.Booster) -> None:
        self.model_text_ = model.model_to_string()

    def _state_names(self) -> tuple[str, ...]:
        return ("model_text_", *self._calibration_state())

    def _restore(self) -> None:
        self.model_ = lgb.Booster(model_str=self.model_text_)
