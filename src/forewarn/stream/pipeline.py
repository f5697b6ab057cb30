"""The online pipeline: one micro-batch of decoded readings -> store, features, scores, alerts -> one commit.

For each micro-batch (:meth:`OnlinePipeline.process`):

1. readings go to the store (:meth:`forewarn.store.Store.ingest_readings`, idempotent on
   ``(asset_id, channel, ts)``), on-time and late ones in two calls so late ones can be counted; this runs in a
   second thread while step 2 runs, and step 3 waits for it. A *late* reading (at or before its asset's scored
   watermark, :mod:`forewarn.stream.reorder`) that the store did not hold yet is stored but never scored online:
   ``readings_late`` counts such readings and ``rows_late`` their (asset, time) rows, and a log line names the
   ``allowed_lateness`` that would have held them (:class:`~forewarn.stream.notices.LateNotes`); a redelivered
   one (the store held it) is a duplicate, scored when it first came;
2. on-time readings pass the :class:`~forewarn.stream.reorder.ReorderBuffer`; released ones are pivoted to one
   row per (asset, time) and scored by every model that covers the asset
   (:class:`~forewarn.stream.scoring.ModelRunner`), whose alert policy may open alerts;
3. scores, alerts, dead letters, the watermarks and the feature/alert state of the touched assets are written in
   one transaction (:class:`~forewarn.stream.tables.StreamTables`);
4. the batch's alerts are filed into the case book (:class:`~forewarn.decide.cases.CaseBook`), where the service's
   alerts are: one alert path, one list of cases. ``file_alerts`` is how: ``serve --stream`` passes the service's
   :meth:`~forewarn.serve.cases.CaseDesk.file` (which tells the service's cache), a lone stream opens the case
   book beside its store (:func:`~forewarn.decide.cases.casebook_path_for`). The case book is another database,
   so ``stream_alerts`` is the outbox: an alert is marked filed once the case book has it, and alerts left
   unfiled (a crash between the two commits, a case book that could not be written) are filed with the next
   batch or at the next start; the case book skips an alert it holds already, so none is filed twice.
   With the alerts (in the same case-book transaction) goes each model's alarm state of the batch's assets
   (:meth:`~forewarn.stream.scoring.ModelRunner.book_state`): the case rule (:mod:`forewarn.decide.quiet`) measures
   "quiet" from an episode's last alarming row, so a case stays open while its episode lasts. A sink that takes one
   argument (``list.extend``) gets the alerts alone.
5. a lone stream applies the case rule to its own book: the open cases of the batch's assets that went quiet by the
   time their scored rows reached are closed (:meth:`~forewarn.decide.cases.CaseBook.close_quiet`), and an open case
   whose asset has sent no reading for longer than the gap, while the stream's readings went on, is kept open with
   the note "no readings since ..." (:meth:`~forewarn.decide.cases.CaseBook.note_silent`, checked at most every
   :data:`SILENCE_EVERY_S` seconds: it reads the store): silence is no evidence that the asset went quiet. The gap is ``[cases] close_quiet`` (:func:`close_quiet_of`); under ``serve --stream``
   the service's book and rule apply (``serve --close-quiet``).

Only then does the caller acknowledge the messages to the broker. A crash anywhere before that leaves them
unacknowledged, so the broker delivers them again: step 1 then adds nothing, and step 2 scores only what is
after the saved watermark. Readings held in the reorder buffer when the process stops are already in the
store; on start-up they are read back from it (everything after each asset's watermark) so they are scored too.

On a PostgreSQL store steps 1 and 3 are ONE transaction (:class:`~forewarn.stream.tables.PgBatch`): the readings
are written inside it, so a crash before its commit leaves nothing of the batch, and other processes (the
service, ingest, training) never see a batch's readings without its scores and checkpoint. The case book is in
the same database there, but is still filed after the commit (step 4), as on DuckDB. The pipeline opens a store
object of its own on that database (see :meth:`OnlinePipeline.__init__`).

>>> from forewarn.store import Store
>>> from forewarn.stream.config_file import parse_config
>>> from forewarn.stream.messages import ReadingColumns
>>> cfg = parse_config({"mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}",
...                     "channel": "{2}"}]}, "assets": [{"asset_id": "P-1", "channels": {"temp": "degC"}}]})
>>> pipe = OnlinePipeline(Store(), cfg)
>>> cols = ReadingColumns()
>>> cols.add("P-1", "temp", 1_700_000_000_000_000, 40.0)
>>> result = pipe.process(cols, [])
>>> result.written, pipe.store.count_readings()
(1, 1)
>>> pipe.close()
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.quiet import DEFAULT_CLOSE_QUIET, close_quiet_setting, horizon_span
from forewarn.exceptions import ConfigError, StateError
from forewarn.schema import Asset, Channel
from forewarn.store import Store
from forewarn.store.postgres import PgStore
from forewarn.store.window_queries import last_reading_times
from forewarn.stream.config import StreamConfig
from forewarn.stream.messages import Catalog, DeadLetter, Decoder, ReadingColumns
from forewarn.stream.metrics import StreamMetrics
from forewarn.stream.notices import LateNotes, UnmappedFields
from forewarn.stream.reorder import Readings, ReorderBuffer
from forewarn.stream.scoring import ModelRunner, scored_rows
from forewarn.stream.tables import BatchWrite, DuckBatch, PgBatch, open_tables

FeatureHook = Callable[[str, np.ndarray, np.ndarray, np.ndarray], None]
#: files alerts into the case book (returns their case ids); one that takes a second argument is also given the
#: models' alarm states, ``{policy: state arrays}`` (:meth:`~forewarn.decide.cases.CaseBook.file_alerts`)
AlertSink = Callable[..., object]
log = logging.getLogger(__name__)
#: seconds (the pipeline's clock) between two checks of a lone stream's open cases for assets that stopped sending
SILENCE_EVERY_S = 10.0


def takes_states(sink: AlertSink) -> bool:
    """Whether ``sink`` takes the alarm states beside the alerts (``sink(alerts, states)``).

    >>> takes_states(CaseBook.file_alerts.__get__(object())), takes_states(list), takes_states([].extend)
    (True, False, False)
    """
    try:
        inspect.signature(sink).bind([], {})
    except (TypeError, ValueError):  # one argument only, or a built-in without a signature
        return False
    return True


def close_quiet_of(config: StreamConfig, runners: Sequence[ModelRunner]) -> pd.Timedelta | None:
    """The stream's case rule gap: ``[cases] close_quiet``, else the horizon in hours of the first ``[[models]]``
    bundle that has one, else :data:`~forewarn.decide.quiet.DEFAULT_CLOSE_QUIET` (``serve --close-quiet``'s rule)."""
    if config.cases.close_quiet is not None:
        return close_quiet_setting(config.cases.close_quiet)
    for runner in runners:
        if runner.bundle is not None:
            span = horizon_span(runner.bundle.unit, runner.bundle.spec.horizon)
            if span is not None:
                return span
    return DEFAULT_CLOSE_QUIET


@dataclass
class BatchResult:
    """What one micro-batch did."""

    readings: int = 0
    written: int = 0
    duplicates: int = 0
    late: int = 0
    late_rows: int = 0  # (asset, time) rows that got a late reading (stored, not scored online)
    dead_letters: int = 0
    rows_scored: int = 0
    alerts: list[Alert] = field(default_factory=list)
    seconds: float = 0.0
    assets: list[str] = field(default_factory=list)  # assets that got new readings in the store (sorted)


def prepare_catalog(store: Store, config: StreamConfig) -> Catalog:
    """Add the config's assets to the store, check mapped units, and return what readings may name."""
    if config.assets:
        store.add_assets(
            [
                Asset(
                    a.asset_id, asset_class=a.asset_class, channels=tuple(Channel(c, u) for c, u in a.channels.items())
                )
                for a in config.assets
            ]
        )
    channels: dict[str, dict[str, str]] = {}
    for row in store.channels().itertuples(index=False):
        channels.setdefault(str(row.asset_id), {})[str(row.channel)] = str(row.unit or "")
    assets = store.assets()
    for asset in assets["asset_id"]:
        channels.setdefault(str(asset), {})
    classes = dict(zip(assets["asset_id"].astype(str), assets["asset_class"].astype(str), strict=True))
    declared: list[tuple[str, str | None, str]] = []  # (channel, asset or None for any, unit)
    if config.mqtt is not None:
        for sub in config.mqtt.subscriptions:
            if sub.channel and sub.unit:
                declared.append((sub.channel, None, sub.unit))
            declared += [(m.channel, None, m.unit) for m in sub.channels.values() if m.unit]
    if config.opcua is not None:
        for node in config.opcua.nodes:
            if node.channel not in channels.get(node.asset, {}):
                raise ConfigError(
                    f"opcua node {node.node_id!r} maps to {node.asset!r}/{node.channel!r}, which is not "
                    "in the store; declare it under [[assets]]"
                )
            if node.unit:
                declared.append((node.channel, node.asset, node.unit))
    for channel, only, unit in declared:
        for asset, units in channels.items():
            if (only is None or asset == only) and units.get(channel) and units[channel] != unit:
                raise ConfigError(
                    f"the mapping says {channel!r} is in {unit!r} but asset {asset!r} declares "
                    f"{units[channel]!r}; fix the unit in the mapping or in [[assets]]"
                )
    return Catalog(channels, classes)


class OnlinePipeline:
    """Micro-batches in, store + scores + alerts out (see the module docstring). Single writer."""

    def __init__(
        self,
        store: Store,
        config: StreamConfig,
        *,
        clock: Callable[[], float] = time.time,
        on_features: FeatureHook | None = None,
        file_alerts: AlertSink | None = None,
    ):
        self._own_store: Store | None = None
        if isinstance(store, PgStore):
            # A store object of its own (its own lock and pool): a batch holds the database's write lock from its
            # readings to its commit, and must not then wait for the lock of a store object that a host's thread
            # (the service under serve --stream) holds while it waits for that write lock.
            store = self._own_store = PgStore(store.url, pool_size=3)
        self.store = store
        self.casebook: CaseBook | None = None  # the stream's own case book (None: the host's, through file_alerts)
        if file_alerts is None:
            # a PostgreSQL store's case book is in its own database (its URL as given: the path hides a password)
            self.casebook = CaseBook(casebook_path_for(store.url if isinstance(store, PgStore) else store.path))
            file_alerts = self.casebook.file_alerts
        elif config.cases.close_quiet is not None:
            log.warning(
                "%s: [cases] close_quiet = %r is not used: the stream files into its host's case book, whose case "
                "rule applies (forewarn serve --close-quiet)",
                config.source,
                config.cases.close_quiet,
            )
        self.file_alerts = file_alerts
        self._tells_states = takes_states(file_alerts)
        self._unfiled = True  # alerts may wait in stream_alerts from an earlier run
        self.config = config
        self.clock = clock
        self.on_features = on_features
        self.metrics = StreamMetrics()
        self.late_notes = LateNotes(config.pipeline.allowed_lateness_s, config.pipeline.idle_release_s)
        self.unmapped = UnmappedFields()
        self.tables = open_tables(store)
        self.catalog = prepare_catalog(store, config)
        self.decoder = Decoder(self.catalog, max_payload_bytes=config.pipeline.max_payload_bytes)
        self.runners = [ModelRunner(m, store) for m in config.models]
        if self.casebook is not None:
            self.casebook.quiet = close_quiet_of(config, self.runners)
        self._book_states: dict[str, dict[str, np.ndarray]] = {}  # a batch's alarm states, for the case book
        self._reached: dict[str, int] = {}  # each asset's last row scored in the batch (epoch us)
        self._silence_checked = -float("inf")  # when the open cases' assets were last checked for silence (clock)
        self._covers: list[dict[str, bool]] = [{} for _ in self.runners]
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forewarn-store")
        self._broken: str | None = None
        self.reorder = ReorderBuffer(
            lateness_us=round(config.pipeline.allowed_lateness_s * 1e6), idle_release_s=config.pipeline.idle_release_s
        )
        self._restore()

    def close(self) -> None:
        """Close the streaming tables' connection (the store is the caller's)."""
        self._writer.shutdown(wait=True)
        self.tables.close()
        if self.casebook is not None:
            self.casebook.close()
        if self._own_store is not None:
            self._own_store.close()

    # -- start-up ---------------------------------------------------------------------------------------
    def _restore(self) -> None:
        self.reorder.restore(self.tables.watermarks())
        for runner in self.runners:
            saved: dict[str, dict[str, bytes]] = {}
            for name, former in runner.former_state_names().items():
                saved[name] = self.tables.state(name)
                for old in former:  # saved under the id an earlier version gave the model: carry it on
                    saved[name] = saved[name] or self.tables.state(old)
            runner.restore(saved)
        recovered = self._unscored_in_store()
        if len(recovered):
            self.reorder.add(recovered.asset, recovered.channel, recovered.ts, recovered.value, now=self.clock())

    def _unscored_in_store(self) -> Readings:
        """Readings the store holds after each known asset's watermark (held when the consumer last stopped)."""
        marks = self.reorder.watermarks(set(self.reorder.first_seen))
        if not marks:
            return Readings.empty()
        low = min((r if r is not None else f - 1) for f, r in marks.values())
        return self.tables.unscored(self.store, low)

    # -- one micro-batch --------------------------------------------------------------------------------
    @staticmethod
    def _ingest(part: Readings, target: DuckBatch | PgBatch) -> tuple[int, int]:
        table = pa.table(
            {
                "asset_id": pa.array(part.asset, pa.string()),
                "ts": pa.array(part.ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                "channel": pa.array(part.channel, pa.string()),
                "value": pa.array(part.value, pa.float64()),
            }
        )
        report = target.ingest(table)
        return report.written, report.duplicates

    def _store(
        self, on_time: Readings, late: Readings, target: DuckBatch | PgBatch
    ) -> tuple[int, int, int, np.ndarray]:
        """Write a batch's readings: (written, duplicates, late ones newly written, which late ones are new).

        Late readings are looked up first (one query, only in a batch that has some): a redelivered one is a
        duplicate and was scored when it first came; a new one is stored but never scored online."""
        written = duplicates = late_written = 0
        new_late = np.zeros(len(late), dtype=bool)
        if len(on_time):
            written, duplicates = self._ingest(on_time, target)
        if len(late):
            new_late = ~target.stored(late)
            late_written, late_duplicates = self._ingest(late, target)
            written += late_written
            duplicates += late_duplicates
        return written, duplicates, late_written, new_late

    def process(
        self, readings: ReadingColumns, dead_letters: list[tuple[int, DeadLetter]], *, messages: int = 0
    ) -> BatchResult:
        """Store, score and commit one micro-batch; ``dead_letters`` are ``(received_us, letter)`` pairs."""
        started = time.perf_counter()
        now = self.clock()
        now_us = int(now * 1e6)
        batch = Readings(
            np.asarray(readings.asset, dtype=object),
            np.asarray(readings.channel, dtype=object),
            np.asarray(readings.ts_us, dtype="int64"),
            np.asarray(readings.value, dtype="float64"),
        )
        if self._broken is not None:
            raise StateError(
                f"an earlier micro-batch failed ({self._broken}); start a new pipeline, which resumes "
                "from the last commit"
            )
        result = BatchResult(readings=len(batch), dead_letters=len(dead_letters))
        late = self.reorder.split_late(batch.asset, batch.ts)
        on_time, late_part = batch.take(~late), batch.take(late)
        behind = self.reorder.behind(late_part.asset, late_part.ts)
        quiet = self.reorder.quiet(late_part.asset, now)
        # the store write (database work, outside the GIL) runs while this thread scores the batch
        target = self.tables.batch(self.store)
        stored = self._writer.submit(self._store, on_time, late_part, target)
        try:
            self.reorder.add(on_time.asset, on_time.channel, on_time.ts, on_time.value, now=now)
            write = BatchWrite(dead_letters=list(dead_letters))
            self._score(self.reorder.release(now=now), now_us, write, result)
            write.watermarks = self.reorder.watermarks()
            result.written, result.duplicates, result.late, new_late = stored.result()  # readings first, then the rest
            if result.written:
                result.assets = sorted(set(batch.asset.tolist()))
            target.commit(write)
        except BaseException as err:
            if not stored.cancel():
                wait([stored])  # the readings' write must end before its transaction is rolled back
            target.rollback()
            self._broken = f"{type(err).__name__}: {err}"  # the in-memory state is ahead of the commits now
            raise
        self.reorder.changed.clear()
        if new_late.any():
            result.late_rows = self.late_notes.add(late_part.take(new_late), behind[new_late], result.late, quiet)
        if write.alerts or self._unfiled or self._book_states:
            self._file_pending()
        if self.casebook is not None and self._reached:
            self._apply_case_rule()
        result.seconds = time.perf_counter() - started
        if messages or result.readings or result.rows_scored or dead_letters:
            self._count(result, messages, dead_letters)
        if readings.unmapped:
            for name, n in self.unmapped.add(readings.unmapped).items():
                self.metrics.unmapped(name, n)
        return result

    def _file_pending(self) -> None:
        """File the alerts committed to ``stream_alerts`` but not yet in the case book, with the batch's alarm
        states (module text, step 4)."""
        states, self._book_states = self._book_states, {}
        try:
            pending = self.tables.unfiled()
            if self._tells_states and (pending or states):
                self.file_alerts(pending, states)
            elif pending:
                self.file_alerts(pending)
            if pending:
                self.tables.mark_filed(pending)
            self._unfiled = False
        except Exception:  # noqa: BLE001 - the batch is committed; its alerts wait in stream_alerts for a retry
            self._unfiled = True
            log.exception("filing the stream's alerts into the case book failed; retrying with the next batch")

    def _apply_case_rule(self) -> None:
        """The case rule on the stream's own book (module text, step 5): the open cases of the batch's assets that
        went quiet close, and the open cases of assets that sent nothing for longer than the gap are noted."""
        assert self.casebook is not None
        reached, self._reached = self._reached, {}
        try:
            self.casebook.close_quiet({a: pd.Timestamp(us, unit="us", tz="UTC") for a, us in reached.items()})
            if self.clock() - self._silence_checked < SILENCE_EVERY_S:
                return
            self._silence_checked = self.clock()
            opened = self.casebook.open_assets()
            silent = [a for a in opened if a not in reached]
            last = {**last_reading_times(self.store, silent), **{a: reached[a] for a in opened if a in reached}}
            plant = pd.Timestamp(max(reached.values()), unit="us", tz="UTC")  # how far the stream's readings went
            self.casebook.note_silent({a: pd.Timestamp(us, unit="us", tz="UTC") for a, us in last.items()}, plant)
        except Exception:  # noqa: BLE001 - the batch is committed; the rule is applied again with the next batch
            log.exception("applying the case rule to the stream's case book failed; trying again with the next batch")

    def tick(self) -> BatchResult:
        """Release and score readings of assets that went quiet (call when no message came for a while)."""
        return self.process(ReadingColumns(), [])

    def _covered(self, index: int, assets: np.ndarray) -> np.ndarray:
        cache, cfg = self._covers[index], self.runners[index].cfg
        for asset in pd.unique(assets):
            if asset not in cache:
                cache[asset] = cfg.covers(asset, self.catalog.asset_class(asset))
        return np.fromiter((cache[a] for a in assets), dtype=bool, count=len(assets))

    def _score(self, released: Readings, now_us: int, write: BatchWrite, result: BatchResult) -> None:
        if not len(released) or not self.runners:
            return
        asset, ts = released.asset, released.ts
        starts = np.ones(len(ts), dtype=bool)
        starts[1:] = (asset[1:] != asset[:-1]) | (ts[1:] != ts[:-1])
        row_of = np.cumsum(starts) - 1
        row_asset, row_ts = asset[starts], ts[starts]
        for name, us in zip(row_asset.tolist(), row_ts.tolist(), strict=True):  # sorted by (asset, ts): the last wins
            self._reached[name] = max(us, self._reached.get(name, us))
        tables = []
        for index, runner in enumerate(self.runners):
            column = pd.Index(runner.channels).get_indexer(released.channel)
            use = (column >= 0) & self._covered(index, row_asset)[row_of]
            if not use.any():
                continue
            rows = np.unique(row_of[use])
            values = np.full((len(rows), len(runner.channels)), np.nan)
            values[np.searchsorted(rows, row_of[use]), column[use]] = released.value[use]
            table, alerts, feats = runner.run(row_asset[rows], row_ts[rows], values, now_us=now_us)
            if self.on_features is not None:
                self.on_features(runner.model_id, row_asset[rows], row_ts[rows], feats)
            tables.append(table)
            scored = scored_rows(table)
            result.rows_scored += scored
            self.metrics.add("rows_unscored", len(rows) - scored)
            result.alerts += alerts
            write.alerts += [
                dict(a.to_dict(), ts=a.ts, raised_at=pd.Timestamp(now_us * 1000, tz="UTC")) for a in alerts
            ]
            touched = sorted(set(row_asset[rows].tolist()))
            write.state += runner.state_items(touched)
            told = runner.book_state(touched)
            if told is not None and len(told["asset_id"]):
                self._book_states[runner.book_policy] = told
        if tables:
            write.scores = pa.concat_tables(tables)

    def _count(self, result: BatchResult, messages: int, dead_letters: list[tuple[int, DeadLetter]]) -> None:
        m = self.metrics
        m.add("messages", messages)
        m.add("readings_received", result.readings)
        m.add("readings_written", result.written)
        m.add("readings_duplicate", result.duplicates)
        m.add("readings_late", result.late)
        m.add("rows_late", result.late_rows)
        m.add("rows_scored", result.rows_scored)
        m.add("alerts_opened", len(result.alerts))
        m.add("batches")
        m.add("batch_seconds", result.seconds)
        for _, letter in dead_letters:
            m.dead_letter(letter.reason)
