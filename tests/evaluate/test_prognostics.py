"""Health-indicator quality metrics."""

import numpy as np
import pytest

from forewarn.evaluate.prognostics import monotonicity, robustness, trendability
from forewarn.exceptions import SchemaError


def test_monotonicity_counts_rises_against_falls_and_ignores_flat_steps():
    assert monotonicity(np.arange(10.0)) == 1.0
    assert monotonicity(-np.arange(10.0)) == 1.0  # a monotone fall is as monotone
    assert monotonicity(np.tile([0.0, 1.0], 10)) == pytest.approx(1 / 19)
    assert monotonicity(np.r_[np.zeros(9), 1.0]) == pytest.approx(1 / 9)  # flat steps are no rise


def test_trendability_is_rank_correlation_with_time():
    t = np.arange(50.0)
    assert trendability(np.exp(t / 10), t) == pytest.approx(1.0)
    assert trendability(-t, t) == pytest.approx(-1.0)
    assert trendability(np.ones(5)) == 0.0
    with pytest.raises(SchemaError, match="times"):
        trendability(np.arange(5.0), np.arange(4.0))


def test_robustness_falls_with_noise():
    rng = np.random.default_rng(0)
    trend = np.linspace(0, 5, 300)
    values = [robustness(trend + rng.normal(0, s, 300)) for s in (0.0, 0.3, 1.0)]
    assert values[0] > 0.99 and values[0] > values[1] > values[2]
    assert robustness(np.ones(4)) == 1.0


def test_bad_series_are_refused():
    with pytest.raises(SchemaError, match="at least 2"):
        monotonicity(np.array([1.0]))
    with pytest.raises(SchemaError, match="finite"):
        robustness(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(SchemaError, match="window"):
        robustness(np.arange(5.0), window=0)
