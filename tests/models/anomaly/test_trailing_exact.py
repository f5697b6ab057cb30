"""Trailing window statistics (``models.anomaly.robust.trailing_mean`` / ``trailing_std``) with each window's own
sums (``robust.window_moments``) against a direct per-window numpy reference, far from the first row, and the
same whichever row a series starts at."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.exceptions import SchemaError
from forewarn.models.anomaly.robust import trailing_mean, trailing_std, window_moments

#: half a unit in the last place of 1.0
U = np.finfo("float64").eps / 2


def reference(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's trailing window taken out and handed to numpy (mean, two-pass population std)."""
    mean, std = np.empty_like(values), np.empty_like(values)
    for t in range(len(values)):
        rows = values[max(0, t - window + 1) : t + 1]
        mean[t], std[t] = rows.mean(axis=0), rows.std(axis=0)
    return mean, std


def series(kind: str, rows: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(size=(rows, 3))
    t = np.arange(rows, dtype="float64")[:, None]
    if kind == "plain":
        return noise
    if kind == "offset":  # a level far from zero, a small spread
        return 1e6 + 1e-3 * noise
    if kind == "drift":  # a level that moves far during the series
        return 5e3 + 3.7 * t + 0.01 * noise
    if kind == "counter":  # a running count, steps of varying size
        return 1e7 + np.cumsum(rng.integers(0, 50, size=(rows, 3)), axis=0) + 0.0
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["plain", "offset", "drift", "counter"])
@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 8, 32, 33, 80, 256, 500])
def test_every_window_matches_numpy_on_its_own_rows(kind: str, window: int) -> None:
    rng = np.random.default_rng(window)
    x = series(kind, 300, rng)
    mean, std = reference(x, window)
    # a few units in the last place of the values (their own precision), whatever the row
    tol = 16 * U * np.abs(x).max()
    np.testing.assert_allclose(trailing_mean(x, window), mean, rtol=0, atol=tol)
    np.testing.assert_allclose(trailing_std(x, window), std, rtol=0, atol=tol)


def test_a_million_rows_from_the_first_a_spread_of_1e_3_is_exact() -> None:
    """The case that cumulative sums got wrong: the spread 1e-3 of a window a million rows into a drifting level
    (running sums of squares lost 1.6e-4 there)."""
    rng = np.random.default_rng(0)
    rows = 1_000_000
    x = (1e3 + 0.01 * np.arange(rows, dtype="float64") + 1e-3 * rng.normal(size=rows))[:, None]
    for window in (4, 32, 256):
        tail = x[-window:, 0]
        assert abs(trailing_std(x, window)[-1, 0] - tail.std()) < 1e-12
        assert abs(trailing_mean(x, window)[-1, 0] - tail.mean()) < 16 * U * tail.max()  # 2e-11: the level's ulp


@pytest.mark.parametrize("window", [1, 2, 5, 32, 80, 256, 255])
@pytest.mark.parametrize("start", [1, 3, 64, 999])
def test_a_series_that_starts_elsewhere_gives_the_same_values_once_the_window_is_full(window: int, start: int) -> None:
    """Bit for bit: the stream's context and a nightly run's rows (``detect --only-new``) give a row the value
    one run over the whole history gives it."""
    rng = np.random.default_rng(7)
    x = 1e4 + np.cumsum(rng.normal(size=(3000, 4)), axis=0)
    x[1500:1600, 1] = x[1500, 1]  # a flat stretch: a stuck sensor
    whole_mean, whole_std = trailing_mean(x, window), trailing_std(x, window)
    part_mean, part_std = trailing_mean(x[start:], window), trailing_std(x[start:], window)
    full = window - 1  # the first row of the part whose window is full
    np.testing.assert_array_equal(part_mean[full:], whole_mean[start + full :])
    np.testing.assert_array_equal(part_std[full:], whole_std[start + full :])


def test_a_flat_window_has_spread_zero_far_from_the_first_row() -> None:
    x = np.r_[np.linspace(0.0, 5e5, 200_000), np.full(64, 123456.789)][:, None]
    assert trailing_std(x, 32)[-1, 0] == 0.0
    assert trailing_mean(x, 32)[-1, 0] == 123456.789


def test_a_missing_value_spoils_only_the_windows_that_hold_it() -> None:
    x = np.random.default_rng(1).normal(size=(40, 2))
    x[10, 0] = np.nan
    for stat in (trailing_mean, trailing_std):
        out = stat(x, 4)
        assert np.flatnonzero(np.isnan(out[:, 0])).tolist() == [10, 11, 12, 13]
        assert not np.isnan(out[:, 1]).any()
        clean = x.copy()
        clean[10, 0] = 0.0
        np.testing.assert_array_equal(out[14:, 0], stat(clean, 4)[14:, 0])


def test_window_longer_than_the_series_and_the_start_use_the_rows_there_are() -> None:
    x = np.array([[2.0], [4.0], [9.0]])
    assert trailing_mean(x, 10).ravel().tolist() == [2.0, 3.0, 5.0]
    np.testing.assert_allclose(trailing_std(x, 10).ravel(), [0.0, 1.0, np.std([2.0, 4.0, 9.0])], atol=1e-15)


def test_window_one_is_the_values_and_spread_zero() -> None:
    x = np.random.default_rng(2).normal(size=(50, 3))
    np.testing.assert_array_equal(trailing_mean(x, 1), x)
    np.testing.assert_array_equal(trailing_std(x, 1), np.zeros_like(x))


def test_one_dimensional_values_and_empty_series() -> None:
    np.testing.assert_allclose(trailing_mean(np.arange(6.0), 3), [0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    assert trailing_std(np.zeros((0, 3)), 4).shape == (0, 3)
    sums, square = window_moments(np.arange(4.0), 2, spread=False)
    assert sums.tolist() == [0.0, 1.0, 3.0, 5.0] and square is None


def test_the_input_is_left_as_it_was() -> None:
    x = np.random.default_rng(3).normal(size=(100, 2))
    kept = x.copy()
    trailing_std(x, 8)
    trailing_mean(x, 5)
    np.testing.assert_array_equal(x, kept)


def test_a_window_below_one_row_is_an_error() -> None:
    with pytest.raises(SchemaError, match="at least 1 row"):
        trailing_mean(np.ones((3, 1)), 0)
