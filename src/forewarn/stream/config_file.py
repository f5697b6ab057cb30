"""Reading and checking the stream mapping config (TOML): sources, assets and units, models, micro-batches.

A config names the sources (MQTT subscriptions, OPC UA nodes), the plant they describe (assets, channels and
units), the models that score them with their alert policies, and the micro-batch settings. Everything has a
default except the mapping itself. A full example (``docs``-style)::

    [pipeline]
    batch_max_readings = 50000   # a micro-batch closes at this many readings...
    batch_max_wait = "100ms"     # ...or this long after its first message
    allowed_lateness = "0s"      # hold readings this long (event time) so out-of-order ones are scored in order
    idle_release = "2s"          # score held readings of an asset that has been quiet this long (wall clock)
    max_payload_bytes = 1048576  # larger messages go to the dead-letter table

    [mqtt]
    host = "127.0.0.1"
    port = 1883
    client_id = "forewarn-stream"   # fixed: the broker keeps this client's session while it is down
    alert_topic = "forewarn/alerts" # optional: opened alerts are published here (JSON)

    [[mqtt.subscriptions]]          # Sparkplug-B-style JSON: {"timestamp": ms, "metrics": [{name, timestamp, value}]}
    topic = "spBv1.0/plant1/DDATA/+/+"
    layout = "sparkplug"
    asset = "{4}"                   # topic level 4 (0-based) is the device = the asset
    channels = { "Bearing/Temp" = "bearing_temp" }   # metric name -> channel (others keep their name)

    [[mqtt.subscriptions]]          # one value per topic: payload "41.5" or {"value": 41.5, "ts": "...Z"}
    topic = "plant/+/+"
    layout = "value"
    asset = "{1}"
    channel = "{2}"

    [[mqtt.subscriptions]]          # a flat JSON object per message, fields -> channels
    topic = "lines/+/telemetry"
    layout = "json"
    asset = "{1}"
    ts_field = "ts"
    fields = { temp_c = { channel = "temp", unit = "degC" } }

    [opcua]
    endpoint = "opc.tcp://127.0.0.1:4840"
    [[opcua.nodes]]
    node_id = "ns=2;s=P-101.temp"
    asset = "P-101"
    channel = "temp"
    unit = "degC"

    [[assets]]
    asset_id = "P-101"
    asset_class = "pump"
    channels = { temp = "degC", vib = "mm/s" }

    [[models]]
    path = "models/pump-iforest"    # a folder written by forewarn.base.save
    asset_class = "pump"            # or assets = ["P-101", ...]; default: every asset
    window = 30
    alert = { threshold = 0.65, clear_threshold = 0.55, min_consecutive = 2, cooldown = "1h" }

Relative paths are read relative to the config file.

>>> cfg = parse_config({"mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value",
...                                                  "asset": "{1}", "channel": "{2}"}]}})
>>> cfg.mqtt.subscriptions[0].resolve("plant/P-1/temp")
('P-1', 'temp')
>>> cfg.pipeline.batch_max_wait_s
0.1
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forewarn.exceptions import ConfigError
from forewarn.stream.config import (
    LAYOUTS,
    AssetDecl,
    ChannelMap,
    ModelConfig,
    MqttConfig,
    OpcUaConfig,
    OpcUaNode,
    PipelineConfig,
    StreamConfig,
    Subscription,
    check_template,
    duration_s,
)


def _table(raw: Any, name: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: expected a table, got {type(raw).__name__}")
    return dict(raw)


def _check_keys(raw: Mapping[str, Any], allowed: set[str], name: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _int(raw: Mapping[str, Any], key: str, default: int, name: str, *, low: int = 0) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name}.{key}: expected a whole number >= {low}, got {value!r}")
    return value


def _channel_map(raw: Any, name: str) -> dict[str, ChannelMap]:
    out: dict[str, ChannelMap] = {}
    for key, value in _table(raw, name).items():
        if isinstance(value, str):
            out[str(key)] = ChannelMap(value)
        elif isinstance(value, Mapping) and isinstance(value.get("channel"), str):
            _check_keys(value, {"channel", "unit"}, f"{name}.{key}")
            out[str(key)] = ChannelMap(value["channel"], value.get("unit"))
        else:
            raise ConfigError(f"{name}.{key}: expected a channel name or {{ channel = ..., unit = ... }}")
    return out


def _subscription(raw: Any, index: int) -> Subscription:
    name = f"mqtt.subscriptions[{index}]"
    raw = _table(raw, name)
    _check_keys(raw, {"topic", "layout", "asset", "channel", "unit", "channels", "fields", "ts_field"}, name)
    layout = raw.get("layout", "sparkplug")
    if layout not in LAYOUTS:
        raise ConfigError(f"{name}.layout: {layout!r}; use one of {', '.join(LAYOUTS)}")
    topic = raw.get("topic")
    if not isinstance(topic, str) or not topic:
        raise ConfigError(f"{name}.topic: expected an MQTT topic filter such as 'plant/+/+'")
    channel = check_template(raw["channel"], name=f"{name}.channel") if "channel" in raw else None
    if layout == "value" and channel is None:
        raise ConfigError(f"{name}: layout 'value' needs channel (e.g. channel = '{{2}}')")
    mapping = _channel_map(raw.get("channels") or raw.get("fields"), f"{name}.channels")
    if layout == "json" and not mapping:
        raise ConfigError(f"{name}: layout 'json' needs fields = {{ json_field = 'channel', ... }}")
    return Subscription(topic=topic, layout=layout, asset=check_template(raw.get("asset"), name=f"{name}.asset"),
                        channel=channel, unit=raw.get("unit"), channels=mapping,
                        ts_field=str(raw.get("ts_field", "ts")))


def _mqtt(raw: Any) -> MqttConfig | None:
    if raw is None:
        return None
    raw = _table(raw, "mqtt")
    _check_keys(raw, {"host", "port", "client_id", "username", "password", "keepalive", "session_expiry",
                      "receive_maximum", "qos", "alert_topic", "subscriptions"}, "mqtt")
    qos = _int(raw, "qos", 1, "mqtt")
    if qos not in (0, 1):
        raise ConfigError(f"mqtt.qos: {qos}; use 1 (at-least-once, the default) or 0 (may lose readings)")
    subs = raw.get("subscriptions", [])
    if not isinstance(subs, list) or not subs:
        raise ConfigError("mqtt: add at least one [[mqtt.subscriptions]] table")
    return MqttConfig(
        host=str(raw.get("host", "127.0.0.1")), port=_int(raw, "port", 1883, "mqtt", low=1),
        client_id=str(raw.get("client_id", "forewarn-stream")), username=raw.get("username"),
        password=raw.get("password"), keepalive_s=int(duration_s(raw.get("keepalive", 30), name="mqtt.keepalive")),
        session_expiry_s=int(duration_s(raw.get("session_expiry", "1D"), name="mqtt.session_expiry")),
        receive_maximum=_int(raw, "receive_maximum", 1000, "mqtt", low=1), qos=qos,
        alert_topic=raw.get("alert_topic"), subscriptions=tuple(_subscription(s, i) for i, s in enumerate(subs)))


def _opcua(raw: Any) -> OpcUaConfig | None:
    if raw is None:
        return None
    raw = _table(raw, "opcua")
    _check_keys(raw, {"endpoint", "publishing_interval", "nodes"}, "opcua")
    if not isinstance(raw.get("endpoint"), str):
        raise ConfigError("opcua.endpoint: expected a URL such as 'opc.tcp://127.0.0.1:4840'")
    nodes = []
    for i, node in enumerate(raw.get("nodes", [])):
        node = _table(node, f"opcua.nodes[{i}]")
        _check_keys(node, {"node_id", "asset", "channel", "unit"}, f"opcua.nodes[{i}]")
        if not all(isinstance(node.get(k), str) for k in ("node_id", "asset", "channel")):
            raise ConfigError(f"opcua.nodes[{i}]: node_id, asset and channel are required text")
        nodes.append(OpcUaNode(node["node_id"], node["asset"], node["channel"], node.get("unit")))
    if not nodes:
        raise ConfigError("opcua: add at least one [[opcua.nodes]] table")
    return OpcUaConfig(raw["endpoint"], duration_s(raw.get("publishing_interval", 0.1),
                                                   name="opcua.publishing_interval"), tuple(nodes))


def _models(raw: Any, base: Path) -> tuple[ModelConfig, ...]:
    out = []
    for i, item in enumerate(raw or []):
        name = f"models[{i}]"
        item = _table(item, name)
        _check_keys(item, {"path", "model_id", "assets", "asset_class", "window", "ewm_span", "alert"}, name)
        if not isinstance(item.get("path"), str):
            raise ConfigError(f"{name}.path: expected the folder of a saved model")
        path = Path(item["path"])
        path = path if path.is_absolute() else base / path
        alert = _table(item["alert"], f"{name}.alert") if "alert" in item else None
        if alert is not None and "threshold" not in alert:
            raise ConfigError(f"{name}.alert: needs threshold (the score at which an alert opens)")
        out.append(ModelConfig(path=path, model_id=str(item.get("model_id", path.name)),
                               assets=tuple(item.get("assets", ())), asset_class=item.get("asset_class"),
                               window=_int(item, "window", 30, name, low=1),
                               ewm_span=float(item.get("ewm_span", 10.0)), alert=alert))
    ids = [m.model_id for m in out]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"models: model_id values must differ, got {ids}")
    return tuple(out)


def parse_config(raw: Mapping[str, Any], *, base: Path | None = None, source: str = "config") -> StreamConfig:
    """Validate a parsed TOML document; errors name the key and the fix."""
    _check_keys(raw, {"pipeline", "mqtt", "opcua", "assets", "models", "store"}, source)
    p = _table(raw.get("pipeline"), "pipeline")
    _check_keys(p, {"batch_max_readings", "batch_max_wait", "allowed_lateness", "idle_release",
                    "max_payload_bytes"}, "pipeline")
    pipeline = PipelineConfig(
        batch_max_readings=_int(p, "batch_max_readings", 50_000, "pipeline", low=1),
        batch_max_wait_s=duration_s(p.get("batch_max_wait", 0.1), name="pipeline.batch_max_wait"),
        allowed_lateness_s=duration_s(p.get("allowed_lateness", 0), name="pipeline.allowed_lateness"),
        idle_release_s=duration_s(p.get("idle_release", 2), name="pipeline.idle_release"),
        max_payload_bytes=_int(p, "max_payload_bytes", 1 << 20, "pipeline", low=1))
    assets = []
    for i, item in enumerate(raw.get("assets", [])):
        item = _table(item, f"assets[{i}]")
        _check_keys(item, {"asset_id", "asset_class", "channels"}, f"assets[{i}]")
        if not isinstance(item.get("asset_id"), str) or not item["asset_id"]:
            raise ConfigError(f"assets[{i}].asset_id: expected the asset's id")
        channels = {str(k): str(v) for k, v in _table(item.get("channels"), f"assets[{i}].channels").items()}
        assets.append(AssetDecl(item["asset_id"], str(item.get("asset_class", "generic")), channels))
    cfg = StreamConfig(pipeline=pipeline, mqtt=_mqtt(raw.get("mqtt")), opcua=_opcua(raw.get("opcua")),
                       assets=tuple(assets), models=_models(raw.get("models"), base or Path.cwd()),
                       store=raw.get("store"), source=source)
    if cfg.mqtt is None and cfg.opcua is None:
        raise ConfigError(f"{source}: no source; add an [mqtt] table with subscriptions or an [opcua] table")
    return cfg


def load_config(path: str | Path) -> StreamConfig:
    """Read and validate a TOML mapping config file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"stream config {str(file)!r} does not exist")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: not valid TOML: {err}") from None
    return parse_config(raw, base=file.resolve().parent, source=str(file))
