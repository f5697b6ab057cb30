"""The isotonic-Platt blend: continuous, strictly order-preserving, calibrated; old calibrators load as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forewarn.base.calibration import Calibrator as BaseCalibrator
from forewarn.base.calibration import logistic, piecewise_linear, platt
from forewarn.decide.calibration import (
    ISOTONIC_PLATT,
    Calibrator,
    expected_calibration_error,
    fit_isotonic_platt,
)
from forewarn.decide.thresholds import Costs, ThresholdPolicy, empirical_threshold
from forewarn.evaluate.cases import threshold_grid
from forewarn.exceptions import SchemaError, StateError
from forewarn.train import holdout


def _rare_failures(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A score whose true failure probability is logistic(2 s - 4) (about 5 % positives, most scores far below)."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    failed = (rng.uniform(size=n) < logistic(2.0 * score - 4.0)).astype(float)
    return score, failed


def test_distinct_scores_get_distinct_ordered_probabilities_in_unit_interval() -> None:
    score, failed = _rare_failures(3000, 0)
    blend = Calibrator(ISOTONIC_PLATT).fit(score, failed)
    grid = np.linspace(-6.0, 6.0, 5001)  # beyond the training scores on both sides, where isotonic is flat
    p = blend.transform(grid)
    assert np.all(np.diff(p) > 0)  # strictly increasing: every distinct score keeps its rank
    assert p.min() > 0.0 and p.max() < 1.0
    iso = Calibrator("isotonic").fit(score, failed).transform(grid)
    assert len(np.unique(iso)) < 0.5 * len(grid)  # the plain map is flat over most of this grid
    assert len(np.unique(p)) == len(grid)
    # continuous: a fine grid's steps are small (the isotonic map's largest step bounds them, plus the Platt part)
    assert np.abs(np.diff(p)).max() <= np.abs(np.diff(iso)).max() + 0.01


def test_ece_on_fresh_assets_within_bound_and_no_worse_than_isotonic() -> None:
    fit_score, fit_failed = _rare_failures(6000, 1)
    new_score, new_failed = _rare_failures(6000, 2)
    blend = Calibrator(ISOTONIC_PLATT).fit(fit_score, fit_failed).transform(new_score)
    iso = Calibrator("isotonic").fit(fit_score, fit_failed).transform(new_score)
    assert expected_calibration_error(blend, new_failed) <= 0.02
    assert expected_calibration_error(blend, new_failed) <= expected_calibration_error(iso, new_failed) + 0.005
    truth = logistic(2.0 * new_score - 4.0)
    assert np.abs(blend - truth).mean() < 0.02


def test_uninformative_score_keeps_order_at_the_base_rate() -> None:
    rng = np.random.default_rng(3)
    score = rng.normal(size=2000)
    failed = (rng.uniform(size=2000) < 0.1).astype(float)  # the score says nothing (the fitted slope may be <= 0)
    failed[np.argsort(score)[-50:]] = 0.0  # the highest scores never fail: a falling relation
    x, y, coef = fit_isotonic_platt(score, failed)
    assert coef[0] > 0
    p = Calibrator(ISOTONIC_PLATT).fit(score, failed).transform(np.sort(score))
    assert np.all(np.diff(p) > 0)
    assert abs(p.mean() - failed.mean()) < 0.03


OLD_ISOTONIC = {"method": "isotonic", "x": [0.05, 0.2, 0.5, 0.81], "y": [0.0, 0.0125, 0.31, 0.9583]}
OLD_PLATT = {"method": "platt", "coef": [3.2, -4.1]}


@pytest.mark.parametrize("saved", [OLD_ISOTONIC, OLD_PLATT], ids=["isotonic", "platt"])
def test_old_format_calibrator_loads_and_scores_exactly_as_before(saved: dict) -> None:
    scores = np.linspace(-0.5, 1.5, 401)
    restored = Calibrator().set_state(json.loads(json.dumps(saved)))
    before = BaseCalibrator().set_state(saved).transform(scores)  # the class that wrote these states
    np.testing.assert_array_equal(restored.transform(scores), before)
    if saved["method"] == "isotonic":
        np.testing.assert_array_equal(before, piecewise_linear(scores, np.array(saved["x"]), np.array(saved["y"])))
    else:
        np.testing.assert_array_equal(before, platt(scores, np.array(saved["coef"])))
    assert restored.method == saved["method"]
    assert restored.to_json() == saved  # written back unchanged


def test_new_state_round_trips_through_json_and_names_its_method() -> None:
    score, failed = _rare_failures(1000, 4)
    blend = Calibrator(ISOTONIC_PLATT).fit(score, failed)
    saved = json.loads(json.dumps(blend.to_json()))
    assert saved["method"] == ISOTONIC_PLATT and set(saved) == {"method", "x", "y", "coef", "weight"}
    again = Calibrator().set_state(saved)
    assert again.method == ISOTONIC_PLATT
    np.testing.assert_array_equal(again.transform(score), blend.transform(score))


def test_bad_states_and_weights_are_named() -> None:
    good = Calibrator(ISOTONIC_PLATT).fit(*_rare_failures(500, 5)).to_json()
    with pytest.raises(StateError, match="lacks coef"):
        Calibrator().set_state({k: v for k, v in good.items() if k != "coef"})
    with pytest.raises(StateError, match="slope > 0"):
        Calibrator().set_state({**good, "coef": [-1.0, 0.0]})
    with pytest.raises(StateError, match="one weight"):
        Calibrator().set_state({**good, "weight": [1.5]})
    with pytest.raises(StateError, match=r"isotonic-platt calibrator state: .* outside \[0, 1\]"):
        Calibrator().set_state({**good, "y": [*good["y"][:-1], 1.2]})
    with pytest.raises(SchemaError, match="weight"):
        Calibrator(ISOTONIC_PLATT, weight=0.0)
    with pytest.raises(SchemaError, match="only one class"):
        Calibrator(ISOTONIC_PLATT).fit([0.1, 0.2], [0, 0])


def _held_out(assets: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``assets`` assets in time order, each failing once at its end (30 rows before it positive)."""
    rng = np.random.default_rng(seed)
    raw, outcome, groups = [], [], []
    for a in range(assets):
        n = 200
        positive = np.arange(n) >= n - 30
        raw.append(rng.normal(size=n) + 2.0 * positive)
        outcome.append(positive.astype(float))
        groups.append(np.full(n, f"A{a:03d}"))
    return np.concatenate(raw), np.concatenate(outcome), np.concatenate(groups)


