"""Scoring only what is new: ``forewarn detect --store DB --models FITS --only-new`` (a nightly run after each load).

A plant that loads a historian export each night and runs ``forewarn detect --store`` rescored its whole history
each night. With ``--only-new`` each asset that has a kept fit is scored on the rows after the last row the
previous run scored, with a *context* before them, and the alarm rule's state carried over, so the result is that
of one run over the whole history (:func:`forewarn.detect.detect_store` with ``since=``):

* **The mark** (:class:`Mark`, one per asset, in the fits folder's :data:`MARKS_FILE`, written atomically after a
  successful run): the time of the last scored row, the scores of its last :data:`TAIL_ROWS` rows, the alarm
  rule's state there (:meth:`forewarn.decide.alarms.AlarmState.get_state`, the stream's own checkpoint of the rule:
  an episode open or cleared and in its refractory period, the rows below ``off`` counted so far), the alert of the
  episode open there (its score and channels: an alert filed for it names them), the end of the asset's latest
  episode (the case book's state: a case closes a gap after it), and where the next run starts reading: the first
  row of its context (``from_ns``), each channel's last reading before it (``carry``: the gap filling carries a
  reading forward from any earlier row), the rows from there to the last scored one and their digest, and the
  number of the store's last recorded rewrite before the run read the asset (:mod:`forewarn.store.rewrites`; a
  store without that record: a fingerprint of all the asset's stored readings up to the last scored row,
  :func:`history_prints`, computed in the store).
* **The context** (:func:`context_start`, the stream's rule: :mod:`forewarn.stream.sequential` keeps the last
  ``context`` rows of an asset the same way): at least :data:`CONTEXT_ROWS` rows before the first new row, and at
  least the detector's reach in time (:func:`reach`: the ensemble's settling reads the ``settle_hours`` before a
  row) plus its members' memory in rows; with an episode open, the same before its alarm row too (the ensemble's
  ``recover`` divides by the peak of the excursion it began). So a night reads and scores the new rows and about
  ``CONTEXT_ROWS`` before each asset's, whatever the history's length. The context's last :data:`TAIL_ROWS` rows
  were scored by the previous run: scored again they must give the scores kept in the mark (within
  :data:`TOLERANCE`); where they do not, the context doubles within the rows read, and where even all of them do
  not (``short``), :func:`forewarn.detect.detect_store` reads that asset whole and scores again, doubling up to
  the whole history.
* **The recurrence cap** (the ensemble's ``recurrence``, :mod:`~forewarn.models.anomaly.recurrence`) counts
  recurring excursions from the series' first row: the mark keeps its state (:attr:`Mark.recurrence`: per member
  the peaks of the excursions counted, one float each, and the excursion open there) after the row
  :data:`CARRY_ROWS` (plus ``smooth``) before the last scored one, so the next night caps the checked rows and the
  new ones as one run does (the fitting night's marks hold it too: :mod:`forewarn.detect.scoring`). A mark without
  it (one taken before it was kept) makes the asset be read whole once (``short``, said in one line by
  :func:`forewarn.detect.detect_store`).
* **The alarm rule** continues from the mark's state (:func:`carry_alarms`): fed row by row until no episode is
  open, then the vectorised rule (:func:`~forewarn.decide.alarms.find_episodes`, equal row for row: the alarm
  module's property test), so an episode open across the boundary keeps its start, its peak and its channels.
  The mark records the rule as the run was given it (:meth:`~forewarn.decide.alarms.AlarmRule.settings`;
  ``episode_rows="auto"`` as such: each night resolves it again against the same kept fit's training rows, so the
  same length); a run with another rule is refused (:func:`check_rule`): carried across a change, the nights would
  not add up to one run under either rule. Marks written before the rule was recorded carry none and are not
  checked.
* **Changed history**: stored readings up to the mark's time that changed since the mark was taken (a re-ingest
  with ``--on-conflict replace``, late rows inserted before it) make the asset be read and rescored whole, said in
  one line; so does an asset without a mark (new to the fits, or the first run with the option). Both stores,
  DuckDB and PostgreSQL, record each write that changes a series before its last stored reading
  (:mod:`forewarn.store.rewrites`; a write that only appends records nothing): one query per run reads the
  rewrites after the marks' number (:func:`rewrites_after`, :func:`changed_since`), whatever the history's length.
  A store without that record (an older one opened read-only) is checked as before: a fingerprint of every stored
  reading of the asset (:func:`history_prints`, DuckDB; PostgreSQL: the context's rows only).

>>> import numpy as np
>>> stamps = np.arange(10, dtype="int64") * 600 * 10**9   # 10-minute rows
>>> context_start(stamps, 8, rows=3), context_start(stamps, 8, rows=3, reach_ns=3600 * 10**9)
(5, 2)
>>> digest(stamps[:4], np.ones((4, 2))) == digest(stamps[:4], np.ones((4, 2))), len(digest(stamps, np.ones((10, 1))))
(True, 32)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.decide.alarms import AlarmRule, AlarmState, Episode, find_episodes
from forewarn.detect.channels import channel_deviations, episode_channels, raw_scores
from forewarn.exceptions import ConfigError, ForewarnError
from forewarn.models.anomaly.recurrence import Carry, carrying
from forewarn.store.rewrites import LAST_SEQ, SINCE_SQL

#: the marks of a folder of kept fits (beside :data:`forewarn.detect.saved.INDEX_FILE`)
MARKS_FILE = "detect-marks.json"
MARKS_FORMAT = 1
#: the least context before the first new row, and the stream's default ``context`` (``[[models]] context``,
#: :mod:`forewarn.stream.sequential`): one number for both
CONTEXT_ROWS = 512
#: the rows before the first new row whose scores are checked against those the previous run gave them
TAIL_ROWS = 32
#: rows before a run's last row after which the ``recurrence`` cap's state is kept in the mark (plus the run's
#: ``smooth``): the next night caps the rows after it, :data:`TAIL_ROWS` checked ones included, as one run does
CARRY_ROWS = TAIL_ROWS
#: how far those may differ: the members' window figures come from each window's own rows in float64, so a series
#: started at another row scores the same rows within about 1e-16 (3.3e-16 measured in the stream at one row a
#: batch; 1e-6 until 2026-12-06, when running sums and float32 distances differed by up to 2.2e-5; BENCHMARKS.md,
#: issue 14); a larger difference makes the context longer, never a wrong score
TOLERANCE = 1e-9
_IDLE = 0  # AlarmState's mode outside any episode


#: :attr:`Mark.digest` of an asset whose rows up to its mark changed in the store (it is scored whole)
CHANGED = "changed"


@dataclass
class Mark:
    """Where the previous run stopped scoring one asset (module text). The next run reads the asset's readings
    from ``from_ns`` on (its context, :func:`context_start` of the rows after ``last_ns``), a channel missing on
    that first row at ``carry`` (its last reading before it), and checks the ``rows`` up to ``last_ns`` against
    ``digest`` (the readings as stored: times, and values of the channels in name order)."""

    last_ns: int
    tail: list[float]
    alarm: dict[str, Any]
    from_ns: int
    first_ns: int
    rows: int = 0
    digest: str = ""
    carry: dict[str, float] = field(default_factory=dict)
    alert: dict[str, Any] | None = None
    latest_end_ns: int | None = None
    #: a fingerprint of every stored reading of the asset up to ``last_ns`` (:func:`history_prints`), kept only for a
    #: store without the record of rewrites (``rewrites``); ``None`` otherwise
    history: str | None = None
    #: the number of the store's last recorded rewrite (:mod:`forewarn.store.rewrites`) before the run read the
    #: asset: a later one at or before ``last_ns`` changed its history (:func:`changed_since`); ``None``: a store
    #: without the record (an older store opened read-only)
    rewrites: int | None = None
    #: the alarm rule of the run that took the mark (:meth:`~forewarn.decide.alarms.AlarmRule.settings`, as given:
    #: ``episode_rows`` ``"auto"`` unresolved); ``None``: a mark taken before the rule was recorded
    rule: dict[str, Any] | None = None
    #: what the ensemble's ``recurrence`` cap keeps of the rows before the next run's last checked ones
    #: (:meth:`~forewarn.models.anomaly.recurrence.Carry.to_json`: per member the peaks of the excursions counted,
    #: one float each, and the excursion open there); ``None``: a fit without the cap, or a mark taken before it
    #: was kept (the next run reads the asset whole, said in one line)
    recurrence: dict[str, Any] | None = None


@dataclass
class Carried:
    """What :func:`carry_alarms` found: the episodes that end, continue or start in the new rows (positions in them;
    negative: rows before them), each one's top channels where its peak is before them, and the state to keep."""

    episodes: list[Episode]
    state: dict[str, Any]
    alert: dict[str, Any] | None = None
    extra: dict[int, tuple[str, ...]] = field(default_factory=dict)


