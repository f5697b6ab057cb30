"""The change-point and discord members give a row the same score whichever row its series starts at and
whichever rows are scored with it (issue 14: the stream and nightly ``--only-new`` runs equal one batch run)."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.models.anomaly import changepoint, discord


def _brute_peak(x: np.ndarray, window: int) -> np.ndarray:
    out = np.zeros_like(x)
    for t in range(len(x)):
        for k in range(1, min(window, t + 1) + 1):
            out[t] = np.maximum(out[t], x[t - k + 1 : t + 1].sum(axis=0))
    return out


@pytest.mark.parametrize("window", [1, 2, 3, 5, 8, 13, 20, 33])
@pytest.mark.parametrize("rows", [1, 4, 40, 90])
def test_window_peak_is_the_largest_trailing_sum(window: int, rows: int) -> None:
    x = np.random.default_rng(window * 100 + rows).normal(size=(rows, 3)) - 0.5
    assert np.allclose(changepoint.window_peak(x, window), _brute_peak(x, window), rtol=0, atol=1e-12)


def test_window_peak_keeps_nan_in_its_windows() -> None:
    x = np.array([1.0, 2.0, np.nan, 1.0, 1.0, 1.0])[:, None]
    assert changepoint.window_peak(x, 2).ravel()[[0, 1, 4, 5]].tolist() == [1.0, 3.0, 2.0, 2.0]
    assert np.isnan(changepoint.window_peak(x, 2).ravel()[[2, 3]]).all()


def test_cusum_is_the_same_bit_for_bit_in_a_series_started_later() -> None:
    # 200,000 rows: a cumulative sum of y - drift falls to -1e5, whose rounding (about 6e-11) differed with the start
    y = np.random.default_rng(0).normal(size=(200_000, 2))
    whole = changepoint.windowed_cusum(y, 20)
    for start in (1, 12_345, 150_001):
        later = changepoint.windowed_cusum(y[start:], 20)
        assert np.array_equal(later[20:], whole[start + 20 :])


def _series(rows: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(rows)[:, None]
    return np.sin(2 * np.pi * t / np.array([50.0, 37.0, 91.0])) + 0.3 * rng.normal(size=(rows, 3)) + 1e3


def test_a_discord_row_scores_the_same_alone_or_in_a_block() -> None:
    z = _series()
    state = discord.fit(z[:800], length=32, references=128)
    whole = discord.score(state, z, length=32)
    alone = [discord.score(state, z[: t + 1], length=32, first=t)[t] for t in range(2000, 2120)]
    assert np.max(np.abs(np.array(alone) - whole[2000:2120])) <= 1e-12  # float32: 2.4e-7
    for size in (2, 6, 60):
        block = discord.score(state, z[: 2400 + size], length=32, first=2400)[2400:]
        assert np.max(np.abs(block - whole[2400 : 2400 + size])) <= 1e-12
    later = discord.score(state, z[1500:], length=32)
    assert np.max(np.abs(later[32:] - whole[1532:])) <= 1e-12


def test_a_discord_distance_to_an_identical_reference_is_zero_to_float64() -> None:
    z = _series()
    state = discord.fit(z[:800], length=32, references=128)
    own = discord.score(state, z[:800], length=32)[state["index"]]  # each reference row against itself
    assert np.nanmax(own) <= 1e-12  # float32: 2.4e-7 (the expanded form cancels)


def test_window_peak_in_stretches_equals_one_pass_bit_for_bit() -> None:
    x = np.random.default_rng(7).normal(size=(3 * changepoint.PEAK_ROWS + 77, 2)) - 0.5
    for window in (1, 20, 100):
        assert np.array_equal(changepoint.window_peak(x, window), changepoint._stretch_peak(x, window))
        brute = np.zeros_like(x)  # the largest trailing sum of 1 .. window rows, by shifted sums
        running = np.zeros_like(x)
        for k in range(1, window + 1):
            running[k - 1 :] += x[: len(x) - k + 1]
            brute[k - 1 :] = np.maximum(brute[k - 1 :], running[k - 1 :])
        assert np.allclose(changepoint.window_peak(x, window), brute, rtol=0, atol=1e-11)
