"""Long series (issue 14): each ensemble member's surprises rebased on its own recent history (``rebase_rows``)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly.ensemble import REBASE_QUANTILE, EnsembleDetector, rebase


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def drifting(n: int, seed: int = 0) -> np.ndarray:
    """Two AR(1) channels; the first climbs slowly by 3 units over the series (a trend its first 15 % never saw)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 2))
    shocks = rng.normal(size=(n, 2))
    for t in range(1, n):
        x[t] = 0.6 * x[t - 1] + shocks[t]
    x[:, 0] += np.linspace(0.0, 3.0, n)
    return x


def test_a_hot_member_loses_its_excess_and_a_cool_one_keeps_its_surprises():
    base = -np.log10(1.0 - REBASE_QUANTILE)
    hot = np.r_[np.full(50, base + 4.0), 10.0]
    cool = np.r_[np.full(50, 0.1), 10.0]
    out = rebase(np.c_[hot, cool], rows=50)
    assert out[-1, 0] == pytest.approx(6.0)
    assert out[-1, 1] == pytest.approx(10.0)


def test_nothing_changes_before_a_full_history_nor_where_the_member_sat_out():
    surprise = np.full((60, 1), 9.0)
    assert np.array_equal(rebase(surprise, rows=60), surprise)  # no row has 60 rows before it
    gapped = np.full((200, 1), 9.0)
    gapped[150] = np.nan  # the member sat out one row (a regime switch): the rows whose history holds it keep theirs
    out = rebase(gapped, rows=40)
    assert out[100, 0] < 9.0
    assert np.isnan(out[150, 0])
    assert (out[151:191, 0] == 9.0).all()


def test_off_by_default_and_series_up_to_rebase_rows_score_as_without_it():
    assert EnsembleDetector().rebase_rows is None
    x = drifting(2000)
    on = EnsembleDetector(rebase_rows=2000).fit(x[:300]).score(x)
    off = EnsembleDetector().fit(x[:300]).score(x)
    assert np.array_equal(on, off)


def test_a_slow_drift_raises_fewer_alarms_on_a_long_series_and_a_late_fault_still_alarms():
    x = drifting(8000)
    faulty = x.copy()
    faulty[7000:7150, 1] += 6.0  # a level shift of one channel late in the series
    counts, caught = {}, {}
    for rows in (None, 4000):
        detector = EnsembleDetector(rebase_rows=rows).fit(x[:1200])
        alarms, _ = find_alarms(detector.score(x), AlarmRule())
        counts[rows] = int(alarms[4000:].sum())
        faulty_alarms, _ = find_alarms(detector.score(faulty), AlarmRule())
        caught[rows] = bool(faulty_alarms[7000:7150].any())
    assert counts[4000] < counts[None] / 2  # the drift's false episodes fall by more than half
    assert caught[4000]  # (without rebasing, an episode the drift opened can hold it: no alarm of its own)


def test_rebase_rows_is_checked():
    with pytest.raises(ValueError, match="rebase_rows"):
        EnsembleDetector(rebase_rows=5).fit(drifting(100))
