"""The failure models' own calibration as the isotonic-Platt blend: ordered everywhere, honest, saved models unchanged."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from test_failure_predictors import FACTORIES, _rare_failures  # the same data and models, known truth

from forewarn.base.calibration import PLATT_WEIGHT, piecewise_linear
from forewarn.base.persistence import MANIFEST, load, save
from forewarn.models.failure import LightGBMFailure
from forewarn.models.failure._calibration import apply_calibration, fit_calibration


@FACTORIES
def test_blend_orders_every_distinct_margin_and_stays_honest(factory):
    X, y, _ = _rare_failures()
    X_new, y_new, truth_new = _rare_failures(seed=1)
    blend = factory().set_params(calibration="isotonic-platt").fit(X, y)
    iso = factory().set_params(calibration="isotonic").fit(X, y)
    proba, margin = blend.predict_proba(X_new), blend.margin(X_new)
    order = np.argsort(margin, kind="stable")
    rising = np.diff(margin[order]) > 0
    assert np.all(np.diff(proba[order])[rising] > 0)  # beyond the isotonic end knots too: no plateau
    assert len(np.unique(proba)) == len(np.unique(margin))
    assert len(np.unique(iso.predict_proba(X_new))) < len(np.unique(margin))  # the plain map has flat ends
    assert roc_auc_score(y_new, proba) == pytest.approx(roc_auc_score(y_new, margin), abs=1e-12)
    assert proba.mean() == pytest.approx(truth_new.mean(), rel=0.2)
    assert np.abs(proba - truth_new).mean() < 0.03


def test_blend_state_layout_and_round_trip(tmp_path):
    X, y, _ = _rare_failures(n=1500)
    model = LightGBMFailure(n_estimators=30, calibration="isotonic-platt", seed=3).fit(X, y)
    first, second = model.calibration_a_, model.calibration_b_
    assert first[0] > 0 and first[2] == PLATT_WEIGHT and len(first) == len(second) + 3  # (a, b, w, x knots...)
    again = load(save(model, tmp_path))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.get_params()["calibration"] == "isotonic-platt"


def test_model_saved_with_isotonic_scores_exactly_as_before(tmp_path):
    X, y, _ = _rare_failures(n=1500)
    model = LightGBMFailure(n_estimators=30, calibration="isotonic", seed=4).fit(X, y)
    folder = save(model, tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["params"]["calibration"] == "isotonic"  # the method travels with the model, not the default
    again = load(folder)
    assert again.get_params()["calibration"] == "isotonic"
    # bit for bit the centred isotonic knots joined linearly, as every saved model has always been scored
    expected = piecewise_linear(again.margin(X), model.calibration_a_, model.calibration_b_)
    np.testing.assert_array_equal(again.predict_proba(X), expected)


def test_blend_helpers_fall_back_like_the_others():
    margin = np.linspace(-3, 3, 600)
    assert [a.size for a in fit_calibration(margin, np.zeros(600), "isotonic-platt")] == [0, 0]  # one class
    empty = np.empty(0)
    np.testing.assert_array_equal(
        apply_calibration(margin, "isotonic-platt", empty, empty), apply_calibration(margin, None, empty, empty)
    )
