"""A failure flag run split over two files: one failure, not two.

A failure flag column (``ingest --failure-column``) files one failure event per run of flagged rows of an asset, at
the run's first row (:func:`forewarn.store.labels.flagged_failures`). A plant's export is often cut into files (a
day or a month each), and a machine that was down across the cut starts the second file flagged: within that file
alone its first row starts a run, so the same failure would be filed twice.

The rule: a run that starts at an asset's **first** row of the file **continues** the stored run, and files no
event, when the stored row of the same flag just before it (from an earlier ingest) is flagged and comes at most
:data:`CONTINUE_STEPS` sampling steps earlier: the next sampling step, with room for a clock's jitter. The step is
the median spacing of the asset's rows in the file (of its two stored rows before, when the file holds one row);
with neither, nothing is continued. The stored failure event, at the first flagged row of the earlier file, stays
the event of the whole run. A gap longer than that (a day missing between two files) leaves two failures: the
flags cannot tell whether the machine came back in between.

Files out of time order are met from the other side: when a file's **last** row of an asset is flagged and the
stored row of the flag just after it (from a later file ingested before) is flagged and comes at most
:data:`CONTINUE_STEPS` sampling steps later, the stored run is the same failure, so the failure event that its
flag filed at that row is *superseded*: it is removed, and the failure is this file's, at its run's first row
(:func:`superseded`). Only an event the same flag column filed is removed (kind ``failure``, the note
:func:`flag_note`); a failure from a log at that time stays.

>>> hour = 3_600_000_000
>>> continues(10 * hour, hour, [(9 * hour, "1"), (8 * hour, "1")])
True
>>> continues(10 * hour, hour, [(9 * hour, "0")]), continues(10 * hour, hour, [(7 * hour, "1")])
(False, False)
>>> continues(10 * hour, None, [(9 * hour, "yes"), (8 * hour, "yes")]), continues(10 * hour, None, [(9 * hour, "1")])
(True, False)
>>> continues(11 * hour, hour, [(10 * hour, "1")])  # seen from the earlier file: the stored row after its last
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pandas as pd

from forewarn.store.labels import FLAG_ON, STAGE

#: how many sampling steps may separate the stored flagged row and the file's first flagged row of a continued run
CONTINUE_STEPS = 1.5

#: the stored rows of a flag before a time, latest first, at most two: ``(epoch microseconds, value)``
StoredBefore = Callable[[str, Any], Sequence[tuple[int, str]]]

#: the query :data:`StoredBefore` runs (``?`` parameters: asset, flag name, time)
STORED_BEFORE_SQL = (
    "SELECT epoch_us(ts), value FROM labels WHERE asset_id = ? AND name = ? AND ts < ? ORDER BY ts DESC LIMIT 2"
)


#: the stored row of a flag just after a time: ``(epoch microseconds, value)``, or None
StoredAfter = Callable[[str, Any], tuple[int, str] | None]

#: the query :data:`StoredAfter` runs (``?`` parameters: asset, flag name, time)
STORED_AFTER_SQL = (
    "SELECT epoch_us(ts), value FROM labels WHERE asset_id = ? AND name = ? AND ts > ? ORDER BY ts LIMIT 1"
)

#: removes the failure event a flag column filed (``?`` parameters: asset, the note, epoch microseconds)
DELETE_FLAGGED_SQL = "DELETE FROM events WHERE asset_id = ? AND kind = 'failure' AND note = ? AND epoch_us(ts) = ?"


def flag_note(column: str) -> str:
    """The note of a failure event filed by the failure flag ``column``.

    >>> flag_note("down")
    'flagged in column down'
    """
    return f"flagged in column {column}"


def epoch_us(ts: Any) -> int:
    """A time as epoch microseconds (a naive time is UTC).

    >>> epoch_us("1970-01-01 00:00:02")
    2000000
    """
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return int(stamp.value // 1000)


def continues(first_us: int, step_us: float | None, before: Sequence[tuple[int, str]]) -> bool:
    """Whether a run starting at ``first_us`` (an asset's first row of the file) continues the stored run:
    ``before`` holds the stored rows of the flag before it, latest first; ``step_us`` the asset's sampling step in
    the file (None: from the two stored rows)."""
    if not before or str(before[0][1]).strip().lower() not in FLAG_ON:
        return False
    step = step_us if step_us else (before[0][0] - before[1][0] if len(before) > 1 else None)
    if step is None or step <= 0:
        return False
    return 0 < first_us - before[0][0] <= CONTINUE_STEPS * step


def first_rows(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, tuple[int, float | None]]:
    """Per asset of the staged flag ``column`` (:data:`forewarn.store.labels.STAGE`): its first row's time and the
    median spacing of its rows (epoch microseconds; None with one row)."""
    found = con.execute(
        f"SELECT asset_id, min(t), median(d) FROM (SELECT asset_id, epoch_us(ts) AS t, epoch_us(ts) - "
        f"lag(epoch_us(ts)) OVER (PARTITION BY asset_id ORDER BY ts) AS d FROM {STAGE} WHERE name = ?) GROUP BY 1",
        [column],
    ).fetchall()
    return {str(a): (int(t), None if d is None else float(d)) for a, t, d in found}


def drop_continued(
    con: duckdb.DuckDBPyConnection, column: str, flagged: Sequence[tuple[str, Any]], stored_before: StoredBefore
) -> tuple[tuple[tuple[str, Any], ...], tuple[str, ...]]:
    """The flagged failures ``(asset_id, ts)`` of a staged file without those that continue a stored run (see the
    module text), and the assets whose run was continued. Call before the file's labels are written."""
    firsts = first_rows(con, column)
    kept: list[tuple[str, Any]] = []
    continued: list[str] = []
    for asset, ts in flagged:
        first, step = firsts.get(str(asset), (None, None))
        if first is not None and epoch_us(ts) == first and continues(first, step, stored_before(str(asset), ts)):
            continued.append(str(asset))
        else:
            kept.append((asset, ts))
    return tuple(kept), tuple(continued)


def last_rows(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, tuple[Any, int, float | None]]:
    """Per asset of the staged flag ``column`` whose last row is flagged: that row's time (as stored, and in epoch
    microseconds) and the median spacing of its rows (None with one row)."""
    on = ", ".join("'" + v + "'" for v in FLAG_ON)
    found = con.execute(
        f"SELECT asset_id, max(ts), max(t), median(d), arg_max(lower(trim(value)) IN ({on}), t) FROM (SELECT asset_id, "
        f"ts, value, epoch_us(ts) AS t, epoch_us(ts) - lag(epoch_us(ts)) OVER (PARTITION BY asset_id ORDER BY ts) "
        f"AS d FROM {STAGE} WHERE name = ?) GROUP BY 1",
        [column],
    ).fetchall()
    return {str(a): (ts, int(t), None if d is None else float(d)) for a, ts, t, d, flagged in found if flagged}


def superseded(con: duckdb.DuckDBPyConnection, column: str, stored_after: StoredAfter) -> tuple[tuple[str, int], ...]:
    """The stored runs of a staged flag ``column`` that its file's runs continue into (a later file ingested
    first, see the module text): ``(asset_id, epoch microseconds)`` of each such run's first stored row, where its
    failure event was filed."""
    out = []
    for asset, (ts, last, step) in last_rows(con, column).items():
        after = stored_after(asset, ts)
        if after is None or str(after[1]).strip().lower() not in FLAG_ON:
            continue
        if step and continues(int(after[0]), step, [(last, "1")]):
            out.append((asset, int(after[0])))
    return tuple(out)


def superseded_note(source: str, column: str, assets: Sequence[str]) -> str:
    """What the report says of the stored runs a file's runs continue into.

    >>> superseded_note("jan.csv", "down", ["M1"])
    "jan.csv: 1 run(s) of the failure column 'down' continue into a run stored from a later file (M1): one failure each, filed at this file's run start"
    """
    shown = ", ".join(assets[:5]) + (f" +{len(assets) - 5}" if len(assets) > 5 else "")
    return (
        f"{source}: {len(assets)} run(s) of the failure column {column!r} continue into a run stored from a later "
        f"file ({shown}): one failure each, filed at this file's run start"
    )


def continued_note(source: str, column: str, assets: Sequence[str]) -> str:
    """What the report says of the runs continued.

    >>> continued_note("b.csv", "down", ["M1", "M2"])
    "b.csv: 2 run(s) of the failure column 'down' continue a run stored before at the next sampling step (M1, M2): one failure each, not filed again"
    """
    shown = ", ".join(assets[:5]) + (f" +{len(assets) - 5}" if len(assets) > 5 else "")
    return (
        f"{source}: {len(assets)} run(s) of the failure column {column!r} continue a run stored before at the next "
        f"sampling step ({shown}): one failure each, not filed again"
    )
