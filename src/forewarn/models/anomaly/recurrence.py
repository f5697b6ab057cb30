"""Rare events that recur in the series are normal: a member's surprise capped by how often the series itself has
already reached that height (``recurrence``, an option of the ensemble).

:mod:`~forewarn.models.anomaly.tails` (``tail_visits``) widens a member's tail for heights its *training* scores
reach again and again. This is the same rule read online, over every row scored so far: a queue that empties every
few hundred rows, a burst, a heavy-tailed shock, seen ``visits`` or more times since the series began, stops being a
surprise, however few of them the training rows held; a height never reached before keeps its surprise, so a
fault's growth still alarms.

For one member's surprises ``e`` (a column of the ensemble's member scores): an *excursion* is a run of rows at or
above :data:`~forewarn.models.anomaly.tails.RARE` (an exceedance probability of 1 % per row under the training
tail), runs fewer than :data:`~forewarn.models.anomaly.tails.GAP` rows apart merged into one; whether a row joins
the excursion before it is known from the rows before it, so the rule is causal. A row of excursion ``i`` at height
``e_t`` counts ``N``, the earlier excursions (``0 .. i-1``) whose peak reached ``e_t - tolerance``; when
``N >= visits`` its surprise becomes ``min(e_t, max(RARE, -log10(N / (t + 1)) + MARGIN))``: the surprise of its
own frequency in the ``t + 1`` rows seen, plus :data:`~forewarn.models.anomaly.tails.MARGIN` decades (the
per-series exceedance rate of that height, held at ten times rarer than seen). Rows under ``RARE`` and the first
``visits`` excursions are unchanged. The rows seen count from the series' first row (the training rows too), so
the cap needs the whole history: a scorer that reads only the last rows of a series (the stream's context,
``detect --only-new``) counts fewer excursions and caps less.

**Where the ensemble applies it** (``EnsembleDetector(recurrence=visits)``): as a cap on the *combined* surprise
after settling and ``recover``, ``min(combined, combine(capped members))``; settling and ``recover`` still read the
members uncapped, so what they held down stays held and the score is never above the default's. Capped before
them (each member's column replaced), a lower surprise lowered settling's recent median and ``recover``'s peak,
and the failing twin fleet of validation seed 3 *gained* false alarms (2.47 -> 2.70 / 2.78 per asset-month at
3 / 5 visits); as a cap after them, 2.02 / 2.35 (BENCHMARKS.md, issue 14, 2026-12-06 07:18).

**The risk** is the rule itself: a fault that comes back again and again the same way (a fan that fails every few
weeks) shows the same warning each time, and the eighth is capped like a queue's emptying: on a year of a failing
twin fleet's hourly rows, 55 -> 39 of 95 failures forewarned. Nothing read from the scores alone told those
warnings from a queue's resets on validation: counting only excursions of at most 64 rows kept 7 of the 16 lost
failures and lost much of the long series' gain; counting only heights the training rows also reached kept none
(with two such training excursions, 4), so the option is for metric series, not for machines.

>>> e = np.zeros(2000)
>>> e[[300, 700, 1100, 1500, 1900]] = 40.0          # the same rare event, five times
>>> capped(e, visits=3)[[300, 700, 1100, 1500, 1900]].round(2).tolist()
[40.0, 40.0, 40.0, 3.7, 3.68]
>>> e[1900] = 90.0                                  # higher than anything before: kept
>>> float(capped(e, visits=3)[1900])
90.0
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.tails import GAP, MARGIN, RARE

#: surprises (decades) by which an earlier excursion's peak may fall short of a row's height and still count
TOLERANCE = 0.5


def capped(
    surprises: np.ndarray, visits: int, tolerance: float = TOLERANCE, gap: int = GAP, margin: float = MARGIN
) -> np.ndarray:
    """One member's surprises with recurring heights capped (module text); NaN stays NaN."""
    e = np.asarray(surprises, dtype="float64")
    out = e.copy()
    with np.errstate(invalid="ignore"):
        hot = np.flatnonzero(e >= RARE)
    if len(hot) <= visits:
        return out
    starts = np.r_[0, np.flatnonzero(np.diff(hot) > gap) + 1]
    ends = np.r_[starts[1:], len(hot)]
    peaks = np.zeros(0)  # earlier excursions' peaks, kept sorted
    for lo, hi in zip(starts, ends, strict=True):
        rows = hot[lo:hi]
        heights = e[rows]
        if len(peaks) >= visits:
            n = len(peaks) - np.searchsorted(peaks, heights - tolerance, side="left")
            cap = np.maximum(RARE, -np.log10(np.maximum(n, 1) / (rows + 1.0)) + margin)
            out[rows] = np.where(n >= visits, np.minimum(heights, cap), heights)
        peak = heights.max()
        peaks = np.insert(peaks, np.searchsorted(peaks, peak), peak)
    return out


def capped_members(members: np.ndarray, visits: int, tolerance: float = TOLERANCE) -> np.ndarray:
    """:func:`capped` applied to each member's column of ``members`` (rows x members)."""
    if len(members) == 0:
        return members
    return np.column_stack([capped(column, visits, tolerance) for column in np.asarray(members, dtype="float64").T])
