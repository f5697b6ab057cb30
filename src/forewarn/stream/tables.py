"""The streaming tables: scores, alerts, dead letters and the consumer's checkpoint, beside the store's tables.

They live in the store's DuckDB file, reached through a second connection of the same process (DuckDB shares
one database instance between connections of a process), so ``Store.sql("SELECT * FROM stream_alerts")`` reads
them and one file holds the plant's whole history. An in-memory store gets an in-memory side database. In a
PostgreSQL store they are tables of its database (:class:`PgStreamTables`, :mod:`forewarn.store.pg_stream`), and
a micro-batch's readings are written in the same transaction as the rest.

* ``stream_scores (asset_id, ts, model_id, score, probability, scored_at, rul, status, channels_missing)``: one
  row per scored instant (``rul``: the predicted RUL of a RUL model in a servable bundle; ``status``:
  ``in_service``, or ``insufficient data`` for an instant whose window held too few of the asset's channels, with a
  NaN score and no probability; ``channels_missing``: the expected channels with no reading in the window, a JSON
  list; the three added to older files on start-up, NULL in their older rows);
* ``stream_alerts (asset_id, ts, model_id, score, risk_level, explanation, probability, rul, raised_at, filed)``:
  the stream's alerts, written in the micro-batch's transaction and then filed into the case book
  (:class:`~forewarn.decide.cases.CaseBook`, the one alert path: the service's alerts API and dashboard list
  them with ``source = "stream"``). The case book is another database, so this table is the outbox: ``filed``
  turns true once the case book has the alert, and a restarted stream files the ones still false (the case
  book skips an alert it already holds, so none is filed twice). Rows written before this column existed
  count as filed (they stay here, readable through :func:`stream_alerts` and ``GET /api/v1/stream/alerts``);
* ``stream_dead_letters (received_at, source, reason, detail, asset_id, channel, item, payload, key)``: ``key``
  (a hash of source and payload, plus the reading's position) keeps a redelivered bad message from being
  recorded twice;
* ``stream_assets (asset_id, first_seen_us, released_until_us)``: per asset, the time up to which readings have
  been scored (the watermark; epoch microseconds);
* ``stream_state (name, asset_id, data)``: feature windows, alert-policy state and explanation references.

All of one micro-batch is written in one transaction (:meth:`StreamTables.commit`), after the readings are in
the store and before the broker gets its acknowledgements; on PostgreSQL the readings are in that transaction too
(:meth:`PgStreamTables.batch`). :func:`open_tables` picks the class of a store.

>>> from forewarn.store import Store
>>> tables = StreamTables(Store())
>>> tables.count("stream_scores")
0
>>> tables.close()
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.decide.alerts import Alert
from forewarn.store import Store, pg_stream
from forewarn.store.ingest import IngestReport
from forewarn.store.postgres import PgStore
from forewarn.store.queries import match_filter
from forewarn.stream.messages import DeadLetter
from forewarn.stream.reorder import Readings

DDL = """
CREATE TABLE IF NOT EXISTS stream_scores (
    asset_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, model_id VARCHAR NOT NULL,
    score DOUBLE NOT NULL, probability DOUBLE, scored_at TIMESTAMPTZ NOT NULL);
ALTER TABLE stream_scores ADD COLUMN IF NOT EXISTS rul DOUBLE;
ALTER TABLE stream_scores ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE stream_scores ADD COLUMN IF NOT EXISTS channels_missing VARCHAR;
CREATE TABLE IF NOT EXISTS stream_alerts (
    asset_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, model_id VARCHAR NOT NULL, score DOUBLE NOT NULL,
    risk_level VARCHAR NOT NULL, explanation JSON NOT NULL, probability DOUBLE, rul DOUBLE,
    raised_at TIMESTAMPTZ NOT NULL);
ALTER TABLE stream_alerts ADD COLUMN IF NOT EXISTS filed BOOLEAN DEFAULT true;
CREATE TABLE IF NOT EXISTS stream_dead_letters (
    received_at TIMESTAMPTZ NOT NULL, source VARCHAR NOT NULL, reason VARCHAR NOT NULL, detail VARCHAR NOT NULL,
    asset_id VARCHAR, channel VARCHAR, item INTEGER NOT NULL, payload VARCHAR NOT NULL, key VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS stream_assets (
    asset_id VARCHAR PRIMARY KEY, first_seen_us BIGINT NOT NULL, released_until_us BIGINT);
CREATE TABLE IF NOT EXISTS stream_state (
    name VARCHAR NOT NULL, asset_id VARCHAR NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, asset_id));
