"""The stream mapping config as data: where readings come from and which asset, channel and unit they are.

:mod:`forewarn.stream.config_file` reads it from TOML (with the full example); these dataclasses are what the
rest of the stream package uses.

>>> sub = Subscription(topic="plant/+/+", layout="value", asset="{1}", channel="{2}")
>>> sub.resolve("plant/P-1/temp")
('P-1', 'temp')
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from forewarn.detect.since import CONTEXT_ROWS
from forewarn.exceptions import ConfigError

LAYOUTS = ("sparkplug", "value", "json")
_TEMPLATE_PART = re.compile(r"\{(\d+)\}")


def duration_s(value: Any, *, name: str) -> float:
    """Seconds in a duration written as text (``"250ms"``, ``"2s"``, ``"1h"``) or a number of seconds.

    >>> duration_s("250ms", name="x"), duration_s(3, name="x")
    (0.25, 3.0)
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration such as '2s' or '250ms', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        try:
            seconds = pd.Timedelta(str(value)).total_seconds()
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: {value!r} is not a duration; write e.g. '250ms', '2s', '1h'") from None
    if not seconds >= 0:
        raise ConfigError(f"{name}: a duration must be zero or more, got {value!r}")
    return seconds


def check_template(text: Any, *, name: str) -> str:
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{name}: expected text such as 'P-101' or '{{1}}' (topic level 1), got {text!r}")
    leftover = _TEMPLATE_PART.sub("", text)
    if "{" in leftover or "}" in leftover:
        raise ConfigError(f"{name}: {text!r} may only use topic levels written as {{0}}, {{1}}, ...")
    return text


def fillcheck_template(template: str, levels: list[str]) -> str | None:
    """Replace ``{k}`` by topic level ``k``; ``None`` when the topic has too few levels.

    >>> fillcheck_template("pump-{1}", ["plant", "7", "temp"])
    'pump-7'
    """
    try:
        return _TEMPLATE_PART.sub(lambda m: levels[int(m.group(1))], template)
    except IndexError:
        return None


@dataclass(frozen=True)
class ChannelMap:
    """A source field (Sparkplug metric name, JSON field) mapped to a channel and its unit."""

    channel: str
    unit: str | None = None


@dataclass(frozen=True)
class Subscription:
    """One MQTT topic filter and how to read its messages."""

    topic: str
    layout: str
    asset: str
    channel: str | None = None  # layout "value"
    unit: str | None = None  # layout "value"
    channels: Mapping[str, ChannelMap] = field(default_factory=dict)  # sparkplug metric / json field -> channel
    ts_field: str = "ts"  # layout "json"
    ts_unit: str = "ms"  # numeric times: epoch "s", "ms" or "us"
    timezone: str | None = None  # zone of naive ISO times (None: UTC)
    asset_field: str | None = None  # layout "json": the asset id is this field of the payload, not the topic

    @property
    def tzinfo(self) -> dt.tzinfo | None:
        """The zone of naive times, ``None`` for UTC.

        >>> Subscription(topic="t/+", layout="json", asset="{1}", timezone="Europe/Berlin").tzinfo
        zoneinfo.ZoneInfo(key='Europe/Berlin')
        """
        return None if self.timezone is None else ZoneInfo(self.timezone)

    def resolve(self, topic: str) -> tuple[str | None, str | None]:
        """Asset (and, for ``value``, channel) a topic names; ``None`` where the topic is too short."""
        levels = topic.split("/")
        asset = fillcheck_template(self.asset, levels) if self.asset else None
        channel = fillcheck_template(self.channel, levels) if self.channel else None
        return asset, channel


