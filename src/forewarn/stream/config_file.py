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
    fields = { temp_c = { channel = "temp", unit = "degC" } }   # field names may hold spaces: "Temp [°C]" = ...
    ts_unit = "ms"                  # numeric times: epoch "ms" (default), "s" or "us"
    timezone = "Europe/Berlin"      # zone of times written without an offset (default: UTC)
    # asset_field = "device"        # instead of asset: one topic for many assets, the asset id in the payload

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
    path = "models/pump-iforest"    # a folder written by forewarn.base.save, or a bundle such as models/failure/v2
    # model_id = "pump-iforest"     # default: the folder's name; a registry's bundle: "failure:v2" as the service
    asset_class = "pump"            # or assets = ["P-101", ...]; default: every asset
    window = 30
    alert = { threshold = 0.65, clear_threshold = 0.55, min_consecutive = 2, cooldown = "1h" }
    # an anomaly detector may use the one alarm rule (forewarn.decide.alarms) instead of `alert`:
    # alarm = { on = 0.5, off = 0.3, clear_rows = 5, refractory = "6h", scale = 20.0 }
    # (add episode_rows = 48 to announce an anomaly that lasts again every 48 rows, or episode_rows = "auto" for a
    # quarter of the rows each asset's fit learnt from, 48 at the least, with a folder of detect fits; default: no limit)
    # (scale: for a detector whose score is not in [0, 1]; the rule reads score / (score + scale))
    # a sequential detector (the default `ensemble`, fitted on the channels' readings and saved) takes `alarm = {}`;
    # context = 512 is how many of each asset's last rows it scores new rows after (forewarn.stream.sequential);
    # path may name the folder of `forewarn detect --store DB --save-models DIR`: each asset scored by its own fit

    [cases]                         # the case book the stream files its alerts into (alone: the file beside its store)
    close_quiet = "7d"              # a case with no alarm for this long and no failure closes; "0" = never. Default:
                                    # the horizon in hours of the first [[models]] bundle that has one, else 7 d
                                    # (forewarn serve --close-quiet's rule; under serve --stream the service's rules)

Relative paths are read relative to the config file. The tables are pydantic models (``extra="forbid"``,
strict types): an error names the file, the line and the TOML key, says what was expected, and an unknown key
is refused with the keys allowed there, e.g.
``stream.toml, line 14, mqtt.subscriptions[0].colour: unknown key; allowed here: asset, channel, ...``.

>>> cfg = parse_config({"mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value",
...                                                  "asset": "{1}", "channel": "{2}"}]}})
>>> cfg.mqtt.subscriptions[0].resolve("plant/P-1/temp")
('P-1', 'temp')
>>> cfg.pipeline.batch_max_wait_s
0.1
>>> parse_config({"mqtt": {"prot": 1884, "subscriptions": [{"topic": "plant/+/+", "asset": "{1}"}]}})
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: config: mqtt.prot: unknown key; allowed here: host, port, client_id, username, password, keepalive, session_expiry, receive_maximum, qos, alert_topic, subscriptions
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from forewarn.detect.since import CONTEXT_ROWS
from forewarn.exceptions import ConfigError
from forewarn.stream.config import (
    AssetDecl,
    CasesConfig,
    ChannelMap,
    ModelConfig,
    MqttConfig,
    OpcUaConfig,
    OpcUaNode,
    PipelineConfig,
    StreamConfig,
    Subscription,
    check_template,
    default_model_id,
    duration_s,
)


def _duration(value: Any) -> float:
    try:
        return duration_s(value, name="_")
    except ConfigError as err:  # the location is added by the error report
        raise ValueError(str(err).removeprefix("_: ")) from None


def _template(value: Any) -> str:
    try:
        return check_template(value, name="_")
    except ConfigError as err:
        raise ValueError(str(err).removeprefix("_: ")) from None


