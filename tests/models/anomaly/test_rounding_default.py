"""The ensemble's default for rounded values (``rounding="auto"``, issue 14 item 2): the grids an export's decimals
made are widened; a finely resolved series, and a sensor's own coarse quantisation, are scored exactly as without
it (the forecast's floor never binds there and no channel's window spreads change)."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ParameterError
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.robust import change_share, decimal_grid, grid_dominated


def _series(seed: int, n: int = 900) -> pd.DataFrame:
    """Three correlated channels with a slow drift and a level shift late in the series (an anomaly)."""
    rng = np.random.default_rng(seed)
    load = np.cumsum(rng.normal(0.0, 0.05, n))
    x = np.c_[load + rng.normal(0, 0.3, n), 2.0 * load + rng.normal(0, 0.3, n), rng.normal(0, 1.0, n)]
    x[700:760, 2] += 5.0
    index = pd.date_range("2026-01-01", periods=n, freq="10min", tz="UTC")
    return pd.DataFrame(x, columns=["a", "b", "c"], index=index)


def _scores(x: pd.DataFrame, **params: object) -> np.ndarray:
    return EnsembleDetector(**params).fit(x.iloc[:200]).score(x)


def test_a_finely_resolved_series_is_scored_exactly_as_before():
    x = _series(0)
    np.testing.assert_array_equal(_scores(x), _scores(x, rounding=False))
    written = x.round(6)  # six decimals: a grid far finer than the noise, moving on every row
    np.testing.assert_array_equal(_scores(written), _scores(written, rounding=False))


def test_a_sensors_own_quantisation_is_left_as_the_data_shows_it():
    x = _series(1)
    x["c"] = np.round(x["c"] / 0.328) * 0.328  # an ADC's step (SKAB's pressure: 0.328), not a written decimal
    np.testing.assert_array_equal(_scores(x), _scores(x, rounding=False))
    assert not np.array_equal(_scores(x, rounding=True), _scores(x, rounding=False))  # the option widens it


def test_a_channel_on_a_few_written_steps_does_not_alarm_at_each_step():
    from forewarn.decide.alarms import AlarmRule, find_alarms

    rng = np.random.default_rng(5)
    n = 900
    x = _series(5, n)
    level = np.r_[np.zeros(300), np.linspace(0.0, 6e-5, n - 300)]  # a drift of two noise spreads, 0.6 of a step
    x["quiet"] = np.round(0.00072 + level + rng.normal(0, 3e-5, n), 4)  # four decimals: a grid of a few steps

    def alarms_before_the_shift(scores: np.ndarray) -> int:
        return int(find_alarms(scores, AlarmRule())[0][:690].sum())

    default, off = _scores(x), _scores(x, rounding=False)
    assert alarms_before_the_shift(off) >= 10  # each step of the quiet channel a surprise (20 here)
    assert alarms_before_the_shift(default) <= 3  # as the unrounded series (1 here; 2 with the default)
    assert default[700:760].max() > 0.9  # the level shift of rows 700-760 still alarms


def test_the_rules_parts():
    rng = np.random.default_rng(3)
    slow = np.round(0.0007 + 0.00002 * rng.normal(size=400), 4)
    busy = np.round(0.0007 + 0.0001 * rng.normal(size=400), 4)
    assert change_share(np.c_[slow, busy]).tolist() == pytest.approx(
        [np.mean(np.diff(slow) != 0), np.mean(np.diff(busy) != 0)]
    )
    assert grid_dominated(np.c_[slow, busy, rng.normal(size=400)]).tolist() == [True, False, False]
    assert decimal_grid(np.array([1e-4, 1e-2, 10.0, 0.5, 0.328, 0.0])).tolist() == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert np.isnan(change_share(np.array([[1.0], [np.nan]])))[0]


def test_rounding_takes_auto_true_or_false_only():
    with pytest.raises(ParameterError, match="rounding"):
        EnsembleDetector(rounding="sometimes").fit(_series(4).iloc[:200])
    assert EnsembleDetector().get_params()["rounding"] == "auto"


def test_the_fit_keeps_the_rounding_noise_of_its_own_module():
    from forewarn.models.anomaly import adjust, ensemble
    from forewarn.models.anomaly.rounding import rounding_noise

    rng = np.random.default_rng(6)
    x = _series(6).iloc[:300]
    x["quiet"] = np.round(0.0007 + rng.normal(0, 2e-5, len(x)), 4)
    model = EnsembleDetector().fit(x)
    values = x.to_numpy(dtype="float64")
    _, windows = rounding_noise(values, model.spread_, np.median(model.regime_spread_, axis=0), "auto")
    np.testing.assert_array_equal(model.embedding_noise_, windows)
    assert windows[3] > 0 and not windows[:3].any()
    # the score's adjustments moved to their own module (2026-12-05): the ensemble scores through the same functions
    assert (ensemble.settle, ensemble.recover, ensemble.rebase, ensemble.hold_after) == (
        adjust.settle,
        adjust.recover,
        adjust.rebase,
        adjust.hold_after,
    )
