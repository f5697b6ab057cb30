"""Robust helpers shared by the ensemble detector and its members: gap filling, median/MAD scaling, trailing
(causal) window statistics, and a robust tail normalisation of member scores.

Everything here is causal: the value on row ``t`` uses rows ``<= t`` only.

>>> import numpy as np
>>> x = np.array([[1.0], [np.nan], [3.0]])
>>> fill_gaps(x, np.array([0.0])).ravel().tolist()
[1.0, 1.0, 3.0]
>>> trailing_mean(np.arange(5.0)[:, None], 2).ravel().tolist()
[0.0, 0.5, 1.5, 2.5, 3.5]
>>> center, scale = robust_location_scale(np.array([[0.0], [1.0], [2.0], [100.0]]))
>>> center.tolist(), [round(v, 3) for v in scale.tolist()]
([1.5], [1.483])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

#: spreads below this count as zero
TINY = 1e-9


def fill_gaps(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Missing values (NaN) take the last value seen before them in the column (causal), or ``fallback`` (a copy
    when nothing is missing)."""
    out = np.array(values, dtype="float64", order="C")  # rows in memory order, as the pandas fill returns them
    if not np.isnan(out).any():
        return out
    out = np.array(pd.DataFrame(out).ffill().to_numpy(dtype="float64"), copy=True)
    missing = np.isnan(out)
    if missing.any():
        out[missing] = np.broadcast_to(fallback, out.shape)[missing]
    return out


def resolution(values: np.ndarray) -> np.ndarray:
    """Each column's recording resolution: the step of the grid its values lie on (a historian that writes four
    decimals: 1e-4), or 0 when they lie on none coarser than the numbers' own precision (NaN ignored).

    The step is the smallest gap between the column's distinct values, accepted when every gap is a whole
    multiple of it (within 1 %); a float32 column is on the grid of its own rounding, a step too small to matter.

    >>> x = np.array([[0.0005, 1.0], [0.0007, 1.3], [0.0005, 2.1], [0.0008, 1.7]])
    >>> [float(round(v, 6)) for v in resolution(x)]
    [0.0001, 0.0]
    """
    out = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        distinct = np.unique(values[np.isfinite(values[:, j]), j])
        gaps = np.diff(distinct)
        if len(gaps) == 0 or gaps.min() <= 0:
            continue
        ratio = gaps / gaps.min()
        if np.all(np.abs(ratio - np.round(ratio)) < 0.01):
            out[j] = gaps.min()
    return out


#: :func:`coarse_steps`: a channel's recording grid dominates it when its training values move from one row to
#: the next in fewer than this share of the rows (module text of :mod:`~forewarn.models.anomaly.ensemble`)
GRID_CHANGES = 0.4


def change_share(values: np.ndarray) -> np.ndarray:
    """Each column's share of consecutive recorded values that differ (NaN ignored: a column's values are read in
    order, gaps closed; NaN for a column with fewer than two values).

    >>> change_share(np.array([[1.0, 0.0], [1.0, 1.0], [np.nan, 2.0], [2.0, 3.0], [2.0, 4.0]])).tolist()
    [0.3333333333333333, 1.0]
    """
    out = np.full(values.shape[1], np.nan)
    for j in range(values.shape[1]):
        column = values[np.isfinite(values[:, j]), j]
        if len(column) > 1:
            out[j] = float(np.mean(np.diff(column) != 0))
    return out


def grid_dominated(values: np.ndarray, changes: float | None = None) -> np.ndarray:
    """Whether each column's recording grid *dominates* it: it lies on a grid (:func:`resolution` > 0) and its
    values stay on one recorded step for most rows, moving from one row to the next in fewer than ``changes`` of
    them (default :data:`GRID_CHANGES`). A channel whose noise is far below its step sits on one step and flips by
    a whole step now and then, so its training rows show flat windows that rounding made, not the machine; one
    whose noise is as large as its step or larger moves on most rows, and its training rows already show what
    rounding does to it.

    >>> rng = np.random.default_rng(0)
    >>> slow = np.round(0.0007 + 0.00002 * rng.normal(size=300), 4)     # noise a fifth of a step: stays put
    >>> busy = np.round(0.0007 + 0.0001 * rng.normal(size=300), 4)      # noise a step: moves most rows
    >>> fine = 0.0007 + 0.00002 * rng.normal(size=300)                  # no grid
    >>> grid_dominated(np.c_[slow, busy, fine]).tolist()
    [True, False, False]
    """
    limit = GRID_CHANGES if changes is None else changes
    with np.errstate(invalid="ignore"):
        slow = change_share(values) < limit
    out: np.ndarray = slow & (resolution(values) > 0)
    return out


