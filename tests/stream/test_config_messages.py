"""The mapping config and the payload decoder: every layout, every dead-letter reason, no crash on any input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.exceptions import ConfigError
from forewarn.stream.config_file import load_config, parse_config
from forewarn.stream.messages import Catalog, Decoder, ReadingColumns

SUBS = [
    {
        "topic": "spBv1.0/plant/DDATA/edge/+",
        "layout": "sparkplug",
        "asset": "{4}",
        "channels": {"Bearing/Temp": {"channel": "temp", "unit": "degC"}},
    },
    {"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"},
    {
        "topic": "lines/+/telemetry",
        "layout": "json",
        "asset": "pump-{1}",
        "ts_field": "time",
        "fields": {"t": "temp", "v": "vib"},
    },
]


def _decoder() -> tuple[Decoder, list]:
    cfg = parse_config({"mqtt": {"subscriptions": SUBS}})
    catalog = Catalog({"P-1": {"temp": "degC", "vib": "mm/s"}, "pump-7": {"temp": "degC", "vib": "mm/s"}})
    return Decoder(catalog, max_payload_bytes=400), list(cfg.mqtt.subscriptions)


def test_config_file_with_relative_model_path(tmp_path: Path) -> None:
    (tmp_path / "stream.toml").write_text("""