def _channel_map(value: Any) -> Any:
    if isinstance(value, str):
        return {"channel": value}
    if not isinstance(value, Mapping):
        raise ValueError("expected a channel name or { channel = ..., unit = ... }")
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
Template = Annotated[str, BeforeValidator(_template)]
Text = Annotated[str, Field(min_length=1)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ChannelMap(_Table):
    channel: Text
    unit: str | None = None


ChannelMapping = dict[str, Annotated[_ChannelMap, BeforeValidator(_channel_map)]]


class _Pipeline(_Table):
    batch_max_readings: int = Field(50_000, ge=1)
    batch_max_wait: Duration = 0.1
    allowed_lateness: Duration = 0.0
    idle_release: Duration = 2.0
    max_payload_bytes: int = Field(1 << 20, ge=1)


class _Subscription(_Table):
    topic: Annotated[str, Field(min_length=1, description="an MQTT topic filter such as 'plant/+/+'")]
    layout: Literal["sparkplug", "value", "json"] = "sparkplug"
    asset: Template | None = None
    asset_field: Text | None = None
    channel: Template | None = None
    unit: str | None = None
    channels: ChannelMapping | None = None
    fields: ChannelMapping | None = None
    ts_field: Text = "ts"
    ts_unit: Literal["s", "ms", "us"] = "ms"
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ValueError, ZoneInfoNotFoundError):
                raise ValueError(f"unknown time zone {zone!r}; use an IANA name such as 'Europe/Berlin'") from None
        return zone

    @model_validator(mode="after")
    def _layout_needs(self) -> _Subscription:
        if (self.asset is None) == (self.asset_field is None):
            raise ValueError(
                "set asset (a topic template such as '{1}') or, for layout 'json', asset_field (the payload's "
                "field that names the asset), one of the two"
            )
        if self.asset_field is not None and self.layout != "json":
            raise ValueError("asset_field is for layout 'json'; other layouts take the asset from the topic")
        if self.layout == "value" and self.channel is None:
            raise ValueError("layout 'value' needs channel (e.g. channel = '{2}')")
        if self.layout == "json" and not (self.channels or self.fields):
            raise ValueError("layout 'json' needs fields = { json_field = 'channel', ... }")
        return self


class _Mqtt(_Table):
    host: Text = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: Text = "forewarn-stream"
    username: str | None = None
    password: str | None = None
    keepalive: Duration = 30.0
    session_expiry: Duration = 86400.0
    receive_maximum: int = Field(1000, ge=1)
    qos: int = 1
    alert_topic: str | None = None
    subscriptions: list[_Subscription] = []

    @field_validator("qos")
    @classmethod
    def _qos(cls, qos: int) -> int:
        if qos not in (0, 1):
            raise ValueError(f"qos {qos}: use 1 (at-least-once, the default) or 0 (may lose readings)")
        return qos

    @model_validator(mode="after")
    def _check(self) -> _Mqtt:
        if not self.subscriptions:
            raise ValueError("add at least one [[mqtt.subscriptions]] table")
        return self


class _OpcUaNode(_Table):
    node_id: Text
    asset: Text
    channel: Text
    unit: str | None = None


class _OpcUa(_Table):
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://", description="a URL such as 'opc.tcp://127.0.0.1:4840'")]
    publishing_interval: Duration = 0.1
    nodes: list[_OpcUaNode] = []

    @model_validator(mode="after")
    def _check(self) -> _OpcUa:
        if not self.nodes:
            raise ValueError("add at least one [[opcua.nodes]] table")
        return self


class _Asset(_Table):
    asset_id: Text
    asset_class: Text = "generic"
    channels: dict[str, str] = {}