#: :func:`deadband`: a channel is read as recorded on change when, after a row where it moved, it moves again on
#: the next row in at most this share of cases (a continuous channel keeps moving: 0.93-1.0 on the twin, stops
#: included; a historian's deadband of 0.5-2 % of the span: a median of 0.32-0.69)
DEADBAND_REPEAT = 0.8
#: :func:`deadband`: ... and moves on fewer than this share of its rows (it sits still on most of the others)
DEADBAND_MOVES = 0.9
#: :func:`deadband`: ... and its median change is at least this many steps of the grid its values lie on (a
#: grid's own flips, a converter's step, are :func:`resolution`'s, not a deadband)
DEADBAND_STEPS = 3.0
#: :func:`deadband`: ... and it takes at least this many distinct values per change (a deadband keeps the values
#: a continuous signal had, which rarely repeat: 0.48-1.0 on the twin's exports, stops included; a sensor that
#: steps between a few levels, SKAB's flow rate, returns to them: 0.1)
DEADBAND_DISTINCT = 0.25
#: :func:`deadband`: the fewest changes a channel's deadband is estimated from
DEADBAND_MIN_CHANGES = 5
#: :func:`floored`: a move on consecutive rows counts as *small* below this share of such moves' median
FLOOR_SMALL = 0.1
#: :func:`floored`: ... and a channel with more than this share of small ones moves down to nothing (chosen on the
#: twin, seed 11: with 10-50 % of the values missing at random 1 of the 2,164 channels the staircase rules read stays
#: read; exported with a deadband of 0.5 % / 2 % of the span 6 of the 1,094 read are lost, each a channel whose
#: median move on consecutive rows is over ten times its floor, i.e. over ten times its deadband, so the median
#: change read it tenfold too wide; BENCHMARKS.md, issue 14, 2026-12-06 08:14)
FLOOR_SMALL_SHARE = 0.01
#: :func:`floored`: the fewest moves on consecutive rows that can show a floor (fewer: no evidence against one)
FLOOR_MIN_MOVES = 20


def floored(changes: np.ndarray, waited: np.ndarray) -> bool:
    """Whether a column's moves keep clear of zero, as a deadband's do: ``changes`` are its moves' sizes (nonzero),
    ``waited`` the flat rows before each. A deadband ``d`` records a value only when it moved past ``d`` from the
    last recorded one, so a move on the row right after the last (``waited`` 0, never a heartbeat's) exceeds
    ``d``; values missing at random and carried forward leave the signal's own row-to-row moves between the gaps,
    whose sizes reach down to nothing. False when more than :data:`FLOOR_SMALL_SHARE` of the moves on consecutive
    rows (at least :data:`FLOOR_MIN_MOVES` of them) are below :data:`FLOOR_SMALL` of their median.

    >>> rng = np.random.default_rng(0)
    >>> steps = np.abs(rng.normal(size=200))                             # a signal's own row-to-row moves
    >>> floored(steps, np.zeros(200, dtype=int)), floored(1.0 + steps, np.zeros(200, dtype=int))
    (False, True)
    """
    consecutive = changes[waited == 0]
    if len(consecutive) < FLOOR_MIN_MOVES:
        return True
    return bool(np.mean(consecutive < FLOOR_SMALL * np.median(consecutive)) <= FLOOR_SMALL_SHARE)


