"""Publish a stored or simulated fleet to an MQTT broker, at a chosen speed-up (demos, tests, benchmarks).

Readings are sent as Sparkplug-B-style JSON (``layout="sparkplug"``), one message per asset holding up to
``rows_per_message`` instants (every channel of each instant is one metric with its own millisecond timestamp),
on ``{prefix}/{asset_id}``; or one value per message (``layout="value"``) on ``{prefix}/{asset_id}/{channel}``
with ``{"value": v, "ts": ms}``. Messages go out in time order of their last instant; with ``speedup=s`` a
message waits until ``(its last time - first time) / s`` has passed since the start, and with ``speedup=None``
they go as fast as the broker takes them. Publishing uses QoS 1 and a persistent session, so a broker restart
mid-replay loses nothing (paho re-sends unacknowledged messages after it reconnects).

>>> import pandas as pd
>>> wide = pd.DataFrame({"asset_id": ["P-1", "P-1"], "ts": pd.to_datetime(["2024-01-01T00:00", "2024-01-01T00:01"], utc=True),
...                      "temp": [40.0, float("nan")], "vib": [1.5, 1.6]})
>>> [(topic, n) for topic, n, _, _ in sparkplug_messages(wide, prefix="spBv1.0/f/DDATA/r", rows_per_message=10)]
[('spBv1.0/f/DDATA/r/P-1', 3)]
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError
from forewarn.stream.mqtt import connect_properties, new_client

DEFAULT_PREFIX = "spBv1.0/forewarn/DDATA/replay"
Message = tuple[str, int, int, bytes]  # topic, readings, last time (epoch ms), payload


def _ms(frame: pd.DataFrame) -> np.ndarray:
    ts = pd.to_datetime(frame["ts"], utc=True)
    return (ts.astype("datetime64[us, UTC]").astype("int64") // 1000).to_numpy()


def sparkplug_messages(
    wide: pd.DataFrame,
    *,
    prefix: str = DEFAULT_PREFIX,
    rows_per_message: int = 50,
    extra: Callable[[str, np.ndarray], dict] | None = None,
) -> Iterator[Message]:
    """Sparkplug-style messages of a wide readings frame, in time order of their last instant.

    ``extra(asset_id, times_ms)`` may add fields to a payload (the benchmark stamps the send time).
    """
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    if not channels:
        raise ConfigError("the readings to replay have no channel columns")
    ms = _ms(wide)
    values = wide[channels].to_numpy(dtype="float64", na_value=np.nan)
    assets = wide["asset_id"].astype(str).to_numpy()
    order = np.lexsort((ms, assets))
    pieces: list[tuple[int, str, np.ndarray]] = []
    bounds = np.flatnonzero(np.r_[True, assets[order][1:] != assets[order][:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[lo:hi]
        for start in range(0, len(rows), rows_per_message):
            chunk = rows[start : start + rows_per_message]
            pieces.append((int(ms[chunk[-1]]), assets[chunk[0]], chunk))
    pieces.sort(key=lambda p: (p[0], p[1]))
    for last_ms, asset, chunk in pieces:
        metrics = [
            {"name": channels[j], "timestamp": int(ms[i]), "value": float(values[i, j])}
            for i in chunk
            for j in range(len(channels))
            if values[i, j] == values[i, j]
        ]
        doc = {"timestamp": int(ms[chunk[-1]]), "metrics": metrics}
        if extra is not None:
            doc.update(extra(asset, ms[chunk]))
        yield f"{prefix}/{asset}", len(metrics), last_ms, json.dumps(doc, separators=(",", ":")).encode()


def value_messages(wide: pd.DataFrame, *, prefix: str = "forewarn/replay") -> Iterator[Message]:
    """One message per reading: ``{prefix}/{asset}/{channel}`` with ``{"value": v, "ts": ms}``."""
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    ms = _ms(wide)
    assets = wide["asset_id"].astype(str).to_numpy()
    values = wide[channels].to_numpy(dtype="float64", na_value=np.nan)
    for i in np.lexsort((assets, ms)):
        for j, channel in enumerate(channels):
            if values[i, j] == values[i, j]:
                payload = json.dumps({"value": float(values[i, j]), "ts": int(ms[i])}).encode()
                yield f"{prefix}/{assets[i]}/{channel}", 1, int(ms[i]), payload


@dataclass
class ReplayReport:
    """What a replay sent."""

    messages: int
    readings: int
    seconds: float

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else float("inf")


class Publisher:
    """A QoS 1 MQTT publisher with a persistent session (it survives broker restarts without losing messages)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        client_id: str = "forewarn-replay",
        qos: int = 1,
        max_inflight: int = 100,
        wait_s: float = 15.0,
    ):
        self.qos = qos
        self.client = new_client(client_id)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self._unacked: set[int] = set()  # mids sent, not yet acknowledged by the broker
        self._early: set[int] = set()  # acknowledgements that overtook the publish() call
        try:
            self.client.connect(host, port, keepalive=30, clean_start=False, properties=connect_properties(3600))
        except OSError as err:
            raise ConfigError(f"cannot reach the MQTT broker at {host}:{port}: {err}") from None
        self.client.loop_start()
        deadline = time.monotonic() + wait_s
        while not self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.client.is_connected():
            self.close()
            raise ConfigError(f"the MQTT broker at {host}:{port} did not accept the connection within {wait_s:.0f} s")

    def _on_publish(self, client: object, userdata: object, mid: int, reason: object, props: object) -> None:
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._early.add(mid)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message (paho sends it, and re-sends it after a reconnect until acknowledged).

        While the broker is unreachable paho keeps the message and sends it after reconnecting.
        """
        info = self.client.publish(topic, payload, qos=self.qos)
        if self.qos == 0:
            return
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._unacked.add(info.mid)

    def unacknowledged(self) -> int:
        """Messages the broker has not acknowledged yet."""
        with self._lock:
            return len(self._unacked)

    def flush(self, *, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged every message."""
        deadline = time.monotonic() + timeout
        while self.unacknowledged():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the broker did not acknowledge {self.unacknowledged()} message(s) within {timeout:.0f} s"
                )
            time.sleep(0.005)

    def close(self) -> None:
        """Disconnect (after :meth:`flush` if every message must be delivered)."""
        self.client.disconnect()
        self.client.loop_stop()

    def send(
        self,
        messages: Iterable[Message],
        *,
        speedup: float | None = None,
        flush_timeout: float = 120.0,
        on_sent: Callable[[Message, float], None] | None = None,
    ) -> ReplayReport:
        """Publish ``messages`` paced by ``speedup`` (``None``: as fast as possible) and wait for the acks."""
        started = time.monotonic()
        first_ms: int | None = None
        count = readings = 0
        for message in messages:
            topic, n, last_ms, payload = message
            if speedup is not None:
                first_ms = last_ms if first_ms is None else first_ms
                delay = started + (last_ms - first_ms) / 1000.0 / speedup - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.publish(topic, payload)
            if on_sent is not None:
                on_sent(message, time.time())
            count += 1
            readings += n
        self.flush(timeout=flush_timeout)
        return ReplayReport(count, readings, time.monotonic() - started)


def stored_fleet(
    store_path: str, *, assets: list[str] | None = None, start: object = None, end: object = None
) -> pd.DataFrame:
    """Wide readings of a store (read-only), optionally of some assets and a time range."""
    from forewarn.store import Store

    with Store(store_path, read_only=True) as store:
        names = assets or store.assets()["asset_id"].astype(str).tolist()
        parts = []
        for asset in names:
            frame = store.readings(asset, start, end, wide=True)
            if len(frame):
                parts.append(frame.assign(asset_id=asset) if "asset_id" not in frame.columns else frame)
    if not parts:
        raise ConfigError(f"no readings to replay in {store_path!r} for the chosen assets and time range")
    out = pd.concat(parts, ignore_index=True)
    return out[["asset_id", "ts", *[c for c in out.columns if c not in ("asset_id", "ts")]]]
