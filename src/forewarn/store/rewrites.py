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

>>> rewritten({1: 500, 2: 900, 3: 100}, {1: 400, 2: 900, 3: 700})   # series 1 appended; 2 and 3 written before
[(2, 900), (3, 100)]
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
