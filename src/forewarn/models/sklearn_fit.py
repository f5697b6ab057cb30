"""Fitting scikit-learn's standard estimators and keeping what they learned as named arrays.

One *piece* per family, shared by the failure and RUL zoos (:mod:`forewarn.models.failure.sklearn_models`,
:mod:`forewarn.models.rul.sklearn_models`). A piece is fitted from a model's hyper-parameters
(``fit_*``), answers ``output(values)`` with numpy code only, gives its ``state()`` and is rebuilt from the
model's attributes (``from_state``); a fresh fit answers through the same code as a reloaded model.

========================  =================================================================================
piece                     ``output(values)``
========================  =================================================================================
:class:`ForestPiece`      mean over trees of the leaf value (class-1 share or mean target); missing values
                          are replaced by training medians first (forests in older scikit-learn reject NaN)
:class:`BoostingPiece`    baseline + sum of the leaf values of histogram gradient boosting (raw log-odds
                          or the regression); NaN goes where each split learned to send it
:class:`KNNPiece`         weighted mean target of the ``n_neighbors`` nearest training rows (standardised,
                          medians for missing values), out of at most ``max_train_rows`` seeded rows
:class:`MLPPiece`         a ReLU network's last output (logit or target / ``target_scale``) on standardised
                          inputs (medians for missing values)
========================  =================================================================================

>>> class Params:
...     n_neighbors, weights, max_train_rows, seed = 3, "uniform", 100, 0
>>> X = np.arange(10.0)[:, None]
>>> piece = fit_knn(Params(), "KNN", X, X[:, 0], np.ones(10))
>>> piece.output(np.array([[4.2]])).tolist()
[4.0]
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import ThreadpoolController

from forewarn.base.params import N_JOBS, SEED, Boolean, Interval, Options, SequenceOf
from forewarn.models.sklearn_state import (
    Standardiser,
    TreeArrays,
    boosting_baseline,
    check_choice,
    check_float,
    check_int,
    check_layers,
    impute,
    mlp_forward,
    mlp_layers,
    sample_rows,
)

CLASSIFICATION, REGRESSION = "classification", "regression"

#: declared constraints of each family's hyper-parameters (the models take the ones they have)
FOREST_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(int, 1)],
    "max_depth": [Interval(int, 1), None],
    "min_samples_leaf": [Interval(int, 1)],
    "max_features": [Options("sqrt", "log2"), Interval(float, 0, 1, closed="right"), None],
    "max_samples": [Interval(float, 0, 1, closed="right"), None],
    "n_jobs": N_JOBS,
    "seed": SEED,
}
BOOSTING_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(int, 1)],
    "learning_rate": [Interval(float, 0, None, closed="right")],
    "max_leaf_nodes": [Interval(int, 2)],
    "max_depth": [Interval(int, 1), None],
    "min_samples_leaf": [Interval(int, 1)],
    "l2_regularization": [Interval(float, 0)],
    "early_stopping": [Options("auto"), Boolean()],
    "n_jobs": N_JOBS,
    "seed": SEED,
}
KNN_CONSTRAINTS: dict[str, list[Any]] = {
    "n_neighbors": [Interval(int, 1)],
    "weights": [Options("uniform", "distance")],
    "max_train_rows": [Interval(int, 1)],
    "seed": SEED,
}
MLP_CONSTRAINTS: dict[str, list[Any]] = {
    "hidden_layer_sizes": [SequenceOf(Interval(int, 1)), Interval(int, 1)],
    "alpha": [Interval(float, 0)],
    "learning_rate_init": [Interval(float, 0, None, closed="right")],
    "batch_size": [Interval(int, 1)],
    "max_iter": [Interval(int, 1)],
    "early_stopping": [Boolean()],
    "seed": SEED,
}
_controller: ThreadpoolController | None = None


def _threads(limit: int, api: str | None) -> Any:
    """A context limiting the threads of ``api`` ("blas", "openmp" or None: both); the controller is built once
    (that is slow)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=None if limit == -1 else limit, user_api=api)


def _n_jobs(owner: str, value: Any) -> None:
    check_int(owner, "n_jobs", value, low=-1)
    if value == 0:
        check_int(owner, "n_jobs", value, low=1)  # raises with the usual wording


# -- forests ----------------------------------------------------------------------------------------------------
class ForestPiece:
    STATE = ("median_", *TreeArrays.STATE)

    def __init__(self, median: np.ndarray, trees: TreeArrays):
        self.median, self.trees = median, trees

    def output(self, values: np.ndarray) -> np.ndarray:
        return self.trees.leaf_values(impute(values, self.median)).mean(axis=1)

    def state(self) -> dict[str, np.ndarray]:
        return {"median_": self.median, **self.trees.state()}

    @classmethod
    def from_state(cls, owner: Any) -> ForestPiece:
        return cls(np.asarray(owner.median_, dtype="float64"), TreeArrays.from_state(owner, float32=True))


