"""The default label-free detector (issue 14): the ``ensemble`` anomaly model and its members."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from forewarn.base.registry import get
from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly import changepoint, discord, embedding
from forewarn.models.anomaly.ensemble import MEMBERS, EnsembleDetector, FewRowsWarning, score_frame


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def ar_series(n=3000, channels=3, seed=0, phi=0.8):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, channels))
    x = np.zeros((n, channels))
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    t = np.arange(n)
    x += 2.0 * np.sin(2 * np.pi * t / 200)[:, None]  # a shared cycle
    return x


def test_registered_as_ensemble():
    assert get("ensemble") is EnsembleDetector
    assert EnsembleDetector.task == "anomaly"


def test_scores_continuous_in_unit_interval_without_pile_up():
    x = ar_series()
    s = EnsembleDetector().fit(x[:1000]).score(x)
    assert ((s > 0) & (s < 1)).all()
    _, counts = np.unique(s, return_counts=True)
    assert counts.max() <= 0.01 * len(s), "no value may hold more than 1 % of the scores"


@pytest.mark.parametrize(
    "inject",
    [
        lambda x: x.__setitem__((slice(2000, 2002), 0), x[2000:2002, 0] + 12.0),  # spike
        lambda x: x.__setitem__((slice(2000, 2100), 1), x[2000:2100, 1] + 5.0),  # level shift
        lambda x: x.__setitem__((slice(2000, 2100), 2), x[2000, 2]),  # stuck
        lambda x: x.__setitem__((slice(2000, 2100), 0), x[2000:2100, 0] * 4.0),  # variance
    ],
    ids=["spike", "level_shift", "stuck", "variance"],
)
def test_injected_anomaly_scores_above_normal_rows(inject):
    x = ar_series(seed=1)
    inject(x)
    s = EnsembleDetector().fit(x[:1000]).score(x)
    assert s[2000:2110].max() > 0.5
    assert s[2000:2110].max() > np.quantile(s[1000:2000], 0.99)


def test_causal_later_rows_do_not_change_earlier_scores():
    x = ar_series(n=1500)
    det = EnsembleDetector().fit(x[:600])
    changed = x.copy()
    changed[1200:] += 50.0
    assert np.allclose(det.score(x)[:1200], det.score(changed)[:1200])


def test_contaminated_training_still_detects():
    x = ar_series(seed=2)
    x[100:160, 0] += 8.0  # a fifth of the training rows hold an anomaly
    x[2000:2060, 0] += 8.0
    for contamination in (None, 0.2):
        s = EnsembleDetector(contamination=contamination).fit(x[:300]).score(x)
        assert s[2000:2060].max() > 0.5, contamination


def test_works_from_ten_rows_with_a_warning():
    x = ar_series(n=200, seed=3)
    with pytest.warns(FewRowsWarning, match="only 10 rows"):
        det = EnsembleDetector().fit(x[:10])
    s = det.score(x)
    assert s.shape == (200,) and np.isfinite(s).all()


def test_fewer_than_ten_rows_refused():
    from forewarn.exceptions import SchemaError

    with pytest.raises(SchemaError, match="at least 10"):
        EnsembleDetector().fit(ar_series(n=9))


def test_gaps_tolerated():
    x = ar_series(n=1500, seed=4)
    x[[50, 700, 701, 1200], 1] = np.nan
    s = EnsembleDetector().fit(x[:500]).score(x)
    assert np.isfinite(s).all()


def test_adaptation_forgets_a_slow_level_change():
    x = ar_series(n=4000, seed=5)
    x[1000:, :] += np.linspace(0, 15, 3000)[:, None]
    plain = EnsembleDetector().fit(x[:800]).score(x)
    adapted = EnsembleDetector(adaptation=0.01).fit(x[:800]).score(x)
    assert (adapted[3000:] >= 0.5).mean() < (plain[3000:] >= 0.5).mean()


@pytest.mark.parametrize("member", MEMBERS)
def test_each_member_alone(member):
    x = ar_series(n=1500, seed=6)
    det = EnsembleDetector(members=(member,)).fit(x[:500])
    assert list(det.member_scores(x).columns) == [member]
    assert np.isfinite(det.score(x)).all()


def test_score_frame_drops_timestamps_and_defaults_to_first_15_percent():
    x = ar_series(n=1000, seed=7)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.insert(0, "timestamp", pd.date_range("2024-01-01", periods=1000, freq="1min", tz="UTC"))
    s = score_frame(frame, None)
    assert s.shape == (1000,)
    timed = frame.iloc[:, 1:].set_axis(pd.DatetimeIndex(frame["timestamp"]))
    assert np.allclose(s, EnsembleDetector().fit(frame.iloc[:150, 1:]).score(timed))


def _drifting_hourly(offset: float, seed: int = 11) -> pd.DataFrame:
    """Hourly rows: two AR(1) channels; from row 1000 on, channel b sits ``offset`` training spreads out (a lasting,
    noisy offset), and from row 2000 it climbs to 40 spreads more over 100 rows (a failure's final growth)."""
    x = ar_series(n=2200, seed=seed)[:, :2]
    spread = x[:500, 1].std()
    x[1000:, 1] += offset * spread
    x[2000:2100, 1] += np.linspace(0.0, 40.0, 100) * spread
    x[2100:, 1] += 40.0 * spread
    return pd.DataFrame(x, columns=["a", "b"], index=pd.date_range("2024-01-01", periods=2200, freq="h", tz="UTC"))


def _starts(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    det = EnsembleDetector().fit(frame.iloc[:500])
    settled = det.score(frame)  # the rows' times are the index: settling on (48 h x 4 by default)
    plain = det.score(frame.reset_index(drop=True))  # no times: nothing settles
    return settled, plain, find_alarms(settled, AlarmRule())[0], find_alarms(plain, AlarmRule())[0]


def test_without_times_nothing_settles():
    frame = _drifting_hourly(3.5)
    settled, plain, _, _ = _starts(frame)
    assert np.allclose(plain, EnsembleDetector(settle_hours=None).fit(frame.iloc[:500]).score(frame))
    assert (settled[1100:2000] < plain[1100:2000]).mean() > 0.9  # a lasting deviation: damped
    assert np.isclose(settled[:1000], plain[:1000]).mean() > 0.8  # a normal past: mostly untouched


def test_a_noisy_lasting_offset_reopens_fewer_episodes_once_settled():
    _, _, settled, plain = _starts(_drifting_hourly(3.5))
    assert settled[:1000].sum() == plain[:1000].sum() == 0
    assert settled[1000:1100].sum() >= 1  # the offset's onset alarms at once
    assert plain[1000:2000].sum() >= 2 * settled[1000:2000].sum()  # noise around the level re-opens episodes
    assert settled[2000:2100].sum() >= 1  # the growth alarms


def test_growth_inside_a_lasting_deviation_alarms_again_once_settled():
    _, _, settled, plain = _starts(_drifting_hourly(5.0))
    assert settled[1000:1100].sum() >= 1 and plain[1000:1100].sum() >= 1
    assert plain[2000:2100].sum() == 0  # unsettled: the offset's episode is still open, the growth says nothing
    assert settled[2000:2100].sum() >= 1


def test_settle_parameters_are_checked():
    with pytest.raises(ValueError, match="settle_factor"):
        EnsembleDetector(settle_factor=0.5).fit(ar_series(n=200, seed=1))
    with pytest.raises(ValueError, match="settle_hours"):
        EnsembleDetector(settle_hours=0.0).fit(ar_series(n=200, seed=1))


def test_member_functions_catch_their_shapes():
    rng = np.random.default_rng(8)
    z = rng.normal(size=(600, 1))
    z[400:] += 1.5
    s = changepoint.score(changepoint.fit(z[:300], 20), z, 20)
    assert s[420] > 2 * np.quantile(s[:400], 0.99)
    assert s[599] < 2 * np.quantile(s[:400], 0.99), "the moving reference catches up: an onset, not a level"
    t = np.arange(2000.0)
    z = np.sin(2 * np.pi * t / 50)[:, None]
    z[1500:1560, 0] = np.sin(2 * np.pi * t[1500:1560] / 9)
    state = discord.fit(z[:1000], 32, 128)
    assert discord.score(state, z, 32)[1540] > 3 * np.nanquantile(discord.train_scores(state, z[:1000], 32), 0.99)
    z = rng.normal(size=(600, 2))
    z[500:540, 0] = z[500, 0]
    state = embedding.fit(z[:400], (8, 32), 128)
    trained = embedding.train_scores(state, z[:400], (8, 32))
    assert embedding.score(state, z, (8, 32))[530] > 3 * np.nanquantile(trained, 0.99)


@pytest.mark.parametrize("gaps", [False, True])
def test_no_pile_up_on_a_generated_normal_series(gaps):
    from forewarn.twin.anomalies import SeriesConfig, synthetic_series

    frame = synthetic_series(SeriesConfig(n_rows=3000, n_channels=3, gaps=gaps, irregular=gaps), seed=11)
    s = score_frame(frame, None)
    assert np.isfinite(s).all() and ((s > 0) & (s < 1)).all()
    _, counts = np.unique(s, return_counts=True)
    assert counts.max() <= 0.01 * len(s)


def start_stop_series(n=3000, seed=9):
    """A machine that runs and stops in blocks of 20-60 rows: three channels near 0 when stopped, a temperature
    that cools towards ambient (a lag) after a stop."""
    rng = np.random.default_rng(seed)
    on = np.zeros(n, dtype=bool)
    t = 0
    while t < n:
        length = int(rng.integers(20, 60))
        on[t : t + length] = not on[t - 1] if t else True
        t += length
    x = np.zeros((n, 4))
    x[:, 0] = np.where(on, 1500 + rng.normal(0, 10, n), 0.0)  # speed
    x[:, 1] = np.where(on, 40 + rng.normal(0, 1, n), 0.0)  # current
    x[:, 2] = np.where(on, 0.1 + np.abs(rng.normal(0, 0.01, n)), 0.002 * rng.random(n))  # vibration
    temp = np.zeros(n)
    temp[0] = 60.0
    for i in range(1, n):
        target = 60.0 if on[i] else 20.0
        temp[i] = temp[i - 1] + 0.3 * (target - temp[i - 1]) + rng.normal(0, 0.3)
    x[:, 3] = temp
    return x, on


def test_start_stop_regimes_learned_and_a_fault_while_running_still_seen():
    x, on = start_stop_series()
    x[2400:2460, 2] = np.where(on[2400:2460], x[2400:2460, 2] * 3.0, x[2400:2460, 2])  # vibration triples
    assert on[2400:2460].sum() > 10
    det = EnsembleDetector().fit(x[:800])
    assert len(det.regime_centroids_) == 2, "running and stopped, each entered many times"
    assert np.ptp(det.regime_center_[:, 0]) > 1.0, "the regimes' speeds lie more than a global spread apart"
    z = det._prepare(x[:2400])
    assert np.abs(z[:, :2]).max() < 10, "speed and current: no jump left at a start or a stop"
    assert EnsembleDetector(regimes=1).fit(x[:800]).regime_centroids_.shape[0] == 1
    s = det.score(x)
    running = 2400 + np.flatnonzero(on[2400:2460])
    assert s[running].max() > 0.5, "a fault inside the running regime is still seen"


def test_an_anomaly_visited_once_in_training_is_not_a_regime():
    from forewarn.models.anomaly import regimes

    rng = np.random.default_rng(10)
    z = rng.normal(size=(800, 3))
    z[300:360] += 30.0  # one long excursion in the training rows: tight, separate, but entered once
    assert len(regimes.fit(z)["centroids"]) == 1


def test_despike_ignores_a_one_row_glitch_of_one_sensor_but_not_a_lasting_change():
    x = ar_series(n=2000, seed=12)
    x[1500, 0] += 40.0  # one reading of one sensor
    x[1800:1830, 1] += 8.0  # a level shift
    for despike, glitch_seen in ((True, False), (False, True)):
        det = EnsembleDetector(despike=despike, members=("residual",)).fit(x[:800])
        e = det.member_scores(x)["residual"].to_numpy()
        assert bool(e[1500:1503].max() > det.level) is glitch_seen, despike
        assert e[1800:1803].max() > det.level, despike


def test_recover_worked_example_and_excursion_reset():
    from forewarn.models.anomaly.ensemble import recover

    e = np.array([0.2, 100.0, 80.0, 30.0, 20.0, 1.0, 1.0, 8.0])
    # peak 100 before rows 2-4 -> divided by 100 / (2 * 5) = 10; rows 5 and 6 under the level 5 end the excursion
    assert recover(e, 2.0, 5.0, rows=2).tolist() == pytest.approx([0.2, 100.0, 8.0, 3.0, 2.0, 0.1, 1.0, 8.0])
    # with 3 rows needed the excursion is still open at row 7: 8 / 10
    assert recover(e, 2.0, 5.0, rows=3)[7] == pytest.approx(0.8)
    # one low row between two highs does not end it
    assert recover(np.array([100.0, 1.0, 30.0]), 2.0, 5.0, rows=2).tolist() == pytest.approx([100.0, 0.1, 3.0])
    assert recover(np.zeros(0), 2.0, 5.0).shape == (0,)


def _fault_then_lesser_state(seed: int = 12) -> np.ndarray:
    """A fault (channel 0 shifted 40 spreads, rows 2000-2099), then a lasting lesser state (6 spreads, rows
    2100-2499), normal again, then a new moderate fault (8 spreads on channel 1, rows 3000-3099)."""
    x = ar_series(n=3300, seed=seed)
    spread = x[:1000].std(axis=0)
    x[2000:2100, 0] += 40.0 * spread[0]
    x[2100:2500, 0] += 6.0 * spread[0]
    x[3000:3100, 1] += 8.0 * spread[1]
    return x


def test_recover_ends_the_episode_when_a_fault_gives_way_to_a_lesser_state():
    x = _fault_then_lesser_state()
    on = EnsembleDetector().fit(x[:1000]).score(x)
    off = EnsembleDetector(recover=None).fit(x[:1000]).score(x)
    alarms_on, episodes_on = find_alarms(on, AlarmRule())
    alarms_off, episodes_off = find_alarms(off, AlarmRule())
    assert alarms_on[2000:2010].sum() == alarms_off[2000:2010].sum() == 1  # the fault's onset alarms either way

    def rows_in_episodes(episodes, a, b):
        inside = np.zeros(len(x), dtype=bool)
        for ep in episodes:
            inside[ep.start : ep.end + 1] = True
        return int(inside[a:b].sum())

    assert rows_in_episodes(episodes_off, 2100, 2500) > 300  # without: the lesser state keeps the episode open
    assert rows_in_episodes(episodes_on, 2100, 2500) < 100  # with: it ends soon after the fault
    assert alarms_on[2100:2500].sum() <= alarms_off[2100:2500].sum()  # and raises no new alarm there
    assert alarms_on[3000:3010].sum() == 1  # back to normal in between: a new fault alarms at once


def test_recover_parameter_is_checked():
    with pytest.raises(ValueError, match="recover"):
        EnsembleDetector(recover=0.5).fit(ar_series(n=200, seed=1))
    x = ar_series(n=1200, seed=2)
    assert np.allclose(
        EnsembleDetector(recover=None).fit(x[:500]).score(x),
        EnsembleDetector(recover=1e12).fit(x[:500]).score(x),
    )


def test_hold_after_worked_example_runs_and_no_transition():
    from forewarn.models.anomaly.ensemble import hold_after

    e = np.array([0.2, 0.2, 9.0, 1.0, 9.0, 9.0, 0.2, 9.0, 9.0, 9.0])
    at = np.zeros(10, dtype=bool)
    assert hold_after(e, at, 4).tolist() == e.tolist()
    at[2] = True  # rows 2-5 capped at the smallest since row 2: 9, 1, 1, 1
    assert hold_after(e, at, 4).tolist() == [0.2, 0.2, 9.0, 1.0, 1.0, 1.0, 0.2, 9.0, 9.0, 9.0]
    at[5] = True  # 3 rows after the first: one run, held down to row 8 at the smallest since row 2
    assert hold_after(e, at, 4).tolist() == [0.2, 0.2, 9.0, 1.0, 1.0, 1.0, 0.2, 0.2, 0.2, 9.0]
    at[:] = False
    at[[2, 7]] = True  # 5 rows apart with rows=4: two runs, the second starts anew at its own 9
    assert hold_after(e, at, 4).tolist() == [0.2, 0.2, 9.0, 1.0, 1.0, 1.0, 0.2, 9.0, 9.0, 9.0]
    assert hold_after(np.zeros(0), np.zeros(0, dtype=bool), 4).shape == (0,)


def test_transitions_are_starts_and_stops_with_or_without_regimes():
    x, on = start_stop_series()
    switches = np.flatnonzero(np.r_[False, on[1:] != on[:-1]])
    # with regimes learned, and without: a detector that only ever saw the machine running (the jumps then)
    for det in (EnsembleDetector().fit(x[:800]), EnsembleDetector(regimes=1).fit(x[:800][on[:800]])):
        found = np.flatnonzero(det.transitions(x))
        near = np.abs(found[:, None] - switches[None, :]).min(axis=1) <= 1
        assert near.mean() > 0.9, "transitions lie on the starts and stops"
        assert np.isin(switches, found).mean() > 0.9, "and nearly every start and stop is one"
    y = ar_series(n=1000, channels=4, seed=3)
    y[700, 0] += 50.0  # one channel's spike: not a transition (fewer than 3 channels move)
    y[800:, :3] += 20.0  # three of four channels step together: one
    found = np.flatnonzero(EnsembleDetector().fit(y[:500]).transitions(y))
    assert 700 not in found and 800 in found


def test_transition_rows_holds_a_fault_that_begins_after_a_start_until_the_rows_pass():
    x, on = start_stop_series()
    starts = [s for s in np.flatnonzero(np.r_[False, on[1:] & ~on[:-1]]) if s > 1000 and on[s : s + 50].all()]
    s = starts[0]
    x[s + 5 : s + 45, 1] += 15.0  # the current steps up 15 spreads from the 6th running row on
    det = EnsembleDetector().fit(x[:800])
    held = EnsembleDetector(transition_rows=12).fit(x[:800])
    first = np.flatnonzero(det.score(x)[s:] >= 0.5)[0]
    first_held = np.flatnonzero(held.score(x)[s:] >= 0.5)[0]
    assert first <= 6, "without the option the fault alarms within a few rows"
    assert first_held == 12, "with it, once the 12 rows after the start (rows 0-11) have passed"
    with pytest.raises(ValueError, match="transition_rows"):
        EnsembleDetector(transition_rows=0).fit(x[:800])


def test_with_transition_rows_a_state_entered_twice_is_a_regime():
    from forewarn.models.anomaly import regimes

    rng = np.random.default_rng(11)
    x = rng.normal(size=(800, 3))
    for start in (200, 600):
        x[start : start + 5] = [-20.0, -30.0, -25.0]  # two short stops: 2 visits, 1.25 % of the rows
    assert len(regimes.fit(x)["centroids"]) == 1  # 3 visits and 2 % needed by default
    assert len(regimes.fit(x, min_share=0.005, min_visits=2)["centroids"]) == 2
    assert len(EnsembleDetector().fit(x).regime_centroids_) == 1
    assert len(EnsembleDetector(transition_rows=12).fit(x).regime_centroids_) == 2
