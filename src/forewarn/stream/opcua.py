"""OPC UA connector (asyncua): data-change subscriptions on the mapped nodes, fed to the consumer's inbox.

The client runs in its own thread with its own event loop. Each data-change notification becomes an
:class:`~forewarn.stream.mqtt.Envelope` with the node id, the value and the value's source timestamp (the
server timestamp, then the arrival time, when the server sends none). If the connection drops, the client
reconnects and subscribes again (subscribing delivers each node's current value, which the store de-duplicates
by its timestamp).

Delivery is at-most-once across a consumer crash: OPC UA subscriptions have no acknowledgement that outlives the
session, so values that changed while the consumer was down are not sent again (read them from the server's
history, where it keeps one). MQTT is the connector to use where every reading must arrive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
from typing import Any

from forewarn._optional import requires_extra
from forewarn.exceptions import ConfigError
from forewarn.stream.config import OpcUaConfig, OpcUaNode
from forewarn.stream.mqtt import Envelope, now_us

with requires_extra("stream", by="the OPC UA connector"):  # asyncua comes with forewarn[stream]
    from asyncua import Client, ua

log = logging.getLogger(__name__)


def _epoch_us(stamp: dt.datetime | None) -> int | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    delta = stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _Handler:
    """asyncua subscription handler: one envelope per data change."""

    def __init__(self, inbox: queue.Queue[Envelope], nodes: dict[str, OpcUaNode]):
        self.inbox = inbox
        self.nodes = nodes

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        value = data.monitored_item.Value
        ts_us = _epoch_us(value.SourceTimestamp) or _epoch_us(value.ServerTimestamp) or now_us()
        self.inbox.put(Envelope("opcua", node.nodeid.to_string(), val, now_us(), None, ts_us))


class OpcUaSource:
    """Subscribes to the config's nodes and puts each data change on ``inbox``."""

    def __init__(self, cfg: OpcUaConfig, inbox: queue.Queue[Envelope]):
        self.cfg = cfg
        self.inbox = inbox
        self.nodes = {ua.NodeId.from_string(n.node_id).to_string(): n for n in cfg.nodes}
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forewarn-opcua", daemon=True)
        self.error: BaseException | None = None

    def node(self, node_id: str) -> OpcUaNode | None:
        """The mapping of a node id (as asyncua writes it)."""
        return self.nodes.get(node_id)

    def start(self, *, wait_s: float = 20.0) -> None:
        """Connect and subscribe; return once the subscription is made."""
        self._thread.start()
        if not self.ready.wait(wait_s):
            self.stop()
            raise ConfigError(
                f"no OPC UA server answered at {self.cfg.endpoint} within {wait_s:.0f} s "
                f"({self.error or 'no answer'}); fix [opcua] endpoint"
            )

    def stop(self) -> None:
        """Unsubscribe and disconnect."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                await self._session()
                delay = 0.5
            except (OSError, TimeoutError, ua.UaError, ConnectionError) as err:
                self.error = err
                log.warning("OPC UA %s: %s; retrying in %.1f s", self.cfg.endpoint, err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        client = Client(url=self.cfg.endpoint, timeout=5)
        async with client:
            handler = _Handler(self.inbox, self.nodes)
            subscription = await client.create_subscription(self.cfg.publishing_interval_s * 1000, handler)
            await subscription.subscribe_data_change([client.get_node(n) for n in self.nodes])
            self.ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
                await client.check_connection()
            await subscription.delete()