def deadband(values: np.ndarray) -> np.ndarray:
    """Each column's *deadband* when its training rows look recorded on change (a historian keeps a value only
    when it moves past a deadband ``d``, plus a heartbeat; the value holds in between), else 0.

    The column is read in order, a missing value taking the last one seen (as the detector fills gaps), and
    its row-to-row changes looked at. Recorded on change: it stays put on many rows (moves on fewer than
    :data:`DEADBAND_MOVES` of them); a move is *isolated*, a jump after a flat stretch (after a row where it
    moved it moves again in at most :data:`DEADBAND_REPEAT` of cases), not a stretch of motion between stretches
    of rest as a machine that stops shows (0.93-1.0); its values rarely repeat (at least
    :data:`DEADBAND_DISTINCT` distinct values per change), not a sensor stepping between a few levels; and its
    changes are not a grid's flips (the median change is at least :data:`DEADBAND_STEPS` steps of the grid the
    values lie on, :func:`resolution`). The deadband is estimated as the median size of the changes (at least
    :data:`DEADBAND_MIN_CHANGES` of them) that followed a shorter wait than the longest: the deadband's jumps
    just exceed ``d``; a heartbeat records a smaller change after the longest wait.

    Values missing at random, carried forward, make a staircase too (more than about a fifth of them missing
    passes every rule above); the rise between two steps then tells them apart: a deadband's moves on consecutive
    rows all exceed ``d``, the carried values' are the signal's own row-to-row moves, down to nothing
    (:func:`floored`).

    Only what the rows show: a channel whose signal never moved past its deadband in training (heartbeats only)
    gets the size of its heartbeat changes, below ``d``.

    >>> rng = np.random.default_rng(0)
    >>> walk = np.cumsum(rng.normal(0.0, 0.01, 600))                      # a slow signal
    >>> kept = walk.copy()
    >>> for i in range(1, len(kept)):                                    # held until it moves past 0.05
    ...     kept[i] = kept[i] if abs(walk[i] - kept[i - 1]) > 0.05 else kept[i - 1]
    >>> stops = np.where(np.arange(600) % 200 < 120, 0.0, 5.0 + rng.normal(0.0, 0.1, 600))  # a machine at rest
    >>> [round(float(v), 3) for v in deadband(np.c_[kept, walk, stops])]
    [0.054, 0.0, 0.0]
    """
    out = np.zeros(values.shape[1])
    steps = resolution(values)
    for j in range(values.shape[1]):
        finite = np.isfinite(values[:, j])
        if not finite.any():
            continue
        carried = np.maximum.accumulate(np.where(finite, np.arange(len(finite)), 0))  # the last value seen
        column = values[carried[int(np.argmax(finite)) :], j]
        moved = np.diff(column) != 0
        changes = np.abs(np.diff(column))[moved]
        if len(changes) < DEADBAND_MIN_CHANGES or moved.mean() >= DEADBAND_MOVES:
            continue
        again = moved[1:][moved[:-1]]
        waited = np.diff(np.r_[-1, np.flatnonzero(moved)]) - 1  # the flat rows before each change
        jumps = changes[waited < waited.max()]  # the changes after the longest wait: a heartbeat's
        size = float(np.median(jumps if len(jumps) >= DEADBAND_MIN_CHANGES else changes))
        levels = len(np.unique(column)) >= DEADBAND_DISTINCT * (len(changes) + 1)
        recorded = len(again) and again.mean() <= DEADBAND_REPEAT and size >= DEADBAND_STEPS * steps[j] and levels
        if recorded and floored(changes, waited):
            out[j] = size
    return out


def decimal_grid(steps: np.ndarray) -> np.ndarray:
    """Whether each recording step is a power of ten (within 1 %): the grid of a value written with a fixed
    number of decimals (a historian's export: 1e-4 for four decimals, 1 for whole numbers), not a sensor's own
    quantisation (an analogue-to-digital converter's step, 0.328 for SKAB's pressure). 0 (no grid): False.

    >>> decimal_grid(np.array([1e-4, 0.01, 1.0, 0.328, 0.0, 2.5e-3])).tolist()
    [True, True, True, False, False, False]
    """
    out = np.zeros(len(steps), dtype=bool)
    positive = steps > 0
    power = np.log10(steps[positive])
    out[positive] = np.abs(power - np.round(power)) < np.log10(1.01)
    return out


