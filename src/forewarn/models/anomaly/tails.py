"""Rare events that recur in the training rows are normal: a member's tail widened to the height its training
scores reach again and again (``tail_visits``, an option of the ensemble).

The ensemble normalises each member against an exponential fit to the upper tail of its training scores
(:func:`~forewarn.models.anomaly.robust.tail_fit`), with the scale taken from the *median* excess over the
threshold, so that anomalies among the training rows (up to about half the exceedances) do not stretch it. The
price: a rare event that is part of normal behaviour (a queue emptied, a batch job, a backup at a fixed hour, a
heavy-tailed noise), seen a few times in the training rows but on far fewer than half of the exceedances, is
treated as contamination, and each later occurrence is a surprise far above the alarm level.

:func:`excursion_widened` tells the two apart by *recurrence*, the house rule that an operating regime must be
entered at least three times (:mod:`~forewarn.models.anomaly.regimes`): the training scores' excursions above the
height the fit calls rare (surprise :data:`RARE`; runs fewer than ``gap`` rows apart merged into one) each have a peak; when
at least ``visits`` separate excursions reach a height ``h`` (the ``visits``-th highest peak), the scale is widened
(never narrowed) so that ``h`` gets the surprise of a frequency :data:`MARGIN` decades below its own empirical one,
``-log10(visits / n) + MARGIN`` for ``n`` training scores: an event that came back ``visits`` times in ``n`` rows
is about as surprising as that, not more (on a clean tail the ``visits``-th highest score sits near
``-log10(visits / n)`` already, so the margin leaves it alone but for the sampling noise of a few values).
An anomaly seen once or twice in the training rows (a contaminated start) leaves the fit as it was.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = rng.exponential(1.0, 600)
>>> scores[[100, 250, 400, 550]] = 40.0                       # four separate rare events of one height
>>> fit = np.array([2.3, 1.0, 1.0])                            # threshold, scale, surprise at the threshold
>>> wide = excursion_widened(scores, fit, visits=3)
>>> round(float(wide[1]), 2), round(float(1 + (40.0 - 2.3) / (wide[1] * np.log(10))), 2)   # 40 -> surprise 3.3
(7.12, 3.3)
>>> scores[[250, 400, 550]] = 1.0                              # one event only: a contamination, kept out
>>> excursion_widened(scores, fit, visits=3).tolist()
[2.3, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

#: excursions of the training scores fewer than this many rows apart count as one
GAP = 32
#: an excursion is a run of training scores above the height the fit gives this surprise (an exceedance
#: probability of 1 % per row: rare enough that separate runs are separate events)
RARE = 2.0
#: a recurring height is given the surprise of a frequency this many decades below its own (1: ten times rarer
#: than it was seen), so the sampling noise of a clean tail's few highest scores rarely widens it
MARGIN = 1.0
#: the most the scale is widened (a multiple of the fit's own; ``None``: no bound)
MAX_WIDENING: float | None = None


def excursion_peaks(scores: np.ndarray, threshold: float, gap: int = GAP) -> np.ndarray:
    """The peak of each excursion of ``scores`` above ``threshold`` (NaN counts as below), excursions fewer than
    ``gap`` rows apart merged.

    >>> excursion_peaks(np.array([0, 5, 0, 0, 0, 7, 6, 0, np.nan, 9.0]), 1.0, gap=2).tolist()
    [5.0, 7.0, 9.0]
    >>> excursion_peaks(np.array([0, 5, 0, 0, 0, 7, 6, 0, np.nan, 9.0]), 1.0, gap=4).tolist()
    [9.0]
    """
    s = np.asarray(scores, dtype="float64")
    with np.errstate(invalid="ignore"):
        above = np.flatnonzero(s > threshold)
    if len(above) == 0:
        return np.zeros(0)
    breaks = np.flatnonzero(np.diff(above) > gap) + 1
    return np.maximum.reduceat(s[above], np.r_[0, breaks])


def excursion_widened(scores: np.ndarray, fit: np.ndarray, visits: int, gap: int = GAP) -> np.ndarray:
    """``fit`` (``[threshold, scale, surprise at the threshold]``, :func:`~forewarn.models.anomaly.robust.tail_fit`)
    with its scale widened so that the height ``visits`` separate training excursions reach gets the surprise of
    its empirical frequency (module text); unchanged with fewer excursions or when it already does."""
    threshold, scale, at = (float(v) for v in fit)
    n = int(np.isfinite(scores).sum())
    rare = threshold + (RARE - at) * scale * np.log(10.0)
    peaks = excursion_peaks(scores, rare, gap)
    if n == 0 or len(peaks) < visits:
        return np.asarray(fit, dtype="float64")
    height = float(np.sort(peaks)[-visits])
    target = -np.log10(visits / n) + MARGIN
    if target <= at or height <= threshold:
        return np.asarray(fit, dtype="float64")
    wide = (height - threshold) / (np.log(10.0) * (target - at))
    if MAX_WIDENING is not None:
        wide = min(wide, MAX_WIDENING * scale)
    return np.array([threshold, max(scale, wide), at])
