"""SKAB's pooled F1 / FAR / MAR."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from forewarn.evaluate.anomaly import OutlierMetrics, outlier_metrics, pooled_outlier_metrics
from forewarn.exceptions import SchemaError

pairs = st.integers(1, 80).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n), st.lists(st.integers(0, 1), min_size=n, max_size=n)
    )
)


@given(pairs)
@settings(max_examples=100, deadline=None)
def test_f1_matches_scikit_learn_and_rates_match_their_definitions(pair):
    true, predicted = np.asarray(pair[0]), np.asarray(pair[1])
    m = outlier_metrics(true, predicted)
    assert m.tp + m.fp + m.fn + m.tn == len(true)
    if true.any() or predicted.any():
        assert m.f1 == pytest.approx(f1_score(true, predicted, zero_division=0.0))
    if (true == 0).any():
        assert m.far == pytest.approx(100 * np.mean(predicted[true == 0]))
    if (true == 1).any():
        assert m.mar == pytest.approx(100 * np.mean(predicted[true == 1] == 0))


@given(st.lists(pairs, min_size=1, max_size=5))
@settings(max_examples=50, deadline=None)
def test_pooling_sums_counts_over_files(files):
    pooled = pooled_outlier_metrics(files)
    true = np.concatenate([f[0] for f in files])
    predicted = np.concatenate([f[1] for f in files])
    assert pooled == outlier_metrics(true, predicted)


def test_reference_detectors_and_the_skab_example():
    true = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    perfect = outlier_metrics(true, true)
    assert (perfect.f1, perfect.far, perfect.mar) == (1.0, 0.0, 0.0)
    null = outlier_metrics(true, np.zeros_like(true))
    assert (null.f1, null.far, null.mar) == (0.0, 0.0, 100.0)
    m = OutlierMetrics(tp=9223, fp=1655, fn=3548, tn=9375)
    assert round(m.f1, 2) == 0.78 and round(m.far, 2) == 15.0
    assert m.as_dict()["tp"] == 9223.0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(SchemaError, match="0 or 1"):
        outlier_metrics([0, 2], [0, 1])
    with pytest.raises(SchemaError, match="rows"):
        outlier_metrics([0, 1], [0])
    with pytest.raises(SchemaError, match="one-dimensional"):
        outlier_metrics([[0, 1]], [[0, 1]])
    assert outlier_metrics(np.array([True, False]), [1, 0]).f1 == 1.0
