"""The stream's tables in a PostgreSQL store, and the one transaction of each micro-batch.

On DuckDB the stream keeps its tables in the store's file through a second connection
(:mod:`forewarn.stream.tables`). On PostgreSQL they are tables of the same database, created by migration 3
(:data:`forewarn.store.pg_sql.MIGRATIONS`), and a micro-batch is written in ONE transaction
(:class:`StreamTransaction`): its readings (the store's own ingest, joined into the transaction through
:meth:`forewarn.store.postgres.PgStore.joined`), scores, alerts (the outbox), dead letters, watermarks and
feature/alert state, then ``COMMIT``, and only then does the stream acknowledge the messages. A process killed
before the commit leaves nothing of the batch; the broker delivers its messages again.

The readings' write lock (an advisory lock taken by the ingest) is held from the batch's ingest to its commit,
so writers in other processes (``forewarn ingest``, the service) take turns with the stream; readers never wait.

Rows come and go as plain Python and Arrow values, so this module knows nothing of the stream's classes.

>>> from_us_sql("s.released_until_us")
"TIMESTAMPTZ '1970-01-01 00:00:00+00' + (s.released_until_us) * INTERVAL '1 microsecond'"
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

if TYPE_CHECKING:
    from forewarn.store.ingest import IngestReport
    from forewarn.store.postgres import PgStore

STREAM_TABLES = ("stream_scores", "stream_alerts", "stream_dead_letters", "stream_assets", "stream_state")
SCORE_COLUMNS = (
    "asset_id",
    "ts",
    "model_id",
    "score",
    "probability",
    "scored_at",
    "rul",
    "status",
    "channels_missing",
)
ALERT_COLUMNS = ("asset_id", "ts", "model_id", "score", "risk_level", "explanation", "probability", "rul", "raised_at")
DEAD_LETTER_COLUMNS = ("received_at", "source", "reason", "detail", "asset_id", "channel", "item", "payload", "key")


def from_us_sql(expression: str) -> str:
    """SQL for the ``timestamptz`` of an expression in Unix microseconds (exact: no float in between)."""
    return f"TIMESTAMPTZ '1970-01-01 00:00:00+00' + ({expression}) * INTERVAL '1 microsecond'"


class StreamTransaction:
    """One micro-batch's transaction on a pooled connection of ``store`` (see the module docstring).

    :meth:`ingest` may run in another thread than the rest (the stream scores while its readings are written),
    but never at the same time as another call on this object.
    """

    def __init__(self, store: PgStore) -> None:
        self.store = store
        self._stack = contextlib.ExitStack()
        self.con: Any = self._stack.enter_context(store.connection(write=True))
        try:
            self.con.execute("BEGIN")
        except BaseException:
            self._stack.close()
            raise

    def ingest(self, table: pa.Table, **options: Any) -> IngestReport:
        """:meth:`~forewarn.store.Store.ingest_readings` of ``table`` inside this transaction."""
        with self.store.joined(self.con):
            return self.store.ingest_readings(table, **options)

    def write(
        self,
        *,
        scores: pa.Table | None = None,
        alerts: Sequence[dict[str, Any]] = (),
        dead_letters: Sequence[Sequence[Any]] = (),
        watermarks: dict[str, tuple[int, int | None]] | None = None,
        state: Sequence[tuple[str, str, bytes]] = (),
    ) -> None:
        """Add the batch's stream rows (``dead_letters`` in :data:`DEAD_LETTER_COLUMNS` order, ``received_at`` in
        Unix microseconds; ``state`` as ``(name, asset_id, data)``, the last of a key wins)."""
        con = self.con
        if scores is not None and scores.num_rows:
            write_scores(con, scores)
        if alerts:
            with con.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO stream_alerts ({', '.join(ALERT_COLUMNS)}, filed) "
                    f"VALUES ({', '.join(['%s'] * len(ALERT_COLUMNS))}, false)",
                    [[json.dumps(a[c]) if c == "explanation" else a[c] for c in ALERT_COLUMNS] for a in alerts],
                )
        if dead_letters:
            with con.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO stream_dead_letters ({', '.join(DEAD_LETTER_COLUMNS)}) VALUES "
                    f"({from_us_sql('%s::bigint')}, {', '.join(['%s'] * (len(DEAD_LETTER_COLUMNS) - 1))}) "
                    "ON CONFLICT (key) DO NOTHING",
                    [list(row) for row in dead_letters],
                )
        if watermarks:
            with con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stream_assets (asset_id, first_seen_us, released_until_us) VALUES (%s, %s, %s) "
                    "ON CONFLICT (asset_id) DO UPDATE SET first_seen_us = excluded.first_seen_us, "
                    "released_until_us = excluded.released_until_us",
                    [[asset, first, released] for asset, (first, released) in sorted(watermarks.items())],
                )
        latest = {(name, asset): data for name, asset, data in state}
        if latest:
            with con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stream_state (name, asset_id, data) VALUES (%s, %s, %s) "
                    "ON CONFLICT (name, asset_id) DO UPDATE SET data = excluded.data",
                    [[name, asset, data] for (name, asset), data in sorted(latest.items())],
                )

    def commit(self) -> None:
        """Commit everything of the batch and give the connection back."""
        try:
            self.con.execute("COMMIT")
        finally:
            self._stack.close()

    def rollback(self) -> None:
        """Undo the batch (safe after a failed statement or a lost server) and give the connection back."""
        try:
            with contextlib.suppress(Exception):  # a broken connection: the pool discards it
                self.con.execute("ROLLBACK")
        finally:
            self._stack.close()


def write_scores(con: Any, scores: pa.Table) -> None:
    """COPY the scores (columns of :data:`SCORE_COLUMNS`, ``rul``, ``status`` and ``channels_missing`` optional)
    into ``stream_scores`` as CSV."""
    for name, kind in (("rul", pa.float64()), ("status", pa.string()), ("channels_missing", pa.string())):
        if name not in scores.column_names:
            scores = scores.append_column(name, pa.nulls(scores.num_rows, kind))
    buffer = io.BytesIO()
    pa_csv.write_csv(scores.select(list(SCORE_COLUMNS)), buffer, pa_csv.WriteOptions(include_header=False))
    with (
        con.cursor() as cur,
        cur.copy(f"COPY stream_scores ({', '.join(SCORE_COLUMNS)}) FROM STDIN (FORMAT csv)") as cp,
    ):
        cp.write(buffer.getbuffer())


def count(store: PgStore, table: str) -> int:
    """Rows of one of the stream's tables."""
    if table not in STREAM_TABLES:
        raise ValueError(f"{table!r} is not a streaming table")
    with store.connection() as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def watermarks(store: PgStore) -> dict[str, tuple[int, int | None]]:
    """``{asset_id: (first_seen_us, released_until_us)}``."""
    with store.connection() as con:
        rows = con.execute("SELECT asset_id, first_seen_us, released_until_us FROM stream_assets").fetchall()
    return {str(a): (int(f), None if r is None else int(r)) for a, f, r in rows}


