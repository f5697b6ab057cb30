"""Failure predictors: calibration honesty, class weights, target checks, state."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from forewarn.base.persistence import load, save
from forewarn.exceptions import SchemaError
from forewarn.models.failure import LightGBMFailure, LogisticFailure
from forewarn.models.failure._calibration import apply_calibration, fit_calibration


def _rare_failures(n=4000, seed=0):
    """Failure probability known exactly: logistic in 'load', ~7 % positives."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"load": rng.normal(size=n), "noise": rng.normal(size=n)})
    truth = 1 / (1 + np.exp(-(2.0 * X["load"].to_numpy() - 4.0)))
    return X, (rng.uniform(size=n) < truth).astype(int), truth


#: the two failure models the calibration tests fit (here and in test_failure_isotonic_platt)
FACTORIES = pytest.mark.parametrize(
    "factory",
    [lambda: LightGBMFailure(n_estimators=60, seed=0), lambda: LogisticFailure(seed=0)],
    ids=["lightgbm", "logistic"],
)


@FACTORIES
def test_weighted_model_is_calibrated_back_to_honest_probabilities(factory):
    X, y, _ = _rare_failures()
    X_new, _, truth_new = _rare_failures(seed=1)
    calibrated = factory().fit(X, y).predict_proba(X_new)
    raw = factory().set_params(calibration=None).fit(X, y).predict_proba(X_new)
    # class weights inflate the raw probabilities; calibration brings them back to the true ones
    assert raw.mean() > 1.8 * truth_new.mean()
    assert calibrated.mean() == pytest.approx(truth_new.mean(), rel=0.2)
    assert np.abs(calibrated - truth_new).mean() < min(0.03, np.abs(raw - truth_new).mean() / 2)


def test_isotonic_calibration_keeps_the_ranking():
    X, y, _ = _rare_failures()
    model = LightGBMFailure(n_estimators=60, seed=0, calibration="isotonic").fit(X, y)
    X_new, y_new, _ = _rare_failures(seed=2)
    proba, margin = model.predict_proba(X_new), model.margin(X_new)
    inside = (margin > model.calibration_a_[0]) & (margin < model.calibration_a_[-1])
    order = np.argsort(margin[inside])
    rising = np.diff(margin[inside][order]) > 0
    assert np.all(np.diff(proba[inside][order])[rising] > 0)  # a higher margin always gets a higher probability
    assert roc_auc_score(y_new, proba) == pytest.approx(roc_auc_score(y_new, margin), abs=0.01)


def test_calibration_helpers():
    margin = np.linspace(-3, 3, 600)
    y = (np.random.default_rng(0).uniform(size=600) < 1 / (1 + np.exp(-margin))).astype(int)
    x_knots, y_knots = fit_calibration(margin, y, "isotonic")
    assert np.all(np.diff(x_knots) > 0) and np.all(np.diff(y_knots) > 0)
    assert np.all((y_knots >= 0) & (y_knots <= 1))
    assert apply_calibration(np.array([-100.0, 100.0]), "isotonic", x_knots, y_knots).tolist() == [
        y_knots[0],
        y_knots[-1],
    ]
    platt, _ = fit_calibration(margin, y, "sigmoid")
    assert platt[0] == pytest.approx(1.0, abs=0.35) and abs(platt[1]) < 0.35
    assert fit_calibration(margin, np.zeros(600), "isotonic")[0].size == 0  # one class: nothing to fit
    with pytest.raises(SchemaError, match="calibration"):
        fit_calibration(margin, y, "beta")


@pytest.mark.parametrize(
    "bad, message", [([0, 2] * 50, "0 or 1"), (["yes", "no"] * 50, "0/1"), ([0] * 100, "one class")]
)
def test_targets_must_be_binary(bad, message):
    X = pd.DataFrame({"a": np.arange(100.0)})
    with pytest.raises(SchemaError, match=message):
        LightGBMFailure(n_estimators=5).fit(X, bad)


def test_too_few_failures_for_calibration_folds_still_fits():
    X = pd.DataFrame({"a": np.arange(60.0)})
    y = np.r_[np.zeros(59, dtype=int), 1]
    model = LogisticFailure(calibration_folds=3).fit(X, y)
    assert model.calibration_a_.size == 0  # one failure: no held-out calibration possible
    assert model.predict_proba(X).argmax() == 59


def test_boolean_targets_and_sigmoid_calibration_round_trip(tmp_path):
    X, y, _ = _rare_failures(n=1500)
    model = LightGBMFailure(n_estimators=30, calibration="sigmoid", seed=3).fit(X, y.astype(bool))
    again = load(save(model, tmp_path))
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X))
    assert again.get_params()["calibration"] == "sigmoid"


def test_logistic_coefficients_name_the_driver():
    X, y, _ = _rare_failures(n=1500)
    weights = LogisticFailure().fit(X, y).coefficients()
    assert weights.index[0] == "load" and weights["load"] > 0