def stored_rows(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One asset's readings as read wide from the store (``asset_id``, ``ts``, a column per channel): the times
    (int64 nanoseconds), the values of the channels in name order, and those names."""
    channels = sorted(str(c) for c in part.columns if c not in ("asset_id", "ts"))
    stamps = pd.DatetimeIndex(pd.to_datetime(part["ts"], utc=True)).as_unit("ns").asi8
    return stamps, part[channels].to_numpy(dtype="float64", na_value=np.nan), channels


#: one asset's readings up to a time, and all of them: how many, and the XOR of a hash of each (DuckDB, read-only)
HISTORY_QUERY = (
    "SELECT count(*) FILTER (WHERE ts <= ?) AS n_upto, "
    "CAST(bit_xor(hash(ts, channel, value)) FILTER (WHERE ts <= ?) AS VARCHAR) AS h_upto, "
    "count(*) AS n, CAST(bit_xor(hash(ts, channel, value)) AS VARCHAR) AS h FROM readings WHERE asset_id = ?"
)


def check_rule(marks: Mapping[str, Mark], assets: Sequence[str], rule: AlarmRule) -> None:
    """Refuse to continue the marks of ``assets`` under another alarm rule than the one they were taken with (module
    text), in one line naming the difference and the two ways on; a mark without a recorded rule passes.

    >>> taken = Mark(last_ns=1, tail=[], alarm={}, from_ns=0, first_ns=0, rule=AlarmRule().settings())
    >>> check_rule({"P-1": taken}, ["P-1"], AlarmRule())
    >>> check_rule({"P-1": taken}, ["P-1"], AlarmRule(episode_rows="auto"))
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: the marks of asset 'P-1' were taken with the alarm rule's episode_rows=None and this run has episode_rows='auto': nights under different rules do not add up to one run; run with the marks' rule (forewarn detect --episode-rows N, 0 or auto), or delete detect-marks.json in the fits folder to score every asset whole under this one
    """
    wanted = rule.settings()
    changed = [a for a in assets if a in marks and marks[a].rule is not None and marks[a].rule != wanted]
    if not changed:
        return
    taken = dict(marks[changed[0]].rule or {})
    moved = [name for name in wanted if taken.get(name) != wanted[name]]
    were = ", ".join(f"{name}={taken.get(name)!r}" for name in moved)
    now = ", ".join(f"{name}={wanted[name]!r}" for name in moved)
    more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
    raise ConfigError(
        f"the marks of asset {changed[0]!r}{more} were taken with the alarm rule's {were} and this run has {now}: "
        "nights under different rules do not add up to one run; run with the marks' rule (forewarn detect "
        f"--episode-rows N, 0 or auto), or delete {MARKS_FILE} in the fits folder to score every asset whole under "
        "this one"
    )


def history_prints(db: Any, asset_id: str, upto_ns: int | None) -> tuple[str | None, str | None]:
    """Fingerprints of an asset's stored readings (each reading's time, channel and value hashed in the store):
    those up to ``upto_ns`` and all of them; ``None`` where the store cannot say (no DuckDB ``sql``)."""
    if not callable(getattr(db, "sql", None)):
        return None, None
    at = pd.Timestamp(upto_ns if upto_ns is not None else 0, tz="UTC")
    try:
        row = db.sql(HISTORY_QUERY, [at, at, str(asset_id)]).iloc[0]
    except (ForewarnError, ValueError, KeyError):
        return None, None
    return f"{int(row['n_upto'])}:{row['h_upto']}", f"{int(row['n'])}:{row['h']}"


def rewrites_seen(db: Any) -> int | None:
    """The number of the store's last recorded rewrite (:data:`forewarn.store.rewrites.LAST_SEQ`; 0: none), noted
    before reading; ``None`` where the store keeps no such record (an older store opened read-only)."""
    if not callable(getattr(db, "sql", None)):
        return None
    try:
        return int(db.sql(LAST_SEQ).iloc[0, 0])
    except (ForewarnError, ValueError, KeyError, IndexError):
        return None


def rewrites_after(db: Any, seq: int) -> dict[str, list[tuple[int, int]]]:
    """The store's recorded rewrites after number ``seq``: per asset, ``(number, earliest time written)`` (int64
    nanoseconds); one small query whatever the history's length (:data:`forewarn.store.rewrites.SINCE_SQL`)."""
    found: dict[str, list[tuple[int, int]]] = {}
    for row in db.sql(SINCE_SQL, [int(seq)]).itertuples(index=False):
        found.setdefault(str(row.asset_id), []).append((int(row.seq), int(pd.Timestamp(row.t0).value)))
    return found


