"""RUL metrics: known values and properties (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.evaluate.rul import mae, phm08_score, phm08_terms, rmse, rul_metrics
from forewarn.exceptions import SchemaError

ruls = st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=1, max_size=60)
errors = st.floats(min_value=-80, max_value=80, allow_nan=False)


def test_known_values():
    assert rmse([10, 20, 30], [13, 16, 30]) == pytest.approx(math.sqrt((9 + 16) / 3))
    assert phm08_score([50], [40]) == pytest.approx(math.exp(10 / 13) - 1)  # early by 10
    assert phm08_score([50], [60]) == pytest.approx(math.e - 1)  # late by 10
    assert rul_metrics([1.0], [1.0]) == {"rmse": 0.0, "score": 0.0, "mae": 0.0}


@given(ruls, errors)
def test_constant_error(true, error):
    pred = np.asarray(true) + error
    assert rmse(true, pred) == pytest.approx(abs(error), abs=1e-9)
    assert mae(true, pred) == pytest.approx(abs(error), abs=1e-9)


@given(ruls, st.lists(errors, min_size=60, max_size=60))
def test_score_non_negative_zero_only_when_perfect(true, noise):
    pred = np.asarray(true) + np.asarray(noise[: len(true)])
    terms = phm08_terms(true, pred)
    assert (terms >= 0).all()
    assert phm08_score(true, pred) == pytest.approx(terms.sum())
    gap = np.abs(pred - np.asarray(true))
    assert (terms[gap == 0] == 0).all()
    assert (terms[gap > 1e-9] > 0).all()  # below that, exp(d/10) - 1 rounds to 0 in float64
    assert rmse(true, pred) >= mae(true, pred) - 1e-9


@given(ruls, st.floats(min_value=0.01, max_value=80))
def test_late_costs_more_than_early_and_grows_with_error(true, d):
    true = np.asarray(true)
    late, early = phm08_score(true, true + d), phm08_score(true, true - d)
    assert late > early > 0
    assert phm08_score(true, true + 2 * d) > late


@settings(max_examples=50)
@given(ruls, ruls)
def test_rmse_symmetric(a, b):
    n = min(len(a), len(b))
    assert rmse(a[:n], b[:n]) == pytest.approx(rmse(b[:n], a[:n]))


@pytest.mark.parametrize(
    "true, pred, fragment",
    [
        ([1, 2], [1], "has 2 values but y_pred has 1"),
        ([], [], "no values"),
        ([1.0, np.nan], [1, 2], "not finite"),
    ],
)
def test_bad_input(true, pred, fragment):
    with pytest.raises(SchemaError, match=fragment):
        rmse(true, pred)
