"""The conformance suite every registered model must pass.

One generic test runs :data:`CHECKS` against every name in the registry, so a new model is held to the
protocol the moment it registers. Each check takes an *unfitted* estimator and raises ``AssertionError``
naming what broke.

>>> from forewarn.models.anomaly.pca import PCADetector
>>> check_estimator(PCADetector())  # doctest: +NORMALIZE_WHITESPACE
['fit_returns_self', 'same_seed_same_output', 'input_not_mutated', 'unfitted_raises', 'wrong_columns_raise',
 'array_input', 'output_shape_and_range', 'state_round_trip', 'save_load_round_trip', 'clone_and_params',
 'parameters_declared', 'bad_parameters_rejected', 'sklearn_api']
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np
import pandas as pd

from forewarn.base.estimator import Estimator, clone
from forewarn.base.params import invalid_value, validate_params
from forewarn.base.persistence import load, save
from forewarn.base.scoring import scorer
from forewarn.exceptions import FeatureMismatchError, NotFittedError, ParameterError, SchemaError


def task_data(task: str, seed: int = 0, n: int = 240) -> tuple[pd.DataFrame, np.ndarray | None]:
    """A small synthetic problem of the given task, learnable but not trivial.

    >>> X, y = task_data("rul")
    >>> X.shape, bool((y >= 0).all())
    ((240, 4), True)
    """
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0.0, 1.0, n)
    X = pd.DataFrame(
        {
            "temperature": 60 + 25 * wear + rng.normal(0, 2, n),
            "vibration": 1 + 3 * wear**2 + rng.normal(0, 0.2, n),
            "pressure": rng.normal(5, 0.5, n),
            "current": 10 + 2 * wear + rng.normal(0, 0.3, n),
        }
    )
    if task == "anomaly":
        X.iloc[-12:, :2] += 40.0  # a few gross outliers
        return X, None
    if task == "rul":
        return X, np.clip(300.0 * (1.0 - wear) + rng.normal(0, 5, n), 0, None)
    if task == "failure":
        return X, (wear + rng.normal(0, 0.1, n) > 0.7).astype(int)
    if task == "fault":
        return X, np.array(["healthy", "bearing", "seal"])[np.digitize(wear, [0.4, 0.75])]
    raise SchemaError(f"unknown task {task!r}", hint="use anomaly, failure, rul or fault")


def outputs(estimator: Estimator, X: pd.DataFrame | np.ndarray) -> np.ndarray:
    """What the estimator's task predicts for ``X``: scores, probabilities or RUL."""
    said: np.ndarray
    if estimator.task == "anomaly":
        said = estimator.score(X)  # type: ignore[attr-defined]
    elif estimator.task == "rul":
        said = estimator.predict(X)  # type: ignore[attr-defined]
    else:
        said = estimator.predict_proba(X)  # type: ignore[attr-defined]
    return said


def _fitted(estimator: Estimator, seed: int = 0) -> tuple[Estimator, pd.DataFrame]:
    X, y = task_data(estimator.task, seed)
    return clone(estimator).fit(X, y), X


def check_fit_returns_self(est: Estimator) -> None:
    X, y = task_data(est.task)
    fresh = clone(est)
    assert fresh.fit(X, y) is fresh, "fit must return self"


def check_same_seed_same_output(est: Estimator) -> None:
    a, X = _fitted(est)
    b, _ = _fitted(est)
    assert np.allclose(outputs(a, X), outputs(b, X), equal_nan=True), "the same seed must give the same output"


def check_input_not_mutated(est: Estimator) -> None:
    X, y = task_data(est.task)
    X_before, y_before = X.copy(), None if y is None else y.copy()
    model = clone(est).fit(X, y)
    outputs(model, X)
    pd.testing.assert_frame_equal(X, X_before, obj="X after fit/predict")
    if y is not None:
        assert y_before is not None and np.array_equal(y, y_before), "fit must not change y"


def check_unfitted_raises(est: Estimator) -> None:
    X, _ = task_data(est.task)
    try:
        outputs(clone(est), X)
    except NotFittedError:
        return
    raise AssertionError("using an unfitted model must raise NotFittedError")


def check_wrong_columns_raise(est: Estimator) -> None:
    model, X = _fitted(est)
    for bad in (X.drop(columns=X.columns[0]), X.rename(columns={X.columns[0]: "unexpected"})):
        try:
            outputs(model, bad)
        except FeatureMismatchError as err:
            assert "missing" in str(err), "the error must name the missing columns"
            continue
        raise AssertionError("wrong columns must raise FeatureMismatchError")
    reordered = X[list(reversed(X.columns))]
    assert np.allclose(outputs(model, reordered), outputs(model, X)), "column order must not matter"


def check_array_input(est: Estimator) -> None:
    model, X = _fitted(est)
    assert np.allclose(outputs(model, X.to_numpy()), outputs(model, X)), "arrays in fitted column order must work"