def changed_since(mark: Mark, seq: int, rewrites: Sequence[tuple[int, int]]) -> bool:
    """Whether an asset's stored readings up to its ``mark`` changed since it was read: a rewrite recorded after the
    mark's number (``rewrites``, :func:`rewrites_after`, the asset's) wrote at or before its last scored row, or the
    store's last number ``seq`` is below the mark's (another store).

    >>> mark = Mark(last_ns=100, tail=[], alarm={}, from_ns=0, first_ns=0, rewrites=3)
    >>> changed_since(mark, 5, [(2, 50), (4, 150)]), changed_since(mark, 5, [(4, 100)]), changed_since(mark, 2, [])
    (False, True, True)
    """
    if mark.rewrites is None:
        return False
    return seq < mark.rewrites or any(n > mark.rewrites and at <= mark.last_ns for n, at in rewrites)


def check_stored(part: pd.DataFrame, mark: Mark, history: str | None = None) -> bool:
    """Whether an asset's readings read from ``mark.from_ns`` on are, up to its last scored row, those the mark
    digested, and all its readings up to that row those it fingerprinted (``history``; module text: *changed
    history*)."""
    if mark.history is not None and history is not None and history != mark.history:
        return False
    stamps, values, _ = stored_rows(part)
    upto = int(np.searchsorted(stamps, mark.last_ns, side="right"))
    return upto == mark.rows and digest(stamps[:upto], values[:upto]) == mark.digest


