"""Production data in the store: per-period production records and downtime events (issue 16).

Two tables in plain, portable SQL (the same text runs on DuckDB and PostgreSQL), created on first write through
the store's connection:

- ``production_records``: one row per asset, day and shift, keyed ``(asset_id, day, shift)``, with the columns of
  :data:`RECORD_COLUMNS` (the layout of :mod:`forewarn.kpi.oee`) and the ``source`` that wrote it;
- ``downtime_events``: one row per stop, keyed ``(asset_id, start_ts, reason)``, with ``end_ts`` and ``source``.

Writes replace the rows with the same keys (so re-ingesting a file changes nothing) in one transaction: a bad
batch is rejected whole, naming the row and column. The full OEE checks (stops within busy time, units within
the run time) are :func:`forewarn.kpi.validate_records`, above this layer; here only what the tables need.
On a PostgreSQL store the same SQL runs through the store's session connection (:meth:`PgStore._db`).

>>> import pandas as pd
>>> from forewarn.schema import Asset
>>> from forewarn.store import Store
>>> store = Store()
>>> store.add_assets([Asset("P1", asset_class="pump")])
>>> rec = pd.DataFrame({"asset_id": ["P1"], "day": ["2024-01-01"], "shift": ["A"], "planned_busy_h": [8.0],
...                     "produced": [480.0], "good": [456.0], "ideal_rate": [100.0]})
>>> write_production(store, rec)["records"], len(read_production(store)[0])
(1, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError, UnknownAssetError

__all__ = ["EVENT_COLUMNS", "RECORD_COLUMNS", "TABLES_SQL", "read_production", "write_production"]

_NUMBERS = (
    "planned_busy_h",
    "planned_downtime_h",
    "down_failure_h",
    "down_changeover_h",
    "down_starvation_h",
    "down_minor_stop_h",
    "produced",
    "good",
    "ideal_rate",
    "energy_kwh",
    "startup_scrap",
)
RECORD_COLUMNS = ("asset_id", "line_id", "site_id", "day", "shift", *_NUMBERS)
EVENT_COLUMNS = ("asset_id", "start", "end", "reason")
_REQUIRED = ("asset_id", "day", "shift", "planned_busy_h", "produced", "good", "ideal_rate")
REASONS = ("failure", "changeover", "starvation", "minor_stop", "planned_maintenance")

TABLES_SQL = (
    "CREATE TABLE IF NOT EXISTS production_records ("
    "asset_id VARCHAR NOT NULL, line_id VARCHAR, site_id VARCHAR, day DATE NOT NULL, shift VARCHAR NOT NULL, "
    + ", ".join(f"{c} DOUBLE PRECISION NOT NULL" for c in _NUMBERS)
    + ", source VARCHAR, PRIMARY KEY (asset_id, day, shift))",
    "CREATE TABLE IF NOT EXISTS downtime_events ("
    "asset_id VARCHAR NOT NULL, start_ts TIMESTAMP WITH TIME ZONE NOT NULL, end_ts TIMESTAMP WITH TIME ZONE NOT NULL, "
    "reason VARCHAR NOT NULL, source VARCHAR, PRIMARY KEY (asset_id, start_ts, reason))",
)


def _connection(store: Any, write: bool) -> Any:
    import duckdb

    from forewarn.store.pg_sql import PgConnection

    con = store._db(write=write)
    if not isinstance(con, (duckdb.DuckDBPyConnection, PgConnection)):
        raise ConfigError(
            "production records are kept in the embedded (DuckDB) store for now; the PostgreSQL store does not "
            "have the production tables yet"
        )
    return con


def _records(records: pd.DataFrame, known: set[str], source: str) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in records.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}", source=source, hint=f"expected {', '.join(_REQUIRED)}"
        )
    out = pd.DataFrame({"asset_id": records["asset_id"].astype(str)})
    for c in ("line_id", "site_id"):
        out[c] = records[c].astype(str) if c in records.columns else None
    day = pd.to_datetime(records["day"], errors="coerce", format="ISO8601")
    for i in np.flatnonzero(day.isna().to_numpy())[:1]:
        raise SchemaError(f"{records['day'].iloc[i]!r} is not a date", source=source, line=int(i) + 2, column="day")
    out["day"] = day.dt.date
    out["shift"] = records["shift"].astype(str)
    for c in _NUMBERS:
        values = (
            pd.to_numeric(records[c], errors="coerce") if c in records.columns else pd.Series(0.0, index=records.index)
        )
        bad = np.flatnonzero((values.isna() | (values < 0)).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise SchemaError(f"{records[c].iloc[i]!r} is not a number >= 0", source=source, line=i + 2, column=c)
        out[c] = values.astype(float).to_numpy()
    bad = np.flatnonzero((out["good"] > out["produced"]).to_numpy())
    if bad.size:
        raise SchemaError("good exceeds produced", source=source, line=int(bad[0]) + 2, column="good")
    unknown = sorted(set(out["asset_id"]) - known)
    if unknown:
        raise UnknownAssetError(
            f"unknown asset(s) {', '.join(unknown[:5])}; add them to the store first", source=source
        )
    dup = out.duplicated(["asset_id", "day", "shift"])
    if dup.any():
        raise SchemaError("the same asset, day and shift twice", source=source, line=int(np.argmax(dup.to_numpy())) + 2)
    return out


def _events(events: pd.DataFrame, known: set[str], source: str) -> pd.DataFrame:
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}", source=source, hint="expected asset_id, start, end, reason"
        )
    out = pd.DataFrame({"asset_id": events["asset_id"].astype(str)})
    for c, name in (("start", "start_ts"), ("end", "end_ts")):
        ts = pd.to_datetime(events[c], errors="coerce", utc=True, format="ISO8601")
        for i in np.flatnonzero(ts.isna().to_numpy())[:1]:
            raise SchemaError(f"{events[c].iloc[i]!r} is not a timestamp", source=source, line=int(i) + 2, column=c)
        out[name] = ts
    bad = np.flatnonzero((out["end_ts"] < out["start_ts"]).to_numpy())
    if bad.size:
        raise SchemaError("the stop ends before it starts", source=source, line=int(bad[0]) + 2, column="end")
    out["reason"] = events["reason"].astype(str)
    bad = np.flatnonzero(~out["reason"].isin(REASONS).to_numpy())
    if bad.size:
        raise SchemaError(
            f"reason {out['reason'].iloc[int(bad[0])]!r}; use {', '.join(REASONS)}",
            source=source,
            line=int(bad[0]) + 2,
            column="reason",
        )
    unknown = sorted(set(out["asset_id"]) - known)
    if unknown:
        raise UnknownAssetError(
            f"unknown asset(s) {', '.join(unknown[:5])}; add them to the store first", source=source
        )
    return out.drop_duplicates(["asset_id", "start_ts", "reason"], keep="last")


def write_production(
    store: Any, records: pd.DataFrame | None = None, events: pd.DataFrame | None = None, source: str = "production"
) -> dict[str, int]:
    """Write production records and/or downtime events (rows with the same keys are replaced); returns counts."""
    known = set(store.assets()["asset_id"].astype(str))
    rec = _records(records, known, source) if records is not None else None
    ev = _events(events, known, source) if events is not None else None
    with store._lock:
        con = _connection(store, write=True)
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in TABLES_SQL:
                con.execute(statement)
            if rec is not None and len(rec):
                con.register("_production_batch", rec.assign(source=source))
                con.execute(
                    "DELETE FROM production_records USING _production_batch b WHERE production_records.asset_id = b.asset_id "
                    "AND production_records.day = b.day AND production_records.shift = b.shift"
                )
                cols = ", ".join((*RECORD_COLUMNS, "source"))
                con.execute(f"INSERT INTO production_records ({cols}) SELECT {cols} FROM _production_batch")
                con.unregister("_production_batch")
            if ev is not None and len(ev):
                con.register("_downtime_batch", ev.assign(source=source))
                con.execute(
                    "DELETE FROM downtime_events USING _downtime_batch b WHERE downtime_events.asset_id = b.asset_id "
                    "AND downtime_events.start_ts = b.start_ts AND downtime_events.reason = b.reason"
                )
                con.execute(
                    "INSERT INTO downtime_events (asset_id, start_ts, end_ts, reason, source) "
                    "SELECT asset_id, start_ts, end_ts, reason, source FROM _downtime_batch"
                )
                con.unregister("_downtime_batch")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return {"records": 0 if rec is None else len(rec), "events": 0 if ev is None else len(ev)}


def read_production(
    store: Any, start_day: str | None = None, end_day: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Production records (``day`` from ``start_day`` to ``end_day`` inclusive) and the downtime events that start
    in those days, in :mod:`forewarn.kpi`'s layouts (empty frames when nothing was written)."""
    with store._lock:
        con = _connection(store, write=False)
        names = set(con.execute("SELECT table_name FROM information_schema.tables").fetchdf()["table_name"])
        if "production_records" not in names:
            return pd.DataFrame(columns=list(RECORD_COLUMNS)), pd.DataFrame(columns=list(EVENT_COLUMNS))
        lo = pd.Timestamp(start_day or "1900-01-01").date()
        hi = pd.Timestamp(end_day or "2999-12-31").date()
        rec = con.execute(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM production_records WHERE day BETWEEN ? AND ? ORDER BY asset_id, day, shift",
            [lo, hi],
        ).fetchdf()
        ev = con.execute(
            'SELECT asset_id, start_ts AS start, end_ts AS "end", reason FROM downtime_events '
            "WHERE CAST(start_ts AS DATE) BETWEEN ? AND ? ORDER BY asset_id, start_ts",
            [lo, hi],
        ).fetchdf()
    rec["day"] = pd.to_datetime(rec["day"]).dt.strftime("%Y-%m-%d")
    return rec, ev
