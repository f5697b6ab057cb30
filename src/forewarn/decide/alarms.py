"""The one alarm rule: from a continuous ``anomaly_score`` per row to ``alarm`` = 1 where an episode starts.

A detector's ``anomaly_score`` (in [0, 1], higher = more anomalous) is a *level*: during an anomaly it stays
high for many rows. A maintenance team needs an *alarm*: one signal when something starts. Every face
(``forewarn detect``, ``evaluate``, the stream, the service) turns levels into alarms with this rule, so
the same scores give the same alarms everywhere.

The rule (:class:`AlarmRule`), applied to the rows of one asset in time order:

* **Open.** An episode opens on a row whose score is **at or above** ``on`` (``score >= on``; the one
  comparison convention, everywhere). That row gets ``alarm = 1``; every other row gets 0.
* **Hysteresis.** An open episode stays open while the score wobbles: it *clears* only once the score has
  been **strictly below** ``off`` (``off < on``) for ``clear_rows`` consecutive rows. The episode's ``end``
  is the last row before that quiet run (the last row at or above ``off``).
* **Refractory period.** After the clearing row, for ``refractory`` rows (an int) or for the rows whose
  time is at most ``refractory`` after it (a duration, e.g. ``"6h"``), no new episode opens: a score that
  climbs back to ``on`` inside the refractory period *re-opens the same episode* silently (no alarm; its
  ``end`` and peak move on), as the existing alert policy (:mod:`~forewarn.decide.alerts`) treats a crossing
  inside its cooldown. Once the refractory period has passed without a re-opening, the episode is final.
* **Episode length (optional).** With ``episode_rows`` K (``None`` or 0, the default: no limit), an episode
  lasts at most K rows: rows ``start`` to ``start + K - 1``. On its K-th row it is final, whatever it is doing
  there: still open (the score has not cleared: the episode is *capped*), or cleared and in its refractory
  period (the refractory period ends with it). A capped episode's ``end`` is its last row at or above ``off``
  up to the K-th row, its peak the first highest row up to there, and ``closed`` is True (it ended before the
  data did). No refractory period follows a cap: the next row at or above ``on`` (``start + K`` at the
  earliest) opens a new episode with a new alarm. For a plant: an anomaly that lasts is announced again every
  K rows, as an alert manager repeats an alert that keeps firing; after a clearing, the next alarm waits for
  the refractory period or for the K rows from the last alarm to pass, whichever comes first. Without a
  limit, one long stretch above ``off`` (say a normal regime a short fit never saw) holds one episode open
  for good, and no later anomaly inside it can raise an alarm. The limit counts rows, not time: on irregular
  rows, K rows are a varying span.
* **Episode length tied to the fit (optional).** With ``episode_rows="auto"``, K is
  max(:data:`TIED_FLOOR`, n // :data:`TIED_SHARE`) = max(48, n // 4) rows (:func:`tied_episode_rows`), n the
  training rows of the fit that scores the series (for a pooled fit, the asset's own rows in it). Such a rule is
  *resolved* against them (:meth:`AlarmRule.resolved`) before it finds episodes: ``forewarn detect`` (and
  ``--only-new``) and the stream do it per asset, from its fit; :func:`find_episodes` and :class:`AlarmState`
  refuse an unresolved one. Why a quarter of the fit: a detector fitted on n rows cannot know normal behaviour
  slower than about n/2 rows (the ensemble says so when it is fitted on few rows), so a stretch above ``off``
  longer than that is as likely a slow normal behaviour the fit never saw (a cycle, a trend, a set point) as one
  anomaly. An episode ends after half that span, n/4 rows, so that such a stretch cannot hide a later anomaly;
  a long fit, which knows slower behaviour, repeats its alarms less often (a fixed K = 48 frees windows on a
  600-row series and costs a 4,000-row one more false starts than it frees: BENCHMARKS.md, issue 14); the floor
  of 48 rows keeps a fit on fewer than 192 rows from announcing a lasting anomaly every few rows. The divisor and
  the floor were set before measuring, not tuned on the figures.
* **Episodes.** Each episode is an :class:`Episode`: ``start`` (the alarm row), ``end``, ``peak`` (the first
  row with the episode's highest score), ``peak_score``, ``closed`` (the episode ended before the data did:
  its score cleared, or it reached ``episode_rows``), times where the rows have them, and optional
  ``top_channels`` (the channels with the largest contributions on the peak row) for explanations.
  :func:`episodes_table` lays them out one per line.

Two implementations, checked against each other by a property test: :func:`find_episodes` (one series,
vectorised: it jumps from event to event, so a million quiet rows cost little) with :func:`alarm_frame`
(a frame of many assets, scored per asset in time order), and :class:`AlarmState` / :class:`AlarmTracker`
(rows fed one at a time, for the stream; state as named values for checkpoints). Fed the same rows, they
give the same alarms and the same episodes.

Scores must be finite: a missing score is a decision for the detector (fill, hold, or skip the row), not
for the alarm rule, which refuses NaN with a :class:`~forewarn.exceptions.SchemaError` naming the row.

>>> rule = AlarmRule(on=0.5, off=0.3, clear_rows=2)
>>> scores = [0.1, 0.6, 0.4, 0.2, 0.7, 0.9, 0.2, 0.1, 0.1, 0.55, 0.1]
>>> alarms, episodes = find_alarms(scores, rule)
>>> alarms.tolist()
[0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
>>> [(e.start, e.end, e.peak, e.peak_score, e.closed) for e in episodes]
[(1, 5, 5, 0.9, True), (9, 9, 9, 0.55, False)]

The dip to 0.2 on row 3 lasts one row, fewer than ``clear_rows``, so rows 4-5 belong to the first episode;
with a refractory period of 3 rows, the crossing on row 9 (two rows after the clearing row 7) re-opens it:

>>> find_alarms(scores, AlarmRule(on=0.5, off=0.3, clear_rows=2, refractory=3))[0].tolist()
[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]

The stream gives the same, row by row:

>>> state = AlarmState(rule)
>>> [state.update(s) for s in scores]
[0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
>>> [(e.start, e.end) for e in state.finish()]
[(1, 5), (9, 9)]

Capped at 3 rows, the first episode (still open on its third row, row 3) ends there and the score, still at
or above ``on`` on row 4, raises a second alarm:

>>> capped = AlarmRule(on=0.5, off=0.3, clear_rows=2, episode_rows=3)
>>> alarms, episodes = find_alarms(scores, capped)
>>> alarms.tolist(), [(e.start, e.end, e.peak, e.closed) for e in episodes]
([0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0], [(1, 2, 1, True), (4, 5, 5, True), (9, 9, 9, False)])

Tied to the fit, the cap is a quarter of the training rows, 48 at the least:

>>> tied = AlarmRule(episode_rows="auto")
>>> tied.resolved(4000).episode_rows, tied.resolved(150).episode_rows, AlarmRule().resolved(4000) == AlarmRule()
(1000, 48, True)
>>> find_alarms(scores, tied)
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: find_episodes: episode_rows='auto' is tied to a fit's training rows; resolve the rule against them first (rule.resolved(training_rows))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError, StateError

__all__ = [
    "AlarmRule",
    "AlarmState",
    "AlarmTracker",
    "Episode",
    "alarm_frame",
    "episodes_table",
    "find_alarms",
    "find_episodes",
    "fitted_rule",
    "tied_episode_rows",
]

#: the ``episode_rows`` that ties an episode's length to the fit's training rows (module text)
TIED = "auto"
#: the tied episode length: a fit's training rows divided by this (module text: half of what the fit can know) ...
TIED_SHARE = 4
#: ... and at least this many rows
TIED_FLOOR = 48
#: the ``episode_rows`` of the faces that score with fits whose training rows they know, where none is given
#: (:func:`fitted_rule`: ``forewarn detect`` and its ``--only-new`` nights, the stream with a folder of detect fits,
#: benchmarks/detect.py): :data:`TIED`, the cap tied to the fit (the default since 2026-12-06; ``None`` before:
#: BENCHMARKS.md, issue 14). A rule made elsewhere (``AlarmRule()``) keeps no limit.
FITTED_EPISODE_ROWS: int | str | None = TIED

_EPISODE_COLUMNS = (
    "asset_id",
    "start",
    "end",
    "peak",
    "peak_score",
    "closed",
    "start_ts",
    "end_ts",
    "peak_ts",
    "top_channels",
)


@dataclass(frozen=True)
class AlarmRule:
    """Hysteresis and refractory settings (module text): open at ``score >= on``, clear after ``clear_rows``
    rows below ``off``, no new episode for ``refractory`` rows (int) or time (a duration) after clearing, and
    optionally no episode longer than ``episode_rows`` rows (``None`` or 0: no limit, the default; ``"auto"``:
    tied to the fit's training rows, :meth:`resolved`).

    >>> AlarmRule(on=0.6, off=0.4, clear_rows=3, refractory="2h").refractory
    Timedelta('0 days 02:00:00')
    >>> AlarmRule(on=0.5, off=0.5)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: AlarmRule: off=0.5 must be below on=0.5 (e.g. on=0.5, off=0.3)
    >>> AlarmRule(episode_rows=0) == AlarmRule()
    True
    >>> AlarmRule(episode_rows="auto").tied, AlarmRule(episode_rows=48).tied
    (True, False)
    """

    on: float = 0.5
    off: float = 0.3
    clear_rows: int = 5
    refractory: int | pd.Timedelta = 0
    episode_rows: int | str | None = None

    def __post_init__(self) -> None:
        rows: Any = self.episode_rows
        if rows is not None and rows != TIED:
            if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 0:
                raise ConfigError(
                    f"AlarmRule: episode_rows={rows!r} must be a row count (an int >= 1; 0 or None: no limit) "
                    f"or {TIED!r} (a quarter of the fit's training rows, 48 at the least)"
                )
            object.__setattr__(self, "episode_rows", int(rows) or None)
        if not (isinstance(self.on, int | float) and 0.0 < self.on <= 1.0):
            raise ConfigError(f"AlarmRule: on={self.on!r} must be a number in (0, 1]")
        if not (isinstance(self.off, int | float) and 0.0 <= self.off < 1.0):
            raise ConfigError(f"AlarmRule: off={self.off!r} must be a number in [0, 1)")
        if self.off >= self.on:
            raise ConfigError(f"AlarmRule: off={self.off!r} must be below on={self.on!r} (e.g. on=0.5, off=0.3)")
        if (
            isinstance(self.clear_rows, bool)
            or not isinstance(self.clear_rows, int | np.integer)
            or self.clear_rows < 1
        ):
            raise ConfigError(f"AlarmRule: clear_rows={self.clear_rows!r} must be an int >= 1")
        refractory: Any = self.refractory
        if isinstance(refractory, bool):
            raise ConfigError("AlarmRule: refractory must be a row count or a duration, not a bool")
        if isinstance(refractory, int | np.integer):
            if refractory < 0:
                raise ConfigError(f"AlarmRule: refractory={refractory!r} rows must be >= 0")
            object.__setattr__(self, "refractory", int(refractory))
            return
        try:
            duration = pd.Timedelta(refractory)
        except (TypeError, ValueError):
            duration = pd.NaT
        if pd.isna(duration) or duration < pd.Timedelta(0):
            raise ConfigError(
                f"AlarmRule: refractory={refractory!r} must be a row count (int >= 0) or a "
                "non-negative duration such as '6h'"
            )
        object.__setattr__(self, "refractory", duration)

    @property
    def tied(self) -> bool:
        """Whether the episode length is tied to the fit (``episode_rows="auto"``): :meth:`resolved` first."""
        return self.episode_rows == TIED

    def resolved(self, training_rows: int | None) -> AlarmRule:
        """The rule for a series scored by a fit on ``training_rows`` rows: ``episode_rows="auto"`` becomes
        :func:`tied_episode_rows` of them; any other rule is itself.

        >>> AlarmRule(episode_rows="auto").resolved(1000) == AlarmRule(episode_rows=250)
        True
        """
        if not self.tied:
            return self
        if training_rows is None:
            raise ConfigError(
                f"AlarmRule: episode_rows={TIED!r} needs the training rows of the fit that scores the series; "
                "give episode_rows a number for a model without them"
            )
        return replace(self, episode_rows=tied_episode_rows(training_rows))

    def settings(self) -> dict[str, Any]:
        """The rule as JSON-ready values (a duration as ISO 8601 text); ``AlarmRule(**settings)`` gives it back.

        >>> AlarmRule(refractory="6h", episode_rows="auto").settings()["refractory"]
        'P0DT6H0M0S'
        >>> rule = AlarmRule(refractory="6h", episode_rows="auto"); AlarmRule(**rule.settings()) == rule
        True
        """
        refractory: Any = self.refractory
        return {
            "on": float(self.on),
            "off": float(self.off),
            "clear_rows": int(self.clear_rows),
            "refractory": refractory.isoformat() if isinstance(refractory, pd.Timedelta) else int(refractory),
            "episode_rows": self.episode_rows,
        }

    @property
    def episode_limit(self) -> int | None:
        """The longest episode in rows (``None``: no limit) of a resolved rule (:meth:`resolved`)."""
        rows = self._resolved_here("AlarmRule.episode_limit").episode_rows
        return rows if isinstance(rows, int) else None

    def _resolved_here(self, where: str) -> AlarmRule:
        if self.tied:
            raise ConfigError(
                f"{where}: episode_rows={TIED!r} is tied to a fit's training rows; resolve the rule against them "
                "first (rule.resolved(training_rows))"
            )
        return self

    @property
    def timed(self) -> bool:
        """Whether the refractory period is a duration (rows then need timestamps)."""
        return isinstance(self.refractory, pd.Timedelta)

    @property
    def refractory_span(self) -> int:
        """The refractory period as rows, or as nanoseconds when it is a duration."""
        value: Any = self.refractory
        return int(value.value) if isinstance(value, pd.Timedelta) else int(value)


def fitted_rule(**settings: Any) -> AlarmRule:
    """The alarm rule of a face that scores with fits whose training rows it knows: ``settings`` (``AlarmRule``'s
    fields) over :data:`FITTED_EPISODE_ROWS` (``episode_rows=0``: no limit, whatever that default is).

    >>> fitted_rule(on=0.6) == AlarmRule(on=0.6, episode_rows=FITTED_EPISODE_ROWS), fitted_rule(episode_rows=0)
    (True, AlarmRule(on=0.5, off=0.3, clear_rows=5, refractory=0, episode_rows=None))
    """
    return AlarmRule(**{"episode_rows": FITTED_EPISODE_ROWS, **settings})


def tied_episode_rows(training_rows: int) -> int:
    """The episode length of ``episode_rows="auto"`` for a fit on ``training_rows`` rows: a quarter of them, 48 at
    the least (module text).

    >>> [tied_episode_rows(n) for n in (90, 300, 600, 2400)]
    [48, 75, 150, 600]
    """
    if isinstance(training_rows, bool) or not isinstance(training_rows, int | np.integer) or training_rows < 0:
        raise ConfigError(f"training_rows={training_rows!r} must be a row count (an int >= 0)")
    return max(TIED_FLOOR, int(training_rows) // TIED_SHARE)


@dataclass(frozen=True)
class Episode:
    """One anomaly episode of one series: rows ``start`` (the alarm) to ``end``, its peak, optional times."""

    start: int
    end: int
    peak: int
    peak_score: float
    closed: bool
    asset_id: str | None = None
    start_ts: pd.Timestamp | None = None
    end_ts: pd.Timestamp | None = None
    peak_ts: pd.Timestamp | None = None
    top_channels: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601 text)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _EPISODE_COLUMNS}
        for name in ("start_ts", "end_ts", "peak_ts"):
            out[name] = None if out[name] is None else out[name].isoformat()
        out["top_channels"] = list(self.top_channels)
        return out


def episodes_table(episodes: Iterable[Episode]) -> pd.DataFrame:
    """One line per episode (the layout of ``forewarn detect --events``).

    >>> episodes_table(find_episodes([0.0, 0.8, 0.0], AlarmRule(clear_rows=1)))[["start", "end", "peak_score"]]
       start  end  peak_score
    0      1    1         0.8
    """
    rows = [{name: getattr(e, name) for name in _EPISODE_COLUMNS} for e in episodes]
    table = pd.DataFrame(rows, columns=list(_EPISODE_COLUMNS))
    return table.astype({"start": "int64", "end": "int64", "peak": "int64", "peak_score": "float64", "closed": "bool"})


def _scores(values: Any, source: str = "scores") -> np.ndarray:
    scores = np.asarray(values, dtype="float64")
    if scores.ndim != 1:
        raise SchemaError(f"scores must be one-dimensional, got shape {scores.shape}", column=source)
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise SchemaError(
            f"score {scores[bad[0]]!r} on row {int(bad[0])} is not finite",
            column=source,
            hint="fill or drop rows without a score before applying the alarm rule",
        )
    return scores


def _times(ts: Any, n_rows: int) -> np.ndarray:
    stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).as_unit("ns")
    if len(stamps) != n_rows:
        raise SchemaError(f"{len(stamps)} timestamps for {n_rows} scores", column="ts")
    if stamps.hasnans:
        raise SchemaError("timestamps must not be missing (NaT)", column="ts")
    values: np.ndarray = np.asarray(stamps.asi8, dtype="int64")
    if n_rows > 1 and (np.diff(values) < 0).any():
        row = int(np.flatnonzero(np.diff(values) < 0)[0]) + 1
        raise SchemaError(
            f"timestamps go backwards on row {row}",
            column="ts",
            hint="sort the rows of each asset by time (alarm_frame does)",
        )
    return values


def _top(contributions: np.ndarray | None, channels: Sequence[str], row: int, k: int) -> tuple[str, ...]:
    if contributions is None or k <= 0:
        return ()
    values = np.asarray(contributions[row], dtype="float64")
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:k]
    return tuple(str(channels[i]) for i in order)


def _stamp(times: np.ndarray | None, row: int) -> pd.Timestamp | None:
    return None if times is None else pd.Timestamp(int(times[row]), tz="UTC")


def find_episodes(
    scores: Any,
    rule: AlarmRule | None = None,
    *,
    ts: Any = None,
    asset_id: str | None = None,
    contributions: Any = None,
    channels: Sequence[str] | None = None,
    top_k: int = 3,
) -> list[Episode]:
    """Episodes of one series (rows in time order) under ``rule`` (module text).

    ``ts`` (optional, needed for a timed refractory period) stamps the episodes; ``contributions`` (an
    ``(n_rows, n_channels)`` array or frame, with ``channels`` naming its columns) gives each episode the
    ``top_k`` channels with the largest contributions on its peak row.

    >>> [e.top_channels for e in find_episodes([0.1, 0.9, 0.1], AlarmRule(clear_rows=1),
    ...                                         contributions=[[0, 0], [1, 3], [0, 0]], channels=["a", "b"])]
    [('b', 'a')]
    """
    rule = (rule or AlarmRule())._resolved_here("find_episodes")
    longest = rule.episode_limit
    score = _scores(scores)
    n = len(score)
    times = _times(ts, n) if ts is not None else None
    if rule.timed and times is None:
        raise ConfigError(f"a refractory period of {rule.refractory} needs timestamps (ts)")
    matrix = None
    names: Sequence[str] = ()
    if contributions is not None:
        if isinstance(contributions, pd.DataFrame):
            names = [str(c) for c in contributions.columns] if channels is None else channels
            matrix = contributions.to_numpy(dtype="float64")
        else:
            matrix = np.asarray(contributions, dtype="float64")
            names = channels if channels is not None else [str(i) for i in range(matrix.shape[1])]
        if matrix.shape != (n, len(names)):
            raise SchemaError(
                f"contributions have shape {matrix.shape}, expected ({n}, {len(names)})", column="contributions"
            )
    high = np.flatnonzero(score >= rule.on)
    # length of the run of rows below `off` ending at each row; a run completes the clearing at length clear_rows
    low = score < rule.off
    run_start = np.maximum.accumulate(np.where(low, 0, np.arange(1, n + 1)))
    clears = np.flatnonzero(low & (np.arange(1, n + 1) - run_start == rule.clear_rows))
    found: list[Episode] = []
    position = 0
    while True:
        at = int(np.searchsorted(high, position))
        if at >= len(high):
            break
        start = opened = int(high[at])
        last = start + longest - 1 if longest else n  # the episode's last possible row
        while True:
            at = int(np.searchsorted(clears, opened))
            if (at >= len(clears) or clears[at] > last) and last < n:  # still open on its last row: capped there
                close = limit = last
                end = opened + int(np.flatnonzero(~low[opened : last + 1])[-1])
                break
            if at >= len(clears):
                close, end = -1, int(np.flatnonzero(~low[:n])[-1])  # still open: the last row at or above off
                break
            close = int(clears[at])
            end = close - rule.clear_rows
            if times is not None and rule.timed:
                limit = int(np.searchsorted(times, times[close] + rule.refractory_span, side="right")) - 1
            else:
                limit = close + rule.refractory_span
            limit = min(limit, last)  # the refractory period ends with the episode's last row
            at = int(np.searchsorted(high, close + 1))
            if at < len(high) and high[at] <= limit:
                opened = int(high[at])  # re-opened inside the refractory period: the same episode
                continue
            break
        peak = start + int(np.argmax(score[start : end + 1]))
        found.append(
            Episode(
                start,
                end,
                peak,
                float(score[peak]),
                close >= 0,
                asset_id,
                _stamp(times, start),
                _stamp(times, end),
                _stamp(times, peak),
                _top(matrix, names, peak, top_k),
            )
        )
        if close < 0:
            break
        position = max(limit + 1, close + 1)
    return found


def find_alarms(scores: Any, rule: AlarmRule | None = None, **options: Any) -> tuple[np.ndarray, list[Episode]]:
    """The ``alarm`` column (int8, 1 on each episode's start row) and the episodes (:func:`find_episodes`)."""
    episodes = find_episodes(scores, rule, **options)
    alarms = np.zeros(len(np.asarray(scores)), dtype="int8")
    alarms[[e.start for e in episodes]] = 1
    return alarms, episodes


def alarm_frame(
    frame: pd.DataFrame,
    rule: AlarmRule | None = None,
    *,
    score: str = "anomaly_score",
    asset: str | None = "asset_id",
    ts: str | None = "ts",
    contributions: pd.DataFrame | None = None,
    top_k: int = 3,
) -> tuple[pd.Series, list[Episode]]:
    """``alarm`` for every row of ``frame`` (same index) and the episodes, per asset in time order.

    Each ``asset`` group (the whole frame when ``asset`` is None or not a column) is sorted by ``ts`` (stable;
    input order when ``ts`` is None or not a column) and scored on its own; episode rows are positions in
    ``frame`` (0-based, in the frame's own order). ``contributions`` (same index as ``frame``, one column per
    channel) names each episode's top channels.

    >>> frame = pd.DataFrame({"asset_id": ["a", "b", "a", "b", "a", "b"],
    ...                       "anomaly_score": [0.1, 0.9, 0.8, 0.1, 0.1, 0.1]})
    >>> alarm, episodes = alarm_frame(frame, AlarmRule(clear_rows=1), ts=None)
    >>> alarm.tolist(), [(e.asset_id, e.start, e.end) for e in episodes]
    ([0, 1, 1, 0, 0, 0], [('a', 2, 2), ('b', 1, 1)])
    """
    rule = (rule or AlarmRule())._resolved_here("alarm_frame")
    if score not in frame.columns:
        raise SchemaError(f"no score column {score!r}; columns are {list(frame.columns)}", column=score)
    if contributions is not None and not contributions.index.equals(frame.index):
        raise SchemaError("contributions must have the frame's index", column="contributions")
    positions = np.arange(len(frame))
    if asset is not None and asset in frame.columns:
        groups = pd.Series(positions).groupby(frame[asset].to_numpy(), sort=True, observed=True)
        parts: list[tuple[str | None, np.ndarray]] = [(str(key), rows.to_numpy()) for key, rows in groups]
    else:
        parts = [(None, positions)]
    alarm = np.zeros(len(frame), dtype="int8")
    episodes: list[Episode] = []
    matrix = None if contributions is None else contributions.to_numpy(dtype="float64")
    channels = None if contributions is None else [str(c) for c in contributions.columns]
    for key, rows in parts:
        times = None
        if ts is not None and ts in frame.columns:
            stamps = pd.DatetimeIndex(pd.to_datetime(frame[ts].iloc[rows], utc=True))
            order = np.argsort(stamps.asi8, kind="stable")
            rows, times = rows[order], stamps[order]
        found = find_episodes(
            frame[score].iloc[rows].to_numpy(),
            rule,
            ts=times,
            asset_id=key,
            contributions=None if matrix is None else matrix[rows],
            channels=channels,
            top_k=top_k,
        )
        for episode in found:
            episodes.append(
                replace(
                    episode, start=int(rows[episode.start]), end=int(rows[episode.end]), peak=int(rows[episode.peak])
                )
            )
            alarm[rows[episode.start]] = 1
    return pd.Series(alarm, index=frame.index, name="alarm"), episodes


_IDLE, _ACTIVE, _QUIET = 0, 1, 2
_STATE_FIELDS = ("mode", "row", "start", "end", "peak", "peak_score", "below", "close", "close_ns", "last_ns")


class AlarmState:
    """The rule for one series, one row at a time (the stream's form of :func:`find_episodes`).

    :meth:`update` returns the row's ``alarm`` (0 or 1); episodes become *final* once their refractory period
    has passed, or on their last row under the rule's ``episode_rows`` (:meth:`pop_finished`); :meth:`finish` ends the series and returns every episode not yet
    popped, the open one included. Rows are numbered from 0 in the order fed. ``get_state``/``set_state``
    save and restore the whole state (named values), so a stream can checkpoint and resume mid-episode.

    >>> state = AlarmState(AlarmRule(clear_rows=1))
    >>> [state.update(s) for s in (0.2, 0.7, 0.1, 0.6)], [e.start for e in state.pop_finished()]
    ([0, 1, 0, 1], [1])
    >>> restored = AlarmState(AlarmRule(clear_rows=1)).set_state(state.get_state())
    >>> restored.update(0.9), [(e.start, e.peak_score, e.closed) for e in restored.finish()]
    (0, [(3, 0.9, False)])
    """

    def __init__(self, rule: AlarmRule | None = None, *, asset_id: str | None = None, top_k: int = 3) -> None:
        self.rule = (rule or AlarmRule())._resolved_here("AlarmState")
        self._limit = self.rule.episode_limit
        self.asset_id = asset_id
        self.top_k = top_k
        self._finished: list[Episode] = []
        self._reset()

    def _reset(self) -> None:
        self._mode, self._row = _IDLE, 0
        self._start = self._end = self._peak = self._close = -1
        self._peak_score, self._below = -math.inf, 0
        self._close_ns: int | None = None
        self._last_ns: int | None = None
        self._stamps: dict[str, int] = {}
        self._top: tuple[str, ...] = ()

    def update(self, score: float, ts: Any = None, contributions: Mapping[str, float] | None = None) -> int:
        """Feed the next row (its score, its time when the rule is timed or episodes should carry times)."""
        value = float(score)
        if not math.isfinite(value):
            raise SchemaError(
                f"score {score!r} on row {self._row} is not finite",
                column="score",
                hint="fill or drop rows without a score before applying the alarm rule",
            )
        now = None
        if ts is not None:
            stamp = pd.Timestamp(ts)
            now = int((stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value)
            if self._last_ns is not None and now < self._last_ns:
                raise SchemaError(
                    f"row {self._row} at {pd.Timestamp(now, tz='UTC')} is older than the previous row",
                    column="ts",
                    hint="feed each asset's rows in time order",
                )
        elif self.rule.timed:
            raise ConfigError(f"a refractory period of {self.rule.refractory} needs each row's time (ts)")
        row, alarm = self._row, 0
        if self._mode == _QUIET and not self._in_refractory(row, now):
            self._finalise()
        rule = self.rule
        if self._mode == _IDLE and value >= rule.on:
            self._mode, self._start, alarm = _ACTIVE, row, 1
            self._peak_score, self._below = -math.inf, 0
            self._stamps = {}
        elif self._mode == _QUIET and value >= rule.on:
            self._mode, self._below = _ACTIVE, 0
        if self._mode == _ACTIVE:
            if value > self._peak_score:
                self._peak, self._peak_score = row, value
                self._top = self._top_of(contributions)
                self._stamp("peak", now)
            if value < rule.off:
                self._below += 1
                if self._below == rule.clear_rows:
                    self._mode, self._close, self._close_ns = _QUIET, row, now
            else:
                self._below, self._end = 0, row
                self._stamp("end", now)
            if alarm:
                self._stamp("start", now)
        if self._mode != _IDLE and self._limit and row - self._start + 1 >= self._limit:
            self._finalise()  # the episode's last row (module text): capped if still open, final either way
        self._row, self._last_ns = row + 1, now if now is not None else self._last_ns
        return alarm

    def _in_refractory(self, row: int, now: int | None) -> bool:
        if self.rule.timed and now is not None and self._close_ns is not None:
            return now - self._close_ns <= self.rule.refractory_span
        return row - self._close <= self.rule.refractory_span

    def _stamp(self, name: str, now: int | None) -> None:
        if now is not None:
            self._stamps[name] = now

    def _top_of(self, contributions: Mapping[str, float] | None) -> tuple[str, ...]:
        if not contributions or self.top_k <= 0:
            return ()
        names = list(contributions)
        values = np.array([contributions[name] for name in names], dtype="float64")
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[: self.top_k]
        return tuple(str(names[i]) for i in order)

    def _episode(self, closed: bool) -> Episode:
        def stamp(name: str) -> pd.Timestamp | None:
            return pd.Timestamp(self._stamps[name], tz="UTC") if name in self._stamps else None

        return Episode(
            self._start,
            self._end,
            self._peak,
            self._peak_score,
            closed,
            self.asset_id,
            stamp("start"),
            stamp("end"),
            stamp("peak"),
            self._top,
        )

    def _finalise(self) -> None:
        self._finished.append(self._episode(closed=True))
        self._mode = _IDLE

    def pop_finished(self) -> list[Episode]:
        """Episodes that are final (cleared, refractory period over) since the last call."""
        out, self._finished = self._finished, []
        return out

    def finish(self) -> list[Episode]:
        """End of the series: every episode not yet popped, the current one too (``closed`` if it cleared)."""
        out = self.pop_finished()
        if self._mode != _IDLE:
            out.append(self._episode(closed=self._mode == _QUIET))
            self._mode = _IDLE
        return out

    def get_state(self) -> dict[str, Any]:
        """The state as named values (finished episodes not yet popped are not part of it: pop them first)."""
        return {
            "mode": self._mode,
            "row": self._row,
            "start": self._start,
            "end": self._end,
            "peak": self._peak,
            "peak_score": self._peak_score,
            "below": self._below,
            "close": self._close,
            "close_ns": self._close_ns,
            "last_ns": self._last_ns,
            "stamps": dict(self._stamps),
            "top": list(self._top),
        }

    def set_state(self, state: Mapping[str, Any]) -> AlarmState:
        """Restore :meth:`get_state`'s values; returns ``self``."""
        missing = [name for name in _STATE_FIELDS if name not in state]
        if missing:
            raise StateError(f"alarm state lacks {', '.join(missing)}")
        if state["mode"] not in (_IDLE, _ACTIVE, _QUIET):
            raise StateError(f"alarm state has an unknown mode {state['mode']!r}")
        self._mode, self._row = int(state["mode"]), int(state["row"])
        self._start, self._end, self._peak = int(state["start"]), int(state["end"]), int(state["peak"])
        self._peak_score, self._below = float(state["peak_score"]), int(state["below"])
        self._close = int(state["close"])
        self._close_ns = None if state["close_ns"] is None else int(state["close_ns"])
        self._last_ns = None if state["last_ns"] is None else int(state["last_ns"])
        self._stamps = {str(k): int(v) for k, v in dict(state.get("stamps", {})).items()}
        self._top = tuple(str(c) for c in state.get("top", ()))
        return self


class AlarmTracker:
    """One :class:`AlarmState` per asset: the stream's entry point (``update(asset_id, score, ts)``). With a rule
    tied to the fit (``episode_rows="auto"``), ``training_rows(asset_id)`` gives the training rows of the fit that
    scores the asset, and its state follows the rule resolved against them (:meth:`AlarmRule.resolved`).

    >>> tracker = AlarmTracker(AlarmRule(clear_rows=1))
    >>> [tracker.update(a, s) for a, s in [("a", 0.9), ("b", 0.2), ("a", 0.95), ("b", 0.6)]]
    [1, 0, 0, 1]
    >>> sorted((e.asset_id, e.start, e.peak_score) for e in tracker.finish())
    [('a', 0, 0.95), ('b', 1, 0.6)]
    >>> tied = AlarmTracker(AlarmRule(episode_rows="auto"), training_rows={"a": 1000, "b": 90}.get)
    >>> tied.state("a").rule.episode_rows, tied.state("b").rule.episode_rows
    (250, 48)
    """

    def __init__(
        self,
        rule: AlarmRule | None = None,
        *,
        top_k: int = 3,
        training_rows: Callable[[str], int | None] | None = None,
    ) -> None:
        self.rule = rule or AlarmRule()
        if self.rule.tied and training_rows is None:
            raise ConfigError(
                f"AlarmTracker: episode_rows={TIED!r} needs each asset's training rows (training_rows=); give "
                "episode_rows a number for a model without them"
            )
        self.top_k = top_k
        self.training_rows = training_rows
        self.states: dict[str, AlarmState] = {}

    def rule_for(self, asset_id: str) -> AlarmRule:
        """The rule of the asset's state: :attr:`rule`, resolved against the asset's training rows if tied."""
        if not self.rule.tied or self.training_rows is None:
            return self.rule
        return self.rule.resolved(self.training_rows(asset_id))

    def state(self, asset_id: str) -> AlarmState:
        """The asset's state (created on first use)."""
        if asset_id not in self.states:
            self.states[asset_id] = AlarmState(self.rule_for(asset_id), asset_id=asset_id, top_k=self.top_k)
        return self.states[asset_id]

    def update(
        self, asset_id: str, score: float, ts: Any = None, contributions: Mapping[str, float] | None = None
    ) -> int:
        """Feed the asset's next row; returns its ``alarm``."""
        return self.state(asset_id).update(score, ts, contributions)

    def pop_finished(self) -> list[Episode]:
        """Final episodes of every asset since the last call."""
        return [e for state in self.states.values() for e in state.pop_finished()]

    def finish(self) -> list[Episode]:
        """End of every series: all episodes not yet popped, open ones included."""
        return [e for state in self.states.values() for e in state.finish()]
