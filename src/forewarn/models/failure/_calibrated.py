"""Base of the failure predictors: class-weighted raw scorer + calibration fitted on training data only.

``fit`` does three things, all on the rows it is given:

1. splits them into ``calibration_folds`` stratified folds (seeded) and, for each fold, trains the raw
   scorer on the other folds and scores the held-out one, giving an out-of-fold margin for every row;
2. fits the calibration map (the isotonic-Platt blend by default, isotonic or Platt: :mod:`._calibration`)
   on those out-of-fold margins;
3. trains the final raw scorer on all rows.

Class weights make the rare failures count (the raw margins are then biased towards failure); calibration
maps the margins back to honest probabilities. When the rarer class has fewer rows than folds, no
calibration is fitted and the margin goes through the logistic function.

Subclasses implement ``_train(values, y, weights) -> model``, ``_margin(model, values)``,
``_keep(model)`` (store the final model as state attributes) and ``_restore()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from forewarn.base.estimator import FailurePredictor
from forewarn.base.params import SEED, Interval, Options
from forewarn.exceptions import SchemaError
from forewarn.models.failure._calibration import apply_calibration, fit_calibration
from forewarn.models.fault._labels import CLASS_WEIGHT, class_weights

#: the constraints every calibrated failure predictor adds to its own
CALIBRATED_CONSTRAINTS: dict[str, list[Any]] = {
    "class_weight": CLASS_WEIGHT,
    "calibration": [Options("isotonic", "sigmoid", "platt", "isotonic-platt"), None],
    "calibration_folds": [Interval(int, 2)],
    "seed": SEED,
}


def binary_targets(y: Any) -> np.ndarray:
    """``y`` as 0/1 int64 (accepts booleans and 0/1 numbers); anything else is a clear error."""
    values = np.asarray(y)
    if values.dtype == bool:
        return values.astype("int64")
    try:
        numeric = values.astype("float64")
    except (TypeError, ValueError):
        raise SchemaError(
            "failure targets must be 0/1 or booleans",
            column="y",
            hint="encode 'failed within the horizon' as 1, else 0",
        ) from None
    if not np.isin(numeric, (0.0, 1.0)).all():
        bad = float(numeric[~np.isin(numeric, (0.0, 1.0))][0])
        kind = (
            "a continuous target"
            if not np.isfinite(bad) or bad != round(bad)
            else "Only binary classification is supported"
        )
        raise SchemaError(
            f"failure targets must be 0 or 1, found {bad!r} ({kind})",
            column="y",
            hint="encode 'failed within the horizon' as 1, else 0",
        )
    target = numeric.astype("int64")
    if len(np.unique(target)) < 2:
        raise SchemaError(
            "failure targets hold one class only",
            column="y",
            hint="training needs both failed (1) and healthy (0) examples",
        )
    return target


class CalibratedFailurePredictor(FailurePredictor):
    """Shared fit/predict logic; see the module docstring."""

    class_weight: str | None
    calibration: str | None
    calibration_folds: int
    seed: int

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _margin(self, model: Any, values: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _keep(self, model: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def _fit(self, X: pd.DataFrame, y: Any) -> None:
        target = binary_targets(y)
        values = X.to_numpy(dtype="float64")
        weights = class_weights(target, self.class_weight)
        folds = min(int(self.calibration_folds), int(np.bincount(target).min()))
        if self.calibration is not None and folds >= 2:
            margin = np.empty(len(target))
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
            for train, held_out in splitter.split(values, target):
                model = self._train(values[train], target[train], weights[train])
                margin[held_out] = self._margin(model, values[held_out])
            self.calibration_a_, self.calibration_b_ = fit_calibration(margin, target, self.calibration)
        else:
            self.calibration_a_, self.calibration_b_ = np.empty(0), np.empty(0)
        self.model_ = self._train(values, target, weights)
        self._keep(self.model_)

    def margin(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The raw (uncalibrated) score; higher means likelier failure."""
        return self._margin(self.model_, self._validate_input(X).to_numpy(dtype="float64"))

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self._margin(self.model_, X.to_numpy(dtype="float64"))
        return apply_calibration(raw, self.calibration, self.calibration_a_, self.calibration_b_)

    def _calibration_state(self) -> tuple[str, ...]:
        return ("calibration_a_", "calibration_b_")
