"""The alarm on-delay (debounce) used after a trailing-mean smoother."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.exceptions import SchemaError
from forewarn.models.anomaly.series import ScoreCalibration, on_delay, trailing_mean


def test_short_bursts_are_dropped_and_long_ones_delayed():
    alarms = np.r_[np.zeros(5), np.ones(4), np.zeros(3), np.ones(8), np.zeros(2)].astype(bool)
    delayed = on_delay(alarms, 5)
    assert not delayed[:12].any()  # the 4-row burst never alarms
    assert np.flatnonzero(delayed).tolist() == list(range(16, 20))  # the 8-row one alarms from its 5th row
    np.testing.assert_array_equal(on_delay(alarms, 1), alarms)
    with pytest.raises(SchemaError, match="on-delay"):
        on_delay(alarms, 0)


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 8), st.integers(0, 59))
def test_on_delay_is_causal_and_matches_its_definition(flags, rows, cut):
    alarms = np.array(flags, dtype=bool)
    delayed = on_delay(alarms, rows)
    expected = [i + 1 >= rows and bool(alarms[i + 1 - rows : i + 1].all()) for i in range(len(alarms))]
    assert delayed.tolist() == expected
    np.testing.assert_array_equal(on_delay(alarms[:cut], rows), delayed[:cut])  # the future changes nothing


def test_one_outlier_through_a_trailing_mean_never_passes_window_plus_one():
    window = 10
    scores = np.abs(np.random.default_rng(0).normal(1.0, 0.1, 500))
    level = ScoreCalibration.fit(trailing_mean(scores[:400], window)).level
    for size in (1e2, 1e6):
        spiked = scores.copy()
        spiked[450] = size
        above = ScoreCalibration.fit(trailing_mean(spiked[:400], window)).alarm(trailing_mean(spiked, window))
        assert above[450:460].all() and level > 0  # the spike is spread over exactly `window` rows ...
        assert not on_delay(above, window + 1).any()  # ... so an on-delay one row longer ignores it
    step = scores.copy()
    step[450:] += 5.0
    above = ScoreCalibration.fit(trailing_mean(step[:400], window)).alarm(trailing_mean(step, window))
    assert on_delay(above, window + 1)[470:].all()  # a lasting change still alarms
