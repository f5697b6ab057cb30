"""The ensemble on normal behaviour that is not Gaussian: rare events that recur in training (``tail_visits``) and
a variance-stabilising transform chosen from the training rows (``stabilise``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly import stabilise
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.tails import excursion_widened


def _sawtooth(n: int, seed: int) -> pd.DataFrame:
    """A queue that fills over about 150 rows and empties at once, plus noise (one channel, 5-minute rows)."""
    rng = np.random.default_rng(seed)
    ramp, at = np.zeros(n), 0
    while at < n:
        length = int(150 * rng.uniform(0.8, 1.2))
        ramp[at : at + length] = 20.0 * np.arange(min(length, n - at)) / length
        at += length
    times = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame({"queue": ramp + rng.normal(0, 0.5, n)}, index=times)


def _starts(detector: EnsembleDetector, frame: pd.DataFrame, n_train: int) -> int:
    scores = detector.fit(frame.iloc[:n_train]).score(frame)
    alarms, _ = find_alarms(scores, AlarmRule())
    return int(alarms[n_train:].sum())


def test_recurring_rare_events_in_training_stop_alarming_with_tail_visits() -> None:
    frame = _sawtooth(2400, seed=3)
    plain = _starts(EnsembleDetector(), frame, 900)
    visits = _starts(EnsembleDetector(tail_visits=3), frame, 900)
    assert plain >= 5  # each emptying of the queue opens an episode without the option
    assert visits <= plain // 3
    broken = frame.copy()
    broken.iloc[2000:2100, 0] += 40.0  # a level shift twice the queue's whole range still alarms
    scores = EnsembleDetector(tail_visits=3).fit(broken.iloc[:900]).score(broken)
    assert scores[2000:2100].max() > 0.9


def test_one_or_two_anomalies_in_training_leave_the_tail_as_it_was() -> None:
    rng = np.random.default_rng(0)
    scores = rng.exponential(1.0, 1000)
    fit = np.array([float(np.quantile(scores, 0.9)), 1.0, 1.0])
    scores[[200, 700]] = 60.0  # two contaminated rows far apart
    assert excursion_widened(scores, fit, visits=3)[1] < 1.1  # (60 as a recurring height would make it about 10)
    x = rng.normal(size=(1500, 2))
    x[300:340, 0] += 8.0  # one contaminated stretch in the training rows
    with_option = EnsembleDetector(tail_visits=3).fit(x)
    without = EnsembleDetector().fit(x)
    assert np.allclose(with_option.tails_, without.tails_)


def test_stabilise_leaves_additive_channels_alone_and_scores_them_as_before() -> None:
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=(2000, 3)), axis=0) * 0.05 + rng.normal(size=(2000, 3))
    plain = EnsembleDetector().fit(x[:600]).score(x)
    stable = EnsembleDetector(stabilise=True).fit(x[:600])
    assert stable.stabilise_[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert np.array_equal(stable.score(x), plain)


def test_stabilise_takes_logs_of_multiplicative_and_roots_of_counts() -> None:
    rng = np.random.default_rng(2)
    level = np.exp(np.sin(np.arange(3000) / 150.0) + 2.0)
    x = np.c_[level * np.exp(rng.normal(0, 0.3, 3000)), rng.poisson(level / 3).astype(float)]
    fit = EnsembleDetector(stabilise=True).fit(x[:1000])
    assert fit.stabilise_[:, 0].tolist() == [0.0, 0.5]
    # the scaling that alarm explanations read stays in the channels' own units
    assert np.allclose(fit.center_, np.median(x[:1000], axis=0))
    assert np.allclose(fit.stable_center_, [np.log(np.median(x[:1000, 0]) * 1.01), np.median(np.sqrt(x[:1000, 1]))])
    assert np.isfinite(fit.score(np.vstack([x, [[0.0, -1.0]]]))).all()  # impossible values score, never NaN


def test_a_fit_saved_before_stabilise_loads_and_scores_as_it_did() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1200, 2))
    fitted = EnsembleDetector().fit(x[:400])
    state = {k: v for k, v in fitted.get_state().items() if k != "stabilise_"}
    again = EnsembleDetector().set_state(state)
    assert np.array_equal(again.score(x), fitted.score(x))
    assert np.array_equal(again.stabilise_, stabilise.identity(2))