class _Alert(_Table):
    threshold: float
    clear_threshold: float | None = None
    min_consecutive: int = Field(1, ge=1)
    cooldown: Annotated[
        str, BeforeValidator(lambda v: f"{v}s" if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
    ] = "1h"
    critical_threshold: float | None = None

    @model_validator(mode="after")
    def _check(self) -> _Alert:
        from forewarn.decide.alerts import AlertPolicy

        if not math.isfinite(self.threshold):
            raise ValueError("threshold must be a finite number")
        try:
            AlertPolicy(**self.model_dump(exclude_unset=True))
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return self


class _Alarm(_Table):
    on: float = 0.5
    off: float = 0.3
    clear_rows: int = Field(5, ge=1)
    refractory: int | str = 0
    episode_rows: Annotated[int, Field(ge=0)] | Literal["auto"] | None = None
    scale: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> _Alarm:
        from forewarn.decide.alarms import AlarmRule

        try:
            AlarmRule(**self.model_dump(exclude={"scale"}))
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return self


class _Model(_Table):
    path: Annotated[str, Field(min_length=1, description="the folder of a saved model")]
    model_id: Text | None = None
    assets: list[Text] = []
    asset_class: Text | None = None
    window: int = Field(30, ge=1)
    ewm_span: float = Field(10.0, gt=0)
    context: int = Field(CONTEXT_ROWS, ge=1)
    alert: _Alert | None = None
    alarm: _Alarm | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> _Model:
        if self.alert is not None and self.alarm is not None:
            raise ValueError("set either alert (a threshold policy) or alarm (the alarm rule), not both")
        return self


def _close_quiet(value: Any) -> Any:
    from forewarn.decide.quiet import close_quiet_setting

    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return "0"
    if not isinstance(value, str):
        raise ValueError(f"expected a time span such as '7d' or '36h', or '0' to never close, got {value!r}")
    try:
        close_quiet_setting(value)
    except ConfigError as err:
        raise ValueError(str(err).removeprefix("close-quiet ")) from None
    return value


class _Cases(_Table):
    close_quiet: Annotated[str | None, BeforeValidator(_close_quiet)] = None


class _Root(_Table):
    pipeline: _Pipeline = _Pipeline()
    mqtt: _Mqtt | None = None
    opcua: _OpcUa | None = None
    assets: list[_Asset] = []
    models: list[_Model] = []
    cases: _Cases = _Cases()
    store: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> _Root:
        if self.mqtt is None and self.opcua is None:
            raise ValueError("no source; add an [mqtt] table with subscriptions or an [opcua] table")
        return self


# -- from the validated tables to the dataclasses the stream package uses ------------------------------------
def _stream_config(root: _Root, base: Path, source: str) -> StreamConfig:
    p = root.pipeline
    pipeline = PipelineConfig(
        batch_max_readings=p.batch_max_readings,
        batch_max_wait_s=p.batch_max_wait,
        allowed_lateness_s=p.allowed_lateness,
        idle_release_s=p.idle_release,
        max_payload_bytes=p.max_payload_bytes,
    )
    mqtt = None
    if root.mqtt is not None:
        m = root.mqtt
        subs = tuple(
            Subscription(
                topic=s.topic,
                layout=s.layout,
                asset=s.asset or "",
                asset_field=s.asset_field,
                channel=s.channel,
                unit=s.unit,
                ts_field=s.ts_field,
                ts_unit=s.ts_unit,
                timezone=s.timezone,
                channels={k: ChannelMap(v.channel, v.unit) for k, v in (s.channels or s.fields or {}).items()},
            )
            for s in m.subscriptions
        )
        mqtt = MqttConfig(
            host=m.host,
            port=m.port,
            client_id=m.client_id,
            username=m.username,
            password=m.password,
            keepalive_s=int(m.keepalive),
            session_expiry_s=int(m.session_expiry),
            receive_maximum=m.receive_maximum,
            qos=m.qos,
            alert_topic=m.alert_topic,
            subscriptions=subs,
        )
    opcua = None
    if root.opcua is not None:
        o = root.opcua
        opcua = OpcUaConfig(
            o.endpoint, o.publishing_interval, tuple(OpcUaNode(n.node_id, n.asset, n.channel, n.unit) for n in o.nodes)
        )
    assets = tuple(AssetDecl(a.asset_id, a.asset_class, dict(a.channels)) for a in root.assets)
    models = []
    for item in root.models:
        path = Path(item.path)
        path = path if path.is_absolute() else base / path
        model_id = item.model_id or default_model_id(path)
        models.append(
            ModelConfig(
                path=path,
                model_id=model_id,
                former_ids=(path.name,) if model_id != path.name and item.model_id is None else (),
                assets=tuple(item.assets),
                asset_class=item.asset_class,
                window=item.window,
                ewm_span=item.ewm_span,
                context=item.context,
                alert=None if item.alert is None else item.alert.model_dump(exclude_unset=True),
                alarm=None if item.alarm is None else item.alarm.model_dump(exclude_unset=True),
            )
        )
    ids = [m.model_id for m in models]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"{source}: models: model_id values must differ, got {ids}; set model_id in each [[models]] table"
        )
    return StreamConfig(
        pipeline=pipeline,
        cases=CasesConfig(close_quiet=root.cases.close_quiet),
        mqtt=mqtt,
        opcua=opcua,
        assets=assets,
        models=tuple(models),
        store=root.store,
        source=source,
    )


