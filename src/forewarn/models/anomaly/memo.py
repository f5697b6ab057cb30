"""Scoring a series again with a few more rows: the member scores of the rows scored before, kept and reused.

The stream scores a sequential detector per asset and micro-batch on the asset's last ``context`` rows plus the new
ones (:mod:`forewarn.stream.sequential`), so the ensemble would compute every member over about ``context`` rows
to keep a handful. Each member's raw score of a row reads a bounded stretch of rows before it, its *memory*
(``memory`` of :mod:`.residual`, :mod:`.changepoint`, :mod:`.embedding`, :mod:`.discord`): with the same rows in
that stretch and at least that many rows before it in the series, a row's member score is the same whichever
series it sits in. A :class:`SeriesMemo` keeps the member scores of the last series a fit scored (with the rows'
times and values); in the next call, a row's kept score is used for a member when the row lies at least that
member's memory into the new series and the rows of its memory are identical, times and values, to those the
score was computed from; every other row (the first rows of the new series, whose scores start afresh there as
the windows fill; the new rows; rows whose values changed, e.g. a gap now filled differently) is computed, from
its memory's rows before it. So the scores equal those of computing every member on the whole series: each
member's window figures come from the window's own rows (window sums by doubling spans, the discord's distances in
float64), so a row scores the same in a series that starts elsewhere, to about 1e-16 (the stream against one batch
run: 3.3e-16 at one row a batch; until 2026-12-06 running sums and float32 distances moved the ``anomaly_score`` by
up to 1.1e-6; BENCHMARKS.md, issue 14).
The adjustments after the members (settling, ``recover``, rebasing, transitions) run on the whole series as always.

A memo is used only inside :func:`remembering` (the stream opens one per asset); outside it nothing is kept,
so ``forewarn detect`` and :meth:`~forewarn.models.anomaly.ensemble.EnsembleDetector.score` compute every row.
A fit whose options read the whole history (``adaptation``, ``expand_references``) does not use one.

>>> import numpy as np
>>> memo = SeriesMemo()
>>> times = np.arange(6, dtype="int64")
>>> values = np.arange(6.0)[:, None]
>>> memo.keep("fit", times, values, np.arange(6.0)[:, None] * 10)
>>> kept, usable = memo.known("fit", times[2:], values[2:], np.array([1]))   # the same rows, two rows later
>>> usable[:, 0].tolist(), kept[usable[:, 0], 0].tolist()   # the first row starts afresh (memory 1)
([False, True, True, True], [30.0, 40.0, 50.0])
>>> _, usable = memo.known("fit", times[2:], np.r_[values[2:4], [[9.0]], values[5:]], np.array([1]))
>>> usable[:, 0].tolist()                                  # a changed value: that row and the next computed
[False, True, False, False]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

_CURRENT: ContextVar[SeriesMemo | None] = ContextVar("forewarn_series_memo", default=None)


@contextmanager
def remembering(memo: SeriesMemo) -> Iterator[SeriesMemo]:
    """Within this block, a detector that keeps member scores keeps them in ``memo`` (one memo per series)."""
    token = _CURRENT.set(memo)
    try:
        yield memo
    finally:
        _CURRENT.reset(token)


def current() -> SeriesMemo | None:
    """The memo of the enclosing :func:`remembering` block, if any."""
    return _CURRENT.get()


class SeriesMemo:
    """The member scores of the last series a fit scored, with the rows' times and values (module text)."""

    def __init__(self) -> None:
        self.owner: Any = None
        self.times = np.empty(0, dtype="int64")
        self.values = np.empty((0, 0))
        self.members = np.empty((0, 0))

    def keep(self, owner: Any, times: np.ndarray, values: np.ndarray, members: np.ndarray) -> None:
        """Remember the member scores ``members`` (rows x members) of a series (``times``, ``values``) that
        ``owner`` (the fit and its settings) scored."""
        self.owner = owner
        self.times = np.array(times, dtype="int64", copy=True)
        self.values = np.array(values, dtype="float64", copy=True)
        self.members = np.array(members, dtype="float64", copy=True)

    def known(
        self, owner: Any, times: np.ndarray, values: np.ndarray, memory: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The kept member scores aligned to the rows of a new series, and where each may be used (rows x
        members): a row at least ``memory[j]`` rows into the series (and into the kept one) whose last
        ``memory[j] + 1`` rows, itself included, are identical to the kept ones. Nothing when ``owner`` differs."""
        n, width = len(times), len(memory)
        kept = np.full((n, width), np.nan)
        usable = np.zeros((n, width), dtype=bool)
        if not same_owner(owner, self.owner) or n == 0 or len(self.times) == 0 or self.members.shape[1] != width:
            return kept, usable
        if self.values.shape[1] != values.shape[1]:
            return kept, usable
        first = int(np.searchsorted(self.times, times[0]))
        rows = np.arange(n) + first
        inside = rows < len(self.times)
        at = np.minimum(rows, len(self.times) - 1)
        old = self.values[at]
        same_values = ((old == values) | (np.isnan(old) & np.isnan(values))).all(axis=1)
        same = inside & (self.times[at] == times) & same_values
        # the run of identical rows ending at each row
        index = np.arange(n)
        last_different = np.maximum.accumulate(np.where(same, -1, index))
        run = index - last_different
        for j, rows_back in enumerate(np.asarray(memory, dtype="int64").tolist()):
            usable[:, j] = same & (run > rows_back) & (index >= rows_back) & (rows >= rows_back)
        kept[inside] = self.members[at[inside]]
        return kept, usable


def same_owner(a: Any, b: Any) -> bool:
    """Whether two owners are the same: text by value, anything else by identity (a memo holds its owner, so an
    object's identity is never that of a later one), a tuple item by item.

    >>> fit = object()
    >>> same_owner((fit, "lags=3"), (fit, "lags=3")), same_owner((fit, "lags=3"), (object(), "lags=3"))
    (True, False)
    """
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same_owner(x, y) for x, y in zip(a, b, strict=True))
    return a == b if isinstance(a, str) and isinstance(b, str) else a is b


def spans(todo: np.ndarray, memory: int) -> list[tuple[int, int, int]]:
    """The runs of rows to compute (``todo``), each ``(lo, start, end)``: rows ``start:end`` computed from the series'
    rows ``lo:end``, ``memory`` rows before the run (or from the series' first row, where the run starts within
    ``memory`` rows of it, so that its rows keep their place in the series). Runs closer than ``memory`` rows are
    joined.

    >>> spans(np.array([True, True, False, False, False, False, False, False, True, True]), 3)
    [(0, 0, 2), (5, 8, 10)]
    >>> spans(np.array([True, False, False, True]), 3)
    [(0, 0, 4)]
    """
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(todo, dtype="int8"), 0]))
    runs: list[list[int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and start - runs[-1][1] <= memory:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    return [(0 if start <= memory else start - memory, start, end) for start, end in runs]
