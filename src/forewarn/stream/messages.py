"""Turning MQTT payloads and OPC UA values into readings, and bad ones into dead letters.

Three MQTT layouts (see :mod:`forewarn.stream.config_file`):

``sparkplug``
    Sparkplug-B-style JSON: ``{"timestamp": ms, "metrics": [{"name": ..., "timestamp": ms, "value": ...}]}``.
    One message may carry many readings (many metrics, each with its own timestamp), which is how high rates
    are reached. A metric without a timestamp takes the payload's.
``value``
    One value per topic: ``41.5`` or ``{"value": 41.5, "ts": "2024-01-01T00:00:00Z"}``. A bare number is stamped
    with its arrival time, so a redelivered bare number may be stored twice under two times; send ``ts`` for
    exactly-once storage.
``json``
    A flat JSON object; mapped fields are channels, ``ts_field`` is the time. The asset comes from the topic
    (``asset``) or, with ``asset_field``, from a field of the object: one topic for many machines, and asset ids
    a topic level cannot hold (``Pump #3``, ``Line 2/P-3``).

Times are epoch milliseconds (numbers, the Sparkplug convention; ``ts_unit = "s"`` or ``"us"`` on a
subscription for gateways that send seconds or microseconds; digits sent as text count as a number) or ISO 8601
text (a naive one is UTC, or the subscription's ``timezone``); they become int64 microseconds since the epoch,
UTC. A number read in milliseconds that would fall in January 1970 but reads as a time of 2000-2100 in seconds
is refused (``bad_timestamp``, with a hint to set ``ts_unit``), not stored 54 years early, and the reverse for
``ts_unit = "s"``. A value sent as text that reads as a number (``"41.5"``, as many gateways send) is that
number; other text is ``wrong_type``. Problems found here go to the dead-letter table instead of the store:
a whole message for ``oversized``, ``malformed_json``, ``unmapped_topic``, ``unknown_asset``, ``bad_timestamp``;
one reading for ``unknown_channel``, ``not_finite`` (NaN, infinity), ``wrong_type`` (text, null, true/false,
lists) and ``missing_field``. The good readings of a message are kept. A ``json`` field that no ``fields`` entry
maps (other than ``ts_field`` and ``asset_field``) is no dead letter: it is dropped and counted by name in
:attr:`ReadingColumns.unmapped` (the stream's ``fields_unmapped`` metric and a log line, :mod:`.notices`).

>>> cat = Catalog({"P-1": {"temp": "degC"}})
>>> dec = Decoder(cat, max_payload_bytes=1000)
>>> from forewarn.stream.config import Subscription
>>> sub = Subscription(topic="spBv1.0/g/DDATA/n/+", layout="sparkplug", asset="{4}")
>>> out = ReadingColumns()
>>> dead = dec.decode(sub, "spBv1.0/g/DDATA/n/P-1", b'{"timestamp": 1700000000000, "metrics": '
...                   b'[{"name": "temp", "value": 40.5}, {"name": "temp", "value": NaN, "timestamp": 1700000001000}]}',
...                   received_us=0, out=out)
>>> out.asset, out.channel, out.ts_us, out.value
(['P-1'], ['temp'], [1700000000000000], [40.5])
>>> [(d.reason, d.channel) for d in dead]
[('not_finite', 'temp')]
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forewarn.stream.config import Subscription

PAYLOAD_KEEP = 2048  # characters of a bad payload kept in the dead-letter table
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DeadLetter:
    """A message (or one reading of it) that was not stored, and why."""

    source: str
    reason: str
    detail: str
    payload: str = ""
    asset_id: str | None = None
    channel: str | None = None
    item: int = -1  # position of the reading inside the message; -1 for the whole message


@dataclass
class ReadingColumns:
    """Readings collected column by column (cheap to append, cheap to turn into arrays)."""

    asset: list[str] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    # json fields no mapping names, dropped: {(subscription topic filter, field name): messages}
    unmapped: dict[tuple[str, str], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.value)

    def add(self, asset: str, channel: str, ts_us: int, value: float) -> None:
        """Append one reading."""
        self.asset.append(asset)
        self.channel.append(channel)
        self.ts_us.append(ts_us)
        self.value.append(value)

    def extend(self, other: ReadingColumns) -> None:
        """Append every reading of ``other``."""
        self.asset.extend(other.asset)
        self.channel.extend(other.channel)
        self.ts_us.extend(other.ts_us)
        self.value.extend(other.value)
        for key, n in other.unmapped.items():
            self.unmapped[key] = self.unmapped.get(key, 0) + n


class Catalog:
    """The assets and channels readings may name: ``{asset_id: {channel: unit}}`` plus asset classes.

    >>> Catalog({"P-1": {"temp": "degC"}}, classes={"P-1": "pump"}).knows("P-1", "temp")
    True
    """

    def __init__(self, channels: Mapping[str, Mapping[str, str]], classes: Mapping[str, str] | None = None):
        self.channels = {str(a): dict(c) for a, c in channels.items()}
        self.classes = dict(classes or {})

    def knows(self, asset: str, channel: str) -> bool:
        """Whether ``asset`` exists and has ``channel``."""
        return channel in self.channels.get(asset, ())

    def asset_class(self, asset: str) -> str | None:
        """The asset's class, when known."""
        return self.classes.get(asset)