def carried_in(part: pd.DataFrame, carry: Mapping[str, float]) -> pd.DataFrame:
    """``part`` (read from a mark's ``from_ns`` on) with a channel missing on its first row at ``carry``: what
    carrying each channel's last reading forward over the whole history gives there."""
    if not carry or not len(part):
        return part
    out = part.copy()
    for channel, value in carry.items():
        if channel in out.columns and pd.isna(out[channel].iloc[0]):
            out.loc[out.index[0], channel] = value
    return out


def sealed(
    mark: Mark,
    part: pd.DataFrame,
    carry_before: Mapping[str, float],
    history: str | None = None,
    rewrites: int | None = None,
) -> Mark:
    """``mark`` (from scoring) with what the next run checks and carries, from the asset's stored readings
    ``part`` as read this run (from the previous mark's ``from_ns`` on, whose ``carry`` is ``carry_before``, or all
    of them, ``{}``): the rows from the mark's ``from_ns`` to its last row, their digest, and each channel's last
    reading before ``from_ns``; ``history``: the fingerprint of every stored reading of the asset as read (a store
    without the record of rewrites), ``rewrites``: the store's last rewrite number before it was read."""
    stamps, values, channels = stored_rows(part)
    start = int(np.searchsorted(stamps, max(mark.from_ns, int(stamps[0]) if len(stamps) else 0), side="left"))
    upto = int(np.searchsorted(stamps, mark.last_ns, side="right"))
    carry = dict(carry_before)
    if start > 0:
        before = pd.DataFrame(values[:start], columns=channels).ffill().iloc[-1]
        carry.update({c: float(v) for c, v in before.items() if pd.notna(v)})
    return replace(
        mark,
        from_ns=int(stamps[start]) if start < len(stamps) else mark.last_ns,
        rows=upto - start,
        digest=digest(stamps[start:upto], values[start:upto]),
        carry=carry,
        history=history if upto == len(stamps) else None,
        rewrites=rewrites,
    )