"""


STREAM_ALERT_COLUMNS = (
    "asset_id",
    "ts",
    "model_id",
    "score",
    "risk_level",
    "explanation",
    "probability",
    "rul",
    "raised_at",
)


def stream_alerts(
    store: Store,
    *,
    asset_id: str | None = None,
    model_id: str | None = None,
    start: Any = None,
    end: Any = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Alerts the stream's own models raised (``stream_alerts``), newest first, optionally of one asset or model
    and with ``ts`` in ``[start, end)``; read through ``store`` (its connection and lock). Empty when the store
    was never streamed into (no such table).

    >>> from forewarn.store import Store
    >>> stream_alerts(Store())
    []
    """
    if not isinstance(store, PgStore):  # a PostgreSQL store has the table from its migrations
        exists = store.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'stream_alerts'")
        if not int(exists["n"].iloc[0]):
            return []
    where, params = match_filter({"asset_id": asset_id, "model_id": model_id}, start=start, end=end)
    frame = store.sql(
        f"SELECT {', '.join(STREAM_ALERT_COLUMNS)} FROM stream_alerts WHERE {where} "
        f"ORDER BY ts DESC, raised_at DESC LIMIT {int(limit)}",
        params,
    )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        if isinstance(row["explanation"], str):
            row["explanation"] = json.loads(row["explanation"])
        for column in ("ts", "raised_at"):
            stamp = pd.Timestamp(row[column])
            row[column] = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).isoformat()
    return rows


def arrays_to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as ``.npz`` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    return buffer.getvalue()


def bytes_to_arrays(data: bytes) -> dict[str, np.ndarray]:
    """Inverse of :func:`arrays_to_bytes`; refuses anything that would need pickle."""
    with np.load(io.BytesIO(data), allow_pickle=False) as found:
        return {k: found[k] for k in found.files}


def alert_of_row(row: Sequence[Any]) -> Alert:
    """An :class:`Alert` of a ``stream_alerts`` row (``asset_id, ts, model_id, score, risk_level, explanation,
    probability, rul``; ``explanation`` as JSON text or a dict)."""
    asset, ts, model, score, risk, explanation, probability, rul = row
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    drivers = json.loads(explanation) if isinstance(explanation, str) else explanation
    return Alert(
        str(asset),
        stamp,
        str(model),
        float(score),
        str(risk),
        {str(k): float(v) for k, v in drivers.items()},
        None if probability is None else float(probability),
        None if rul is None else float(rul),
        source="stream",
    )


def readings_of_frame(frame: pd.DataFrame) -> Readings:
    """:class:`~forewarn.stream.reorder.Readings` of an ``asset_id, channel, ts_us, value`` frame."""
    return Readings(
        frame["asset_id"].to_numpy(dtype=object),
        frame["channel"].to_numpy(dtype=object),
        frame["ts_us"].to_numpy(dtype="int64"),
        frame["value"].to_numpy(dtype="float64"),
    )


STORED_DUCK_SQL = (
    "SELECT k.i FROM (SELECT unnest(?::VARCHAR[]) AS a, unnest(?::VARCHAR[]) AS c, unnest(?::BIGINT[]) AS t, "
    "unnest(range(?)) AS i) k JOIN readings r ON r.asset_id = k.a AND r.channel = k.c AND epoch_us(r.ts) = k.t "
    "WHERE r.ts >= to_timestamp(? / 1e6 - 1) AND r.ts <= to_timestamp(? / 1e6 + 1)"
)
STORED_PG_SQL = (
    "SELECT k.i FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::int[]) AS k(a, c, t, i) JOIN readings r "
    "ON r.asset_id = k.a AND r.channel = k.c AND epoch_us(r.ts) = k.t "
    "WHERE r.ts >= to_timestamp(%s / 1e6 - 1) AND r.ts <= to_timestamp(%s / 1e6 + 1)"
)


def stored_mask(found: Iterable[Any], n: int) -> np.ndarray:
    """A boolean mask of ``n`` readings, true at the positions ``found`` (query rows of one position each)."""
    mask = np.zeros(n, dtype=bool)
    positions = np.fromiter((int(row[0]) for row in found), dtype="int64")
    mask[positions] = True
    return mask


