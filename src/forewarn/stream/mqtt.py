"""MQTT connector (paho-mqtt 2.x, MQTT 5): at-least-once delivery with acknowledgements after the commit.

Durability comes from three settings together:

* QoS 1 subscriptions: the broker keeps each message until the client acknowledges it (PUBACK);
* a persistent session: a fixed ``client_id``, ``clean_start=False`` and a session expiry interval, so the broker
  keeps the subscriptions and queues messages while the consumer is down (mosquitto must keep enough of them:
  ``max_queued_messages``, see :mod:`forewarn.stream.broker`);
* manual acknowledgement (``manual_ack=True``): paho does not acknowledge a message when it is handed over; the
  consumer calls :meth:`MqttSource.ack` after the micro-batch holding it has been committed to the store.

A consumer that dies before the commit leaves its messages unacknowledged, and the broker sends them again
(to this client id) when it comes back. The MQTT 5 ``Receive Maximum`` sent with CONNECT bounds how many
unacknowledged messages the broker has in flight to us, and so the size of a micro-batch in messages.
Acknowledgements of messages received before a reconnect are not sent (the broker re-sends those messages).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from forewarn._optional import requires_extra
from forewarn.exceptions import ConfigError
from forewarn.stream.config import MqttConfig

with requires_extra("stream", by="the MQTT connector"):  # paho-mqtt comes with forewarn[stream]
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Envelope:
    """One received message: MQTT (payload bytes, ``ack`` = (mid, qos, connection)) or OPC UA (a value)."""

    kind: str
    topic: str
    payload: Any
    received_us: int
    ack: tuple[int, int, int] | None = None
    ts_us: int | None = None


def now_us() -> int:
    """Wall-clock time in epoch microseconds."""
    return time.time_ns() // 1000


def new_client(client_id: str, *, manual_ack: bool = False) -> paho.Client:
    """A paho MQTT 5 client with Forewarn's defaults (quick reconnects, no local queue limit)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=manual_ack)
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.max_queued_messages_set(0)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties of a persistent MQTT 5 session."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = int(session_expiry_s)
    if receive_maximum is not None:
        props.ReceiveMaximum = int(receive_maximum)
    return props


class MqttSource:
    """Subscribes to the config's topics and puts each message on ``inbox`` as an :class:`Envelope`."""

    def __init__(self, cfg: MqttConfig, inbox: queue.Queue[Envelope]):
        self.cfg = cfg
        self.inbox = inbox
        self.generation = 0
        self.subscribed = threading.Event()
        self.client = new_client(cfg.client_id, manual_ack=True)
        if cfg.username is not None:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.cfg.host, self.cfg.port, reason)
            return
        self.generation += 1
        log.info(
            "connected to MQTT broker %s:%s (session present: %s)", self.cfg.host, self.cfg.port, flags.session_present
        )
        client.subscribe([(s.topic, SubscribeOptions(qos=self.cfg.qos)) for s in self.cfg.subscriptions])

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        bad = [r for r in reasons if r.is_failure]
        if bad:
            log.error("MQTT broker refused subscriptions: %s", bad)
            return
        self.subscribed.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.subscribed.clear()
        log.warning("disconnected from MQTT broker %s:%s (%s); reconnecting", self.cfg.host, self.cfg.port, reason)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.inbox.put(
            Envelope("mqtt", message.topic, message.payload, now_us(), (message.mid, message.qos, self.generation))
        )

    def start(self, *, wait_s: float = 15.0) -> None:
        """Connect, subscribe, and return once the broker confirmed the subscriptions."""
        props = connect_properties(self.cfg.session_expiry_s, self.cfg.receive_maximum)
        self.client.connect_async(
            self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s, clean_start=False, properties=props
        )
        self.client.loop_start()
        if not self.subscribed.wait(wait_s):
            self.stop()
            raise ConfigError(
                f"no MQTT broker answered at {self.cfg.host}:{self.cfg.port} within {wait_s:.0f} s; "
                "start one (e.g. mosquitto -p PORT) or fix [mqtt] host/port"
            )

    def ack(self, token: tuple[int, int, int]) -> None:
        """Acknowledge one message (after its micro-batch is committed)."""
        mid, qos, generation = token
        if qos > 0 and generation == self.generation:
            self.client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1) -> None:
        """Publish a message (alerts); queued by paho while disconnected."""
        self.client.publish(topic, payload, qos=qos)

    def stop(self) -> None:
        """Disconnect, keeping the session on the broker (unacknowledged messages stay queued there)."""
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