US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}
# epoch seconds of 2000-01-01 and 2100-01-01: a plant's times in seconds lie between, in milliseconds 1000x that
_SECONDS_SPAN = (946_684_800, 4_102_444_800)


def ts_us_of(value: Any, unit: str = "ms", tz: dt.tzinfo | None = None) -> int | None:
    """Epoch microseconds of a payload time: a number of epoch ``unit`` (``s``, ``ms``, ``us``; digits as text
    too) or ISO 8601 text (naive = ``tz``, UTC when ``None``). ``None`` when it is not a time, or when it reads
    as the wrong unit (see :func:`unit_hint`).

    >>> ts_us_of(1700000000000), ts_us_of("2023-11-14T22:13:20Z"), ts_us_of("soon"), ts_us_of(True)
    (1700000000000000, 1700000000000000, None, None)
    >>> ts_us_of(1700000000), ts_us_of(1700000000, "s"), ts_us_of("1700000000000")
    (None, 1700000000000000, 1700000000000000)
    >>> from zoneinfo import ZoneInfo
    >>> ts_us_of("2023-11-14 23:13:20", tz=ZoneInfo("Europe/Berlin"))
    1700000000000000
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or unit_hint(value, unit):
            return None
        factor = US_PER_UNIT[unit]
        return value * factor if isinstance(value, int) else int(round(value * factor))
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=tz or dt.UTC)
        delta = stamp - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return None


def unit_hint(value: float, unit: str) -> str:
    """Why a number of epoch ``unit`` is taken for another unit ('' when it is not).

    >>> unit_hint(1700000000, "ms")
    'it reads as 1970-01-20 in milliseconds but as 2023-11-14 in seconds; set ts_unit = "s" on the subscription'
    >>> unit_hint(1700000000000, "ms"), unit_hint(1, "ms")
    ('', '')
    """
    low, high = _SECONDS_SPAN
    if unit == "ms" and low <= value < high:
        return (
            f"it reads as {_day(value / 1000)} in milliseconds but as {_day(value)} in seconds; "
            'set ts_unit = "s" on the subscription'
        )
    if unit == "s" and low * 1000 <= value < high * 1000:
        return (
            f"it reads as a time after 2100 in seconds but as {_day(value / 1000)} in milliseconds; "
            'set ts_unit = "ms" on the subscription (the default)'
        )
    return ""


def _day(seconds: float) -> str:
    return (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d")


def _time_detail(what: str, raw: Any, unit: str) -> str:
    """The dead-letter detail of an unreadable time: the unit's hint when a number, else what is accepted."""
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    hint = unit_hint(raw, unit) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else ""
    return f"cannot read {what} {raw!r}: " + (hint or f"use epoch {unit} or ISO 8601")


