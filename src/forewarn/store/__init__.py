"""The embedded store: plant hierarchy, readings and events in DuckDB (a file or ``":memory:"``).

Ingest rules, the same for files (CSV, Parquet, JSON lines) and in-memory tables (pandas, Arrow):

* Readings come long (``asset_id, ts, channel, value``) or wide (``asset_id, ts, <channel>...``); an
  empty value is a gap and is skipped. Times are UTC (naive times are read as UTC).
* A batch is all or nothing: a timestamp that does not parse, a value that is not a number, a missing
  column, or (with ``strict=True``) an unknown asset rejects the whole batch in one transaction, with an
  :class:`~forewarn.exceptions.IngestError` naming the file, the line (header = line 1; Parquet and
  frames: 1-based row) and the column. Without ``strict``, unknown assets are created (class ``generic``).
* Ingest is idempotent. Readings are keyed by ``(asset_id, channel, ts)``, events by
  ``(asset_id, ts, kind, failure_mode, action, parts)``. When a key repeats, the **first** value wins: the
  earliest line inside a batch, and the stored value across batches. So ingesting a file twice stores it
  once, and ingesting batches one by one stores the same as ingesting them concatenated.

>>> from forewarn.store import Store, IngestReport
>>> Store().count_readings()
0
"""

from forewarn.store.ingest import IngestReport
from forewarn.store.store import Store

__all__ = ["IngestReport", "Store"]
