"""Retention: readings older than a cutoff leave the store; the plant, events, labels and (on PostgreSQL) the
hourly and daily rollups stay. The record of rewrites before the cutoff is coalesced to a row per series in the same
transaction (:mod:`forewarn.store.rewrites`, *Pruning*).

The cutoff is a whole UTC day (:func:`retention_cutoff` floors it), so on PostgreSQL the rollups of the days that
remain are recomputed from complete days only. A store keeps a long history of aggregates and a short one of raw
readings: ``forewarn store retain --keep 400d`` drops what is older than 400 days before the newest reading.

>>> retention_cutoff("2024-03-05 17:30")
Timestamp('2024-03-05 00:00:00+0000', tz='UTC')
>>> retention_cutoff(None, keep="2d", newest="2024-03-05 17:30")
Timestamp('2024-03-03 00:00:00+0000', tz='UTC')
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from forewarn.base.timespan import timespan
from forewarn.exceptions import ConfigError
from forewarn.store import rewrites
from forewarn.store.tables import ts_literal


def retention_cutoff(before: object = None, *, keep: str | None = None, newest: object = None) -> pd.Timestamp:
    """The UTC day from which readings are kept: ``before`` floored to its day, or ``keep`` (a span such as
    ``"400d"``) before ``newest`` (the store's newest reading), floored."""
    if (before is None) == (keep is None):
        raise ConfigError("give either a cutoff time (--before) or a span of history to keep (--keep), not both")
    if before is not None:
        return pd.Timestamp(ts_literal(before, name="before")).floor("D")
    try:
        span = timespan(str(keep))
    except ValueError:
        raise ConfigError(f"keep={keep!r} is not a time span; use e.g. '90d' or '2000h'") from None
    if not span > pd.Timedelta(0):
        raise ConfigError(f"keep={keep!r} must be a positive span")
    if newest is None or pd.isna(newest):
        raise ConfigError("the store holds no readings: nothing to keep a span of")
    return (pd.Timestamp(ts_literal(newest)) - span).floor("D")


def drop_before_duckdb(con: Any, cutoff: pd.Timestamp) -> int:
    """Delete the readings before ``cutoff`` from a DuckDB store's connection and coalesce the record of rewrites
    before it (:func:`forewarn.store.rewrites.coalesce`), in one transaction; the number of readings deleted."""
    stamp = ts_literal(cutoff)
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute("SELECT count(*) FROM reading_values WHERE ts < CAST(? AS TIMESTAMPTZ)", [stamp]).fetchone()
        con.execute("DELETE FROM reading_values WHERE ts < CAST(? AS TIMESTAMPTZ)", [stamp])
        rewrites.coalesce(con.execute, pd.Timestamp(stamp).to_pydatetime())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(row[0])