def robust_location_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column medians and MAD-based standard deviations (NaN ignored); a column with MAD 0 falls back to its
    standard deviation, then to 1 (a constant column keeps its original units)."""
    with np.errstate(all="ignore"):
        center = np.nanmedian(values, axis=0) if len(values) else np.zeros(values.shape[1])
        center = np.where(np.isfinite(center), center, 0.0)
        spread = 1.4826 * np.nanmedian(np.abs(values - center), axis=0)
        std = np.nanstd(values, axis=0)
    spread = np.where(np.isfinite(spread) & (spread > TINY), spread, np.where(np.isfinite(std), std, 0.0))
    return center, np.where(spread > TINY, spread, 1.0)


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each row and the ``window - 1`` rows before it, per column (fewer rows at the start).

    Each window's sum is its own (:func:`window_moments`): a row's mean does not depend on the rows before its
    window, so it is accurate to the values' own precision however far the row is from the first one, and the
    same, bit for bit, in a series that starts at another row (a stream's context, a nightly run's); a window
    holding a missing value (NaN) gives NaN, later windows do not. (Until 2026-12-06 it was a difference of one
    cumulative sum over the whole series, whose rounding grew with the rows before a window.)

    >>> trailing_mean(np.arange(5.0)[:, None], 2).ravel().tolist()
    [0.0, 0.5, 1.5, 2.5, 3.5]
    """
    return _per_row(window_moments(values, window, spread=False)[0], window)


