"""Remaining useful life with scikit-learn's standard estimators.

Random forest, extra trees, histogram gradient boosting, k nearest neighbours and a multi-layer perceptron.
As for :class:`~forewarn.models.rul.lightgbm_rul.LightGBMRUL`, training targets are clipped at ``max_rul``
(``None``: no clipping). What each model learned is kept as named arrays and predicted with numpy
(:mod:`forewarn.models.sklearn_fit`): nothing is pickled and a reloaded model gives the same digits.
Missing values: gradient boosting learns where NaN goes; the others replace NaN with training medians.
The network learns ``target / max_rul`` (or ``target / its largest value`` without clipping).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"wear": rng.uniform(0, 1, 400), "noise": rng.normal(size=400)})
>>> model = ExtraTreesRUL(n_estimators=30, max_features=1.0, seed=0).fit(X, 200 * (1 - X["wear"]))
>>> young, old = model.predict(pd.DataFrame({"wear": [0.05, 0.9], "noise": [0.0, 0.0]}))
>>> bool(young > 110 and old < 40)
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forewarn.base.estimator import RULRegressor
from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError
from forewarn.models.sklearn_fit import (
    BOOSTING_CONSTRAINTS,
    FOREST_CONSTRAINTS,
    KNN_CONSTRAINTS,
    MLP_CONSTRAINTS,
    REGRESSION,
    BoostingPiece,
    ForestPiece,
    KNNPiece,
    MLPPiece,
    fit_boosting,
    fit_forest,
    fit_knn,
    fit_mlp,
)

#: ``max_rul``: the cap on training targets, or None for none
_MAX_RUL = {"max_rul": [Interval(float, 0, None, closed="right"), None]}


class _SklearnRUL(RULRegressor):
    """A piece (see :mod:`forewarn.models.sklearn_fit`) as a RUL regressor."""

    tags = {"unit": "cycles", "nan_allowed": True}
    _piece: ClassVar[Any]
    max_rul: float | None

    def _train(self, values: np.ndarray, target: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        target = np.asarray(y, dtype="float64")
        if not np.isfinite(target).all() or (target < 0).any():
            raise SchemaError("RUL targets must be finite and non-negative", column="y")
        if self.max_rul is not None:
            target = np.minimum(target, float(self.max_rul))
        self.model_ = self._train(X.to_numpy(dtype="float64"), target)
        for name, value in self.model_.state().items():
            setattr(self, name, value)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.output(X.to_numpy(dtype="float64"))

    def _state_names(self) -> tuple[str, ...]:
        return tuple(self._piece.STATE)

    def _restore(self) -> None:
        self.model_ = self._piece.from_state(self)


class _ForestRUL(_SklearnRUL):
    _piece = ForestPiece
    _extra: ClassVar[bool] = False

    def _train(self, values: np.ndarray, target: np.ndarray) -> ForestPiece:
        return fit_forest(
            self, type(self).__name__, values, target, np.ones(len(target)), kind=REGRESSION, extra=self._extra
        )


@register("random-forest-rul")
class RandomForestRUL(_ForestRUL):
    """Random forest: ``n_estimators`` trees, each on a bootstrap sample of ``max_samples`` of the rows."""

    parameter_constraints = FOREST_CONSTRAINTS | _MAX_RUL

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_depth: int | None = 12,
        min_samples_leaf: int = 20,
        max_features: str | float | None = "sqrt",
        max_samples: float | None = 0.5,
        max_rul: float | None = 125.0,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_samples = max_samples
        self.max_rul = max_rul
        self.n_jobs = n_jobs
        self.seed = seed


@register("extra-trees-rul")
class ExtraTreesRUL(_ForestRUL):
    """Extremely randomised trees: all rows, random cut points."""

    parameter_constraints = {k: v for k, v in FOREST_CONSTRAINTS.items() if k != "max_samples"} | _MAX_RUL

    _extra = True

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 10,
        max_features: str | float | None = "sqrt",
        max_rul: float | None = 125.0,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_rul = max_rul
        self.n_jobs = n_jobs
        self.seed = seed


@register("gradient-boosting-rul")
class GradientBoostingRUL(_SklearnRUL):
    """scikit-learn's histogram gradient boosting, squared error (``n_estimators`` rounds, its ``max_iter``);
    ``early_stopping="auto"`` holds out 10 % of the rows when there are more than 10,000."""

    _piece = BoostingPiece
    parameter_constraints = BOOSTING_CONSTRAINTS | _MAX_RUL

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
        max_rul: float | None = 125.0,
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
        self.max_rul = max_rul
        self.n_jobs = n_jobs
        self.seed = seed

    def _train(self, values: np.ndarray, target: np.ndarray) -> BoostingPiece:
        return fit_boosting(self, type(self).__name__, values, target, np.ones(len(target)), kind=REGRESSION)


@register("knn-rul")
class KNNRUL(_SklearnRUL):
    """Mean (clipped) RUL of the ``n_neighbors`` nearest standardised training rows (at most ``max_train_rows``
    of them, a seeded sample, so prediction stays fast)."""

    _piece = KNNPiece
    parameter_constraints = KNN_CONSTRAINTS | _MAX_RUL

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        weights: str = "uniform",
        max_train_rows: int = 20_000,
        max_rul: float | None = 125.0,
        seed: int = 0,
    ):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.max_train_rows = max_train_rows
        self.max_rul = max_rul
        self.seed = seed

    def _train(self, values: np.ndarray, target: np.ndarray) -> KNNPiece:
        return fit_knn(self, type(self).__name__, values, target, np.ones(len(target)))


@register("mlp-rul")
class MLPRUL(_SklearnRUL):
    """A ReLU multi-layer perceptron (Adam, L2 ``alpha``, early stopping on 10 % of the rows) on standardised
    inputs, learning the scaled RUL."""

    _piece = MLPPiece
    parameter_constraints = MLP_CONSTRAINTS | _MAX_RUL

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (64, 32),
        alpha: float = 1e-3,
        learning_rate_init: float = 1e-3,
        batch_size: int = 256,
        max_iter: int = 40,
        early_stopping: bool = True,
        max_rul: float | None = 125.0,
        seed: int = 0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.max_rul = max_rul
        self.seed = seed

    def _train(self, values: np.ndarray, target: np.ndarray) -> MLPPiece:
        scale = float(self.max_rul) if self.max_rul is not None else max(float(target.max()), 1.0)
        return fit_mlp(
            self, type(self).__name__, values, target, np.ones(len(target)), kind=REGRESSION, target_scale=scale
        )
