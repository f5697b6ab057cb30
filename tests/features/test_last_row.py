"""The serving fast path computes exactly the batch window features of the last row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.exceptions import SchemaError
from forewarn.features.last_row import feature_names, last_row_features
from forewarn.features.window import STATS, window_features

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.lists(st.one_of(values, st.just(float("nan"))), min_size=2, max_size=2), min_size=1, max_size=40),
    window=st.integers(1, 15),
    span=st.floats(1, 20),
)
def test_last_row_matches_batch_function(data: list[list[float]], window: int, span: float) -> None:
    array = np.asarray(data, dtype="float64")
    frame = pd.DataFrame(array, columns=["a", "b"]).assign(unit=1, step=np.arange(len(array)))
    batch = window_features(frame, group="unit", order="step", columns=["a", "b"], window=window, ewm_span=span)
    fast = last_row_features(array, ["a", "b"], window=window, stats=STATS, ewm_span=span)
    assert list(batch.columns) == feature_names(["a", "b"], STATS)
    np.testing.assert_allclose(fast, batch.iloc[-1].to_numpy(dtype="float64"), rtol=1e-7, atol=1e-6)


def test_bad_shapes_and_stats_are_named() -> None:
    with pytest.raises(SchemaError, match="rows x 2 channels"):
        last_row_features(np.zeros((3, 3)), ["a", "b"], window=2, stats=("mean",))
    with pytest.raises(SchemaError, match="no readings"):
        last_row_features(np.zeros((0, 1)), ["a"], window=2, stats=("mean",))
    with pytest.raises(SchemaError, match="unknown statistic"):
        last_row_features(np.zeros((2, 1)), ["a"], window=2, stats=("median",))


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.lists(st.one_of(values, st.just(float("nan"))), min_size=2, max_size=2), min_size=1, max_size=30),
    window=st.integers(1, 12),
)
def test_a_sequence_specs_last_row_matches_its_window_frame(data: list[list[float]], window: int) -> None:
    """A sequence model's input at the last row: the fast path (the kernel's sequence_steps) equals the spec's
    frame (forward fill over the history, 0 before a channel's first reading, the first row repeated before it)."""
    from forewarn.bundles.bundle import ServingSpec

    spec = ServingSpec(channels=("a", "b"), window=window, sequence=True)
    array = np.asarray(data, dtype="float64")
    frame = pd.DataFrame(array, columns=["a", "b"]).assign(asset_id="p", ts=np.arange(len(array)))
    full = spec.window_frame(frame)
    assert list(full.columns) == spec.window_feature_names
    np.testing.assert_array_equal(spec.last_row(array), full.iloc[-1].to_numpy(dtype="float64"))
