"""Calibration turns over-confident scores into frequencies; thresholds follow the costs of mistakes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.decide.calibration import Calibrator, brier_score, expected_calibration_error
from forewarn.decide.thresholds import (
    Costs,
    ThresholdPolicy,
    bayes_threshold,
    empirical_threshold,
    realised_cost,
)
from forewarn.exceptions import ConfigError, NotFittedError, SchemaError, StateError


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, n)
    failed = (rng.uniform(size=n) < truth).astype(float)
    raw = 1 / (1 + np.exp(-12 * (truth - 0.5)))  # pushed towards 0 and 1
    return raw, failed, truth


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_reduces_error_on_fresh_data(method: str) -> None:
    raw_fit, failed_fit, _ = _overconfident(4000, 0)
    raw_new, failed_new, _ = _overconfident(4000, 1)
    calibrator = Calibrator(method).fit(raw_fit, failed_fit)
    calibrated = calibrator.transform(raw_new)
    assert expected_calibration_error(calibrated, failed_new) < 0.5 * expected_calibration_error(raw_new, failed_new)
    assert brier_score(calibrated, failed_new) < brier_score(raw_new, failed_new)
    assert np.all(np.diff(calibrator.transform(np.linspace(0, 1, 50))) >= -1e-12)  # monotone


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrator_state_survives_json(method: str) -> None:
    raw, failed, _ = _overconfident(500, 2)
    calibrator = Calibrator(method).fit(raw, failed)
    again = Calibrator().set_state(json.loads(json.dumps(calibrator.to_json())))
    np.testing.assert_allclose(again.transform(raw), calibrator.transform(raw))


def test_calibration_errors_are_named() -> None:
    with pytest.raises(SchemaError, match="only one class"):
        Calibrator().fit([0.1, 0.2], [0, 0])
    with pytest.raises(SchemaError, match="0/1"):
        Calibrator().fit([0.1, 0.2], [0, 2])
    with pytest.raises(SchemaError, match="missing or infinite"):
        Calibrator().fit([0.1, np.nan], [0, 1])
    with pytest.raises(SchemaError, match="unknown calibration method"):
        Calibrator("magic")
    with pytest.raises(NotFittedError):
        Calibrator().transform([0.5])
    with pytest.raises(StateError, match="lacks"):
        Calibrator().set_state({"method": ["platt"]})
    with pytest.raises(StateError, match=r"outside \[0, 1\]"):
        Calibrator().set_state({"method": "isotonic", "x": [0.0, 1.0], "y": [0.2, 1.3]})


def test_bayes_threshold_balances_expected_costs() -> None:
    costs = Costs(missed_failure=10_000, inspection=300, false_alarm=700)
    t = bayes_threshold(costs)
    alert_cost = costs.inspection + (1 - t) * costs.false_alarm
    wait_cost = t * costs.missed_failure
    assert alert_cost == pytest.approx(wait_cost)
    assert bayes_threshold(Costs(missed_failure=100_000, inspection=300, false_alarm=700)) < t  # dearer failures


@settings(max_examples=80, deadline=None)
@given(
    p=st.lists(st.floats(0, 1), min_size=1, max_size=40),
    seed=st.integers(0, 1000),
    costs=st.tuples(st.floats(1, 1e4), st.floats(0, 1e3), st.floats(0, 1e3)),
)
def test_empirical_threshold_is_the_cheapest_cut(p: list[float], seed: int, costs: tuple[float, ...]) -> None:
    probabilities = np.asarray(p)
    failed = np.random.default_rng(seed).uniform(size=len(p)) < probabilities
    cost_model = Costs(*costs)
    chosen = empirical_threshold(probabilities, failed, cost_model)
    candidates = [*np.unique(probabilities), 2.0]
    best = min(realised_cost(probabilities, failed, t, cost_model).cost for t in candidates)
    assert chosen.cost == pytest.approx(best)
    assert chosen.caught + chosen.missed == int(failed.sum())


def test_policy_per_asset_class_from_mapping_and_fit() -> None:
    policy = ThresholdPolicy.from_mapping(
        {
            "pump": {"missed_failure": 50_000, "inspection": 500, "false_alarm": 1500},
            "fan": {"missed_failure": 2_000, "inspection": 500, "false_alarm": 1500, "threshold": 0.6},
        }
    )
    assert policy.threshold_for("pump") < policy.threshold_for("default") < policy.threshold_for("fan") == 0.6
    rng = np.random.default_rng(3)
    p = rng.uniform(size=600)
    failed = rng.uniform(size=600) < p
    classes = np.where(np.arange(600) % 2 == 0, "pump", "motor")
    chosen = policy.fit(p, failed, classes)
    assert set(chosen) == {"pump", "motor"}
    assert policy.threshold_for("pump") < policy.threshold_for("motor")  # missed pump failures cost more
    table = policy.to_mapping()
    assert ThresholdPolicy.from_mapping(table).threshold_for("pump") == policy.threshold_for("pump")


def test_cost_table_errors_name_the_entry() -> None:
    with pytest.raises(ConfigError, match="'pump' has unknown key"):
        ThresholdPolicy.from_mapping({"pump": {"missed": 1}})
    with pytest.raises(ConfigError, match="finite number >= 0"):
        Costs(missed_failure=1, inspection=-5)
    with pytest.raises(ConfigError, match="threshold of 'fan'"):
        ThresholdPolicy.from_mapping({"fan": {"threshold": 2}})


def test_one_implementation_serves_models_decisions_and_detectors() -> None:
    from forewarn.base.calibration import fit_isotonic, fit_platt, platt
    from forewarn.models.anomaly.series import ScoreCalibration as SeriesCalibration
    from forewarn.models.failure._calibration import apply_calibration, fit_calibration

    raw, failed, _ = _overconfident(1500, 4)
    decided = Calibrator("sigmoid").fit(raw, failed)  # scikit-learn's name for Platt scaling
    assert decided.method == "platt"
    first, _ = fit_calibration(raw, failed, "sigmoid")
    np.testing.assert_array_equal(first, fit_platt(raw, failed))
    np.testing.assert_array_equal(first, decided.get_state()["coef"])
    np.testing.assert_array_equal(apply_calibration(raw, "platt", first, np.empty(0)), decided.transform(raw))
    x_knots, y_knots = fit_calibration(raw, failed, "isotonic")
    state = Calibrator("isotonic").fit(raw, failed).get_state()
    np.testing.assert_array_equal(x_knots, state["x"])
    np.testing.assert_array_equal(y_knots, fit_isotonic(raw, failed)[1])
    # the detectors' label-free map: its tail above the alarm level is the same Platt formula
    from forewarn.decide.calibration import ScoreCalibration

    assert SeriesCalibration is ScoreCalibration
    cal = ScoreCalibration.fit(np.linspace(0.0, 2.0, 201))
    above = np.array([4.0, 5.0, 9.0])
    width = cal.level - cal.median
    np.testing.assert_allclose(cal.transform(above), platt(above, (2 / width, -2 * cal.level / width)))
    np.testing.assert_allclose(cal.transform(above), 0.5 + 0.5 * np.tanh((above - cal.level) / width))


def test_saved_calibrator_states_still_load() -> None:
    # written before the calibrators were merged: plain isotonic thresholds, and Platt under either name
    iso = Calibrator().set_state({"method": ["isotonic"], "x": [0.0, 0.5, 1.0], "y": [0.0, 0.2, 1.0]})
    np.testing.assert_allclose(iso.transform([0.25, 0.75]), [0.1, 0.6])
    for name in ("platt", "sigmoid"):
        again = Calibrator().set_state({"method": name, "coef": [2.0, -1.0]})
        np.testing.assert_allclose(again.transform([0.5]), [0.5])