@dataclass(frozen=True)
class MqttConfig:
    """Broker connection; ``qos`` 1 and a persistent session give at-least-once delivery."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "forewarn-stream"
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 86400
    receive_maximum: int = 1000
    qos: int = 1
    alert_topic: str | None = None
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True)
class OpcUaNode:
    """One OPC UA variable node mapped to an asset channel."""

    node_id: str
    asset: str
    channel: str
    unit: str | None = None


@dataclass(frozen=True)
class OpcUaConfig:
    """An OPC UA server and the nodes to subscribe to."""

    endpoint: str
    publishing_interval_s: float = 0.1
    nodes: tuple[OpcUaNode, ...] = ()


@dataclass(frozen=True)
class AssetDecl:
    """An asset the config declares, with its channels and units."""

    asset_id: str
    asset_class: str = "generic"
    channels: Mapping[str, str] = field(default_factory=dict)


_VERSION = re.compile(r"v\d+")


def default_model_id(path: Path) -> str:
    """The id a ``[[models]]`` entry without ``model_id`` gives its scores, alerts and saved state.

    A servable bundle filed in a models registry (``<models>/<model_id>/<version>/``, as ``forewarn train``
    files it: the folder holds ``serving.json`` and is named ``v<n>``, or the folder above its parent holds the
    registry's ``registry.json``) is ``model_id:version``, the id the service's alerts carry, so the case book
    and the dashboard see one model; any other folder is its name.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "failure" / "v3").mkdir(parents=True)
    >>> _ = (root / "failure" / "v3" / "serving.json").write_text("{}")
    >>> default_model_id(root / "failure" / "v3"), default_model_id(root / "failure")
    ('failure:v3', 'failure')
    """
    bundle = (path / "serving.json").is_file()
    filed = _VERSION.fullmatch(path.name) is not None or (path.parent.parent / "registry.json").is_file()
    return f"{path.parent.name}:{path.name}" if bundle and filed and path.parent.name else path.name


@dataclass(frozen=True)
class ModelConfig:
    """A saved model, the assets it scores, its window and its alert policy (keyword arguments).

    ``former_ids``: ids this model's state may have been saved under by an earlier version of Forewarn (a bundle's
    folder name, before bundles took the registry's ``model_id:version``); read when nothing is saved under
    ``model_id``, so an upgrade keeps each asset's feature window and alert state."""

    path: Path
    model_id: str
    assets: tuple[str, ...] = ()
    asset_class: str | None = None
    window: int = 30
    ewm_span: float = 10.0
    alert: Mapping[str, Any] | None = None
    alarm: Mapping[str, Any] | None = None  # the alarm rule of an anomaly detector: AlarmRule's keys and `scale`
    former_ids: tuple[str, ...] = ()
    context: int = CONTEXT_ROWS  # a sequential detector's rows of context per asset (forewarn.stream.sequential)

    def covers(self, asset_id: str, asset_class: str | None) -> bool:
        """Whether this model scores ``asset_id``."""
        if self.assets:
            return asset_id in self.assets
        if self.asset_class is not None:
            return asset_class == self.asset_class
        return True


@dataclass(frozen=True)
class PipelineConfig:
    """Micro-batch and ordering settings (see the module docstring)."""

    batch_max_readings: int = 50_000
    batch_max_wait_s: float = 0.1
    allowed_lateness_s: float = 0.0
    idle_release_s: float = 2.0
    max_payload_bytes: int = 1 << 20


@dataclass(frozen=True)
class CasesConfig:
    """The case rule of the stream's own case book (``[cases]``): ``close_quiet`` as written (``"7d"``, ``"36h"``,
    ``"0"`` = never; checked by :func:`forewarn.decide.quiet.close_quiet_setting`), ``None`` where not set (then the
    horizon in hours of the first ``[[models]]`` bundle that has one, else 7 days: the rule of ``serve --close-quiet``)."""

    close_quiet: str | None = None


@dataclass(frozen=True)
class StreamConfig:
    """The whole mapping config."""

    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    cases: CasesConfig = field(default_factory=CasesConfig)
    mqtt: MqttConfig | None = None
    opcua: OpcUaConfig | None = None
    assets: tuple[AssetDecl, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    store: str | None = None
    source: str = "config"
