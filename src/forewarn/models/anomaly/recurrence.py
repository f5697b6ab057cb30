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
the cap needs the whole history.

**Carrying the cap** (2026-12-06): a scorer that reads only the last rows of a series (the stream's context,
``detect --only-new``) would count fewer excursions and cap less. What the cap reads of the rows before is small:
the peaks of the excursions counted so far (one float each), the rows seen, and the last excursion (its first and
last rare rows, its peak, whether the series stopped in it or after it), which the next rows may join (``GAP``).
:func:`capped_after` caps rows given that state and returns it after them, so pieces equal one run, bit for bit;
a :class:`Carry` keeps it per series and member between calls, tied to the time of the last row it counts (inside
:func:`carrying`, the ensemble caps through it): the stream keeps one per asset (checkpointed with its context),
``detect --only-new`` one per mark (as JSON, a few rows before the rows the next night checks).

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

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from forewarn.models.anomaly.tails import GAP, MARGIN, RARE

_CURRENT: ContextVar[Carry | None] = ContextVar("forewarn_recurrence_carry", default=None)

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
    return capped_after(surprises, visits, None, 0, tolerance, gap, margin, interrupted)[0]


def capped_after(
    surprises: np.ndarray,
    visits: int,
    prior: dict[str, Any] | None,
    seen: int,
    tolerance: float = TOLERANCE,
    gap: int = GAP,
    margin: float = MARGIN,
    interrupted: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`capped` of rows that follow ``seen`` rows of the series, given ``prior`` (what the cap kept of those
    rows, :func:`capped_after`'s second return; ``None``: the series starts here, ``seen`` 0): the rows' surprises
    capped as in one run over the whole series, and the state after them (*carrying the cap*, module text).

    >>> e = np.zeros(2000)
    >>> e[[300, 700, 1100, 1500, 1900]] = 40.0
    >>> first, state = capped_after(e[:1000], 3, None, 0)
    >>> rest, _ = capped_after(e[1000:], 3, state, 1000)
    >>> bool(np.array_equal(np.r_[first, rest], capped(e, 3)))
    True
    """
    e = np.asarray(surprises, dtype="float64")
    out = e.copy()
    state = empty_state() if prior is None else prior
    peaks = np.asarray(state["peaks"], dtype="float64")  # earlier excursions' peaks, kept sorted
    first, last, top = int(state["first"]), int(state["last"]), float(state["peak"])
    stopped, stopped_after = bool(state["stopped"]), bool(state["stopped_after"])
    with np.errstate(invalid="ignore"):
        hot = np.flatnonzero(e >= RARE)
    starts = np.r_[0, np.flatnonzero(np.diff(hot) > gap) + 1] if len(hot) else np.zeros(0, dtype="int64")
    ends = np.r_[starts[1:], len(hot)] if len(hot) else np.zeros(0, dtype="int64")
    for index, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        rows = hot[lo:hi]
        heights = e[rows]
        joined = index == 0 and last >= 0 and seen + int(rows[0]) - last <= gap  # the open excursion goes on
        if last >= 0 and not joined:  # the excursion before these rows ended: counted unless the series stopped
            if not stopped:
                peaks = np.insert(peaks, np.searchsorted(peaks, top), top)
            last = -1
        if len(peaks) >= visits:
            n_above = len(peaks) - np.searchsorted(peaks, heights - tolerance, side="left")
            cap = np.maximum(RARE, -np.log10(np.maximum(n_above, 1) / (rows + (seen + 1.0))) + margin)
            out[rows] = np.where(n_above >= visits, np.minimum(heights, cap), heights)
        inside = interrupted is not None and bool(interrupted[(0 if joined else rows[0]) : rows[-1] + 1].any())
        if joined:
            stopped, top = stopped or stopped_after or inside, max(top, float(heights.max()))
        else:
            first, stopped, top = seen + int(rows[0]), inside, float(heights.max())
        last = seen + int(rows[-1])
    if interrupted is not None and len(hot):  # the rows after the last rare one, where it may yet go on
        stopped_after = bool(interrupted[hot[-1] + 1 :].any())
    elif interrupted is not None and last >= 0:
        stopped_after = stopped_after or bool(interrupted.any())
    return out, _state(peaks, first, last, top, stopped, stopped_after)


def empty_state() -> dict[str, Any]:
    """The cap's state before a series' first row (:func:`capped_after`)."""
    return _state(np.zeros(0), -1, -1, 0.0, False, False)


def _state(peaks: np.ndarray, first: int, last: int, top: float, stopped: bool, after: bool) -> dict[str, Any]:
    """What :func:`capped_after` keeps of the rows so far: the peaks of the excursions counted (sorted), and the
    last excursion (its first and last rare rows, -1: none; its peak; whether the series stopped in it, and
    after its last rare row): it may go on in the next rows."""
    return {
        "peaks": [float(p) for p in peaks],
        "first": int(first),
        "last": int(last),
        "peak": float(top),
        "stopped": bool(stopped),
        "stopped_after": bool(after),
    }


def capped_members(
    members: np.ndarray, visits: int, tolerance: float = TOLERANCE, interrupted: np.ndarray | None = None
) -> np.ndarray:
    """:func:`capped` applied to each member's column of ``members`` (rows x members)."""
    if len(members) == 0:
        return members
    columns = np.asarray(members, dtype="float64").T
    return np.column_stack([capped(column, visits, tolerance, interrupted=interrupted) for column in columns])


class Carry:
    """What the cap keeps of one series' rows between runs that each score only its last rows (the stream's
    context, ``detect --only-new``; module text, *carrying the cap*): per member, :func:`capped_after`'s state
    after the row at ``after_ns`` (epoch nanoseconds; ``None``: no row yet, the next run's series starts at the
    series' first row), the ``seen`` rows up to it, and the cap's settings (``key``). A run scored inside
    :func:`carrying` caps the rows after ``after_ns`` as one run over the whole series does, and moves the state
    to ``back`` rows before its series' last row (0: the last row; ``detect --only-new`` keeps it before the rows
    whose scores the next night checks). ``exact`` turns false after a run whose series did not hold the state's
    row (or with other settings): its rows were capped as a series that starts at its first row, and the state
    starts there.

    >>> e = np.zeros((2000, 1))
    >>> e[[300, 700, 1100, 1500, 1900], 0] = 40.0
    >>> ns = np.arange(2000, dtype="int64") * 10**9
    >>> carry, parts = Carry(), []
    >>> for lo in range(0, 2000, 250):   # a context of 100 rows before each 250 new ones
    ...     at = max(lo - 100, 0)
    ...     parts.append(carry.cap(e[at : lo + 250], 3, None, ns[at : lo + 250], ["m"])[lo - at :])
    >>> bool(np.array_equal(np.concatenate(parts), capped_members(e, 3))), carry.exact, carry.seen
    (True, True, 2000)
    """

    def __init__(self, back: int = 0) -> None:
        self.back = int(back)
        self.after_ns: int | None = None
        self.seen = 0
        self.key: str | None = None
        self.members: list[dict[str, Any]] | None = None
        self.exact = True

    def cap(
        self,
        members: np.ndarray,
        visits: int,
        interrupted: np.ndarray | None,
        times_ns: np.ndarray,
        names: Sequence[str],
        tolerance: float = TOLERANCE,
    ) -> np.ndarray:
        """:func:`capped_members` of a series' rows (``times_ns``) that continues the state: its rows after
        ``after_ns`` capped as in one run over the whole series, those before (a context whose scores the stream
        and ``detect --only-new`` do not keep) left uncapped; the state moved to ``back`` rows before its last
        row."""
        e = np.asarray(members, dtype="float64")
        n, width = e.shape if e.ndim == 2 else (len(e), 0)
        key = f"{int(visits)}:{float(tolerance)!r}:{','.join(names)}"
        k, seen = 0, 0
        prior: list[dict[str, Any] | None] = [None] * width
        if self.members is not None:
            k = int(np.searchsorted(times_ns, self.after_ns, side="right")) if self.after_ns is not None else 0
            held = self.after_ns is None or (k > 0 and int(times_ns[k - 1]) == self.after_ns)
            if key != self.key or len(self.members) != width or not held:
                self.exact = False  # not the series or settings the state was kept for: as a series starting here
                self.members, self.after_ns, self.seen, k = None, None, 0, 0
            else:
                seen, prior = self.seen, list(self.members)
        out = e.copy()  # the rows before ``k`` (a context whose scores the caller does not keep): uncapped
        cut = max(k, n - self.back)
        states: list[dict[str, Any]] = []
        for j in range(width):
            out[k:cut, j], state = capped_after(
                e[k:cut, j], visits, prior[j], seen, tolerance, interrupted=_part(interrupted, k, cut)
            )
            if cut < n:
                out[cut:, j] = capped_after(
                    e[cut:, j], visits, state, seen + cut - k, tolerance, interrupted=_part(interrupted, cut, n)
                )[0]
            states.append(state)
        self.key, self.members, self.seen = key, states, seen + cut - k
        self.after_ns = int(times_ns[cut - 1]) if cut > 0 else self.after_ns
        return out

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON types (floats round-trip exactly): one float a counted excursion per member."""
        return {"after_ns": self.after_ns, "seen": self.seen, "key": self.key, "members": self.members}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], back: int = 0) -> Carry:
        """A :class:`Carry` from :meth:`to_json`."""
        carry = cls(back)
        carry.after_ns = None if data.get("after_ns") is None else int(data["after_ns"])
        carry.seen, carry.key = int(data.get("seen", 0)), data.get("key")
        members = data.get("members")
        carry.members = None if members is None else [dict(m) for m in members]
        return carry


def _part(flags: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    return None if flags is None else flags[lo:hi]


@contextmanager
def carrying(carry: Carry) -> Iterator[Carry]:
    """Within this block, a detector with ``recurrence`` caps a timed series through ``carry`` (one per series)."""
    token = _CURRENT.set(carry)
    try:
        yield carry
    finally:
        _CURRENT.reset(token)


def current() -> Carry | None:
    """The carry of the enclosing :func:`carrying` block, if any."""
    return _CURRENT.get()