def fit_forest(
    model: Any, owner: str, values: np.ndarray, y: np.ndarray, weights: np.ndarray, *, kind: str, extra: bool
) -> ForestPiece:
    """Random forest (bootstrap rows, ``max_samples`` of them) or extra trees (all rows, random cut points)."""
    check_int(owner, "n_estimators", model.n_estimators, low=1)
    check_int(owner, "max_depth", model.max_depth, low=1, none_ok=True)
    check_int(owner, "min_samples_leaf", model.min_samples_leaf, low=1)
    if not (isinstance(model.max_features, str) or model.max_features is None):
        check_float(owner, "max_features", model.max_features, low=0.0, high=1.0, low_open=True)
    else:
        check_choice(owner, "max_features", model.max_features, ("sqrt", "log2", None))
    _n_jobs(owner, model.n_jobs)
    params: dict[str, Any] = {
        "n_estimators": model.n_estimators,
        "max_depth": model.max_depth,
        "min_samples_leaf": model.min_samples_leaf,
        "max_features": model.max_features,
        "n_jobs": model.n_jobs,
        "random_state": model.seed,
    }
    if not extra:
        check_float(owner, "max_samples", model.max_samples, low=0.0, high=1.0, low_open=True, none_ok=True)
        params["max_samples"] = model.max_samples
    estimator = {
        (False, CLASSIFICATION): RandomForestClassifier,
        (False, REGRESSION): RandomForestRegressor,
        (True, CLASSIFICATION): ExtraTreesClassifier,
        (True, REGRESSION): ExtraTreesRegressor,
    }[extra, kind]
    median = Standardiser.fit(values).median
    fitted = estimator(**params).fit(impute(values, median), y, sample_weight=weights)
    return ForestPiece(median, TreeArrays.from_forest(fitted, kind))


# -- histogram gradient boosting -------------------------------------------------------------------------------
class BoostingPiece:
    STATE = (*TreeArrays.STATE, "baseline_")

    def __init__(self, trees: TreeArrays, baseline: float):
        self.trees, self.baseline = trees, baseline

    def output(self, values: np.ndarray) -> np.ndarray:
        return self.baseline + self.trees.leaf_values(values).sum(axis=1)

    def state(self) -> dict[str, np.ndarray]:
        return {**self.trees.state(), "baseline_": np.asarray([self.baseline])}

    @classmethod
    def from_state(cls, owner: Any) -> BoostingPiece:
        return cls(TreeArrays.from_state(owner, float32=False), float(np.asarray(owner.baseline_).ravel()[0]))


def fit_boosting(
    model: Any, owner: str, values: np.ndarray, y: np.ndarray, weights: np.ndarray, *, kind: str
) -> BoostingPiece:
    """scikit-learn's histogram gradient boosting (``n_estimators`` is its ``max_iter``)."""
    check_int(owner, "n_estimators", model.n_estimators, low=1)
    check_float(owner, "learning_rate", model.learning_rate, low=0.0, low_open=True)
    check_int(owner, "max_leaf_nodes", model.max_leaf_nodes, low=2)
    check_int(owner, "max_depth", model.max_depth, low=1, none_ok=True)
    check_int(owner, "min_samples_leaf", model.min_samples_leaf, low=1)
    check_float(owner, "l2_regularization", model.l2_regularization, low=0.0)
    check_choice(owner, "early_stopping", model.early_stopping, ("auto", True, False))
    _n_jobs(owner, model.n_jobs)
    dead = np.isnan(values).all(axis=0)
    if dead.any():  # scikit-learn's binning fails on an all-missing column; a constant one is never split
        values = np.where(dead[None, :], 0.0, values)
    estimator = HistGradientBoostingClassifier if kind == CLASSIFICATION else HistGradientBoostingRegressor
    fitted = estimator(
        max_iter=model.n_estimators,
        learning_rate=model.learning_rate,
        max_leaf_nodes=model.max_leaf_nodes,
        max_depth=model.max_depth,
        min_samples_leaf=model.min_samples_leaf,
        l2_regularization=model.l2_regularization,
        early_stopping=model.early_stopping,
        random_state=model.seed,
    )
    with _threads(model.n_jobs, "openmp"):
        fitted.fit(values, y, sample_weight=weights)
        probe = values[:1000]
        raw = fitted.decision_function(probe) if kind == CLASSIFICATION else fitted.predict(probe)
    trees = TreeArrays.from_hist_boosting(fitted)
    return BoostingPiece(trees, boosting_baseline(trees, np.asarray(raw, dtype="float64"), probe))