def state(store: PgStore, name: str) -> dict[str, bytes]:
    """Saved state blobs of ``name``, by asset id."""
    with store.connection() as con:
        rows = con.execute("SELECT asset_id, data FROM stream_state WHERE name = %s", [name]).fetchall()
    return {str(a): bytes(d) for a, d in rows}


def unfiled(store: PgStore) -> list[tuple[Any, ...]]:
    """``(asset_id, ts, model_id, score, risk_level, explanation, probability, rul)`` of the alerts not yet in the
    case book, oldest first (``explanation`` as a dict)."""
    with store.connection() as con:
        return [
            tuple(row)
            for row in con.execute(
                "SELECT asset_id, ts, model_id, score, risk_level, explanation, probability, rul FROM stream_alerts "
                "WHERE NOT filed ORDER BY raised_at, ts, asset_id"
            ).fetchall()
        ]


def mark_filed(store: PgStore, keys: Sequence[tuple[str, str, Any]]) -> None:
    """Mark the alerts of ``(asset_id, model_id, ts)`` as filed in the case book."""
    if not keys:
        return
    with store.connection(write=True) as con, con.cursor() as cur:
        cur.executemany(
            "UPDATE stream_alerts SET filed = true WHERE asset_id = %s AND model_id = %s AND ts = %s AND NOT filed",
            [list(k) for k in keys],
        )


def unscored(store: PgStore, low_us: int) -> pd.DataFrame:
    """``asset_id, channel, ts_us, value`` of the readings after each streamed asset's watermark (from
    ``low_us`` - 1 s on), sorted by asset, time and channel."""
    with store.connection() as con:
        cur = con.execute(
            "SELECT c.asset_id, c.channel, epoch_us(r.ts) AS ts_us, r.value FROM reading_values r "
            "JOIN channels c USING (series_id) JOIN stream_assets s ON s.asset_id = c.asset_id "
            f"WHERE r.ts >= {from_us_sql('%s::bigint - 1000000')} "
            f"AND r.ts > {from_us_sql('coalesce(s.released_until_us, s.first_seen_us - 1)')} ORDER BY 1, 3, 2",
            [int(low_us)],
        )
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["asset_id", "channel", "ts_us", "value"]).astype(
        {"asset_id": object, "channel": object, "ts_us": "int64", "value": "float64"}
    )
