"""Causal smoothing, series scoring and score calibration."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.exceptions import SchemaError
from forewarn.models.anomaly import ScoreCalibration, VARResidualDetector, score_series, trailing_mean

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=60), st.integers(1, 12), st.data())
@settings(max_examples=60, deadline=None)
def test_trailing_mean_never_looks_ahead(values, window, data):
    values = np.asarray(values)
    cut = data.draw(st.integers(1, len(values) - 1))
    changed = values.copy()
    changed[cut:] = data.draw(st.lists(finite, min_size=len(values) - cut, max_size=len(values) - cut))
    np.testing.assert_array_equal(trailing_mean(values, window)[:cut], trailing_mean(changed, window)[:cut])


def test_trailing_mean_window_one_is_identity_and_zero_is_an_error():
    assert trailing_mean(np.array([1.0, 5.0]), 1).tolist() == [1.0, 5.0]
    with pytest.raises(SchemaError):
        trailing_mean(np.array([1.0]), 0)


positive_scores = st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=5, max_size=200)


@given(positive_scores, st.lists(st.floats(min_value=0, max_value=1e4), min_size=2, max_size=30))
@settings(max_examples=80, deadline=None)
def test_calibrated_scores_are_monotone_in_unit_range_and_half_at_the_level(train, probe):
    cal = ScoreCalibration.fit(np.asarray(train))
    probe = np.sort(np.asarray(probe))
    mapped = cal.transform(probe)
    assert ((mapped >= 0) & (mapped <= 1)).all()
    assert (np.diff(mapped) >= -1e-12).all()
    assert cal.transform(np.array([cal.level]))[0] == pytest.approx(0.5)
    assert (cal.alarm(probe) == (probe > cal.level)).all()


@given(positive_scores, st.sampled_from([0.5, 2.0, 3.0]))
@settings(max_examples=60, deadline=None)
def test_alarm_rule_is_the_same_for_any_power_of_the_score(train, power):
    train = np.asarray(train)
    probe = np.geomspace(1e-3, 1e4, 50)
    base = ScoreCalibration.fit(train).alarm(probe)
    powered = ScoreCalibration.fit(train**power).alarm(probe**power)
    assert (base == powered).sum() >= len(probe) - 1  # equal up to floating point at the boundary


def test_calibration_handles_zero_median_and_constant_scores():
    zero_median = ScoreCalibration.fit(np.r_[np.zeros(60), np.linspace(0, 1, 40)])
    assert zero_median.level > 0
    constant = ScoreCalibration.fit(np.full(10, 2.0))
    assert constant.level > 2.0 and constant.transform(np.array([2.0, 3.0]))[1] > 0.5
    with pytest.raises(SchemaError):
        ScoreCalibration.fit(np.array([np.nan]))


def test_score_series_fits_on_the_leading_rows():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    model, scores = score_series(VARResidualDetector(), frame, 100, smooth=5)
    np.testing.assert_allclose(model.mean_, frame.iloc[:100].mean().to_numpy())
    assert scores.shape == (200,)
    with pytest.raises(SchemaError):
        score_series(VARResidualDetector(), frame, 0)
