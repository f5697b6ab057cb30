"""Labels: what a plant's export says about an asset at an instant (a state, a fault code, a quality grade).

A label is text as written, keyed by ``(asset_id, name, ts)``. Labels come from the columns an ingest names
with ``label_columns``: they are stored here, one row per non-empty cell, and **never** as sensor channels,
so no model can take a label for a feature. Ingest is idempotent as for readings (the first value of a key
wins inside a batch), and a stored label with a different value is kept, replaced or rejected by the same
``on_conflict`` rule as readings.

>>> import pandas as pd
>>> from forewarn.store import Store
>>> with Store() as store:
...     report = store.ingest_readings(pd.DataFrame({"asset_id": ["P-1", "P-1"], "ts": ["2024-01-01", "2024-01-02"],
...         "temp": [40.0, 41.0], "state": ["run", "fault"]}), label_columns=["state"])
...     (report.written, report.labels_written, store.label_names(), store.labels()["value"].tolist(),
...      store.channels()["channel"].tolist())
(2, 2, ['state'], ['run', 'fault'], ['temp'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pandas as pd

from forewarn.exceptions import IngestError
from forewarn.store.options import ReadOptions
from forewarn.store.queries import frame, time_filter
from forewarn.store.readers import ROW_COLUMN, Staged
from forewarn.store.tables import fetch_one, fetch_value, quote_ident, quote_literal
from forewarn.store.validate import fold_back_sql, ts_sql

STAGE = "__fw_labels"
Conflict = Callable[[int, str, str, str], Exception]  # (record, column, stored, new) -> error to raise


def stage_labels(con: duckdb.DuckDBPyConnection, staged: Staged, labels: Sequence[str], options: ReadOptions) -> None:
    """Stage the batch's label cells as ``__fw_labels (asset_id, ts, name, value, __rn)``, first of each key.

    Runs after the batch is validated (asset ids and times are good); a blank asset id is rejected here.
    """
    src = quote_ident(staged.name)
    casts = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in labels)
    on = ", ".join(quote_ident(c) for c in labels)
    rows = (
        f"SELECT CAST(asset_id AS VARCHAR) AS asset_id, {ts_sql(staged.types['ts'], options)} AS ts, {ROW_COLUMN}, "
        f"{casts} FROM {src}"
    )
    if options.timezone != "UTC":  # the hour the clocks go back, in file order, as the readings' times
        rows = fold_back_sql(rows, options.timezone, "asset_id")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT asset_id, ts, name, arg_min(value, {ROW_COLUMN}) AS value, "
        f"min({ROW_COLUMN}) AS {ROW_COLUMN} FROM (UNPIVOT ({rows}) ON {on} "
        f"INTO NAME name VALUE value) WHERE trim(value) <> '' GROUP BY asset_id, ts, name"
    )
    blank = fetch_value(con, f"SELECT min({ROW_COLUMN}) FROM {STAGE} WHERE trim(asset_id) = ''")
    if blank is not None:
        raise IngestError(
            "missing asset_id",
            source=staged.source,
            line=staged.line_of(int(blank)),
            column=staged.shown("asset_id"),
            hint="every label needs a non-empty asset_id",
        )


#: cell texts of a failure flag column (any case): flagged, and not flagged
FLAG_ON = ("1", "1.0", "true", "yes", "y", "ja", "j", "x")
FLAG_OFF = ("0", "0.0", "false", "no", "n", "nein")


def flagged_failures(con: duckdb.DuckDBPyConnection, staged: Staged, column: str) -> tuple[tuple[str, Any], ...]:
    """The failures a staged failure flag column marks: ``(asset_id, ts)`` of the first row of each run of flagged
    rows of an asset, in time order (a machine flagged down for three hours failed once). A cell that is neither a
    flag nor its absence (``1/0``, ``yes/no``, ``true/false``) is an :class:`IngestError` at its line."""

    def texts(values: tuple[str, ...]) -> str:
        return ", ".join(quote_literal(v) for v in values)

    cell = "lower(trim(value))"
    bad = fetch_one(
        con,
        f"SELECT {ROW_COLUMN}, value FROM {STAGE} WHERE name = ? AND {cell} NOT IN ({texts(FLAG_ON + FLAG_OFF)}) "
        f"ORDER BY {ROW_COLUMN} LIMIT 1",
        [column],
    )
    if bad is not None:
        raise IngestError(
            f"failure flag {bad[1]!r} is neither set nor unset",
            source=staged.source,
            line=staged.line_of(int(bad[0])),
            column=column,
            hint="a failure flag column holds 1/0, yes/no or true/false (an empty cell: not known)",
        )
    rows = con.execute(
        f"SELECT asset_id, ts FROM (SELECT asset_id, ts, flag, lag(flag) OVER (PARTITION BY asset_id ORDER BY ts) "
        f"AS before FROM (SELECT asset_id, ts, {cell} IN ({texts(FLAG_ON)}) AS flag FROM {STAGE} WHERE name = ?)) "
        "WHERE flag AND NOT coalesce(before, FALSE) ORDER BY asset_id, ts",
        [column],
    ).fetchall()
    return tuple((str(a), t) for a, t in rows)


def write_labels(con: duckdb.DuckDBPyConnection, on_conflict: str, conflict: Conflict) -> tuple[int, int, int]:
    """Write the staged labels (inside the caller's transaction): ``(written, conflicts, replaced)``."""
    differ = f"FROM {STAGE} s JOIN labels l USING (asset_id, name, ts) WHERE l.value <> s.value"
    conflicts = int(fetch_value(con, f"SELECT count(*) {differ}"))
    replaced = 0
    if conflicts and on_conflict == "error":
        row = fetch_one(con, f"SELECT s.{ROW_COLUMN}, s.name, l.value, s.value {differ} ORDER BY 1 LIMIT 1")
        assert row is not None
        raise conflict(int(row[0]), str(row[1]), repr(str(row[2])), repr(str(row[3])))
    if conflicts and on_conflict == "replace":
        replaced = int(
            fetch_value(
                con,
                f"UPDATE labels SET value = s.value FROM {STAGE} s WHERE labels.asset_id = "
                "s.asset_id AND labels.name = s.name AND labels.ts = s.ts AND "
                "labels.value <> s.value",
            )
        )
    written = int(
        fetch_value(
            con,
            f"INSERT INTO labels SELECT asset_id, ts, name, value FROM {STAGE} "
            "ANTI JOIN labels USING (asset_id, name, ts)",
        )
    )
    return written, conflicts, replaced


def label_assets_sql() -> str:
    """SQL of the distinct asset ids of the staged labels."""
    return f"SELECT DISTINCT asset_id FROM {STAGE}"


def drop_labels(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staged labels."""
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    # a store written before labels existed, opened read-only, has no labels table: it has no labels
    return bool(
        fetch_value(
            con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'labels' AND table_schema = 'main'"
        )
    )


def labels(
    con: duckdb.DuckDBPyConnection,
    asset_ids: Sequence[str] | None = None,
    *,
    name: str | None = None,
    start: object = None,
    end: object = None,
) -> pd.DataFrame:
    """Labels ``asset_id, ts (UTC), name, value (str)`` in ``[start, end)``, sorted by asset_id, ts, name."""
    if not _has_table(con):
        return frame(
            con,
            "SELECT CAST(NULL AS VARCHAR) AS asset_id, CAST(NULL AS TIMESTAMPTZ) AS ts, "
            "CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS value LIMIT 0",
        )
    where = [time_filter("ts", start, end)]
    params: list[Any] = []
    if asset_ids is not None:
        where.append("asset_id IN (SELECT unnest(?))")
        params.append([str(a) for a in ([asset_ids] if isinstance(asset_ids, str) else asset_ids)])
    if name is not None:
        where.append("name = ?")
        params.append(str(name))
    return frame(
        con,
        f"SELECT asset_id, ts, name, value FROM labels WHERE {' AND '.join(where)} ORDER BY asset_id, ts, name",
        params,
    )


def label_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the stored labels, sorted."""
    if not _has_table(con):
        return []
    return [str(r[0]) for r in con.execute("SELECT DISTINCT name FROM labels ORDER BY name").fetchall()]
