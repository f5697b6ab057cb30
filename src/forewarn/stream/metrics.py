"""Counters of the stream consumer in a prometheus_client registry of their own, and a small server for them.

Each :class:`StreamMetrics` (one per pipeline, so one per consumer or runner) keeps its counters in its own
:class:`~prometheus_client.CollectorRegistry`, never in prometheus_client's global one: two consumers in one
process (tests, a service) count apart. ``forewarn stream --metrics-port`` serves the registry with
:func:`serve_metrics`; inside ``forewarn serve --stream`` the service's ``/metrics`` shows the same families
(:meth:`forewarn.stream.runner.StreamRunner.collect`).

>>> m = StreamMetrics()
>>> m.add("readings_written", 10)
>>> m.dead_letter("not_finite")
>>> m.snapshot()["readings_written"], m.snapshot()["dead_letters"]
(10, {'not_finite': 1})
>>> [line for line in m.prometheus().splitlines() if line.startswith("forewarn_stream_dead_letters_total")]
['forewarn_stream_dead_letters_total{reason="not_finite"} 1.0']
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest, start_http_server

from forewarn.exceptions import ConfigError

COUNTERS = {
    "messages": "messages received (MQTT messages, OPC UA notifications)",
    "readings_received": "readings decoded from messages",
    "readings_written": "readings newly written to the store",
    "readings_duplicate": "readings the store already held (redeliveries, repeats)",
    "readings_late": "new readings at or before their asset's scored watermark (stored, not scored online)",
    "rows_scored": "(asset, time) rows scored, summed over models",
    "rows_unscored": "rows not scored: a feature was missing or too few channels had a reading (insufficient data)",
    "rows_late": "(asset, time) rows with a late reading, stored but not scored online (see allowed_lateness)",
    "alerts_opened": "alerts opened by the alert policies",
    "batches": "micro-batches committed",
    "batch_seconds": "time spent processing micro-batches",
}
#: counters that hold seconds (the others are whole counts)
SECONDS = frozenset({"batch_seconds"})
PREFIX = "forewarn_stream_"
DEAD_LETTERS = "dead_letters"
UNMAPPED = "fields_unmapped"


class StreamMetrics:
    """The counters of :data:`COUNTERS` plus dead letters by reason, in ``registry`` (a new one by default).

    Exposed as ``forewarn_stream_<name>_total``, ``forewarn_stream_dead_letters_total{reason=...}`` and
    ``forewarn_stream_fields_unmapped_total{field=...}``.
    prometheus_client's counters are thread-safe.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self._counters = {
            name: Counter(PREFIX + name, help_text, registry=self.registry) for name, help_text in COUNTERS.items()
        }
        self._dead = Counter(
            PREFIX + DEAD_LETTERS,
            "messages or readings sent to the dead-letter table",
            ["reason"],
            registry=self.registry,
        )
        self._unmapped = Counter(
            PREFIX + UNMAPPED,
            "json fields that no subscription's `fields` maps to a channel (dropped), by field name",
            ["field"],
            registry=self.registry,
        )

    def add(self, name: str, amount: float = 1) -> None:
        """Increase counter ``name``."""
        counter = self._counters.get(name)
        if counter is None:
            raise KeyError(f"unknown stream metric {name!r}; known: {', '.join(COUNTERS)}")
        counter.inc(amount)

    def dead_letter(self, reason: str, amount: int = 1) -> None:
        """Count dead letters of one reason."""
        self._dead.labels(reason).inc(amount)

    def unmapped(self, name: str, amount: int = 1) -> None:
        """Count dropped json fields of one name (:class:`forewarn.stream.notices.UnmappedFields` bounds the names)."""
        self._unmapped.labels(name).inc(amount)

    def snapshot(self) -> dict[str, Any]:
        """Current values (counts as ``int``, seconds rounded to the microsecond); ``dead_letters`` maps reason ->
        count, ``fields_unmapped`` field name -> count."""
        out: dict[str, Any] = {}
        dead: dict[str, int] = {}
        unmapped: dict[str, int] = {}
        for family in self.registry.collect():
            name = family.name.removeprefix(PREFIX)
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue  # the *_created timestamps
                if name == DEAD_LETTERS:
                    dead[sample.labels["reason"]] = int(sample.value)
                elif name == UNMAPPED:
                    unmapped[sample.labels["field"]] = int(sample.value)
                elif name in COUNTERS:
                    out[name] = round(sample.value, 6) if name in SECONDS else int(sample.value)
        out = {name: out.get(name, 0) for name in COUNTERS}
        out[DEAD_LETTERS] = dict(sorted(dead.items()))
        out[UNMAPPED] = dict(sorted(unmapped.items()))
        return out

    def prometheus(self) -> str:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry).decode("utf-8")


class MetricsServer:
    """A registry served over HTTP (prometheus_client's server, in a daemon thread) until :meth:`close`."""

    def __init__(self, registry: CollectorRegistry, *, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as err:
            raise ConfigError(
                f"cannot serve stream metrics on {host}:{port}: {err.strerror or err}; choose another "
                "--metrics-port (0 picks a free one)"
            ) from None
        self.host = host
        self.port = int(self._server.server_port)

    @property
    def url(self) -> str:
        """Where to scrape (``http://host:port/metrics``; any path answers)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(registry: CollectorRegistry, *, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` (``port`` 0: a free one, see ``.port``).

    >>> m = StreamMetrics()
    >>> with serve_metrics(m.registry) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """
    return MetricsServer(registry, host=host, port=port)
