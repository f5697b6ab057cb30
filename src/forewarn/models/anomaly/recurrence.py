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

**Only excursions through which the series kept running count** (``interrupted``; the ensemble passes its
:meth:`~forewarn.models.anomaly.ensemble.EnsembleDetector.transitions`: a switch of operating regime, or a jump of
at least three channels by more than three spreads from one row to the next, as a stop, a start or a repair
makes). An excursion that holds such a row is not counted as a visit of its height, however often it comes back.
The risk of any recurrence rule is a fault that comes back again and again the same way (a fan that fails every
few weeks): it shows the same warning each time, and without the gate the eighth was capped like a queue's
emptying (a year of a failing twin fleet's hourly rows: 55 -> 39 of 95 failures forewarned). A machine's warning
grows until the machine fails and stops, so the stop falls inside the warning's excursion; a queue's reset, a
burst, a business day's peak come back to normal while the series carries on. On validation (BENCHMARKS.md,
issue 14, 2026-12-06 10:07): 73-77 % of the failing twin fleets' excursions in a failure's last 7 days hold a
transition, 0-2 % of the metric corpus' excursions at 16,000 rows (10 % for bursts and business hours, 9 % for
the twin's healthy machines); with the gate, a year of fleets 3 / 4 forewarned 54 of 95 / 43 of 80 (the default
55 / 44, ungated 39 / 39) and the long corpus cells kept most of their gain (realistic corpus at 16,000 rows 24.0
-> 49.6, ungated 50.6). What the gate cannot see: a machine whose failure leaves the rows running (no stop, no
jump), and a metric series whose normal peaks come with a switch of regime (they are not counted, so not capped).

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
    surprises: np.ndarray,
    visits: int,
    tolerance: float = TOLERANCE,
    gap: int = GAP,
    margin: float = MARGIN,
    interrupted: np.ndarray | None = None,
) -> np.ndarray:
    """One member's surprises with recurring heights capped (module text); NaN stays NaN. With ``interrupted``
    (one bool a row: the series did not keep running there), an excursion holding such a row does not count."""
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
        if interrupted is not None and interrupted[rows[0] : rows[-1] + 1].any():
            continue  # the series stopped or switched inside it: not a recurrence of its own normal (module text)
        peak = heights.max()
        peaks = np.insert(peaks, np.searchsorted(peaks, peak), peak)
    return out


def capped_members(
    members: np.ndarray, visits: int, tolerance: float = TOLERANCE, interrupted: np.ndarray | None = None
) -> np.ndarray:
    """:func:`capped` applied to each member's column of ``members`` (rows x members)."""
    if len(members) == 0:
        return members
    columns = np.asarray(members, dtype="float64").T
    return np.column_stack([capped(column, visits, tolerance, interrupted=interrupted) for column in columns])