def number_of(value: Any) -> float | None:
    """The number a reading's value holds: a JSON number, or text that reads as one (``" 41.5 "``); ``None``
    for anything else (text that is not a number, ``true``/``false``, null, lists, objects).

    >>> number_of(41.5), number_of("41.5"), number_of(" -2e3 "), number_of("41,5"), number_of(True), number_of("")
    (41.5, 41.5, -2000.0, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or "_" in text:  # float() reads "1_000"; a gateway's text never means that
            return None
        try:
            return float(text)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond the float range
        return math.inf


def _clip(payload: bytes | str) -> str:
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    return text if len(text) <= PAYLOAD_KEEP else text[:PAYLOAD_KEEP] + f"... ({len(text)} characters)"


class Decoder:
    """Decodes payloads against a :class:`Catalog`; appends readings to a :class:`ReadingColumns`."""

    def __init__(self, catalog: Catalog, *, max_payload_bytes: int = 1 << 20):
        self.catalog = catalog
        self.max_payload_bytes = int(max_payload_bytes)

    def check_value(
        self,
        source: str,
        asset: str,
        channel: str,
        ts_us: int,
        value: Any,
        out: ReadingColumns,
        item: int = -1,
        raw: Any = None,
    ) -> DeadLetter | None:
        """Add one reading to ``out`` or return why it is a dead letter."""

        def dead(reason: str, detail: str) -> DeadLetter:
            return DeadLetter(
                source,
                reason,
                detail,
                _clip(json.dumps(raw, default=str)) if raw is not None else "",
                asset,
                channel,
                item,
            )

        if not self.catalog.knows(asset, channel):
            if asset not in self.catalog.channels:
                return dead("unknown_asset", f"asset {asset!r} is not in the store or the config")
            return dead("unknown_channel", f"asset {asset!r} has no channel {channel!r}; declare it under [[assets]]")
        number = number_of(value)
        if number is None:
            return dead("wrong_type", f"value {value!r} of {channel!r} is {type(value).__name__}, expected a number")
        if not math.isfinite(number):
            return dead("not_finite", f"value of {channel!r} is {number}; readings must be finite numbers")
        out.add(asset, channel, ts_us, number)
        return None

    def decode(
        self, sub: Subscription, topic: str, payload: bytes, *, received_us: int, out: ReadingColumns
    ) -> list[DeadLetter]:
        """Decode one MQTT message; readings go to ``out``, problems come back as dead letters."""
        source = f"mqtt:{topic}"
        if len(payload) > self.max_payload_bytes:
            return [
                DeadLetter(
                    source,
                    "oversized",
                    f"payload of {len(payload)} bytes is over the limit of "
                    f"{self.max_payload_bytes} (pipeline.max_payload_bytes)",
                    _clip(payload[:PAYLOAD_KEEP]),
                )
            ]
        asset, channel = sub.resolve(topic)
        if (asset is None and sub.asset_field is None) or (sub.layout == "value" and channel is None):
            return [
                DeadLetter(
                    source, "unmapped_topic", f"topic has too few levels for asset {sub.asset!r}", _clip(payload)
                )
            ]
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as err:
            return [DeadLetter(source, "malformed_json", f"not JSON: {err}", _clip(payload), asset, channel)]
        if sub.asset_field is not None:
            named = doc.get(sub.asset_field) if isinstance(doc, dict) else None
            if isinstance(named, bool) or not isinstance(named, (str, int)) or str(named) == "":
                return [
                    DeadLetter(
                        source,
                        "missing_field",
                        f"no asset id in field {sub.asset_field!r} (asset_field)",
                        _clip(payload),
                    )
                ]
            asset = str(named)
        assert asset is not None
        if asset not in self.catalog.channels:
            return [
                DeadLetter(
                    source, "unknown_asset", f"asset {asset!r} is not in the store or the config", _clip(payload), asset
                )
            ]
        if sub.layout == "value":
            assert channel is not None
            return self._value(sub, source, asset, channel, doc, payload, received_us, out)
        if not isinstance(doc, dict):
            return [
                DeadLetter(
                    source, "wrong_type", f"expected a JSON object, got {type(doc).__name__}", _clip(payload), asset
                )
            ]
        if sub.layout == "sparkplug":
            return self._sparkplug(sub, source, asset, doc, payload, out)
        return self._json(sub, source, asset, doc, payload, out)

    def _value(
        self,
        sub: Subscription,
        source: str,
        asset: str,
        channel: str,
        doc: Any,
        payload: bytes,
        received_us: int,
        out: ReadingColumns,
    ) -> list[DeadLetter]:
        ts_us: int | None = received_us
        if isinstance(doc, dict):
            if "value" not in doc:
                return [DeadLetter(source, "missing_field", "object has no 'value'", _clip(payload), asset, channel)]
            if "ts" in doc:
                ts_us = ts_us_of(doc["ts"], sub.ts_unit, sub.tzinfo)
                if ts_us is None:
                    return [
                        DeadLetter(
                            source,
                            "bad_timestamp",
                            _time_detail("time", doc["ts"], sub.ts_unit),
                            _clip(payload),
                            asset,
                            channel,
                        )
                    ]
            doc = doc["value"]
        letter = self.check_value(source, asset, channel, ts_us, doc, out)
        return (
            []
            if letter is None
            else [DeadLetter(letter.source, letter.reason, letter.detail, _clip(payload), asset, channel)]
        )

    def _sparkplug(
        self, sub: Subscription, source: str, asset: str, doc: dict, payload: bytes, out: ReadingColumns
    ) -> list[DeadLetter]:
        metrics = doc.get("metrics")
        if not isinstance(metrics, list):
            return [DeadLetter(source, "missing_field", "no 'metrics' list", _clip(payload), asset)]
        base = doc.get("timestamp")
        unit, tz = sub.ts_unit, sub.tzinfo
        base_us = ts_us_of(base, unit, tz) if base is not None else None
        mapping = sub.channels
        # integer epoch-ms timestamps outside the range that reads as seconds take the fast path
        fast_ms = unit == "ms"
        low, high = _SECONDS_SPAN
        known = self.catalog.channels[asset]
        dead: list[DeadLetter] = []
        # the hot loop: plain metrics (known name, integer timestamp, finite float) are appended directly;
        # anything else takes the checked path below
        add_channel, add_ts, add_value = out.channel.append, out.ts_us.append, out.value.append
        isfinite = math.isfinite
        for i, metric in enumerate(metrics):
            if type(metric) is dict:
                name = metric.get("name")
                value = metric.get("value")
                raw_ts = metric.get("timestamp")
                if type(name) is str and type(value) is float and not metric.get("is_null"):
                    mapped = mapping.get(name) if mapping else None
                    channel = mapped.channel if mapped is not None else name
                    if channel in known and isfinite(value):
                        if type(raw_ts) is int and fast_ms and not low <= raw_ts < high:
                            add_channel(channel), add_ts(raw_ts * 1000), add_value(value)
                            continue
                        if raw_ts is None and base_us is not None:
                            add_channel(channel), add_ts(base_us), add_value(value)
                            continue
            letter = self._checked_metric(source, asset, metric, i, (base, base_us), sub, out)
            if letter is not None:
                dead.append(letter)
        out.asset.extend([asset] * (len(out.value) - len(out.asset)))
        return dead

    def _checked_metric(
        self,
        source: str,
        asset: str,
        metric: Any,
        i: int,
        base: tuple[Any, int | None],
        sub: Subscription,
        out: ReadingColumns,
    ) -> DeadLetter | None:
        """One metric the fast path did not take: a gap, a dead letter, or an unusual but valid reading.

        ``base`` is the message's timestamp as sent and read; a metric without its own timestamp carries the
        message's into its dead letter, so two messages' bad metrics are two dead letters, not one."""
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            return DeadLetter(
                source, "missing_field", "metric without a name", _clip(json.dumps(metric, default=str)), asset, None, i
            )
        if metric.get("is_null"):
            return None  # a declared gap
        name = metric["name"]
        mapped = sub.channels.get(name)
        channel = mapped.channel if mapped is not None else name
        raw_ts = metric.get("timestamp")
        ts_us = base[1] if raw_ts is None else ts_us_of(raw_ts, sub.ts_unit, sub.tzinfo)
        raw = metric if raw_ts is not None else {**metric, "timestamp": base[0]}
        if ts_us is None:
            return DeadLetter(
                source,
                "bad_timestamp",
                f"metric {name!r}: " + _time_detail("timestamp", raw.get("timestamp"), sub.ts_unit),
                _clip(json.dumps(raw, default=str)),
                asset,
                channel,
                i,
            )
        out.asset.extend([asset] * (len(out.value) - len(out.asset)))
        return self.check_value(source, asset, channel, ts_us, metric.get("value"), out, i, raw)

    def _json(
        self, sub: Subscription, source: str, asset: str, doc: dict, payload: bytes, out: ReadingColumns
    ) -> list[DeadLetter]:
        ts_us = ts_us_of(doc.get(sub.ts_field), sub.ts_unit, sub.tzinfo)
        if ts_us is None:
            detail = (
                f"field {sub.ts_field!r}: " + _time_detail("time", doc[sub.ts_field], sub.ts_unit)
                if sub.ts_field in doc
                else f"field {sub.ts_field!r} (ts_field) is missing"
            )
            return [DeadLetter(source, "bad_timestamp", detail, _clip(payload), asset)]
        dead = []
        for i, (name, mapped) in enumerate(sub.channels.items()):
            if name in doc:
                raw = {sub.ts_field: doc[sub.ts_field], name: doc[name]}  # the time keeps two messages' letters apart
                letter = self.check_value(source, asset, mapped.channel, ts_us, doc[name], out, i, raw)
                if letter is not None:
                    dead.append(letter)
        for name in doc:  # fields besides the mapped ones, the time and the asset: counted, then dropped
            if name not in sub.channels and name != sub.ts_field and name != sub.asset_field:
                key = (sub.topic, str(name))
                out.unmapped[key] = out.unmapped.get(key, 0) + 1
        return dead