# -- k nearest neighbours --------------------------------------------------------------------------------------
class KNNPiece:
    STATE = ("median_", "mean_", "scale_", "train_", "train_target_", "train_weight_")

    def __init__(
        self,
        scaler: Standardiser,
        train: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray,
        n_neighbors: int,
        weights: str,
    ):
        self.scaler, self.train, self.target, self.weight = scaler, train, target, weight
        self.k, self.weights = min(int(n_neighbors), len(train)), weights
        self.search = NearestNeighbors(n_neighbors=self.k, algorithm="brute", n_jobs=1).fit(train)

    def neighbour_sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: sum of weight x target and sum of weight over the neighbours."""
        with _threads(1, None):  # one thread (BLAS and OpenMP): the same digits whatever the machine's cores
            distance, index = self.search.kneighbors(self.scaler.transform(values))
        weight = self.weight[index]
        if self.weights == "distance":
            weight = weight / (distance + 1e-9)
        return (weight * self.target[index]).sum(axis=1), weight.sum(axis=1)

    def output(self, values: np.ndarray) -> np.ndarray:
        top, total = self.neighbour_sums(values)
        return top / total

    def state(self) -> dict[str, np.ndarray]:
        return {
            "median_": self.scaler.median,
            "mean_": self.scaler.mean,
            "scale_": self.scaler.scale,
            "train_": self.train,
            "train_target_": self.target,
            "train_weight_": self.weight,
        }

    @classmethod
    def from_state(cls, owner: Any) -> KNNPiece:
        scaler = Standardiser(*(np.asarray(getattr(owner, n), dtype="float64") for n in ("median_", "mean_", "scale_")))
        return cls(
            scaler,
            np.asarray(owner.train_, dtype="float64"),
            np.asarray(owner.train_target_, dtype="float64"),
            np.asarray(owner.train_weight_, dtype="float64"),
            owner.n_neighbors,
            owner.weights,
        )


def fit_knn(model: Any, owner: str, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> KNNPiece:
    """Keep a seeded subsample of at most ``max_train_rows`` standardised rows with their targets and weights."""
    check_int(owner, "n_neighbors", model.n_neighbors, low=1)
    check_choice(owner, "weights", model.weights, ("uniform", "distance"))
    check_int(owner, "max_train_rows", model.max_train_rows, low=1)
    rows = sample_rows(len(values), model.max_train_rows, model.seed)
    scaler = Standardiser.fit(values[rows])
    weight = np.asarray(weights, dtype="float64")[rows]
    return KNNPiece(
        scaler,
        scaler.transform(values[rows]),
        np.asarray(y, dtype="float64")[rows],
        weight / weight.mean(),
        model.n_neighbors,
        model.weights,
    )


# -- multi-layer perceptrons -----------------------------------------------------------------------------------
class MLPPiece:
    STATE = ("median_", "mean_", "scale_", "weights_", "layer_shapes_", "target_scale_")

    def __init__(self, scaler: Standardiser, flat: np.ndarray, shapes: np.ndarray, target_scale: float):
        self.scaler, self.flat, self.shapes, self.target_scale = scaler, flat, shapes, target_scale

    def output(self, values: np.ndarray) -> np.ndarray:
        with _threads(1, "blas"):
            return mlp_forward(self.scaler.transform(values), self.flat, self.shapes) * self.target_scale

    def state(self) -> dict[str, np.ndarray]:
        return {
            "median_": self.scaler.median,
            "mean_": self.scaler.mean,
            "scale_": self.scaler.scale,
            "weights_": self.flat,
            "layer_shapes_": self.shapes,
            "target_scale_": np.asarray([self.target_scale]),
        }

    @classmethod
    def from_state(cls, owner: Any) -> MLPPiece:
        scaler = Standardiser(*(np.asarray(getattr(owner, n), dtype="float64") for n in ("median_", "mean_", "scale_")))
        return cls(
            scaler,
            np.asarray(owner.weights_, dtype="float64"),
            np.asarray(owner.layer_shapes_, dtype="int64"),
            float(np.asarray(owner.target_scale_).ravel()[0]),
        )


def fit_mlp(
    model: Any,
    owner: str,
    values: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    kind: str,
    target_scale: float = 1.0,
) -> MLPPiece:
    """Adam-trained ReLU network on standardised inputs; regression targets divided by ``target_scale``."""
    sizes = check_layers(owner, model.hidden_layer_sizes)
    check_float(owner, "alpha", model.alpha, low=0.0)
    check_float(owner, "learning_rate_init", model.learning_rate_init, low=0.0, low_open=True)
    check_int(owner, "batch_size", model.batch_size, low=1)
    check_int(owner, "max_iter", model.max_iter, low=1)
    check_choice(owner, "early_stopping", model.early_stopping, (True, False))
    scaler = Standardiser.fit(values)
    rows = len(values) - (int(np.ceil(0.1 * len(values))) if model.early_stopping else 0)  # 10 % for stopping
    estimator = MLPClassifier if kind == CLASSIFICATION else MLPRegressor
    net = estimator(
        hidden_layer_sizes=sizes,
        alpha=model.alpha,
        learning_rate_init=model.learning_rate_init,
        batch_size=max(1, min(model.batch_size, rows)),
        max_iter=model.max_iter,
        early_stopping=model.early_stopping,
        random_state=model.seed,
    )
    target = y if kind == CLASSIFICATION else np.asarray(y, dtype="float64") / target_scale
    fit_args: dict[str, Any] = {}
    if "sample_weight" in inspect.signature(estimator.fit).parameters:  # scikit-learn >= 1.7
        fit_args["sample_weight"] = weights
    with warnings.catch_warnings(), _threads(1, "blas"):  # stopping at max_iter still gives a usable network
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(scaler.transform(values), target, **fit_args)
    flat, shapes = mlp_layers(net.coefs_, net.intercepts_)
    return MLPPiece(scaler, flat, shapes, target_scale)
