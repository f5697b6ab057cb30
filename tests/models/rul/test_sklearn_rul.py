"""The scikit-learn RUL zoo: learns, clips at max_rul, reloads to the same digits, takes NaN, checks parameters."""

import numpy as np
import pandas as pd
import pytest

from forewarn.base.persistence import load, save
from forewarn.base.registry import get, names
from forewarn.exceptions import ParameterError
from forewarn.models.rul.sklearn_models import KNNRUL, MLPRUL, ExtraTreesRUL, GradientBoostingRUL, RandomForestRUL

FACTORIES = {
    "random-forest-rul": lambda **kw: RandomForestRUL(n_estimators=40, seed=0, **kw),
    "extra-trees-rul": lambda **kw: ExtraTreesRUL(n_estimators=40, seed=0, **kw),
    "gradient-boosting-rul": lambda **kw: GradientBoostingRUL(n_estimators=60, seed=0, **kw),
    "knn-rul": lambda **kw: KNNRUL(seed=0, **kw),
    "mlp-rul": lambda **kw: MLPRUL(seed=0, **kw),
}


def _problem(n=2000, seed=0):
    """RUL falls with wear, read through noisy, correlated sensors; two pure-noise columns."""
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0, 1, n)
    X = pd.DataFrame(
        {
            "temp": 60 + 20 * wear + rng.normal(0, 2, n),
            "vib": 1 + 3 * wear**2 + rng.normal(0, 0.3, n),
            "current": 10 + 2 * wear + rng.normal(0, 0.3, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.uniform(size=n),
        }
    )
    return X, np.clip(250 * (1 - wear) + rng.normal(0, 5, n), 0, None)


def _rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_every_model_is_registered_with_a_unit():
    assert set(FACTORIES) <= set(names(task="rul"))
    assert all(get(name).get_tags()["unit"] == "cycles" for name in FACTORIES)


@pytest.mark.parametrize("name", FACTORIES)
def test_learns_clipped_targets_and_reloads_to_the_same_digits(name, tmp_path):
    X, y = _problem()
    train, test = slice(0, 1000), slice(1000, None)
    model = FACTORIES[name]().fit(X[train], y[train])
    pred = model.predict(X[test])
    truth = np.minimum(y[test], 125.0)
    assert _rmse(pred, truth) < 0.3 * _rmse(np.full(len(truth), np.minimum(y[train], 125).mean()), truth)
    # trained on targets clipped at max_rul=125: averages of them stay below it; boosting sums and the network may overshoot a little
    assert pred.max() < (150 if name in ("mlp-rul", "gradient-boosting-rul") else 125 + 1e-9)
    again = load(save(model, tmp_path / name))
    assert np.array_equal(again.predict(X[test]), pred)


@pytest.mark.parametrize("name", ["random-forest-rul", "knn-rul"])
def test_without_clipping_the_full_range_is_learnt(name):
    X, y = _problem(n=1200)
    pred = FACTORIES[name](max_rul=None).fit(X, y).predict(X)
    assert pred.max() > 180


@pytest.mark.parametrize("name", FACTORIES)
def test_missing_values_are_handled(name):
    X, y = _problem(n=1200, seed=1)
    holes = X.mask(np.random.default_rng(2).uniform(size=X.shape) < 0.05)
    pred = FACTORIES[name]().fit(holes[:600], y[:600]).predict(holes[600:])
    truth = np.minimum(y[600:], 125.0)
    assert np.isfinite(pred).all() and _rmse(pred, truth) < 0.45 * np.std(truth)


@pytest.mark.parametrize(
    "model, message",
    [
        (
            ExtraTreesRUL(n_estimators=-3),
            r"'n_estimators' parameter of ExtraTreesRUL must be an int >= 1. Got -3 "
            r"instead",
        ),
        (RandomForestRUL(min_samples_leaf=0), "'min_samples_leaf'"),
        (GradientBoostingRUL(max_leaf_nodes=1), r"'max_leaf_nodes' .* >= 2"),
        (GradientBoostingRUL(early_stopping="sometimes"), "'early_stopping'"),
        (KNNRUL(max_train_rows=0), "'max_train_rows'"),
        (MLPRUL(alpha=-1.0), "'alpha'"),
        (MLPRUL(max_rul=0.0), "'max_rul'"),
        (RandomForestRUL(n_jobs=0), "'n_jobs'"),
    ],
)
def test_bad_hyper_parameters_are_named(model, message):
    X, y = _problem(n=200)
    with pytest.raises(ParameterError, match=message):
        model.fit(X, y)
