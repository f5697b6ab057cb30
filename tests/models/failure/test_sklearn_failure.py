"""The scikit-learn failure zoo: learns, reloads to the same digits, takes NaN, checks its hyper-parameters."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

from forewarn.base.persistence import load, save
from forewarn.base.registry import get, names
from forewarn.exceptions import ParameterError
from forewarn.models.failure.sklearn_models import (
    ExtraTreesFailure,
    GradientBoostingFailure,
    KNNFailure,
    MLPFailure,
    RandomForestFailure,
)
from forewarn.models.sklearn_state import TreeArrays, mlp_forward, mlp_layers

FACTORIES = {  # two calibration folds: three fits each instead of four, to keep the tests fast
    "random-forest-failure": lambda: RandomForestFailure(n_estimators=30, calibration_folds=2, seed=0),
    "extra-trees-failure": lambda: ExtraTreesFailure(n_estimators=30, calibration_folds=2, seed=0),
    "gradient-boosting-failure": lambda: GradientBoostingFailure(n_estimators=40, calibration_folds=2, seed=0),
    "knn-failure": lambda: KNNFailure(calibration_folds=2, seed=0),
    "mlp-failure": lambda: MLPFailure(max_iter=30, calibration_folds=2, seed=0),
}


def _problem(n=2400, seed=0):
    """Failure from a non-linear mix of two of six correlated sensors, ~15 % positives."""
    rng = np.random.default_rng(seed)
    wear, load = rng.uniform(0, 1, n), rng.normal(size=n)
    X = pd.DataFrame(
        {
            "temp": 60 + 20 * wear + rng.normal(0, 2, n),
            "vib": 1 + 3 * wear**2 + rng.normal(0, 0.3, n),
            "load": load,
            "current": 10 + load + rng.normal(0, 0.5, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.uniform(size=n),
        }
    )
    y = (wear + 0.15 * load**2 + rng.normal(0, 0.08, n) > 0.95).astype(int)
    return X, y


def test_every_model_is_registered_as_a_failure_predictor():
    assert set(FACTORIES) <= set(names(task="failure"))
    assert all(get(name).get_tags()["nan_allowed"] for name in FACTORIES)


@pytest.mark.parametrize("name", FACTORIES)
def test_learns_and_reloads_to_the_same_digits(name, tmp_path):
    X, y = _problem()
    train, test = slice(0, 1200), slice(1200, None)
    model = FACTORIES[name]().fit(X[train], y[train])
    proba = model.predict_proba(X[test])
    assert roc_auc_score(y[test], proba) > 0.9
    again = load(save(model, tmp_path / name))
    assert np.array_equal(again.predict_proba(X[test]), proba)
    assert np.array_equal(again.margin(X[test]), model.margin(X[test]))


@pytest.mark.parametrize("name", FACTORIES)
def test_missing_values_are_handled(name):
    X, y = _problem(n=1600, seed=1)
    holes = X.mask(np.random.default_rng(2).uniform(size=X.shape) < 0.05).assign(dead_sensor=np.nan)
    model = FACTORIES[name]().fit(holes[:800], y[:800])
    proba = model.predict_proba(holes[800:])
    assert np.isfinite(proba).all() and roc_auc_score(y[800:], proba) > 0.88


@pytest.mark.parametrize(
    "model, message",
    [
        (
            RandomForestFailure(n_estimators=0),
            "'n_estimators' parameter of RandomForestFailure must be an int >= 1. Got 0 instead",
        ),
        (ExtraTreesFailure(max_features="all"), "'max_features' parameter .* must be a str among"),
        (RandomForestFailure(max_samples=1.5), r"'max_samples' .* range \(0, 1\]"),
        (GradientBoostingFailure(learning_rate=-0.1), "'learning_rate'"),
        (KNNFailure(n_neighbors=2.5), "'n_neighbors' parameter of KNNFailure must be an int"),
        (KNNFailure(weights="gaussian"), "'weights'"),
        (MLPFailure(hidden_layer_sizes=(32, 0)), "'hidden_layer_sizes'"),
        (MLPFailure(calibration_folds=1), "'calibration_folds'"),
        (ExtraTreesFailure(class_weight="heavy"), "'class_weight'"),
    ],
)
def test_bad_hyper_parameters_are_named(model, message):
    X, y = _problem(n=200)
    with pytest.raises(ParameterError, match=message):
        model.fit(X, y)


def test_tree_copies_answer_as_scikit_learn_does():
    X, y = _problem(n=1000, seed=3)
    values = X.to_numpy()
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(values, y)
    copied = TreeArrays.from_forest(forest, "classification").leaf_values(values).mean(axis=1)
    assert np.allclose(copied, forest.predict_proba(values)[:, 1])
    holes = np.where(np.random.default_rng(0).uniform(size=values.shape) < 0.1, np.nan, values)
    boosted = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(holes, y)
    trees = TreeArrays.from_hist_boosting(boosted)
    raw = boosted.decision_function(holes)
    gap = raw - trees.leaf_values(holes).sum(axis=1)
    assert np.ptp(gap) < 1e-9  # one baseline apart, NaN included


def test_network_copy_answers_as_scikit_learn_does():
    X, y = _problem(n=600, seed=4)
    net = MLPClassifier(hidden_layer_sizes=(8, 4), max_iter=30, random_state=0)
    with pytest.warns(Warning):  # scikit-learn's ConvergenceWarning after 30 passes
        net.fit(X.to_numpy(), y)
    logit = mlp_forward(X.to_numpy(), *mlp_layers(net.coefs_, net.intercepts_))
    assert np.allclose(1 / (1 + np.exp(-logit)), net.predict_proba(X.to_numpy())[:, 1])


def test_knn_keeps_a_seeded_sample_of_at_most_max_train_rows():
    X, y = _problem(n=1000)
    a = KNNFailure(max_train_rows=300, seed=1).fit(X, y)
    b = KNNFailure(max_train_rows=300, seed=1).fit(X, y)
    assert a.train_.shape == (300, 6) and np.array_equal(a.train_, b.train_)
    assert abs(a.train_.mean()) < 0.2  # standardised
