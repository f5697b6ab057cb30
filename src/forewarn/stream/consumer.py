"""The stream consumer: sources -> micro-batches -> :class:`OnlinePipeline` -> acknowledgements -> alerts out.

The consumer is the single writer of a DuckDB store while it runs (DuckDB allows one writing process per file);
inside ``forewarn serve --stream`` it shares the service's :class:`~forewarn.store.Store` object, whose calls are
serialised (:mod:`forewarn.stream.runner`). On a PostgreSQL store other processes write beside it (one consumer
per database: its watermarks and state are the database's).
Its loop:

1. wait for the first message (waking every ``tick`` to release readings of quiet assets and to check stops);
2. decode each message into the growing micro-batch (a message that breaks the decoder becomes a
   ``decoder_error`` dead letter: the consumer never dies of a message). The batch goes to the writer once it is
   ``batch_max_wait`` old and the writer is free, or at once when it is full (``batch_max_readings`` readings, or
   a third of the MQTT ``receive_maximum`` messages, so the broker keeps sending while a batch is written). So
   batches grow by themselves when the load rises, and the fixed cost of a commit is shared by more readings;
3. in a second thread, in order: :meth:`OnlinePipeline.process` stores, scores and commits the batch;
4. then acknowledge the batch's MQTT messages and publish opened alerts to ``alert_topic`` (if set).

A stop request (``stop()``, SIGINT/SIGTERM in the CLI) ends the loop after the current batch; readings held for
reordering stay in the store and are scored after the next start.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forewarn._optional import requires_extra

with requires_extra("stream", by="the MQTT consumer"):
    from paho.mqtt.client import topic_matches_sub

from forewarn.store import Store
from forewarn.stream.config import StreamConfig, Subscription
from forewarn.stream.messages import DeadLetter, ReadingColumns
from forewarn.stream.mqtt import Envelope, MqttSource
from forewarn.stream.pipeline import AlertSink, BatchResult, OnlinePipeline

log = logging.getLogger(__name__)
TOPIC_CACHE = 100_000
WRITER_POLL_S = 0.005  # how often a due batch checks whether the writer is free
_TICK, _STOP = "tick", "stop"


@dataclass
class _Batch:
    """A decoded micro-batch on its way to the writer thread."""

    readings: ReadingColumns
    dead: list[tuple[int, DeadLetter]]
    envelopes: list[Envelope]


class StreamConsumer:
    """Runs sources and the pipeline for one config and store (see the module docstring)."""

    def __init__(
        self,
        config: StreamConfig,
        store: Store,
        *,
        on_batch: Callable[[BatchResult], None] | None = None,
        tick: float = 0.2,
        file_alerts: AlertSink | None = None,
    ):
        self.config = config
        self.store = store
        self.on_batch = on_batch
        self.tick = float(tick)
        self.inbox: queue.Queue[Envelope] = queue.Queue()
        self.pipeline = OnlinePipeline(store, config, file_alerts=file_alerts)
        self.metrics = self.pipeline.metrics
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._failure: BaseException | None = None
        self._topics: dict[str, Subscription | None] = {}
        self.mqtt: MqttSource | None = MqttSource(config.mqtt, self.inbox) if config.mqtt else None
        self.opcua: Any = None
        if config.opcua is not None:
            from forewarn.stream.opcua import OpcUaSource

            self.opcua = OpcUaSource(config.opcua, self.inbox)

    def stop(self) -> None:
        """Ask the loop to finish after the current micro-batch (safe from any thread or signal handler)."""
        self._stop.set()

    def start_sources(self, *, wait_s: float = 15.0) -> None:
        """Connect and subscribe every source."""
        if self.mqtt is not None:
            self.mqtt.start(wait_s=wait_s)
        if self.opcua is not None:
            self.opcua.start(wait_s=wait_s)

    def stop_sources(self) -> None:
        """Disconnect every source (sessions stay on the broker)."""
        for source in (self.mqtt, self.opcua):
            if source is not None:
                source.stop()

    def run(
        self,
        *,
        max_seconds: float | None = None,
        idle_exit_s: float | None = None,
        ready: Callable[[], None] | None = None,
        wait_s: float = 15.0,
    ) -> dict:
        """Consume until stopped, ``max_seconds`` passed, or nothing came for ``idle_exit_s``; return the metrics.

        ``wait_s``: how long the sources may take to connect and subscribe before the run fails with a
        :class:`~forewarn.exceptions.ConfigError`. Time without a broker connection does not count as idle. Two threads share the work: this one receives
        and decodes micro-batches, a second one stores, scores, commits and acknowledges them in order (the
        database work releases the GIL, so decoding the next batch overlaps it). An error while storing stops
        the consumer with that error; the batch's messages stay unacknowledged.
        """
        started = time.monotonic()
        self.start_sources(wait_s=wait_s)
        work: queue.Queue[_Batch | str] = queue.Queue(maxsize=1)
        processor = threading.Thread(
            target=self._process_loop, args=(work,), name="forewarn-stream-writer", daemon=True
        )
        processor.start()
        if ready is not None:
            ready()
        pipe_cfg = self.config.pipeline
        limit = max(1, self.config.mqtt.receive_maximum // 3) if self.config.mqtt else 10_000
        last_message = time.monotonic()
        batch: _Batch | None = None
        batch_started = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if max_seconds is not None and now - started >= max_seconds:
                    break
                if batch is None:
                    wait = self.tick
                else:  # until the batch is due; once due (the writer is busy), keep collecting without spinning
                    wait = max(min(self.tick, batch_started + pipe_cfg.batch_max_wait_s - now), WRITER_POLL_S)
                try:
                    env: Envelope | None = self.inbox.get(timeout=wait)
                except queue.Empty:
                    env = None
                now = time.monotonic()
                if env is not None:
                    last_message = now
                    if batch is None:
                        batch, batch_started = _Batch(ReadingColumns(), [], []), now
                    batch.envelopes.append(env)
                    batch.dead += [(env.received_us, d) for d in self._decode(env, batch.readings)]
                if batch is not None:
                    full = len(batch.readings) >= pipe_cfg.batch_max_readings or len(batch.envelopes) >= limit
                    due = now - batch_started >= pipe_cfg.batch_max_wait_s
                    writer_idle = work.empty() and not self._busy.is_set()
                    if full or (due and writer_idle):
                        work.put(batch)  # waits only while the writer has another batch queued (back-pressure)
                        batch = None
                    continue
                if self.mqtt is not None and not self.mqtt.subscribed.is_set():
                    last_message = now  # not idle while the broker is away
                if len(self.pipeline.reorder.pending) and work.empty():
                    work.put(_TICK)
                elif (
                    idle_exit_s is not None
                    and now - last_message >= idle_exit_s
                    and work.empty()
                    and not self._busy.is_set()
                ):
                    break
        finally:
            if batch is not None and self._failure is None:
                work.put(batch)
            work.put(_STOP)
            processor.join()
            self.stop_sources()
            self.pipeline.close()
        if self._failure is not None:
            raise self._failure
        return self.metrics.snapshot()

    def _process_loop(self, work: queue.Queue) -> None:
        while True:
            item = work.get()
            if item is _STOP:
                return
            if self._failure is not None:
                continue  # drain without processing: nothing more may be acknowledged
            self._busy.set()
            try:
                if item is _TICK:
                    self._finish(self.pipeline.tick(), [])
                else:
                    self._finish(
                        self.pipeline.process(item.readings, item.dead, messages=len(item.envelopes)), item.envelopes
                    )
            except BaseException as err:  # the store failed: stop, acknowledge nothing more
                log.exception("processing a micro-batch failed; stopping")
                self._failure = err
                self._stop.set()
            finally:
                self._busy.clear()

    def _subscription(self, topic: str) -> Subscription | None:
        if topic not in self._topics:
            if len(self._topics) >= TOPIC_CACHE:
                self._topics.clear()
            subs = self.config.mqtt.subscriptions if self.config.mqtt else ()
            self._topics[topic] = next((s for s in subs if topic_matches_sub(s.topic, topic)), None)
        return self._topics[topic]

    def _decode(self, env: Envelope, out: ReadingColumns) -> list[DeadLetter]:
        decoder = self.pipeline.decoder
        try:
            if env.kind == "opcua":
                node = self.opcua.node(env.topic)
                if node is None:
                    return [DeadLetter(f"opcua:{env.topic}", "unmapped_topic", "node is not in [[opcua.nodes]]")]
                letter = decoder.check_value(
                    f"opcua:{env.topic}",
                    node.asset,
                    node.channel,
                    env.ts_us,
                    env.payload,
                    out,
                    # the source time keeps a node's repeated bad value apart: one dead letter per data change
                    raw={"node_id": env.topic, "value": repr(env.payload), "ts_us": env.ts_us},
                )
                return [] if letter is None else [letter]
            sub = self._subscription(env.topic)
            if sub is None:
                return [
                    DeadLetter(
                        f"mqtt:{env.topic}",
                        "unmapped_topic",
                        "no [[mqtt.subscriptions]] matches the topic",
                        repr(env.payload[:200]),
                    )
                ]
            return decoder.decode(sub, env.topic, env.payload, received_us=env.received_us, out=out)
        except Exception as err:  # a bug must not kill the consumer or lose the message's trace
            log.exception("decoding a message from %s failed", env.topic)
            return [
                DeadLetter(
                    f"{env.kind}:{env.topic}", "decoder_error", f"{type(err).__name__}: {err}", repr(env.payload)[:2048]
                )
            ]

    def run_batch(self, first: Envelope) -> BatchResult:
        """Collect (until the inbox is empty or the batch full), process and acknowledge one micro-batch here."""
        batch = _Batch(ReadingColumns(), [], [])
        env: Envelope | None = first
        while env is not None:
            batch.envelopes.append(env)
            batch.dead += [(env.received_us, d) for d in self._decode(env, batch.readings)]
            if len(batch.readings) >= self.config.pipeline.batch_max_readings:
                break
            try:
                env = self.inbox.get_nowait()
            except queue.Empty:
                env = None
        result = self.pipeline.process(batch.readings, batch.dead, messages=len(batch.envelopes))
        self._finish(result, batch.envelopes)
        return result

    def _finish(self, result: BatchResult, envelopes: list[Envelope]) -> None:
        if self.mqtt is not None:
            for env in envelopes:
                if env.ack is not None:
                    self.mqtt.ack(env.ack)
            topic = self.config.mqtt.alert_topic if self.config.mqtt else None
            if topic:
                for alert in result.alerts:
                    self.mqtt.publish(f"{topic}/{alert.asset_id}", json.dumps(alert.to_dict()), qos=1)
        if self.on_batch is not None:
            self.on_batch(result)