# -- error reports: the TOML key, its line, what was expected ------------------------------------------------
def key_path(loc: Sequence[str | int]) -> str:
    """A pydantic error location as a TOML key path.

    >>> key_path(("mqtt", "subscriptions", 0, "layout"))
    'mqtt.subscriptions[0].layout'
    """
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _table_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class of the table at ``loc`` (``None`` where ``loc`` leaves the models)."""
    cls: type[BaseModel] = _Root
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        found = None if field is None else _model_in(field.annotation)
        if found is None:
            return None
        cls = found
    return cls


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (dict, Mapping):  # a map of tables: the key is the table's name
        return None
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Mapping[str, Any]) -> str:
    kind, loc = error["type"], tuple(error["loc"])
    if kind == "extra_forbidden":
        table = _table_at(loc[:-1])
        allowed = f"; allowed here: {', '.join(table.model_fields)}" if table is not None else ""
        return f"unknown key{allowed}"
    parent = _table_at(loc[:-1]) if loc else None
    field = None if parent is None else parent.model_fields.get(str(loc[-1]))
    described = field is not None and field.description
    if kind == "missing":
        return f"required key missing: {field.description}" if described else "required key missing"
    if kind == "model_type":
        return f"expected a table, got {type(error.get('input')).__name__}"
    if kind in ("string_pattern_mismatch", "string_too_short") and described:
        return f"expected {field.description}, got {error.get('input')!r}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if "input" in error and kind not in ("value_error", "assertion_error"):
        msg = f"{msg}, got {error['input']!r}"
    return msg


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _open_brackets(text: str) -> int:
    """How many ``[`` / ``{`` the value part of a line leaves open (strings and comments skipped)."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line (1-based) of each table header and key of a TOML text, by location (tomllib has no positions).

    Array tables are numbered as pydantic numbers list items; keys inside inline tables and multi-line values
    are not listed (their enclosing key's line stands for them).

    >>> key_lines('[mqtt]\\nport = 1\\n[[mqtt.subscriptions]]\\ntopic = "a/+"\\n[[mqtt.subscriptions]]\\ntopic = "b"')
    {('mqtt',): 1, ('mqtt', 'port'): 2, ('mqtt', 'subscriptions', 0): 3, ('mqtt', 'subscriptions', 0, 'topic'): 4, ('mqtt', 'subscriptions', 1): 5, ('mqtt', 'subscriptions', 1, 'topic'): 6}
    """
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    current: tuple[str | int, ...] = ()
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if depth > 0:  # inside a multi-line array or inline table
            depth += _open_brackets(line)
            continue
        header = _HEADER.match(line)
        if header is not None:
            names = _dotted(header.group(2))
            path: tuple[str | int, ...] = ()
            for name in names[:-1]:  # a parent array table means its latest item
                path += (name,)
                if path in counts:
                    path += (counts[path] - 1,)
            path += (names[-1],)
            if header.group(1) == "[[":
                counts[path] = counts.get(path, 0) + 1
                path += (counts[path] - 1,)
            current = path
            lines.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key is not None:
            lines.setdefault(current + _dotted(key.group(1)), number)
            depth = _open_brackets(line[key.end() :])
    return lines


def _line(lines: Mapping[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for end in range(len(loc), 0, -1):  # the key itself, else the nearest enclosing key or table
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _report(err: ValidationError, source: str, text: str | None) -> ConfigError:
    lines = key_lines(text) if text is not None else {}
    found = []
    for error in err.errors():
        loc = tuple(error["loc"])
        line = _line(lines, loc)
        where = f"line {line}, " if line is not None else ""
        found.append((line or 0, f"{where}{key_path(loc) or 'top level'}: {_message(error)}"))
    problems = [text for _, text in sorted(found, key=lambda item: item[0])]  # stable: file order, then key order
    if len(problems) == 1:
        return ConfigError(
            f"{source}, {problems[0]}" if problems[0].startswith("line ") else f"{source}: {problems[0]}"
        )
    return ConfigError(f"{source}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems))


def parse_config(
    raw: Mapping[str, Any], *, base: Path | None = None, source: str = "config", text: str | None = None
) -> StreamConfig:
    """Validate a parsed TOML document; errors name the key (and its line in ``text``, the TOML source)."""
    try:
        root = _Root.model_validate(dict(raw))
    except ValidationError as err:
        raise _report(err, source, text) from None
    return _stream_config(root, base or Path.cwd(), source)


def load_config(path: str | Path) -> StreamConfig:
    """Read and validate a TOML mapping config file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"stream config {str(file)!r} does not exist")
    text = file.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: not valid TOML: {err}") from None
    return parse_config(raw, base=file.resolve().parent, source=str(file), text=text)
