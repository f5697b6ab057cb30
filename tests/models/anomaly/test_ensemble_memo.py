"""The ensemble's shortcuts equal the straightforward computations: member scores kept between calls
(:mod:`forewarn.models.anomaly.memo`, the stream's path) against scoring each series whole, the running minimum
and the excursion peaks against pandas' rolling and grouped forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alarms import AlarmRule, find_alarms
from forewarn.models.anomaly import memo
from forewarn.models.anomaly.adjust import recover
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.stream.sequential import SeriesContext

CONTEXT = 150


def _series(seed: int = 3, n: int = 700) -> pd.DataFrame:
    """Three related channels, 10-minute rows: a level shift, a stuck sensor, gaps (one at a context's start)."""
    rng = np.random.default_rng(seed)
    base = np.zeros(n)
    for t in range(1, n):
        base[t] = 0.9 * base[t - 1] + rng.normal()
    x = np.c_[base + rng.normal(0, 0.3, n), 2 * base + rng.normal(0, 0.3, n), rng.normal(0, 1, n)]
    x[420:470, 0] += 4.0  # a level shift
    x[500:560, 2] = x[500, 2]  # a stuck sensor
    x[300:330, 1] = np.nan  # a gap
    x[455:458, :] = np.nan  # every channel missing
    times = pd.date_range("2024-01-01", periods=n, freq="10min", tz="UTC")
    return pd.DataFrame(x, columns=["a", "b", "c"], index=times)


@pytest.fixture(scope="module")
def fitted() -> tuple[EnsembleDetector, pd.DataFrame]:
    X = _series()
    return EnsembleDetector().fit(X.iloc[:200]), X


def _stream(det: EnsembleDetector, X: pd.DataFrame, k: int, start: int) -> np.ndarray:
    context = SeriesContext(list(X.columns), CONTEXT)
    assets = np.array(["p"], dtype=object)
    us = X.index.as_unit("us").asi8
    out = []
    for lo in range(start, len(X), k):
        hi = min(lo + k, len(X))
        rows = slice(0 if lo == start else lo, hi)  # the first batch brings the rows before ``start`` too
        scores = context.score(det, np.repeat(assets, hi - rows.start), us[rows], X.to_numpy()[rows])
        out.append(scores[-(hi - lo) :])
    return np.concatenate(out)


def _whole_each_time(det: EnsembleDetector, X: pd.DataFrame, k: int, start: int) -> np.ndarray:
    """What the stream computed before the memo: each batch scored as its context plus its rows, all members."""
    out, held = [], 0
    for lo in range(start, len(X), k):
        hi = min(lo + k, len(X))
        first = 0 if lo == start else lo - held
        out.append(det.score(X.iloc[first:hi])[-(hi - lo) :])
        held = min(CONTEXT, hi - first)
    return np.concatenate(out)


@pytest.mark.parametrize(("k", "start", "end"), [(1, 520, 600), (7, 380, 700), (60, 380, 700)])
def test_kept_member_scores_change_nothing(
    fitted: tuple[EnsembleDetector, pd.DataFrame], k: int, start: int, end: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scores and alarms as scoring each batch's series whole, to the rounding of the members' running
    sums (the discord member's float32 shapes; the embedding's window spreads, which on a flat window move by up to
    1e-3 of a surprise with the row a series starts at; the scores by up to 1e-5: BENCHMARKS.md, issue 14,
    2026-12-06)."""
    det, X = fitted[0], fitted[1].iloc[:end]
    computed = []  # the rows each member computes, per call
    raw = EnsembleDetector._raw

    def counted(self: EnsembleDetector, name: str, z: np.ndarray, settling: np.ndarray, first: int = 0) -> np.ndarray:
        computed.append(len(z) - first)
        return raw(self, name, z, settling, first)

    monkeypatch.setattr(EnsembleDetector, "_raw", counted)
    streamed = _stream(det, X, k, start)
    reused = sum(computed)
    computed.clear()
    whole = _whole_each_time(det, X, k, start)
    assert reused < (0.5 if k < CONTEXT / 10 else 0.8) * sum(computed)  # the kept scores were used
    assert np.max(np.abs(streamed - whole)) <= 1e-5
    rule = AlarmRule()
    assert np.array_equal(find_alarms(streamed, rule)[0], find_alarms(whole, rule)[0])
    assert streamed.max() > 0.9  # the level shift and the stuck sensor are there to be seen


def test_members_without_rounding_are_exact(fitted: tuple[EnsembleDetector, pd.DataFrame]) -> None:
    """The forecast and change-point members (no float32, no square roots of small differences) kept exactly; the
    embedding and discord members within their rounding."""
    det, X = fitted
    kept = memo.SeriesMemo()
    largest = np.zeros(len(det._scored()))
    for end in range(380, 460, 3):
        series = X.iloc[max(0, end - 3 - CONTEXT) : end]
        whole = det._members(series.to_numpy())
        with memo.remembering(kept):
            reused = det._members(series.to_numpy(), series.index.asi8)
        assert np.array_equal(np.isnan(whole), np.isnan(reused))
        largest = np.fmax(largest, np.nanmax(np.abs(whole - reused), axis=0))
    exact = [det._scored().index(name) for name in ("residual", "changepoint")]
    assert (largest[exact] <= 1e-9).all()
    assert (largest <= 1e-2).all()


def test_memo_reuses_rows_and_recomputes_the_rest(fitted: tuple[EnsembleDetector, pd.DataFrame]) -> None:
    det, X = fitted
    kept = memo.SeriesMemo()
    with memo.remembering(kept):
        det.score(X.iloc[200:400])
    assert kept.members.shape == (200, len(det._scored()))
    g = det._global(X.iloc[210:410].to_numpy())
    known, usable = kept.known(kept.owner, X.index[210:410].asi8, g, det._memory(det._scored()))
    memory = det._memory(det._scored())
    for j, rows_back in enumerate(memory.tolist()):
        assert not usable[:rows_back, j].any()  # the new series' first rows start afresh
        assert usable[rows_back:190, j].all()  # the rows both series hold, past the memory
        assert not usable[190:, j].any()  # the new rows
    changed = g.copy()
    changed[100, 0] += 1.0
    _, usable = kept.known(kept.owner, X.index[210:410].asi8, changed, memory)
    assert not usable[100 : 100 + int(memory.min()) + 1].any()
    assert usable[100 + int(memory.max()) + 1 : 190].all()
    _, usable = kept.known(("another fit",), X.index[210:410].asi8, g, memory)
    assert not usable.any()


@pytest.mark.parametrize("params", [{"adaptation": 0.01}, {"expand_references": True}])
def test_options_that_read_the_whole_history_keep_nothing(params: dict) -> None:
    X = _series()
    det = EnsembleDetector(**params).fit(X.iloc[:200])
    kept = memo.SeriesMemo()
    with memo.remembering(kept):
        inside = det.score(X.iloc[200:400])
    assert kept.members.size == 0
    assert np.array_equal(inside, det.score(X.iloc[200:400]), equal_nan=True)


def test_no_memo_outside_a_block(fitted: tuple[EnsembleDetector, pd.DataFrame]) -> None:
    assert memo.current() is None
    det, X = fitted
    assert np.array_equal(det.score(X), det.score(X))


def _recover_by_groups(surprise: np.ndarray, factor: float, level: float, rows: int = 5) -> np.ndarray:
    """The excursion rule written with pandas' grouped running maximum (the form before 2026-12-06)."""
    low = surprise < level
    index = np.arange(len(surprise))
    last_high = np.maximum.accumulate(np.where(low, -1, index))
    excursion = np.cumsum(low & (index - last_high == rows))
    by = pd.Series(surprise).groupby(excursion)
    peak = by.cummax().groupby(excursion).shift(1).to_numpy(dtype="float64", na_value=0.0)
    out: np.ndarray = surprise / np.maximum(1.0, peak / (factor * level))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_recover_is_the_grouped_running_maximum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    surprise = np.exp(rng.normal(0.5, 2.5, 400))
    if seed % 2:
        surprise[rng.random(400) < 0.05] = np.nan
    with np.errstate(invalid="ignore"):
        assert np.array_equal(recover(surprise, 20.0, 5.0), _recover_by_groups(surprise, 20.0, 5.0), equal_nan=True)