def test_train_holdout_ships_the_blend_with_enough_episodes() -> None:
    raw, outcome, groups = _held_out(60, 6)
    judged = holdout.calibrate_probabilities(raw, outcome, groups, seed=0)
    assert judged.metrics["calibration"] == ISOTONIC_PLATT  # 60 episodes >= ISOTONIC_MIN_EVENTS
    assert judged.metrics["ece"] <= 0.05
    assert len(np.unique(judged.probability)) == len(np.unique(raw))  # no ties the raw scores do not have
    assert judged.judged is not None and np.isfinite(judged.judged).all()
    few = holdout.calibrate_probabilities(*_held_out(10, 7), seed=0)
    assert few.metrics["calibration"] == "platt"


def test_cost_thresholds_land_among_the_new_probabilities_and_the_sweep_moves_few_rows() -> None:
    raw, outcome, groups = _held_out(60, 8)
    p = holdout.calibrate_probabilities(raw, outcome, groups, seed=0).probability
    costs = Costs(missed_failure=10_000, inspection=500, false_alarm=1_000)
    choice = empirical_threshold(p, outcome, costs)
    assert p.min() < choice.threshold <= p.max() and choice.threshold in set(p.tolist())
    policy = ThresholdPolicy()
    policy.fit(p, outcome, np.full(len(p), "pump"))
    assert policy.threshold_for("pump") == choice.threshold
    # a sweep over the grid the case thresholds use: 30 distinct thresholds, and no value holds a plateau of rows
    grid = threshold_grid(p)
    assert len(grid) == 30
    assert pd.Series(p).value_counts().max() == 1
    # the plain isotonic map on the same rows: a plateau that a sweep crosses in one jump
    plain = holdout.calibrate_probabilities(raw, outcome, groups, seed=0, method="isotonic").probability
    assert pd.Series(plain).value_counts().max() > 100
    assert len(threshold_grid(plain)) < len(grid)
