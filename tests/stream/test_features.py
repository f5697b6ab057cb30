"""Micro-batch window features equal the one-at-a-time and the batch versions, and share their state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.exceptions import SchemaError, StateError
from forewarn.features.incremental import IncrementalWindowFeatures
from forewarn.features.window import STATS, window_features
from forewarn.stream.features import MicroBatchFeatures

COLUMNS = ["a", "b", "c"]


def _data(seed: int, n: int = 600, gaps: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    assets = rng.choice(["p1", "p2", "p3", "p4", "p5"], n)
    values = rng.normal(50, 10, size=(n, len(COLUMNS)))
    values[rng.random(values.shape) < gaps] = np.nan
    return assets, values


def _in_batches(online: MicroBatchFeatures, assets: np.ndarray, values: np.ndarray, rng: np.random.Generator):
    out, i = [], 0
    while i < len(values):
        k = int(rng.integers(1, 90))
        out.append(online.update(assets[i : i + k], values[i : i + k]))
        i += k
    return np.vstack(out)


@pytest.mark.parametrize("gaps", [0.0, 0.15])
@pytest.mark.parametrize("window", [1, 5, 30])
def test_equals_incremental_and_batch(gaps: float, window: int) -> None:
    assets, values = _data(1, gaps=gaps)
    online = _in_batches(MicroBatchFeatures(COLUMNS, window=window), assets, values, np.random.default_rng(2))
    inc = IncrementalWindowFeatures(COLUMNS, window=window)
    one_by_one = np.vstack([inc.update(a, v) for a, v in zip(assets, values, strict=True)])
    np.testing.assert_allclose(online, one_by_one, rtol=1e-9, atol=1e-9)
    frame = pd.DataFrame(values, columns=COLUMNS).assign(asset=assets, step=np.arange(len(values)))
    batch = window_features(frame, group="asset", order="step", columns=COLUMNS, window=window).to_numpy()
    np.testing.assert_allclose(online, batch, rtol=1e-7, atol=1e-7)
    assert MicroBatchFeatures(COLUMNS, window=window).feature_names == list(
        window_features(frame, group="asset", order="step", columns=COLUMNS, window=window).columns
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    window=st.integers(1, 12),
    stats=st.lists(st.sampled_from(STATS), min_size=1, unique=True),
)
def test_any_split_any_stats(seed: int, window: int, stats: list[str]) -> None:
    rng = np.random.default_rng(seed)
    assets, values = _data(seed, n=120, gaps=float(rng.uniform(0, 0.5)))
    stats = [s for s in STATS if s in stats]
    online = _in_batches(MicroBatchFeatures(COLUMNS, window=window, stats=stats), assets, values, rng)
    inc = IncrementalWindowFeatures(COLUMNS, window=window, stats=stats)
    expected = np.vstack([inc.update(a, v) for a, v in zip(assets, values, strict=True)])
    np.testing.assert_allclose(online, expected, rtol=1e-9, atol=1e-9)


def test_state_is_interchangeable_with_incremental() -> None:
    assets, values = _data(3)
    half = len(values) // 2
    inc = IncrementalWindowFeatures(COLUMNS, window=7)
    for a, v in zip(assets[:half], values[:half], strict=True):
        inc.update(a, v)
    online = MicroBatchFeatures(COLUMNS, window=7).set_state(inc.get_state())
    rest_online = online.update(assets[half:], values[half:])
    rest_inc = np.vstack([inc.update(a, v) for a, v in zip(assets[half:], values[half:], strict=True)])
    np.testing.assert_allclose(rest_online, rest_inc, rtol=1e-9, atol=1e-9)
    back = IncrementalWindowFeatures(COLUMNS, window=7).set_state(online.get_state())
    np.testing.assert_allclose(back.update("p1", [1.0, 2.0, 3.0]), inc.update("p1", [1.0, 2.0, 3.0]), rtol=1e-9)


def test_bad_input_is_refused() -> None:
    with pytest.raises(SchemaError, match="unknown statistic"):
        MicroBatchFeatures(COLUMNS, stats=("median",))
    with pytest.raises(SchemaError, match="values must be"):
        MicroBatchFeatures(COLUMNS).update(["p1"], np.zeros((1, 2)))
    with pytest.raises(StateError, match="shape"):
        MicroBatchFeatures(COLUMNS, window=3).set_state(MicroBatchFeatures(COLUMNS, window=4).get_state())
    assert MicroBatchFeatures(COLUMNS).update([], np.zeros((0, 3))).shape == (0, 24)
