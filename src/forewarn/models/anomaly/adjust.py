"""The ensemble's adjustments of its combined surprise, each one rule of the module text of
:mod:`~forewarn.models.anomaly.ensemble` (where the parameters that switch them are documented and the choices are
measured): :func:`rebase` (``rebase_rows``: each member rebased on its own recent history, before the members are
combined), :func:`settle` (``settle_hours``: a lasting deviation settles), :func:`recover` (``recover``: an episode
ends when a fault gives way to a lesser state) and :func:`hold_after` (``transition_rows``: rows just after a
transition are held at the smallest surprise since it). All causal: row ``t`` reads rows ``<= t`` only.

>>> recover(np.array([0.2, 100.0, 80.0, 30.0]), 2.0, 5.0).round(1).tolist()
[0.2, 100.0, 8.0, 3.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: rows under the level that end an excursion for :func:`recover` (the alarm rule's default ``clear_rows``)
RECOVER_ROWS = 5
#: :func:`rebase`: the quantile of a member's recent surprises compared with its training value ...
REBASE_QUANTILE = 0.95
#: ... once this share of ``rebase_rows`` rows is there to read it from (1: a full history, so a series of up to
#: ``rebase_rows`` rows is scored as without the option)
REBASE_MIN_SHARE = 1.0


def rebase(
    members: np.ndarray, rows: int, quantile: float = REBASE_QUANTILE, interrupted: np.ndarray | None = None
) -> np.ndarray:
    """Each member's surprise (a column) rebased on its own recent history (module text): minus
    ``max(0, Q - q0)``, ``Q`` the ``quantile`` of that member's surprises on the ``rows`` rows before it (not
    itself; read only where at least :data:`REBASE_MIN_SHARE` of those rows hold a score of the member, so with
    the default share of 1 a member that sat out any of them, as the forecast does after a switch of operating
    regime, keeps its surprises there; so do the first ``rows`` rows) and
    ``q0 = -log10(1 - quantile)`` the same quantile under its training tail fit. In probabilities: a member whose
    recent rows exceed that quantile ``10 ** (Q - q0)`` times more often than in training has its exceedance
    probabilities multiplied by that factor; a member that runs as it did in training (``Q <= q0``) keeps its
    surprises. NaN stays NaN. With ``interrupted`` (one bool a row: the series did not keep running there, the
    ensemble's transitions), a row with such a row among the ``rows`` rows before it keeps its surprises: a history
    the series stopped, started or switched through is not its own normal (a machine's).

    A member whose recent 95th percentile is 3.3 (2 above its training 1.3) loses 2 from every surprise; one
    that runs cool (0.2) keeps them:

    >>> hot = np.r_[np.full(20, 3.3), 9.0]
    >>> cool = np.r_[np.full(20, 0.2), 9.0]
    >>> rebase(np.c_[hot, cool], rows=20)[-1].round(2).tolist()
    [7.0, 9.0]
    """
    if len(members) == 0:
        return members
    base = -np.log10(1.0 - quantile)
    recent = (
        pd.DataFrame(members)
        .rolling(rows, min_periods=max(1, int(REBASE_MIN_SHARE * rows)))
        .quantile(quantile)
        .shift(1)
        .to_numpy()
    )
    out: np.ndarray = members - np.maximum(0.0, np.nan_to_num(recent, nan=base) - base)
    if interrupted is not None:
        seen = np.r_[0, np.cumsum(np.asarray(interrupted, dtype="int64"))]  # interruptions in rows 0 .. t - 1
        at = np.arange(len(members))
        stopped = seen[at] - seen[np.maximum(at - rows, 0)] > 0
        out[stopped] = members[stopped]
    return out


def settle(combined: np.ndarray, times: pd.DatetimeIndex, hours: float, factor: float, level: float) -> np.ndarray:
    """Each row's surprise divided by ``max(1, factor * m / level)``, ``m`` the median surprise of the rows in the
    ``hours`` before it (not itself; module text). Rows out of time order: returned unchanged.

    A deviation at surprise 8 (above the level 5): its first row keeps 8 (the hours before it were normal); the
    third is divided by 4 * 8 / 5 = 6.4 once the median of the rows before it is 8 (the second by 4 * 4.1 / 5,
    the median of 0.2 and 8); a growth to 40 then scores 40 / 6.4 = 6.25, above the level again:

    >>> times = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    >>> settle(np.array([0.2, 8.0, 8.0, 8.0, 40.0, 0.2]), times, 24.0, 4.0, 5.0).round(2).tolist()
    [0.2, 8.0, 2.44, 1.25, 6.25, 0.03]
    """
    if len(combined) == 0 or not times.is_monotonic_increasing:
        return combined
    recent = (
        pd.Series(combined, index=times)
        .rolling(pd.Timedelta(hours=hours), closed="left", min_periods=1)
        .median()
        .to_numpy()
    )
    damp = np.maximum(level, factor * np.nan_to_num(recent, nan=0.0)) / level
    out: np.ndarray = combined / damp
    return out


def recover(surprise: np.ndarray, factor: float, level: float, rows: int = RECOVER_ROWS) -> np.ndarray:
    """Each row's surprise divided by ``max(1, p / (factor * level))``, ``p`` the highest surprise of the rows
    before it in the same *excursion* (module text): an excursion ends, and its peak is forgotten, once the
    surprise has been below ``level`` for ``rows`` consecutive rows.

    A fault at surprise 100 then a lasting lesser deviation (30, 20; ``factor`` 2, ``level`` 5): divided by
    100 / 10 = 10, they fall under the level; two rows under the level end the excursion, so a new deviation
    (8) scores as itself:

    >>> recover(np.array([0.2, 100.0, 80.0, 30.0, 20.0, 1.0, 1.0, 8.0]), 2.0, 5.0, rows=2).round(2).tolist()
    [0.2, 100.0, 8.0, 3.0, 2.0, 0.1, 1.0, 8.0]
    """
    n = len(surprise)
    if n == 0:
        return surprise
    low = surprise < level
    index = np.arange(n)
    last_high = np.maximum.accumulate(np.where(low, -1, index))
    excursion = np.cumsum(low & (index - last_high == rows))  # a new excursion from each row that completes a run
    peak = excursion_peak(surprise, excursion)
    out: np.ndarray = surprise / np.maximum(1.0, peak / (factor * level))
    return out


def excursion_peak(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The largest value of the rows before each row in its group (``group``: non-decreasing labels, one run of
    rows each); ``-inf`` on a group's first row and on a row right after a NaN (NaN counts as ``-inf``; a running
    maximum that met a NaN starts again from the next value, as a pandas ``cummax`` then ``shift`` does).

    A running maximum that restarts with each group, in one pass: each row's key is its group times ``n`` plus
    the rank of its value, so a later group's keys lie above every earlier one's and the running maximum of the
    keys is, within a group, the key of the group's largest value so far.

    >>> excursion_peak(np.array([1.0, 3.0, 2.0, 0.5, 4.0, 1.0]), np.array([0, 0, 0, 1, 1, 1])).tolist()
    [-inf, 1.0, 3.0, -inf, 0.5, 4.0]
    """
    n = len(values)
    ranked = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(ranked, kind="stable")
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(n)
    base = np.asarray(group, dtype="int64") * n
    best = np.maximum.accumulate(base + rank)
    before = np.r_[-1, best[:-1]]
    inside = before >= base  # an earlier row of the same group
    out: np.ndarray = np.where(inside, ranked[order[np.where(inside, before - base, 0)]], -np.inf)
    out[1:][np.isnan(values[:-1])] = -np.inf
    return out


def hold_after(surprise: np.ndarray, transitions: np.ndarray, rows: int) -> np.ndarray:
    """In the ``rows`` rows from each transition on (the transition's own row first), each surprise capped at the
    smallest since the transition (module text); other rows unchanged. Transitions less than ``rows`` apart
    (a machine that stops and starts again, a state that flickers) make one run: the cap is the smallest
    surprise since the run's first transition, until ``rows`` rows after its last.

    A transition on row 2 (``rows`` 4): its own row keeps 9, the dip on row 3 holds rows 4-5 down; row 7, past
    the 4 rows, scores as itself; with a second transition on row 5, the run holds down to row 8:

    >>> surprise = np.array([0.2, 0.2, 9.0, 1.0, 9.0, 9.0, 0.2, 9.0, 9.0, 9.0])
    >>> hold_after(surprise, np.isin(np.arange(10), [2]), 4).tolist()
    [0.2, 0.2, 9.0, 1.0, 1.0, 1.0, 0.2, 9.0, 9.0, 9.0]
    >>> hold_after(surprise, np.isin(np.arange(10), [2, 5]), 4).tolist()
    [0.2, 0.2, 9.0, 1.0, 1.0, 1.0, 0.2, 0.2, 0.2, 9.0]
    """
    index = np.arange(len(surprise))
    marked = np.asarray(transitions, dtype=bool)
    last = np.maximum.accumulate(np.where(marked, index, -1))
    inside = (last >= 0) & (index - last < rows)
    if not inside.any():
        return surprise
    before = np.r_[-1, last[:-1]]  # the latest transition before each row
    opens = marked & ((before < 0) | (index - before >= rows))  # a transition that starts a new run
    held = pd.Series(surprise).groupby(np.cumsum(opens)).cummin().to_numpy(dtype="float64")
    out: np.ndarray = np.where(inside, held, surprise)
    return out
