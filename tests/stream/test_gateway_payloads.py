"""Payloads as plant gateways send them: epoch seconds, local wall-clock times, numbers as text, repeated faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forewarn.exceptions import ConfigError
from forewarn.stream.config_file import load_config, parse_config
from forewarn.stream.messages import Catalog, Decoder, ReadingColumns
from forewarn.stream.tables import dead_letter_key

T_S = 1_719_705_600  # 2024-06-30T00:00:00Z in epoch seconds
T_US = T_S * 1_000_000
CATALOG = Catalog({"P-1": {"bearing_temp": "degC", "vib": "mm/s"}})
FIELDS = {"Bearing Temp [°C]": {"channel": "bearing_temp", "unit": "degC"}, "Vib (mm/s)": "vib"}


def _sub(layout: str, **extra: object):
    table: dict = {"topic": "gw/+/data", "layout": layout, "asset": "{1}", **extra}
    if layout == "json":
        table |= {"ts_field": "Timestamp", "fields": FIELDS}
    if layout == "value":
        table["channel"] = "bearing_temp"
    return parse_config({"mqtt": {"subscriptions": [table]}}).mqtt.subscriptions[0]


def _decode(sub, doc: object) -> tuple[ReadingColumns, list]:
    out = ReadingColumns()
    dead = Decoder(CATALOG).decode(sub, "gw/P-1/data", json.dumps(doc).encode(), received_us=1, out=out)
    return out, dead


@pytest.mark.parametrize(
    "layout, doc",
    [
        ("json", {"Timestamp": T_S, "Bearing Temp [°C]": 41.0}),
        ("sparkplug", {"timestamp": T_S, "metrics": [{"name": "bearing_temp", "value": 41.0}]}),
        ("sparkplug", {"metrics": [{"name": "bearing_temp", "value": 41.0, "timestamp": T_S}]}),  # the fast path
        ("value", {"value": 41.0, "ts": T_S}),
    ],
)
def test_epoch_seconds_are_refused_under_ms_and_read_with_ts_unit_s(layout: str, doc: dict) -> None:
    out, dead = _decode(_sub(layout), doc)  # was stored on 1970-01-20
    assert len(out) == 0 and [d.reason for d in dead] == ["bad_timestamp"]
    assert 'ts_unit = "s"' in dead[0].detail and "2024-06-30" in dead[0].detail
    out, dead = _decode(_sub(layout, ts_unit="s"), doc)
    assert dead == [] and out.ts_us == [T_US]


def test_milliseconds_under_ts_unit_s_are_refused_with_the_hint() -> None:
    out, dead = _decode(_sub("json", ts_unit="s"), {"Timestamp": T_S * 1000, "Vib (mm/s)": 2.0})
    assert len(out) == 0 and 'ts_unit = "ms"' in dead[0].detail


def test_naive_local_times_read_in_the_subscriptions_zone() -> None:
    doc = {"Timestamp": "2024-06-30 02:00:00", "Bearing Temp [°C]": 41.0}  # Berlin summer time, UTC+2
    out, _ = _decode(_sub("json", timezone="Europe/Berlin"), doc)
    assert out.ts_us == [T_US]
    out, _ = _decode(_sub("json"), doc)  # no zone: naive is UTC, as documented
    assert out.ts_us == [T_US + 2 * 3_600_000_000]
    out, _ = _decode(_sub("json", timezone="Europe/Berlin"), {**doc, "Timestamp": "2024-06-30T00:00:00Z"})
    assert out.ts_us == [T_US]  # an explicit offset wins over the zone


def test_a_bad_zone_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stream.toml"
    path.write_text(
        '[[mqtt.subscriptions]]\ntopic = "gw/+/data"\nlayout = "json"\nasset = "{1}"\n'
        'fields = { v = "vib" }\ntimezone = "Europe/Berlim"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"stream\.toml.*mqtt\.subscriptions\[0\]\.timezone.*Europe/Berlim"):
        load_config(path)


def test_numbers_sent_as_text_are_numbers_and_other_text_is_a_dead_letter() -> None:
    doc = {"Timestamp": str(T_S * 1000), "Bearing Temp [°C]": " 41.5 ", "Vib (mm/s)": "41,5"}
    out, dead = _decode(_sub("json"), doc)  # was two wrong_type dead letters and no reading
    assert out.value == [41.5] and out.ts_us == [T_US]
    assert [(d.reason, d.channel) for d in dead] == [("wrong_type", "vib")]
    out, dead = _decode(_sub("sparkplug"), {"timestamp": T_S * 1000, "metrics": [{"name": "vib", "value": "2.5"}]})
    assert out.value == [2.5] and dead == []
    out, dead = _decode(_sub("json"), {"Timestamp": T_S * 1000, "Vib (mm/s)": "NaN"})
    assert [d.reason for d in dead] == ["not_finite"]


@pytest.mark.parametrize("layout", ["json", "sparkplug"])
def test_the_same_bad_value_in_many_messages_is_one_dead_letter_each(layout: str) -> None:
    keys = set()
    for k in range(10):
        ms = (T_S + 3600 * k) * 1000
        doc = (
            {"Timestamp": ms, "Vib (mm/s)": "high"}
            if layout == "json"
            else {"timestamp": ms, "metrics": [{"name": "vib", "value": "high"}]}
        )
        _, dead = _decode(_sub(layout), doc)
        keys |= {dead_letter_key(d) for d in dead}
    assert len(keys) == 10  # was 1: the dead-letter table recorded one of ten lost readings
    _, again = _decode(_sub(layout), doc)
    assert {dead_letter_key(d) for d in again} <= keys  # a redelivered message is still recorded once


def test_an_opcua_nodes_repeated_bad_value_is_one_dead_letter_per_change() -> None:
    from forewarn.store import Store
    from forewarn.stream.consumer import StreamConsumer
    from forewarn.stream.mqtt import Envelope

    raw = {
        "opcua": {
            "endpoint": "opc.tcp://127.0.0.1:4840",
            "nodes": [{"node_id": "ns=2;s=P-1.vib", "asset": "P-1", "channel": "vib"}],
        },
        "assets": [{"asset_id": "P-1", "channels": {"vib": "mm/s"}}],
    }
    consumer = StreamConsumer(parse_config(raw), Store(), tick=0.05)  # not started: nothing connects
    keys = set()
    for k in range(5):
        env = Envelope("opcua", "ns=2;s=P-1.vib", float("nan"), received_us=k, ts_us=T_US + k)
        out = ReadingColumns()
        (letter,) = consumer._decode(env, out)
        assert letter.reason == "not_finite" and len(out) == 0
        keys.add(dead_letter_key(letter))
    assert len(keys) == 5  # was 1: five NaN data changes of one node recorded as one dead letter


def test_asset_field_reads_the_asset_from_the_payload_on_one_topic() -> None:
    # asset ids a topic level cannot hold ('#' is MQTT's wildcard): before, there was no way to stream them
    catalog = Catalog({"Pump #3": {"vib": "mm/s"}, "Line 2/Fan 1": {"vib": "mm/s"}})
    table = {"topic": "gw/all", "layout": "json", "asset_field": "device", "ts_field": "t", "fields": {"v": "vib"}}
    sub = parse_config({"mqtt": {"subscriptions": [table]}}).mqtt.subscriptions[0]
    out, dead = ReadingColumns(), []
    for doc in (
        {"device": "Pump #3", "t": T_S * 1000, "v": 2.0},
        {"device": "Line 2/Fan 1", "t": T_S * 1000, "v": 3.0},
        {"device": "Pump #4", "t": T_S * 1000, "v": 4.0},
        {"t": T_S * 1000, "v": 5.0},
    ):
        dead += Decoder(catalog).decode(sub, "gw/all", json.dumps(doc).encode(), received_us=1, out=out)
    assert out.asset == ["Pump #3", "Line 2/Fan 1"] and out.value == [2.0, 3.0]
    assert [d.reason for d in dead] == ["unknown_asset", "missing_field"]
    assert "asset_field" in dead[1].detail


@pytest.mark.parametrize(
    "table, match",
    [
        ({"layout": "json", "fields": {"v": "vib"}}, "set asset"),
        ({"layout": "json", "fields": {"v": "vib"}, "asset": "{1}", "asset_field": "device"}, "one of the two"),
        ({"layout": "sparkplug", "asset_field": "device"}, "asset_field is for layout 'json'"),
    ],
)
def test_asset_or_asset_field_is_checked_naming_the_subscription(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=rf"mqtt\.subscriptions\[0\].*{match}"):
        parse_config({"mqtt": {"subscriptions": [{"topic": "gw/all", **table}]}})


def test_unmapped_json_fields_are_counted_by_name_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway's renamed or extra field is dropped, but counted per name (metrics, status) and said in the log
    once; the time and asset fields are not counted; mapped fields are stored as before."""
    from forewarn.store import Store
    from forewarn.stream.notices import OTHER, UNMAPPED_NAMES
    from forewarn.stream.pipeline import OnlinePipeline

    sub = {"topic": "gw/all", "layout": "json", "asset_field": "device", "ts_field": "Timestamp", "fields": FIELDS}
    cfg = parse_config(
        {
            "mqtt": {"subscriptions": [sub]},
            "assets": [{"asset_id": "P-1", "channels": {"bearing_temp": "degC", "vib": "mm/s"}}],
        }
    )
    decoder = Decoder(CATALOG)
    out = ReadingColumns()
    for i in range(3):  # "Vib (mm/s)" renamed to "Vib RMS" by a gateway update; a status field besides
        doc = {"device": "P-1", "Timestamp": T_S * 1000 + i, "Bearing Temp [°C]": 41.0, "Vib RMS": 2.0, "state": "run"}
        decoder.decode(cfg.mqtt.subscriptions[0], "gw/all", json.dumps(doc).encode(), received_us=1, out=out)
    assert out.channel == ["bearing_temp"] * 3
    assert out.unmapped == {("gw/all", "Vib RMS"): 3, ("gw/all", "state"): 3}
    with Store(tmp_path / "p.duckdb") as store:
        pipe = OnlinePipeline(store, cfg)
        with caplog.at_level("WARNING", logger="forewarn.stream"):
            pipe.process(out, [], messages=3)
            pipe.process(out, [], messages=3)  # the same names again: counted, not said again
            flood = ReadingColumns(unmapped={("gw/all", f"k{i}"): 1 for i in range(UNMAPPED_NAMES + 5)})
            pipe.process(flood, [], messages=1)  # a key per message: the names stay bounded
        counts = pipe.metrics.snapshot()["fields_unmapped"]
        assert counts["Vib RMS"] == 6 and counts["state"] == 6 and "Timestamp" not in counts and "device" not in counts
        assert len(counts) == UNMAPPED_NAMES + 1 and counts[OTHER] == 7
        said = [r.getMessage() for r in caplog.records]
        assert sum("'Vib RMS'" in line and "fields = {" in line for line in said) == 1
        assert sum("more than" in line for line in said) == 1
        assert 'forewarn_stream_fields_unmapped_total{field="Vib RMS"} 6.0' in pipe.metrics.prometheus()
        pipe.close()
