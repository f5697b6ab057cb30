"""A stream consumer running in background threads of another program (``forewarn serve --stream``).

DuckDB lets one process open a store file for writing, so the API and the MQTT / OPC UA connector share a
store by running in one process, on one database instance: :class:`StreamRunner` runs a
:class:`~forewarn.stream.consumer.StreamConsumer` on the caller's :class:`~forewarn.store.Store` object (the
store serialises its calls; the streaming tables use a second connection to the same instance). The consumer's
guarantees are unchanged: a micro-batch's messages are acknowledged only after its commit, and
:meth:`StreamRunner.stop` finishes the batch in hand before disconnecting, so every acknowledged message is in
the store and every unacknowledged one is delivered again at the next start.

Two hooks tell the host about new data, in this order, after each committed and acknowledged micro-batch:

* ``on_readings(asset_ids)``: at once, in the consumer's writer thread (keep it cheap: forget cached scores);
* ``settle(asset_ids)``: in a third thread, with every asset touched since its last call (coalesced), for
  slower follow-ups such as evaluating alerts; it never holds up the stream.

A failing hook is logged and does not stop the stream.

``file_alerts`` files the stream's alerts into the host's case book (``serve --stream`` passes
:meth:`forewarn.serve.cases.CaseDesk.file`, which also tells the service's cache); without it the stream opens the
case book beside the store itself (:class:`~forewarn.stream.pipeline.OnlinePipeline`).

>>> from forewarn.store import Store
>>> from forewarn.stream.config_file import parse_config
>>> cfg = parse_config({"mqtt": {"port": 1883, "subscriptions": [{"topic": "plant/+/+", "layout": "value",
...                     "asset": "{1}", "channel": "{2}"}]}})
>>> runner = StreamRunner(cfg, Store(), on_readings=print)
>>> runner.status()
{'running': False, 'error': None, 'readings_written': 0, 'alerts_opened': 0, 'readings_late': 0, 'rows_late': 0, 'fields_unmapped': 0}
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import Metric

from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.store.pg_sql import is_postgres_url, normalise_url, redact
from forewarn.stream.config import StreamConfig
from forewarn.stream.config_file import load_config
from forewarn.stream.consumer import StreamConsumer
from forewarn.stream.pipeline import AlertSink, BatchResult

log = logging.getLogger(__name__)
AssetsHook = Callable[[list[str]], Any]


def same_store(config: StreamConfig, store_path: str, *, source: str = "the stream config") -> None:
    """Refuse a config whose ``store`` names another file than ``store_path`` (relative paths: from the working
    folder, as ``forewarn stream`` reads them).

    >>> from forewarn.stream.config_file import parse_config
    >>> same_store(parse_config({"store": "other.duckdb", "mqtt": {"subscriptions": [
    ...     {"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]}}), ":memory:")
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: the stream config names store 'other.duckdb' but this process serves ':memory:'; remove `store` from the config or serve that file
    >>> same_store(parse_config({"store": "postgresql://ana:pw@db/plant", "mqtt": {"subscriptions": [
    ...     {"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]}}), "postgresql://ana:***@db/plant")

    A PostgreSQL store is named by its URL (``store_path`` may be the redacted one a store shows).
    """
    if config.store is None:
        return
    if is_postgres_url(config.store) or is_postgres_url(store_path):
        if redact(normalise_url(config.store)) == redact(normalise_url(store_path)):
            return
        raise ConfigError(
            f"{source} names store {redact(config.store)!r} but this process serves {redact(store_path)!r}; "
            "remove `store` from the config or serve that database"
        )
    if store_path == ":memory:" or Path(config.store).expanduser().resolve() != Path(store_path).resolve():
        raise ConfigError(
            f"{source} names store {config.store!r} but this process serves {store_path!r}; "
            "remove `store` from the config or serve that file"
        )


class StreamRunner:
    """A :class:`StreamConsumer` in a background thread, started and stopped by its host (see the module)."""

    def __init__(
        self,
        config: StreamConfig,
        store: Store,
        *,
        on_readings: AssetsHook | None = None,
        settle: AssetsHook | None = None,
        tick: float = 0.2,
        connect_timeout_s: float = 15.0,
        file_alerts: AlertSink | None = None,
    ):
        self.config = config
        self.store = store
        self.on_readings = on_readings
        self.settle = settle
        self.tick = float(tick)
        self.connect_timeout_s = float(connect_timeout_s)
        self.file_alerts = file_alerts
        self.consumer: StreamConsumer | None = None
        self.error: BaseException | None = None
        self._metrics: dict = {}
        self._ready = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._closing = False
        self._settler: threading.Thread | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], store: Store, **kwargs: Any) -> StreamRunner:
        """A runner for a ``forewarn stream`` TOML config file (its ``store``, if set, must be ``store``)."""
        config = load_config(path)
        same_store(config, store.path, source=f"stream config {str(path)!r}")
        return cls(config, store, **kwargs)

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> StreamRunner:
        """Prepare the pipeline, connect the sources and return once they are subscribed.

        Raises the consumer's error (e.g. a :class:`~forewarn.exceptions.ConfigError` when no broker answers
        within ``connect_timeout_s``).
        """
        if self._thread is not None:
            raise ConfigError("this stream runner was started already; make a new one")
        self.consumer = StreamConsumer(
            self.config, self.store, on_batch=self._on_batch, tick=self.tick, file_alerts=self.file_alerts
        )
        self._settler = threading.Thread(target=self._settle_loop, name="forewarn-stream-settle", daemon=True)
        self._settler.start()
        self._thread = threading.Thread(target=self._run, name="forewarn-stream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.connect_timeout_s + 30.0  # the consumer gives up after connect_timeout_s
        while not (self._ready.wait(0.05) or self._done.is_set()) and time.monotonic() < deadline:
            pass
        if not self._ready.is_set():  # the sources did not start
            self.consumer.stop()
            self._thread.join(30.0)
            self._stop_settler()
            raise self.error or ConfigError(f"the stream connector did not start within {self.connect_timeout_s:.0f} s")
        return self

    def _run(self) -> None:
        assert self.consumer is not None
        try:
            self._metrics = self.consumer.run(ready=self._ready.set, wait_s=self.connect_timeout_s)
        except BaseException as err:  # noqa: BLE001 - kept for start() / stop() and the health check
            self.error = err
            if self._ready.is_set():
                log.error("the stream connector stopped: %s", err)
            self.consumer.pipeline.close()  # run() closes it, except when the sources never started
        finally:
            self._done.set()

    def stop(self, timeout: float = 60.0) -> dict:
        """Finish the micro-batch in hand, acknowledge it, disconnect; return the consumer's metrics."""
        if self.consumer is not None:
            self.consumer.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the stream connector did not stop within %.0f s", timeout)
        self._stop_settler(timeout)
        if self.consumer is not None and not self._metrics:
            self._metrics = self.consumer.metrics.snapshot()
        return dict(self._metrics)

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and the consumer's end."""
        return self._ready.is_set() and not self._done.is_set()

    def status(self) -> dict[str, Any]:
        """What a health check reports: ``running``, the error that stopped it, readings written so far, and what
        was kept from scoring or storage: late readings and their rows (stored, not scored online; see
        ``allowed_lateness``) and json fields no mapping names (dropped)."""
        metrics = self.consumer.metrics.snapshot() if self.consumer is not None else {}
        return {
            "running": self.running,
            "error": None if self.error is None else str(self.error),
            "readings_written": int(metrics.get("readings_written", 0)),
            "alerts_opened": int(metrics.get("alerts_opened", 0)),
            "readings_late": int(metrics.get("readings_late", 0)),
            "rows_late": int(metrics.get("rows_late", 0)),
            "fields_unmapped": sum(metrics.get("fields_unmapped", {}).values()),
        }

    def collect(self) -> Iterator[Metric]:
        """The stream's Prometheus metric families (nothing before :meth:`start`): with this method the runner is a
        prometheus_client collector, so a host registers it in its own registry (``serve --stream`` does, for
        ``/metrics``) and shows the same ``forewarn_stream_*`` counters as ``forewarn stream --metrics-port``."""
        if self.consumer is not None:
            yield from self.consumer.metrics.registry.collect()

    # -- hooks ------------------------------------------------------------------------------------------
    def _on_batch(self, result: BatchResult) -> None:
        """Called by the consumer after a batch's commit and acknowledgements; must not raise."""
        if not result.assets:
            return
        if self.on_readings is not None:
            try:
                self.on_readings(list(result.assets))
            except Exception:  # a host bug must not stop the stream (the batch is committed already)
                log.exception("the on_readings hook failed")
        if self.settle is not None:
            with self._wake:
                self._pending.update(result.assets)
                self._wake.notify()

    def _settle_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                assets, self._pending = sorted(self._pending), set()
                closing = self._closing
            if assets and self.settle is not None:
                self._call_settle(assets)
            if closing:
                return

    def _call_settle(self, assets: Iterable[str]) -> None:
        try:
            self.settle(list(assets))  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - logged; the next batch tries again
            log.exception("the settle hook failed")

    def _stop_settler(self, timeout: float = 60.0) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._settler is not None:
            self._settler.join(timeout)