def dead_letter_key(letter: DeadLetter) -> str:
    """Identity of a dead letter: the same bad message redelivered gets the same key."""
    digest = hashlib.sha1(f"{letter.source}\n{letter.reason}\n{letter.payload}".encode(), usedforsecurity=False)
    return f"{digest.hexdigest()[:20]}:{letter.item}"


@dataclass
class BatchWrite:
    """Everything one micro-batch adds to the streaming tables."""

    scores: pa.Table | None = None
    alerts: list[dict] = field(default_factory=list)
    dead_letters: list[tuple[int, DeadLetter]] = field(default_factory=list)  # (received_us, letter)
    watermarks: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # asset -> (first_seen, released)
    state: list[tuple[str, str, bytes]] = field(default_factory=list)  # (name, asset_id, data)


class StreamTables:
    """The streaming tables of one store (see the module docstring). One writer: the stream consumer."""

    def __init__(self, store: Store):
        self.con = duckdb.connect(":memory:" if store.path == ":memory:" else store.path)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(DDL)

    def close(self) -> None:
        """Close this connection (the store stays open)."""
        self.con.close()

    def count(self, table: str) -> int:
        """Rows in one of the streaming tables."""
        if table not in {"stream_scores", "stream_alerts", "stream_dead_letters", "stream_assets", "stream_state"}:
            raise ValueError(f"{table!r} is not a streaming table")
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def watermarks(self) -> dict[str, tuple[int, int | None]]:
        """``{asset_id: (first_seen_us, released_until_us)}``."""
        rows = self.con.execute("SELECT asset_id, first_seen_us, released_until_us FROM stream_assets").fetchall()
        return {str(a): (int(f), None if r is None else int(r)) for a, f, r in rows}

    def state(self, name: str) -> dict[str, bytes]:
        """Saved state blobs of ``name``, by asset id (``""`` for model-wide state)."""
        rows = self.con.execute("SELECT asset_id, data FROM stream_state WHERE name = ?", [name]).fetchall()
        return {str(a): bytes(d) for a, d in rows}

    def unfiled(self) -> list[Alert]:
        """The alerts committed here but not yet in the case book (oldest first)."""
        rows = self.con.execute(
            "SELECT asset_id, ts, model_id, score, risk_level, explanation, probability, rul FROM stream_alerts "
            "WHERE NOT filed ORDER BY raised_at, ts, asset_id"
        ).fetchall()
        return [alert_of_row(row) for row in rows]

    def mark_filed(self, alerts: Sequence[Alert]) -> None:
        """Record that the case book holds these alerts."""
        if not alerts:
            return
        keys = pa.table(
            {
                "asset_id": pa.array([a.asset_id for a in alerts], pa.string()),
                "model_id": pa.array([a.model_id for a in alerts], pa.string()),
                "ts": pa.array([a.ts.value // 1000 for a in alerts], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            }
        )
        self.con.register("__fw_filed", keys)  # one UPDATE (an UPDATE per alert cost ~5 ms each)
        try:
            self.con.execute(
                "UPDATE stream_alerts SET filed = true FROM __fw_filed k WHERE stream_alerts.asset_id = k.asset_id "
                "AND stream_alerts.model_id = k.model_id AND stream_alerts.ts = k.ts AND NOT stream_alerts.filed"
            )
        finally:
            self.con.unregister("__fw_filed")

    def unscored(self, store: Store, low_us: int) -> Readings:
        """Readings ``store`` holds after each known asset's watermark (from ``low_us`` - 1 s on), sorted by asset,
        time and channel: those held for reordering when the consumer last stopped."""
        frame = store.sql(
            "SELECT r.asset_id, r.channel, epoch_us(r.ts) AS ts_us, r.value FROM readings r "
            "JOIN stream_assets s USING (asset_id) WHERE r.ts >= to_timestamp(? / 1e6 - 1) "
            "AND epoch_us(r.ts) > coalesce(s.released_until_us, s.first_seen_us - 1) ORDER BY 1, 3, 2",
            [low_us],
        )
        return readings_of_frame(frame)

    def batch(self, store: Store) -> DuckBatch:
        """The write of one micro-batch: its readings go to ``store`` (their own transaction), then
        :meth:`commit` writes the rest in a second one."""
        return DuckBatch(self, store)

    def commit(self, batch: BatchWrite) -> None:
        """Write one micro-batch in one transaction (all or nothing)."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if batch.scores is not None and batch.scores.num_rows:
                con.register("__fw_scores", batch.scores)
                names = batch.scores.column_names
                extra = [c if c in names else "NULL" for c in ("rul", "status", "channels_missing")]
                con.execute(
                    "INSERT INTO stream_scores (asset_id, ts, model_id, score, probability, scored_at, rul, status, "
                    f"channels_missing) SELECT asset_id, ts, model_id, score, probability, scored_at, {', '.join(extra)} "
                    "FROM __fw_scores"
                )
                con.unregister("__fw_scores")
            if batch.alerts:
                con.executemany(
                    f"INSERT INTO stream_alerts ({', '.join(STREAM_ALERT_COLUMNS)}, filed) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false)",
                    [
                        [
                            a["asset_id"],
                            a["ts"],
                            a["model_id"],
                            a["score"],
                            a["risk_level"],
                            json.dumps(a["explanation"]),
                            a["probability"],
                            a["rul"],
                            a["raised_at"],
                        ]
                        for a in batch.alerts
                    ],
                )
            self._dead_letters(batch.dead_letters)
            if batch.watermarks:
                names = list(batch.watermarks)
                marks = pa.table(
                    {
                        "asset_id": pa.array(names, pa.string()),
                        "first_seen_us": pa.array([batch.watermarks[a][0] for a in names], pa.int64()),
                        "released_until_us": pa.array([batch.watermarks[a][1] for a in names], pa.int64()),
                    }
                )
                self._upsert("stream_assets", marks)
            self._replace_state(batch.state)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _dead_letters(self, letters: Sequence[tuple[int, DeadLetter]]) -> None:
        if not letters:
            return
        every = _dead_letter_rows(letters)  # key last, received in Unix microseconds first
        known = {
            r[0]
            for r in self.con.execute(
                "SELECT key FROM stream_dead_letters WHERE key IN (SELECT unnest(?))", [[row[-1] for row in every]]
            ).fetchall()
        }
        rows = [[row[0] / 1e6, *row[1:]] for row in every if row[-1] not in known]
        if rows:
            self.con.executemany(
                "INSERT INTO stream_dead_letters VALUES (to_timestamp(?), ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def _upsert(self, table: str, rows: pa.Table) -> None:
        self.con.register("__fw_rows", rows)
        try:
            self.con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM __fw_rows")
        finally:
            self.con.unregister("__fw_rows")

    def _replace_state(self, items: Iterable[tuple[str, str, bytes]]) -> None:
        latest = {(name, asset): data for name, asset, data in items}  # one row per key
        if latest:
            self._upsert(
                "stream_state",
                pa.table(
                    {
                        "name": pa.array([k[0] for k in latest], pa.string()),
                        "asset_id": pa.array([k[1] for k in latest], pa.string()),
                        "data": pa.array(list(latest.values()), pa.binary()),
                    }
                ),
            )


class DuckBatch:
    """One micro-batch's writes to a DuckDB store: the readings in the store's transaction, the rest in the stream
    tables' one (a crash between the two leaves readings whose messages are delivered again: stored once, scored
    after the watermark)."""

    def __init__(self, tables: StreamTables, store: Store):
        self.tables = tables
        self.store = store

    def ingest(self, readings: pa.Table) -> IngestReport:
        """Store the batch's readings (idempotent; strict: assets must be known)."""
        return self.store.ingest_readings(readings, source="stream", strict=True)

    def stored(self, part: Readings) -> np.ndarray:
        """Which of ``part`` the store holds already (same asset, channel and time): a mask, one query."""
        if len(part) == 0:
            return np.zeros(0, dtype=bool)
        frame = self.store.sql(
            STORED_DUCK_SQL,
            [
                part.asset.tolist(),
                part.channel.tolist(),
                part.ts.tolist(),
                len(part),
                int(part.ts.min()),
                int(part.ts.max()),
            ],
        )
        return stored_mask(frame.itertuples(index=False), len(part))

    def commit(self, write: BatchWrite) -> None:
        """Write the stream rows (nothing when there are none)."""
        if write.watermarks or write.dead_letters or write.scores is not None:
            self.tables.commit(write)

    def rollback(self) -> None:
        """Nothing to undo: the stream rows are written in :meth:`commit` only."""


class PgBatch:
    """One micro-batch's writes to a PostgreSQL store, all in one transaction
    (:class:`forewarn.store.pg_stream.StreamTransaction`); opened lazily by the first write."""

    def __init__(self, store: PgStore):
        self.store = store
        self.tx: pg_stream.StreamTransaction | None = None

    def _open(self) -> pg_stream.StreamTransaction:
        if self.tx is None:
            self.tx = pg_stream.StreamTransaction(self.store)
        return self.tx

    def ingest(self, readings: pa.Table) -> IngestReport:
        """Store the batch's readings inside the batch's transaction."""
        return self._open().ingest(readings, source="stream", strict=True)

    def stored(self, part: Readings) -> np.ndarray:
        """Which of ``part`` the database holds already, read inside the batch's transaction (no lock of the
        store object: see :meth:`forewarn.stream.pipeline.OnlinePipeline.__init__`)."""
        if len(part) == 0:
            return np.zeros(0, dtype=bool)
        with self._open().con.cursor() as cur:
            cur.execute(
                STORED_PG_SQL,
                [
                    part.asset.tolist(),
                    part.channel.tolist(),
                    part.ts.tolist(),
                    list(range(len(part))),
                    int(part.ts.min()),
                    int(part.ts.max()),
                ],
            )
            return stored_mask(cur.fetchall(), len(part))

    def commit(self, write: BatchWrite) -> None:
        """Write the stream rows and commit the whole batch."""
        if self.tx is None and not (write.watermarks or write.dead_letters or write.scores is not None):
            return
        tx = self._open()
        tx.write(
            scores=write.scores,
            alerts=write.alerts,
            dead_letters=_dead_letter_rows(write.dead_letters),
            watermarks=write.watermarks,
            state=write.state,
        )
        self.tx = None
        tx.commit()

    def rollback(self) -> None:
        """Undo whatever the batch wrote."""
        if self.tx is not None:
            tx, self.tx = self.tx, None
            tx.rollback()


def _dead_letter_rows(letters: Sequence[tuple[int, DeadLetter]]) -> list[list[Any]]:
    """One row per distinct dead letter (``received`` in Unix microseconds, the letter's fields, its key)."""
    keyed = {dead_letter_key(letter): (received, letter) for received, letter in letters}
    return [
        [
            int(received),
            letter.source,
            letter.reason,
            letter.detail,
            letter.asset_id,
            letter.channel,
            letter.item,
            letter.payload,
            key,
        ]
        for key, (received, letter) in keyed.items()
    ]


class PgStreamTables:
    """The streaming tables of a PostgreSQL store (created by its migrations), with the interface of
    :class:`StreamTables`; writes go through :meth:`batch`."""

    def __init__(self, store: PgStore):
        self.store = store

    def close(self) -> None:
        """Nothing to close: connections come from the store's pool."""

    def count(self, table: str) -> int:
        """Rows in one of the streaming tables."""
        return pg_stream.count(self.store, table)

    def watermarks(self) -> dict[str, tuple[int, int | None]]:
        """``{asset_id: (first_seen_us, released_until_us)}``."""
        return pg_stream.watermarks(self.store)

    def state(self, name: str) -> dict[str, bytes]:
        """Saved state blobs of ``name``, by asset id (``""`` for model-wide state)."""
        return pg_stream.state(self.store, name)

    def unfiled(self) -> list[Alert]:
        """The alerts committed here but not yet in the case book (oldest first)."""
        return [alert_of_row(row) for row in pg_stream.unfiled(self.store)]

    def mark_filed(self, alerts: Sequence[Alert]) -> None:
        """Record that the case book holds these alerts."""
        pg_stream.mark_filed(self.store, [(a.asset_id, a.model_id, a.ts.to_pydatetime()) for a in alerts])

    def unscored(self, store: Store, low_us: int) -> Readings:
        """As :meth:`StreamTables.unscored`."""
        return readings_of_frame(pg_stream.unscored(self.store, low_us))

    def batch(self, store: Store) -> PgBatch:
        """The one transaction of a micro-batch (readings, scores, alerts, dead letters, watermarks, state)."""
        return PgBatch(self.store)


def open_tables(store: Store) -> StreamTables | PgStreamTables:
    """The streaming tables of ``store``, of its backend.

    >>> tables = open_tables(Store())
    >>> type(tables).__name__, tables.watermarks()
    ('StreamTables', {})
    >>> tables.close()
    """
    if isinstance(store, PgStore):
        return PgStreamTables(store)
    return StreamTables(store)
