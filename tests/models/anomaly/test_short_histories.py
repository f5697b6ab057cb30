"""The ensemble's levels on short training parts (issue 14): honest forecast errors, widened tails, a warning."""

import numpy as np
import pytest

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly import residual
from forewarn.models.anomaly.ensemble import EnsembleDetector, FewRowsWarning
from forewarn.models.anomaly.robust import small_sample_widening, tail_fit


def _ar(n: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.eye(channels) + 0.4 * rng.normal(size=(channels, channels))
    shocks = rng.normal(size=(n, channels)) @ mixing.T
    x = np.zeros((n, channels))
    for t in range(n):
        x[t] = (0.6 * x[t - 1] if t else 0.0) + shocks[t]
    return x


def test_widening_shrinks_to_one_as_exceedances_grow():
    widths = [small_sample_widening(k, 4.0) for k in (1, 2, 4, 15, 60, 400, 10_000)]
    assert all(a > b for a, b in zip(widths, widths[1:], strict=False))
    assert widths[-1] == pytest.approx(1.0, abs=1e-3) and widths[2] > 3.0
    assert small_sample_widening(5, 0.0) == 1.0
    rng = np.random.default_rng(0)
    short, reference = rng.exponential(1.0, 40), rng.exponential(1.0, 600)
    assert tail_fit(short, level=5.0)[1] > 2.0 * tail_fit(short)[1]
    assert (tail_fit(reference, level=5.0, reference=600) == tail_fit(reference)).all()  # nothing changes there


def test_honest_errors_match_new_rows_where_plain_ones_are_too_small():
    x = _ar(4000, 8, seed=1)
    state, honest = residual.fit_honest(x[:60], lags=3, reference_rows=600)
    plain = residual.innovations(state, x[:60])
    later = residual.innovations(state, x[1000:])
    # 8 channels, 60 rows: the fitted rows' plain errors understate new rows' errors by far; the honest ones less
    rms = [float(np.sqrt(np.mean(e[3:] ** 2))) for e in (plain, honest, later)]
    assert rms[0] < 0.5 * rms[2] and rms[1] > 1.5 * rms[0] and rms[1] > 0.6 * rms[2]
    state, honest = residual.fit_honest(x[:600], lags=3, reference_rows=600)  # the reference size: plain errors
    assert np.allclose(honest, residual.innovations(state, x[:600]), rtol=0.0, atol=1e-9)


def test_a_short_fit_warns_and_raises_few_alarms_on_healthy_rows():
    episodes = {True: 0, False: 0}  # with and without the small-sample corrections
    for seed in (2, 3, 4):  # 3 healthy series, 40 training rows, 960 scored rows each
        x = _ar(1000, 4, seed=seed)
        for corrected in episodes:
            with pytest.warns(FewRowsWarning, match="widened" if corrected else "corrections are off"):
                detector = EnsembleDetector(small_sample=corrected).fit(x[:40])
            alarms, _ = find_alarms(detector.score(x)[40:], AlarmRule())
            episodes[corrected] += int(alarms.sum())
    assert episodes[True] <= 6, episodes  # 0.2 % of the scored rows
    assert episodes[False] > episodes[True], episodes
