"""Failure within a horizon with scikit-learn's standard estimators, class-weighted and calibrated.

Random forest, extra trees, histogram gradient boosting, k nearest neighbours and a multi-layer perceptron,
each trained as every failure predictor is (:mod:`forewarn.models.failure._calibrated`: class weights,
out-of-fold margins, isotonic-Platt (default), isotonic or Platt calibration, then one model on all rows). What each learned is kept
as named arrays and predicted with numpy (:mod:`forewarn.models.sklearn_fit`), so nothing is pickled and a
reloaded model gives the same digits. The margin is the log-odds of the forest's class-1 share, of the
neighbours' weighted failure share (with half a pseudo-row each way), or the raw logit of the boosting
model and of the network.

Missing values: the gradient-boosting model learns where NaN goes; the others replace NaN with the training
medians (so all five accept NaN).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"wear": rng.uniform(0, 1, 600), "noise": rng.normal(size=600)})
>>> y = (X["wear"] + rng.normal(0, 0.1, 600) > 0.8).astype(int)
>>> model = ExtraTreesFailure(n_estimators=30, seed=0).fit(X, y)
>>> low, high = model.predict_proba(pd.DataFrame({"wear": [0.2, 0.97], "noise": [0.0, 0.0]}))
>>> bool(low < 0.1 and high > 0.7)
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from forewarn.base.registry import register
from forewarn.models.failure._calibrated import CALIBRATED_CONSTRAINTS, CalibratedFailurePredictor
from forewarn.models.sklearn_fit import (
    BOOSTING_CONSTRAINTS,
    CLASSIFICATION,
    FOREST_CONSTRAINTS,
    KNN_CONSTRAINTS,
    MLP_CONSTRAINTS,
    BoostingPiece,
    ForestPiece,
    KNNPiece,
    MLPPiece,
    fit_boosting,
    fit_forest,
    fit_knn,
    fit_mlp,
)
from forewarn.models.sklearn_state import logit


class _SklearnFailure(CalibratedFailurePredictor):
    """A piece (see :mod:`forewarn.models.sklearn_fit`) as the raw scorer of a calibrated failure predictor."""

    tags = {"nan_allowed": True}
    _piece: ClassVar[Any]

    def _margin(self, model: Any, values: np.ndarray) -> np.ndarray:
        return model.output(values)

    def _keep(self, model: Any) -> None:
        for name, value in model.state().items():
            setattr(self, name, value)

    def _state_names(self) -> tuple[str, ...]:
        return (*self._piece.STATE, *self._calibration_state())

    def _restore(self) -> None:
        self.model_ = self._piece.from_state(self)


class _ForestFailure(_SklearnFailure):
    _piece = ForestPiece
    _extra: ClassVar[bool] = False

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> ForestPiece:
        return fit_forest(self, type(self).__name__, values, y, weights, kind=CLASSIFICATION, extra=self._extra)

    def _margin(self, model: Any, values: np.ndarray) -> np.ndarray:
        return logit(model.output(values))


@register("random-forest-failure")
class RandomForestFailure(_ForestFailure):
    """Random forest: ``n_estimators`` trees, each on a bootstrap sample of ``max_samples`` of the rows."""

    parameter_constraints = FOREST_CONSTRAINTS | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_depth: int | None = 12,
        min_samples_leaf: int = 20,
        max_features: str | float | None = "sqrt",
        max_samples: float | None = 0.5,
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_samples = max_samples
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.seed = seed


@register("extra-trees-failure")
class ExtraTreesFailure(_ForestFailure):
    """Extremely randomised trees: all rows, random cut points (fast, smooth scores)."""

    parameter_constraints = {k: v for k, v in FOREST_CONSTRAINTS.items() if k != "max_samples"} | CALIBRATED_CONSTRAINTS

    _extra = True

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 10,
        max_features: str | float | None = "sqrt",
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.seed = seed


@register("gradient-boosting-failure")
class GradientBoostingFailure(_SklearnFailure):
    """scikit-learn's histogram gradient boosting (``n_estimators`` boosting rounds, its ``max_iter``);
    ``early_stopping="auto"`` holds out 10 % of the rows when there are more than 10,000."""

    _piece = BoostingPiece
    parameter_constraints = BOOSTING_CONSTRAINTS | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        early_stopping: str | bool = "auto",
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.seed = seed

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> BoostingPiece:
        return fit_boosting(self, type(self).__name__, values, y, weights, kind=CLASSIFICATION)


@register("knn-failure")
class KNNFailure(_SklearnFailure):
    """Class-weighted vote of the ``n_neighbors`` nearest standardised training rows (at most
    ``max_train_rows`` of them, a seeded sample, so scoring stays fast)."""

    _piece = KNNPiece
    parameter_constraints = KNN_CONSTRAINTS | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        n_neighbors: int = 25,
        weights: str = "uniform",
        max_train_rows: int = 20_000,
        class_weight: str | None = "balanced",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        seed: int = 0,
    ):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.max_train_rows = max_train_rows
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.seed = seed

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> KNNPiece:
        return fit_knn(self, type(self).__name__, values, y, weights)

    def _margin(self, model: Any, values: np.ndarray) -> np.ndarray:
        failed, total = model.neighbour_sums(values)
        mean_weight = total / model.k  # half a pseudo-row each way keeps the log-odds finite
        return np.log((failed + 0.5 * mean_weight) / (total - failed + 0.5 * mean_weight))


@register("mlp-failure")
class MLPFailure(_SklearnFailure):
    """A ReLU multi-layer perceptron (Adam, L2 ``alpha``, early stopping on 10 % of the rows) on
    standardised inputs; class weights need scikit-learn >= 1.7 (older versions train unweighted)."""

    _piece = MLPPiece
    parameter_constraints = MLP_CONSTRAINTS | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (64, 32),
        alpha: float = 1e-3,
        learning_rate_init: float = 1e-3,
        batch_size: int = 256,
        max_iter: int = 40,
        early_stopping: bool = True,
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        seed: int = 0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.seed = seed

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> MLPPiece:
        return fit_mlp(self, type(self).__name__, values, y, weights, kind=CLASSIFICATION)