def check_output_shape_and_range(est: Estimator) -> None:
    model, X = _fitted(est)
    out = outputs(model, X)
    assert len(out) == len(X), "one output per input row"
    assert np.isfinite(out).all(), "outputs must be finite"
    if est.task == "rul":
        assert (out >= 0).all(), "RUL must never be negative"
    if est.task in ("failure", "fault"):
        assert ((out >= 0) & (out <= 1)).all(), "probabilities must lie in [0, 1]"
    if est.task == "fault":
        assert out.shape[1] == len(model.classes_), "one probability column per class"  # type: ignore[attr-defined]
        assert np.allclose(out.sum(axis=1), 1.0), "class probabilities must sum to 1"
    if est.task == "anomaly":
        normal, odd = out[:-12], out[-12:]
        assert np.median(odd) > np.median(normal), "gross outliers must score higher than normal rows"


def check_state_round_trip(est: Estimator) -> None:
    model, X = _fitted(est)
    copy = clone(est).set_state(model.get_state())
    assert np.allclose(outputs(copy, X), outputs(model, X)), "set_state(get_state()) must reproduce outputs"


def check_save_load_round_trip(est: Estimator) -> None:
    model, X = _fitted(est)
    with tempfile.TemporaryDirectory() as folder:
        again = load(save(model, folder, training_data=X))
    assert type(again) is type(model), "load must rebuild the same class"
    assert np.allclose(outputs(again, X), outputs(model, X)), "save/load must reproduce outputs"


def check_clone_and_params(est: Estimator) -> None:
    params = est.get_params()
    twin = clone(est)
    assert twin.get_params().keys() == params.keys(), "clone must keep the parameters"
    assert not getattr(twin, "is_fitted_", False), "a clone is unfitted"
    assert twin.set_params(**params) is twin, "set_params must return self"
    assert repr(twin).startswith(type(est).__name__), "repr must name the class"


def check_parameters_declared(est: Estimator) -> None:
    declared = set(est.parameter_constraints)
    params = set(est.get_params())
    assert declared == params, (
        f"every parameter needs a declared constraint: undeclared {sorted(params - declared)}, "
        f"declared but not parameters {sorted(declared - params)}"
    )
    validate_params(est, est.parameter_constraints)  # the values given (defaults or chosen) must be accepted


def check_bad_parameters_rejected(est: Estimator) -> None:
    X, y = task_data(est.task, n=60)
    for name, alternatives in est.parameter_constraints.items():
        bad = invalid_value(alternatives)
        model = clone(est).set_params(**{name: bad})
        try:
            model.fit(X, y)
        except ParameterError as err:
            assert f"The {name!r} parameter of {type(est).__name__} must be" in str(err), (
                f"the error for a bad {name!r} must name it in scikit-learn's wording, got: {err}"
            )
            assert err.param == name, f"ParameterError.param must be {name!r}, got {err.param!r}"
            continue
        raise AssertionError(f"fit must reject {name}={bad!r} with ParameterError")


def check_sklearn_api(est: Estimator) -> None:
    from sklearn.base import clone as sk_clone
    from sklearn.base import is_classifier, is_regressor
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    twin = sk_clone(est)
    assert type(twin) is type(est) and twin.get_params() == est.get_params(), "sklearn.base.clone must keep params"
    assert is_regressor(est) == (est.task == "rul"), "is_regressor must be true exactly for RUL models"
    assert is_classifier(est) == (est.task in ("failure", "fault")), "is_classifier: failure and fault models"
    X, y = task_data(est.task)
    if y is None:  # anomaly: labels of the gross outliers, for scoring only
        y = np.r_[np.zeros(len(X) - 12, dtype=int), np.ones(12, dtype=int)]
    split = (
        KFold(3, shuffle=True, random_state=0)
        if est.task == "rul"
        else StratifiedKFold(3, shuffle=True, random_state=0)
    )
    scores = cross_val_score(est, X, y, cv=split, scoring=scorer(est.task), error_score="raise")
    assert len(scores) == 3 and np.isfinite(scores).all(), "cross_val_score must give one finite score per fold"


CHECKS: list[Callable[[Estimator], None]] = [
    check_fit_returns_self,
    check_same_seed_same_output,
    check_input_not_mutated,
    check_unfitted_raises,
    check_wrong_columns_raise,
    check_array_input,
    check_output_shape_and_range,
    check_state_round_trip,
    check_save_load_round_trip,
    check_clone_and_params,
    check_parameters_declared,
    check_bad_parameters_rejected,
    check_sklearn_api,
]


def check_estimator(estimator: Estimator) -> list[str]:
    """Run every check; return their names (all passed) or raise the first ``AssertionError``."""
    passed = []
    for check in CHECKS:
        check(estimator)
        passed.append(check.__name__.removeprefix("check_"))
    return passed