def trailing_std(values: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation over the trailing ``window`` rows, per column (0 on the first row).

    From each window's own sum of squared deviations (:func:`window_moments`), never from a difference of
    running sums of squares, so a drifting level costs no precision beyond the values' own and a row's value is
    the same, bit for bit, whichever row the series starts at (NaN for a window holding a missing value). The
    running sums used until 2026-12-06 were off by 1.6e-4 on a spread of 1e-3 far from the first row, and their
    rounding made a sensor sitting exactly still look like a spread of 3e-6 (issue 14, BENCHMARKS.md).

    A level that drifts for a million rows with a spread of 1e-3, the last window against numpy's two-pass form:

    >>> x = 1e3 + 0.01 * np.arange(1_000_000.0)[:, None] + 1e-3 * np.random.default_rng(0).normal(size=(1_000_000, 1))
    >>> exact = float(x[-32:].std())
    >>> float(abs(trailing_std(x, 32)[-1, 0] - exact)) < 1e-11
    True
    """
    variance = _per_row(cast(np.ndarray, window_moments(values, window, spread=True)[1]), window)
    return np.sqrt(np.maximum(variance, 0.0))


#: a span's figures per row: arrays shaped as the values (None for a figure not asked for)
Moments = tuple[Any, ...]


def window_moments(values: np.ndarray, window: int, spread: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Each row's trailing window (the row and up to ``window - 1`` before it) summed per column, and with
    ``spread`` the window's sum of squared deviations from its own mean (else None); float arrays shaped as
    ``values`` (rows first). A window holding NaN gives NaN; the windows after it do not.

    Windows are built by doubling, as pairwise sums: spans of 2, 4, 8, ... rows, each two adjacent spans of the
    one before (about ``log2(window)`` passes over the array, none in Python per row), and the spans of
    ``window``'s binary digits joined; squared deviations join by Chan, Golub and LeVeque's pairwise update
    (``M = M_a + M_b + (n_b S_a - n_a S_b)^2 / (n_a n_b (n_a + n_b))``, never a difference of sums of squares).
    A window's figures come from its own rows only, in an order fixed by the window alone, so they are the same,
    bit for bit, in a series that starts at another row once the window is full, and their error does not grow
    with the rows before: the mean within ``8 * 2**-53`` of the window's largest magnitude, the standard
    deviation within ``4 * 2**-53`` of it, against numpy's (measured on windows 2-256 at levels 1-1e9 and spreads
    1e-6-1), where cumulative sums over the whole series (the form before 2026-12-06) were off by 0.08 on a 4-row window's spread
    of about 0.01 a million rows into a drifting level (``benchmarks/trailing_precision.py``).

    >>> x = np.array([[1.0], [3.0], [np.nan], [5.0], [9.0], [4.0]])
    >>> sums, square = window_moments(x, 2, spread=True)
    >>> sums.ravel().tolist(), square.ravel().tolist()
    ([1.0, 4.0, nan, nan, 14.0, 13.0], [0.0, 2.0, nan, nan, 8.0, 12.5])
    """
    x = np.array(values, dtype="float64", copy=True)
    flat = x.ndim == 1
    x = x[:, None] if flat else x
    scratch = np.empty_like(x) if spread else x[:0]  # the spread's work space (the sums need none)

    def join(late: Moments, early: Moments, spans: tuple[int, int], out: Moments) -> None:
        _merge(late, early, spans, out, scratch)

    sums, square = doubled_windows((x, np.zeros_like(x) if spread else None), window, join)
    if flat:
        return sums.ravel(), None if square is None else square.ravel()
    return sums, square


def doubled_windows(
    rows: Moments, window: int, join: Callable[[Moments, Moments, tuple[int, int], Moments], None]
) -> Moments:
    """Each row's figures over its trailing ``window`` rows, from ``rows`` (the figures of each row alone) by
    doubling: spans of 2, 4, 8, ... rows, each two adjacent spans of the one before (about ``log2(window)`` passes
    over the arrays, none in Python per row), then the spans of ``window``'s binary digits joined, latest first.
    ``join(late, early, (a, b), out)`` writes into ``out`` the figures over ``a + b`` rows up to each row from
    ``late`` (over the last ``a`` rows up to each row) and ``early`` (over ``b`` rows, read ``a`` rows earlier);
    ``out`` may be ``late``, never ``early``. The skeleton of :func:`window_moments` (sums and squared deviations)
    and :func:`~forewarn.models.anomaly.changepoint.window_peak` (sums and largest trailing sums): a row's figures
    depend on its window's rows alone, joined in an order fixed by the window.

    >>> def add(late, early, spans, out):            # trailing sums of one column
    ...     a = spans[0]
    ...     out[0][a:] = late[0][a:] + early[0][:-a]
    ...     out[0][:a] = late[0][:a]
    >>> doubled_windows((np.arange(1.0, 7.0),), 3, add)[0].tolist()
    [1.0, 3.0, 6.0, 9.0, 12.0, 15.0]
    """
    if window < 1:
        raise SchemaError(f"a trailing window must be at least 1 row, got {window}", column="window")
    current = rows
    joined: Moments | None = None
    spare: Moments | None = None
    span, length = 1, 0
    while True:
        last = 2 * span > window
        if window & span:
            if joined is None:  # the lowest digit: the span as it is (copied when the doubling goes on)
                joined = current if last else tuple(None if a is None else a.copy() for a in current)
            else:
                join(joined, current, (length, span), joined)
            length += span
        if last:
            break
        spare = spare if spare is not None else tuple(None if a is None else np.empty_like(a) for a in current)
        join(current, current, (span, span), spare)
        current, spare = spare, current
        span *= 2
    return joined if joined is not None else current


def _merge(
    late: tuple[np.ndarray, np.ndarray | None],
    early: tuple[np.ndarray, np.ndarray | None],
    spans: tuple[int, int],
    out: tuple[np.ndarray, np.ndarray | None],
    scratch: np.ndarray,
) -> None:
    """``out`` <- the moments over ``a + b`` rows up to each row, from ``late`` (over the last ``a`` rows up to
    each row) and ``early`` (over ``b`` rows up to each row, read ``a`` rows earlier); ``(a, b) = spans``.
    ``out`` may be ``late`` (in place), not ``early``; ``scratch``: an array of their shape to work in. Rows before the series start count as absent: on the rows
    where the early span is cut short its row count is the rows there are."""
    (s_a, m_a), (s_b, m_b), (a, b), (s_out, m_out) = late, early, spans, out
    n = len(s_a)
    if a >= n:  # no row has an earlier span
        if s_out is not s_a:
            s_out[:] = s_a
            if m_out is not None and m_a is not None:
                m_out[:] = m_a
        return
    if m_a is not None and m_b is not None and m_out is not None:
        full = min(a + b - 1, n)  # from this row on both spans are whole
        between = np.subtract(
            s_a[full:], s_b[full - a : n - a] if a == b else (a / b) * s_b[full - a : n - a], out=scratch[full:]
        )
        np.square(between, out=between)
        between *= b / (a * (a + b))
        cut = np.arange(1.0, full - a + 1.0)[:, None]  # rows a .. full - 1: the early span's rows there
        head = cut * s_a[a:full] - a * s_b[: full - a]
        head = head * head / (a * cut * (a + cut))
        np.add(m_a[a:], m_b[: n - a], out=m_out[a:])
        if m_out is not m_a:
            m_out[:a] = m_a[:a]
        m_out[full:] += between
        m_out[a:full] += head
    np.add(s_a[a:], s_b[: n - a], out=s_out[a:])
    if s_out is not s_a:
        s_out[:a] = s_a[:a]


def _per_row(sums: np.ndarray, window: int) -> np.ndarray:
    """``sums`` (in place) divided by each row's count of rows in its window."""
    start = min(window - 1, len(sums))
    counts = np.arange(1.0, start + 1.0)
    sums[:start] /= counts.reshape((-1,) + (1,) * (sums.ndim - 1))
    sums[start:] /= window
    return sums


def tail_fit(
    train_scores: np.ndarray, tail: float = 0.1, level: float | None = None, reference: int = 600
) -> np.ndarray:
    """``[threshold, scale, surprise at the threshold]``: an exponential fit to the upper tail of a member's
    training scores, the robust tail fit :func:`tail_normalise` uses.

    The threshold is the training quantile at ``1 - tail``; the tail above it is taken as exponential with
    scale ``median excess / ln 2`` (a median, so anomalies among the exceedances, up to half of them, do not
    stretch it). A degenerate tail (training scores all alike) still gets a positive scale. With ``level`` (the
    surprise where alarms start) the scale is widened for the few exceedances it rests on, by as much more as it
    would be widened than from ``reference`` training scores (:func:`small_sample_widening`; never narrowed):
    nothing changes from ``reference`` scores on.

    >>> many = np.random.default_rng(0).exponential(2.0, 20000)
    >>> [round(float(v), 1) for v in tail_fit(many)]
    [4.6, 2.0, 1.0]
    >>> scores = np.random.default_rng(0).exponential(2.0, 40)
    >>> [round(float(tail_fit(scores, 0.1, level)[1]), 1) for level in (None, 5.0)]   # 4 exceedances: x3.6
    [1.1, 4.1]
    >>> bool((tail_fit(many, 0.1, 5.0, 600) == tail_fit(many)).all())   # 600 or more scores: unchanged
    True
    """
    finite = train_scores[np.isfinite(train_scores)]
    if finite.size == 0:
        return np.array([0.0, 1.0, 1.0])
    threshold = float(np.quantile(finite, 1.0 - tail))
    excess = finite[finite > threshold] - threshold
    scale = float(np.median(excess)) / np.log(2.0) if excess.size else 0.0
    spread = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    floor = max(1e-3 * spread, 1e-6 * max(abs(threshold), 1.0), TINY)
    at_threshold = -np.log10(tail)
    if level is not None:
        depth = level - at_threshold
        wider = small_sample_widening(tail * finite.size, depth) / small_sample_widening(tail * reference, depth)
        scale *= max(1.0, wider)
    return np.array([threshold, max(scale, floor), at_threshold])


def small_sample_widening(exceedances: float, depth: float) -> float:
    """How much wider an exponential tail's scale must be, when it was estimated from ``exceedances`` values, for
    a new value to reach ``depth`` more surprise (``-log10`` units) with the probability the fit claims.

    A scale estimated from ``k`` exceedances is uncertain; averaged over that uncertainty (the predictive tail of
    an exponential whose scale is known from ``k`` values, ``(1 + x / (k s))^-k``), the value ``depth`` decades
    deeper lies ``k (10^(depth / k) - 1)`` scales out instead of ``depth ln 10``. The ratio is the widening: large
    from a few exceedances, 1.08 from 60 (600 training scores with a tail share of 0.1), 1.01 from 400.

    >>> [round(small_sample_widening(k, 4.0), 2) for k in (2, 4, 15, 60, 400)]
    [21.5, 3.91, 1.38, 1.08, 1.01]
    """
    k = max(float(exceedances), 1.0)
    if depth <= 0:
        return 1.0
    return float(k * np.expm1(depth * np.log(10.0) / k) / (depth * np.log(10.0)))


def tail_normalise(scores: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """The *surprise* of each score, ``-log10`` of its exceedance probability under the tail fit: 1 at the
    training 90th percentile (``tail`` 0.1), 1 more for every ``ln 10`` tail scales above it; the same line
    continues below the threshold (monotone and continuous, no floor)."""
    return fit[2] + (scores - fit[0]) / (fit[1] * np.log(10.0))
