"""Helpers for the store tests: writing frames as CSV, Parquet or JSON-lines files, and store snapshots.

A module with a name of its own (test folders are not packages, so pytest puts this folder on sys.path).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forewarn.store import Store
from forewarn.store.postgres import PgStore

TABLES = ("sites", "lines", "assets", "channels", "reading_values", "events")
WIDTH = {"sites": 3, "lines": 3, "assets": 7, "channels": 5, "reading_values": 3, "events": 8}
FORMATS = ("csv", "parquet", "jsonl")


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def write_table(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` in the format of ``path``'s suffix. Text cells stay text; a missing cell is empty."""
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    elif name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    elif name.endswith((".jsonl", ".ndjson")):
        lines = [json.dumps({k: _cell(v) for k, v in row.items()}) for row in frame.to_dict("records")]
        path.write_text("\n".join(lines) + "\n")
    else:  # pragma: no cover - test helper misuse
        raise ValueError(name)
    return path


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    """Every table of the store, sorted, for before/after comparisons."""
    order = {t: ", ".join(str(i) for i in range(1, WIDTH[t] + 1)) for t in TABLES}
    return {t: store.sql(f"SELECT * FROM {t} ORDER BY {order[t]}") for t in TABLES}


def wipe(store: Store) -> Store:
    """Empty every table, so hypothesis examples can share one store (opening a DuckDB database costs more)."""
    if isinstance(store, PgStore):
        wipe_pg(store)
        return store
    con = store._db(write=True)
    for table in TABLES:
        con.execute(f"DELETE FROM {table}")
    return store


def assert_unchanged(store: Store, before: dict[str, pd.DataFrame]) -> None:
    after = snapshot(store)
    for table in TABLES:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)


def canon(frame: pd.DataFrame) -> pd.DataFrame:
    """A long readings frame in a canonical order and dtypes, for equality checks."""
    out = frame[["asset_id", "ts", "channel", "value"]].copy()
    out["asset_id"] = out["asset_id"].astype(str)
    out["channel"] = out["channel"].astype(str)
    out["ts"] = pd.to_datetime(out["ts"], utc=True).astype("datetime64[us, UTC]")
    out["value"] = out["value"].astype("float64")
    return out.sort_values(["asset_id", "ts", "channel"], kind="stable").reset_index(drop=True)


def read_all(store: Store) -> pd.DataFrame:
    """All readings of the store as one canonical long frame."""
    return canon(store.sql("SELECT asset_id, ts, channel, value FROM readings"))


def wipe_pg(store: PgStore) -> None:
    """Empty every table of a PostgreSQL store (a few milliseconds, unlike a new database)."""
    with store.connection(write=True) as con:
        con.execute(
            "TRUNCATE sites, lines, assets, channels, reading_values, events, labels, readings_hourly, "
            "readings_daily, rollup_dirty, reading_rewrites"
        )
        con.execute("DELETE FROM store_meta WHERE key = 'retained_from'")  # a retention test's cutoff
    store._index = None