[pipeline]
batch_max_wait = "250ms"
allowed_lateness = "2s"
[mqtt]
port = 1884
alert_topic = "alerts"
[[mqtt.subscriptions]]
topic = "plant/+/+"
layout = "value"
asset = "{1}"
channel = "{2}"
unit = "degC"
[[models]]
path = "models/iforest"
asset_class = "pump"
alert = { threshold = 0.6, cooldown = "30min" }
""")
    cfg = load_config(tmp_path / "stream.toml")
    assert cfg.pipeline.batch_max_wait_s == 0.25 and cfg.pipeline.allowed_lateness_s == 2.0
    assert cfg.mqtt.port == 1884 and cfg.mqtt.alert_topic == "alerts" and cfg.mqtt.qos == 1
    assert cfg.models[0].path == tmp_path / "models" / "iforest" and cfg.models[0].model_id == "iforest"
    assert cfg.models[0].covers("P-1", "pump") and not cfg.models[0].covers("F-1", "fan")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "no source"),
        ({"mqtt": {"subscriptions": []}}, "at least one"),
        ({"mqtt": {"subscriptions": [{"topic": "a/+", "layout": "csv", "asset": "{1}"}]}}, "layout"),
        ({"mqtt": {"subscriptions": [{"topic": "a/+", "layout": "value", "asset": "{1}"}]}}, "needs channel"),
        ({"mqtt": {"subscriptions": [{"topic": "a/+", "layout": "json", "asset": "{1}"}]}}, "needs fields"),
        ({"mqtt": {"subscriptions": [{"topic": "a/+", "asset": "{x}"}]}}, "topic levels"),
        ({"mqtt": {"qos": 2, "subscriptions": [{"topic": "a/+", "asset": "{1}"}]}}, "qos"),
        ({"mqtt": {"subscriptions": [{"topic": "a/+", "asset": "{1}", "colour": 1}]}}, "unknown key"),
        (
            {"pipeline": {"batch_max_wait": "soon"}, "mqtt": {"subscriptions": [{"topic": "a/+", "asset": "{1}"}]}},
            "not a duration",
        ),
        (
            {"opcua": {"endpoint": "opc.tcp://127.0.0.1:4840", "nodes": [{"node_id": "ns=2;i=1", "asset": "P"}]}},
            "required",
        ),
        (
            {"mqtt": {"subscriptions": [{"topic": "a/+", "asset": "{1}"}]}, "models": [{"path": "m"}, {"path": "x/m"}]},
            "must differ",
        ),
        (
            {"mqtt": {"subscriptions": [{"topic": "a/+", "asset": "{1}"}]}, "models": [{"path": "m", "alert": {}}]},
            "threshold",
        ),
    ],
)
def test_config_errors_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[mqtt\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_three_layouts() -> None:
    dec, (spark, value, flat) = _decoder()
    out = ReadingColumns()
    payload = {
        "timestamp": 1_700_000_000_000,
        "metrics": [
            {"name": "Bearing/Temp", "value": 41.5},
            {"name": "vib", "timestamp": 1_700_000_001_000, "value": 2},
            {"name": "vib", "timestamp": "2023-11-14T22:13:22Z", "value": 2.5},
            {"name": "vib", "is_null": True},
        ],
    }
    assert dec.decode(spark, "spBv1.0/plant/DDATA/edge/P-1", json.dumps(payload).encode(), received_us=5, out=out) == []
    assert dec.decode(value, "plant/P-1/temp", b"40.25", received_us=7, out=out) == []
    assert dec.decode(value, "plant/P-1/vib", b'{"value": 3.0, "ts": 1700000005000}', received_us=7, out=out) == []
    assert (
        dec.decode(
            flat,
            "lines/7/telemetry",
            b'{"time": "2023-11-14T22:13:20+00:00", "t": 39.0, "x": 1}',
            received_us=9,
            out=out,
        )
        == []
    )
    assert list(zip(out.asset, out.channel, out.ts_us, out.value, strict=True)) == [
        ("P-1", "temp", 1_700_000_000_000_000, 41.5),
        ("P-1", "vib", 1_700_000_001_000_000, 2.0),
        ("P-1", "vib", 1_700_000_002_000_000, 2.5),
        ("P-1", "temp", 7, 40.25),
        ("P-1", "vib", 1_700_000_005_000_000, 3.0),
        ("pump-7", "temp", 1_700_000_000_000_000, 39.0),
    ]


@pytest.mark.parametrize(
    ("layout", "topic", "payload", "reason"),
    [
        (0, "spBv1.0/plant/DDATA/edge/P-1", b'{"metrics": [', "malformed_json"),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b"\xff\xfe", "malformed_json"),
        (0, "spBv1.0/plant/DDATA/edge/P-9", b'{"timestamp": 1, "metrics": []}', "unknown_asset"),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "rpm", "value": 1}]}',
            "unknown_channel",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": NaN}]}',
            "not_finite",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": -Infinity}]}',
            "not_finite",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": 1e999}]}',
            "not_finite",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": 1' + b"0" * 320 + b"}]}",
            "not_finite",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": "high"}]}',
            "wrong_type",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": true}]}',
            "wrong_type",
        ),
        (
            0,
            "spBv1.0/plant/DDATA/edge/P-1",
            b'{"timestamp": 1, "metrics": [{"name": "vib", "value": null}]}',
            "wrong_type",
        ),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b"[1, 2]", "wrong_type"),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b'{"metrics": [{"name": "vib", "value": 1}]}', "bad_timestamp"),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b'{"timestamp": 1, "metrics": [{"value": 1}]}', "missing_field"),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b'{"timestamp": 1}', "missing_field"),
        (0, "spBv1.0/plant/DDATA/edge/P-1", b'{"timestamp": 1, "pad": "' + b"x" * 500 + b'"}', "oversized"),
        (1, "plant/P-1/temp", b"warm", "malformed_json"),
        (1, "plant/P-1/temp", b'"warm"', "wrong_type"),
        (1, "plant/P-1/temp", b'{"ts": 1}', "missing_field"),
        (1, "plant/P-1/temp", b'{"value": 1, "ts": "yesterday"}', "bad_timestamp"),
        (2, "lines/9/telemetry", b'{"time": 1, "t": 1}', "unknown_asset"),
        (2, "lines/7/telemetry", b'{"t": 1}', "bad_timestamp"),
    ],
)
def test_each_dead_letter_reason(layout: int, topic: str, payload: bytes, reason: str) -> None:
    dec, subs = _decoder()
    out = ReadingColumns()
    dead = dec.decode(subs[layout], topic, payload, received_us=1, out=out)
    assert [d.reason for d in dead] == [reason]
    assert len(out) == 0
    assert dead[0].source == f"mqtt:{topic}" and dead[0].detail and len(dead[0].payload) <= 2100


def test_good_readings_of_a_message_survive_its_bad_ones() -> None:
    dec, subs = _decoder()
    out = ReadingColumns()
    payload = (
        b'{"timestamp": 1, "metrics": [{"name": "vib", "value": 1.5}, {"name": "vib", "value": NaN, '
        b'"timestamp": 2}, {"name": "temp", "value": 40, "timestamp": 3}]}'
    )
    dead = dec.decode(subs[0], "spBv1.0/plant/DDATA/edge/P-1", payload, received_us=1, out=out)
    assert [(d.reason, d.item) for d in dead] == [("not_finite", 1)]
    assert out.value == [1.5, 40.0]


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(max_size=300)
    | st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["timestamp", "metrics", "name", "value", "ts", "time", "t", "is_null"]),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    ).map(lambda doc: json.dumps(doc).encode()),
    layout=st.integers(0, 2),
)
def test_no_payload_crashes_the_decoder(payload: bytes, layout: int) -> None:
    dec, subs = _decoder()
    topic = ["spBv1.0/plant/DDATA/edge/P-1", "plant/P-1/temp", "lines/7/telemetry"][layout]
    out = ReadingColumns()
    dead = dec.decode(subs[layout], topic, payload, received_us=1, out=out)
    assert all(isinstance(v, float) and v == v and abs(v) != float("inf") for v in out.value)
    assert all(d.reason for d in dead)
