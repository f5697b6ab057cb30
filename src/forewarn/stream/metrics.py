"""Counters of the stream consumer, readable as a dict or in the Prometheus text format.

>>> m = StreamMetrics()
>>> m.add("readings_written", 10)
>>> m.dead_letter("not_finite")
>>> m.snapshot()["readings_written"], m.snapshot()["dead_letters"]
(10, {'not_finite': 1})
>>> print(m.prometheus().splitlines()[-1])
forewarn_stream_dead_letters_total{reason="not_finite"} 1
"""

from __future__ import annotations

import threading
from collections import Counter

COUNTERS = {
    "messages": "messages received (MQTT messages, OPC UA notifications)",
    "readings_received": "readings decoded from messages",
    "readings_written": "readings newly written to the store",
    "readings_duplicate": "readings the store already held (redeliveries, repeats)",
    "readings_late": "new readings at or before their asset's scored watermark (stored, not scored online)",
    "rows_scored": "(asset, time) rows scored, summed over models",
    "rows_unscored": "rows not scored because a feature was missing",
    "alerts_opened": "alerts opened by the alert policies",
    "batches": "micro-batches committed",
    "batch_seconds": "time spent processing micro-batches",
}


class StreamMetrics:
    """Thread-safe counters (see :data:`COUNTERS`) plus dead letters by reason."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = dict.fromkeys(COUNTERS, 0)
        self._dead: Counter[str] = Counter()

    def add(self, name: str, amount: float = 1) -> None:
        """Increase counter ``name``."""
        if name not in COUNTERS:
            raise KeyError(f"unknown stream metric {name!r}; known: {', '.join(COUNTERS)}")
        with self._lock:
            self._values[name] += amount

    def dead_letter(self, reason: str, amount: int = 1) -> None:
        """Count dead letters of one reason."""
        with self._lock:
            self._dead[reason] += amount

    def snapshot(self) -> dict:
        """Current values; ``dead_letters`` maps reason -> count."""
        with self._lock:
            out: dict = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self._values.items()}
            out["dead_letters"] = dict(sorted(self._dead.items()))
        return out

    def prometheus(self) -> str:
        """The counters in the Prometheus text exposition format."""
        snap = self.snapshot()
        lines = []
        for name, help_text in COUNTERS.items():
            metric = f"forewarn_stream_{name}_total"
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter", f"{metric} {snap[name]}"]
        lines += ["# HELP forewarn_stream_dead_letters_total messages or readings sent to the dead-letter table",
                  "# TYPE forewarn_stream_dead_letters_total counter"]
        lines += [f'forewarn_stream_dead_letters_total{{reason="{r}"}} {n}' for r, n in snap["dead_letters"].items()]
        return "\n".join(lines)