def digest(stamps: np.ndarray, values: np.ndarray) -> str:
    """A fingerprint of rows (times in int64, values in float64, row-major): a changed value or row changes it."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(stamps, dtype="int64").tobytes())
    h.update(np.ascontiguousarray(values, dtype="float64").tobytes())
    return h.hexdigest()


def reach(model: Any) -> tuple[int, int]:
    """How far back a sequential detector reads to score a row: ``(rows, nanoseconds)``: the ensemble's members'
    memory in rows (each member's window) and its settling's ``settle_hours``; ``(0, 0)`` for a detector that says
    neither (the context's check of the last rows still guards it)."""
    memory_rows = getattr(model, "memory_rows", None)  # the ensemble's (EnsembleDetector.memory_rows)
    rows = int(memory_rows()) if callable(memory_rows) else 0
    hours = getattr(model, "settle_hours", None)
    span = 0 if hours is None else int(pd.Timedelta(hours=float(hours)).value)
    return rows, span


def context_start(stamps: np.ndarray, first: int, rows: int = CONTEXT_ROWS, reach_ns: int = 0) -> int:
    """The first row of the context of a series whose rows from ``first`` on are new: ``rows`` rows before it, or
    further back to the first row within ``reach_ns`` before the first new row's time (0 at the least)."""
    start = max(first - int(rows), 0)
    if reach_ns and len(stamps):
        at = int(stamps[min(first, len(stamps) - 1)])  # rows not there yet: from the last one's time
        start = min(start, int(np.searchsorted(stamps, at - int(reach_ns), side="left")))
    return start


def carry_alarms(
    level: np.ndarray,
    stamps: np.ndarray,
    rule: AlarmRule,
    saved: Mapping[str, Any] | None,
    asset_id: str | None,
    contributions: Callable[[int], dict[str, float]],
) -> Carried:
    """The alarm rule over new rows (``level``, times ``stamps``) continued from ``saved`` (an
    :meth:`AlarmState.get_state`, ``None``: a series that starts here): row by row while an episode of the saved
    state is open or in its refractory period, then :func:`find_episodes` over the rest; the state after the last
    row (fed again from the start of the last episode found, if any: an episode starts from a state that holds
    nothing). ``contributions(i)`` gives row ``i``'s channels (the top channels of a peak fed row by row)."""
    n = len(level)
    episodes: list[Episode] = []
    extra: dict[int, tuple[str, ...]] = {}
    state = AlarmState(rule, asset_id=asset_id)
    base, i = 0, 0
    if saved is not None:
        state.set_state(saved)
        base = int(saved["row"])
        while i < n and state.get_state()["mode"] != _IDLE:
            state.update(float(level[i]), int(stamps[i]), contributions(i))
            i += 1
        for episode in state.pop_finished():
            episodes.append(_shifted(episode, -base))
            extra[len(episodes) - 1] = episode.top_channels
    rest = find_episodes(level[i:], rule, ts=stamps[i:], asset_id=asset_id) if i < n else []
    if state.get_state()["mode"] != _IDLE:  # still open after the last new row
        final = state.get_state()
        open_episode = state.finish()[0]
        episodes.append(_shifted(open_episode, -base))
        extra[len(episodes) - 1] = open_episode.top_channels
        return Carried(episodes, final, extra=extra)
    episodes.extend(_shifted(e, i) for e in rest)
    if rest:  # the state after the last row: fed again from the last episode's start
        start = i + rest[-1].start
        state = AlarmState(rule, asset_id=asset_id)
        for row in range(start, n):
            state.update(float(level[row]), int(stamps[row]), contributions(row))
            if state.get_state()["mode"] == _IDLE:  # the last episode is final: nothing to carry
                break
    elif saved is None:
        state = AlarmState(rule, asset_id=asset_id)
    return Carried(episodes, state.get_state(), extra=extra)


def _shifted(episode: Episode, by: int) -> Episode:
    return replace(episode, start=episode.start + by, end=episode.end + by, peak=episode.peak + by)


def open_alert(episode: Episode | None, score: float, explanation: Mapping[str, float]) -> dict[str, Any] | None:
    """The alert of an episode still open (or in its refractory period) after the last row, kept in the mark."""
    if episode is None:
        return None
    return {"score": float(score), "explanation": {str(k): float(v) for k, v in explanation.items()}}


def read_marks(folder: str | os.PathLike[str]) -> dict[str, Mark]:
    """The marks kept in ``folder`` (empty when it holds none: every asset is scored whole)."""
    path = Path(folder) / MARKS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{str(path)!r} is not valid JSON (line {err.lineno}): {err.msg}; delete it to score every asset whole"
        ) from None
    if not isinstance(data, dict) or data.get("format") != MARKS_FORMAT or not isinstance(data.get("assets"), dict):
        raise ConfigError(f"{str(path)!r} is not a file of marks (format {MARKS_FORMAT}); delete it to score whole")
    try:
        return {str(asset): Mark(**entry) for asset, entry in data["assets"].items()}
    except TypeError as err:
        raise ConfigError(f"{str(path)!r}: a mark is not as written ({err}); delete the file to score whole") from None


def write_marks(folder: str | os.PathLike[str], marks: Mapping[str, Mark]) -> Path:
    """Write ``marks`` (every asset's: those not scored this run as they were) to ``folder``, atomically."""
    path = Path(folder) / MARKS_FILE
    data = {"format": MARKS_FORMAT, "assets": {a: asdict(m) for a, m in sorted(marks.items())}}
    handle, temporary = tempfile.mkstemp(prefix=f".{MARKS_FILE}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=0)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def score_since(
    fit: Any,
    frame: pd.DataFrame,
    stamps: np.ndarray,
    mark: Mark | None,
    asset_id: str | None,
    columns: list[str],
    fill: pd.Series,
    centre: np.ndarray,
    scale: np.ndarray,
    rule: AlarmRule,
    smooth: int = 1,
) -> tuple[np.ndarray, list[tuple[Episode, dict[str, float], float]], Mark, str]:
    """One asset's rows after its ``mark`` scored with a kept fit, with the context before them and the alarm
    state carried (module text; ``frame`` holds its rows from the mark's ``from_ns`` on, or all);
    the whole series where it has no mark or its stored rows up to the mark changed (``digest`` :data:`CHANGED`).
    Returns the new rows' ``anomaly_score``, their episodes (positions in the new rows; negative: before them), the
    mark after them and how they were scored: ``new``, ``short`` (new, but the context read did not give the last
    scores back), ``first`` (no mark), ``changed`` or ``nothing``."""
    values = frame[columns].to_numpy(dtype="float64")
    n = len(stamps)
    cut, how = 0, "first" if mark is None else "changed"
    if mark is not None and mark.digest != CHANGED:
        cut, how = int(np.searchsorted(stamps, mark.last_ns, side="right")), "new"
        if cut == n:
            return np.empty(0), [], mark, "nothing"
    memory, span = reach(fit.model)
    rows = max(CONTEXT_ROWS, 2 * memory, TAIL_ROWS)
    capping = getattr(fit.model, "recurrence", None) is not None  # the ensemble's cap counts from the first row
    kept = mark.recurrence if mark is not None and how == "new" and capping else None
    kept = kept if kept is not None and kept.get("members") is not None else None  # a state that never capped
    whole = capping and how == "new" and kept is None  # a mark without the cap's state: from the first row
    while True:
        start = 0 if whole else context_start(stamps, cut, rows, span + _gap(stamps, cut, memory)) if cut else 0
        carry = Carry.from_json(kept, CARRY_ROWS + smooth) if kept is not None else Carry(CARRY_ROWS + smooth)
        with carrying(carry):
            level = raw_scores(fit.score, frame.iloc[start:], stamps[start:], columns, fill, smooth)
        level = np.clip(level, 0.0, 1.0)
        if mark is None or how != "new":
            break
        if not carry.exact:  # the context did not reach back to the row the cap's state was kept after
            kept, whole = None, True
            continue
        if whole:  # exact only if these are all the asset's rows (else detect_store reads it whole: short)
            how = "new" if int(stamps[0]) <= mark.first_ns else "short"
            break
        tail = np.asarray(mark.tail, dtype="float64")
        again = level[cut - start - len(tail) : cut - start]
        if len(again) == len(tail) and np.all(np.abs(again - tail) <= TOLERANCE):
            break
        if start == 0:  # the whole history is there: exact; else only the rows read from the mark's context on
            how = "new" if int(stamps[0]) <= mark.first_ns else "short"
            break
        rows *= 2  # the context did not give the previous run's scores back: longer (module text)
    new = level[cut - start :]
    saved = mark.alarm if mark is not None and how in ("new", "short") else None
    carried = carry_alarms(
        new, stamps[cut:], rule, saved, asset_id, row_contributions(values[cut:], columns, centre, scale)
    )
    found = []
    for index, episode in enumerate(carried.episodes):
        shifted = replace(episode, start=episode.start + cut, end=episode.end + cut, peak=episode.peak + cut)
        top, explanation = episode_channels(values, shifted, columns, centre, scale)
        score = float(new[episode.start]) if episode.start >= 0 else math.nan
        if episode.start < 0:  # its alert was filed with the run that scored its first row
            alert = (mark.alert if mark is not None else None) or {}
            explanation, score = dict(alert.get("explanation", {})), float(alert.get("score", math.nan))
        if episode.peak < 0 or index in carried.extra:
            top = carried.extra.get(index, episode.top_channels)
        found.append((replace(episode, top_channels=top), explanation, score))
    earlier = mark.latest_end_ns if mark is not None and saved is not None else None
    first_ns = mark.first_ns if mark is not None and saved is not None else int(stamps[0])
    opened = cut + found[-1][0].start if found else 0
    after = mark_after(stamps, level, carried.state, found, earlier, (memory, span), first_ns, opened)
    after = replace(after, recurrence=carry.to_json() if capping else None)
    # the episodes with a row at or above the rule's `off` among the new rows (one that cleared, or whose
    # refractory period ran out, without one is the mark's latest episode: the case book's state has it)
    return new, [f for f in found if f[0].end >= 0], after, how


def row_contributions(
    values: np.ndarray, columns: list[str], centre: np.ndarray, scale: np.ndarray
) -> Callable[[int], dict[str, float]]:
    """Row ``i``'s channels by standardised deviation (what an episode's top channels rank), for the alarm rule
    fed row by row (:func:`carry_alarms`)."""

    def row(i: int) -> dict[str, float]:
        return dict(zip(columns, channel_deviations(values[i], centre, scale).tolist(), strict=True))

    return row


def mark_after(
    stamps: np.ndarray,
    level: np.ndarray,
    state: dict[str, Any],
    found: Sequence[tuple[Episode, dict[str, float], float]],
    earlier_end: int | None,
    reaches: tuple[int, int],
    first_ns: int,
    opened: int,
) -> Mark:
    """The mark after a series' last row (module text; the stored rows' digest and carry are
    added where they were read, :func:`sealed`): the last scores (``level``: those of the
    series' last rows), the alarm rule's ``state``, the alert of the episode still open (the last of ``found``,
    its alarm row at position ``opened`` of the series), the end of the latest episode (``earlier_end`` where
    ``found`` has none) and the next run's context start: the rule's (:func:`context_start`
    with the detector's ``reaches``: rows, nanoseconds) before the next new row, and before the open episode's
    alarm row (the excursion the ensemble's ``recover`` remembers began about there)."""
    last = found[-1] if found else None
    end = earlier_end if last is None or last[0].end_ts is None else int(pd.Timestamp(last[0].end_ts).value)
    still = last is not None and state["mode"] != 0
    memory, span = reaches
    rows = max(CONTEXT_ROWS, 2 * memory, TAIL_ROWS)
    n = len(stamps)
    start = context_start(stamps, n, rows, span + _gap(stamps, n - 1, memory))
    if still:
        start = min(start, context_start(stamps, max(opened, 0), rows, span + _gap(stamps, opened, memory)))
    return Mark(
        last_ns=int(stamps[-1]),
        tail=[float(v) for v in level[-TAIL_ROWS:]],
        alarm=state,
        from_ns=int(stamps[start]),
        first_ns=first_ns,
        alert=open_alert(last[0], last[2], last[1]) if still and last is not None else None,
        latest_end_ns=end,
    )


def _gap(stamps: np.ndarray, first: int, rows: int) -> int:
    """The time the ``rows`` rows before row ``first`` span (a detector's memory in rows, as time)."""
    if first <= 0 or first >= len(stamps):
        return 0
    return int(stamps[first]) - int(stamps[max(first - rows, 0)])
