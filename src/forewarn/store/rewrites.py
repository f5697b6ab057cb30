"""The store's record of writes that changed a series before its last stored reading (``reading_rewrites``).

A reader that keeps its own place in the readings (``forewarn detect --store --only-new`` keeps a mark per asset:
:mod:`forewarn.detect.since`) must know whether the readings before its place changed since it read them: a late
row inserted before it, a value replaced by ``--on-conflict replace``. Hashing every stored reading each time costs
the whole history; this record costs nothing for the usual write, and a few rows for the others:

* a write (one ingest batch, on either backend) that only adds readings after each series' last stored one (a
  nightly load, a stream's batch) records nothing;
* a write that inserts a reading at or before a series' last stored one, or replaces a stored value, adds one row
  per such series: the write's number ``seq`` (one more than the last, given under the store's write lock, so
  numbers grow in commit order), the series and the earliest time it wrote there (:func:`rewritten`).

A reader notes :data:`LAST_SEQ` before it reads; later, the rows with a larger ``seq`` (:data:`SINCE_SQL`) say which
assets changed, and from when. Deleting old readings (``forewarn store retain``) is not recorded: it removes a
history's start, not what a reader read after it (a reader whose rows it removed notices them gone).

**Pruning.** Appends record nothing, but a plant whose exports overlap every night adds a row per series a night,
for ever. Retention (``store retain``, ``Store.drop_readings_before``) therefore also *coalesces* the record, in the
same transaction: each series' rows whose time ``t0`` is before the retention's cutoff become one row, with the
latest number among them and the earliest time (:func:`coalesce`, :data:`COALESCE_SQL`). The table then holds about
one row per series plus the rewrites of the history retention keeps. No reader's answer changes (a reader asks, per
asset, whether a rewrite numbered after its mark wrote at or before the mark's last row, :func:`changed_since`):

* a mark at or after the group's latest number saw none of the group before, and sees nothing now;
* a mark before it, whose last row is at or after the cutoff, was already told "changed" by the latest row itself
  (its time is before the cutoff, so before the mark's last row), and is told so now (the earliest time is earlier);
* a mark whose last row is before the cutoff is told "changed" now where it may not have been: its rows are the
  ones retention has just dropped, so its next read finds them gone and scores the asset whole anyway.

:data:`LAST_SEQ` stays (the latest number of each group stays), so later writes are numbered as before. A record
coalesced too far (a cutoff later than the readings dropped) can only make a reader score an asset whole again,
never hide a rewrite from it.

>>> rewritten({1: 500, 2: 900, 3: 100}, {1: 400, 2: 900, 3: 700})   # series 1 appended; 2 and 3 written before
[(2, 900), (3, 100)]
>>> import duckdb, datetime
>>> con = duckdb.connect()
>>> _ = con.execute(DDL)
>>> at = lambda day: datetime.datetime(2024, 1, day, tzinfo=datetime.timezone.utc)
>>> for seq, series, day in [(1, 7, 3), (2, 7, 5), (2, 8, 6), (3, 7, 20), (4, 7, 9)]:
...     _ = con.execute("INSERT INTO reading_rewrites VALUES (?, ?, ?)", [seq, series, at(day)])
>>> coalesce(con.execute, at(10))    # series 7's rows before the 10th: one row (4, the 3rd); 8 and the 20th stay
2
>>> [(s, n, t.day) for n, s, t in con.execute("SELECT * FROM reading_rewrites ORDER BY 2, 1").fetchall()]
[(7, 3, 20), (7, 4, 3), (8, 2, 6)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

#: the embedded store's table (:mod:`forewarn.store.tables`); the server store's is migration 10 (:data:`MIGRATION`)
DDL = (
    "CREATE TABLE IF NOT EXISTS reading_rewrites "
    "(seq BIGINT NOT NULL, series_id INTEGER NOT NULL, t0 TIMESTAMPTZ NOT NULL);"
)
MIGRATION = (
    "CREATE TABLE IF NOT EXISTS reading_rewrites "
    "(seq bigint NOT NULL, series_id integer NOT NULL, t0 timestamptz NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS reading_rewrites_seq ON reading_rewrites (seq);"
)
#: the number of the last recorded write (0: none), noted by a reader before it reads
LAST_SEQ = "SELECT coalesce(max(seq), 0) AS seq FROM reading_rewrites"
#: per asset and write after a reader's number (``?``), the earliest time written (both backends' ``Store.sql``)
SINCE_SQL = (
    "SELECT c.asset_id, w.seq, min(w.t0) AS t0 FROM reading_rewrites w JOIN channels c ON c.series_id = w.series_id "
    "WHERE w.seq > ? GROUP BY c.asset_id, w.seq"
)
#: each series' rows written before a cutoff (``{cut}``: its placeholder) that :func:`coalesce` makes one: the
#: latest number and the earliest time; only series with two or more such rows
COALESCE_SQL = (
    "SELECT series_id, max(seq) AS seq, min(t0) AS t0 FROM reading_rewrites WHERE t0 < {cut} "
    "GROUP BY series_id HAVING count(*) > 1"
)


def rewritten(written: Mapping[int, int], stored_last: Mapping[int, int]) -> list[tuple[int, int]]:
    """The series a write changed before their end: ``written`` (series -> earliest time it writes there, any
    unit) against ``stored_last`` (series -> its last stored time before the write; a series absent: none stored);
    ``(series, earliest time)`` for each written at or before its last stored time, by series."""
    return [(s, t) for s, t in sorted(written.items()) if s in stored_last and stored_last[s] >= t]


def record(
    execute: Callable[[str, Sequence[Any]], Any], last_seq: int, rows: Sequence[tuple[int, int]], mark: str = "?"
) -> None:
    """Add the rows of one write (:func:`rewritten`, times in microseconds) as write ``last_seq + 1`` (``execute``:
    the write transaction's, under the store's write lock; ``mark``: its parameter placeholder)."""
    for series_id, t0_us in rows:
        at = pd.Timestamp(int(t0_us) * 1000, tz="UTC").to_pydatetime()
        execute(f"INSERT INTO reading_rewrites VALUES ({mark}, {mark}, {mark})", [last_seq + 1, int(series_id), at])


def coalesce(execute: Callable[[str, Sequence[Any]], Any], cutoff: Any, mark: str = "?") -> int:
    """Coalesce each series' rows whose time is before ``cutoff`` (retention's, the readings before it dropped in the
    same transaction) into one row: the latest number, the earliest time (module text: *Pruning*). ``execute``:
    the write transaction's; ``mark``: its parameter placeholder. Returns the number of rows removed."""
    groups = COALESCE_SQL.format(cut=mark)
    removed = execute(
        f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) - 1 AS n FROM reading_rewrites WHERE t0 < {mark} "
        "GROUP BY series_id HAVING count(*) > 1) AS g",
        [cutoff],
    ).fetchone()[0]
    if not removed:
        return 0
    execute(
        f"UPDATE reading_rewrites SET t0 = g.t0 FROM ({groups}) AS g "
        "WHERE reading_rewrites.series_id = g.series_id AND reading_rewrites.seq = g.seq",
        [cutoff],
    )
    execute(
        f"DELETE FROM reading_rewrites USING ({groups}) AS g WHERE reading_rewrites.series_id = g.series_id "
        f"AND reading_rewrites.seq < g.seq AND reading_rewrites.t0 < {mark}",
        [cutoff, cutoff],
    )
    return int(removed)
