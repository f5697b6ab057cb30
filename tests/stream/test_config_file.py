"""The stream config file through its pydantic tables: good files load, a bad one names the key and its line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forewarn.exceptions import ConfigError
from forewarn.stream import config_file
from forewarn.stream.config_file import key_lines, load_config, parse_config

GOOD = """\
store = "plant.duckdb"

[pipeline]
batch_max_readings = 1000
batch_max_wait = "250ms"
idle_release = 5

[mqtt]
host = "127.0.0.1"
port = 1884
keepalive = "1min"
qos = 0

[[mqtt.subscriptions]]
topic = "spBv1.0/plant1/DDATA/+/+"
asset = "{4}"
channels = { "Bearing/Temp" = "bearing_temp", "Speed" = { channel = "speed", unit = "rpm" } }

[[mqtt.subscriptions]]
topic = "lines/+/telemetry"
layout = "json"
asset = "pump-{1}"
ts_field = "time"
fields = { t = { channel = "temp", unit = "degC" } }

[[assets]]
asset_id = "P-101"
asset_class = "pump"
channels = { temp = "degC" }

[[models]]
path = "models/pump"
assets = [
    "P-101",
    "P-102",
]
window = 12
alert = { threshold = 0.65, clear_threshold = 0.55, min_consecutive = 2, cooldown = "30min" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stream.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    return str(caught.value)


def test_a_good_file_loads_with_every_value_converted(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD))
    assert cfg.store == "plant.duckdb" and cfg.opcua is None
    assert cfg.pipeline.batch_max_readings == 1000 and cfg.pipeline.batch_max_wait_s == 0.25
    assert cfg.pipeline.idle_release_s == 5.0 and cfg.pipeline.allowed_lateness_s == 0.0
    assert (cfg.mqtt.port, cfg.mqtt.keepalive_s, cfg.mqtt.qos, cfg.mqtt.session_expiry_s) == (1884, 60, 0, 86400)
    spark, flat = cfg.mqtt.subscriptions
    assert spark.layout == "sparkplug" and spark.channels["Speed"].unit == "rpm"
    assert spark.channels["Bearing/Temp"].channel == "bearing_temp" and spark.channels["Bearing/Temp"].unit is None
    assert flat.ts_field == "time" and flat.channels["t"].channel == "temp"
    assert cfg.assets[0].channels == {"temp": "degC"}
    model = cfg.models[0]
    assert model.path == tmp_path / "models" / "pump" and model.model_id == "pump"
    assert model.assets == ("P-101", "P-102") and model.window == 12
    assert model.alert == {"threshold": 0.65, "clear_threshold": 0.55, "min_consecutive": 2, "cooldown": "30min"}


def test_an_opcua_only_file_loads(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            '[opcua]\nendpoint = "opc.tcp://127.0.0.1:4840"\npublishing_interval = "50ms"'
            '\n[[opcua.nodes]]\nnode_id = "ns=2;s=P.t"\nasset = "P"\nchannel = "t"\n',
        )
    )
    assert cfg.mqtt is None and cfg.opcua.publishing_interval_s == 0.05 and cfg.opcua.nodes[0].asset == "P"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "qos = 0",
            "qos = 0\nprot = 1883",
            r"line 13, mqtt\.prot: unknown key; allowed here: host, port, .*subscriptions",
        ),
        (
            'ts_field = "time"',
            'ts_field = "time"\ncolour = "red"',
            r"line 24, mqtt\.subscriptions\[1\]\.colour: unknown key; allowed here: topic, layout",
        ),
        ("port = 1884", 'port = "1884"', r"line 10, mqtt\.port: Input should be a valid integer, got '1884'"),
        (
            'batch_max_wait = "250ms"',
            'batch_max_wait = "soon"',
            r"line 5, pipeline\.batch_max_wait: 'soon' is not a duration; write e\.g\. '250ms'",
        ),
        (
            'layout = "json"',
            'layout = "csv"',
            r"line 21, mqtt\.subscriptions\[1\]\.layout: Input should be 'sparkplug', 'value' or 'json', got 'csv'",
        ),
        ('layout = "json"', 'layout = "value"', r"line 19, mqtt\.subscriptions\[1\]: layout 'value' needs channel"),
        ('asset = "pump-{1}"', 'asset = "pump-{x}"', r"line 22, mqtt\.subscriptions\[1\]\.asset: .*topic levels"),
        ("qos = 0", "qos = 2", r"line 12, mqtt\.qos: qos 2: use 1 \(at-least-once"),
        ("window = 12", "window = 0", r"line 37, models\[0\]\.window: Input should be greater than or equal to 1"),
        (
            "clear_threshold = 0.55",
            "clear_threshold = 0.75",
            r"line 38, models\[0\]\.alert: clear_threshold 0\.75 is "
            r"above threshold 0\.65",
        ),
        (
            "min_consecutive = 2",
            "min_consecutive = 2, colour = 1",
            r"line 38, models\[0\]\.alert\.colour: unknown key; allowed here: threshold, clear_threshold",
        ),
        (
            'channels = { temp = "degC" }',
            "channels = { temp = 1 }",
            r"line 29, assets\[0\]\.channels\.temp: Input should be a valid string, got 1",
        ),
        (
            'asset_id = "P-101"',
            'name = "P-101"',
            r"line 26, assets\[0\]\.asset_id: required key missing.*\n.*line 27, assets\[0\]\.name: unknown key",
        ),
        ('"P-101",\n', '"P-101", 7,\n', r"line 33, models\[0\]\.assets\[1\]: Input should be a valid string, got 7"),
        (
            '[[models]]\npath = "models/pump"',
            "[[models]]\npath = 3",
            r"line 32, models\[0\]\.path: Input should be a valid string, got 3",
        ),
    ],
)
def test_a_bad_file_names_the_key_and_its_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    message = _error(tmp_path, GOOD.replace(old, new, 1))
    assert message.startswith(str(tmp_path / "stream.toml"))
    assert re.search(expected, message), message


def test_every_problem_is_listed_in_file_order(tmp_path: Path) -> None:
    text = GOOD.replace("port = 1884", "port = 0").replace("window = 12", 'window = "wide"')
    message = _error(tmp_path, text.replace("[pipeline]", "[pipeline]\nspeed = 3"))
    lines = message.splitlines()
    assert lines[0].endswith("3 problems:")
    assert [re.match(r"\s+line (\d+), (\S+):", line).groups() for line in lines[1:]] == [
        ("4", "pipeline.speed"),
        ("11", "mqtt.port"),
        ("38", "models[0].window"),
    ]


def test_missing_and_misplaced_tables(tmp_path: Path) -> None:
    assert re.search(r"top level: no source; add an \[mqtt\] table", _error(tmp_path, "[pipeline]\n"))
    assert "line 1, mqtt: add at least one [[mqtt.subscriptions]] table" in _error(tmp_path, "[mqtt]\nport = 1\n")
    assert re.search(
        r"line 1, colour: unknown key; allowed here: pipeline, mqtt, opcua, assets, models, cases, store",
        _error(tmp_path, "colour = 1\n" + GOOD),
    )
    assert "pipeline: expected a table, got int" in _error(
        tmp_path, "pipeline = 3\n" + GOOD.split("[pipeline]")[1].split("\n", 4)[-1]
    )
    assert re.search(
        r"line 2, opcua\.endpoint: expected a URL such as 'opc\.tcp://127\.0\.0\.1:4840', got 'http://x'",
        _error(
            tmp_path, '[opcua]\nendpoint = "http://x"\n[[opcua.nodes]]\nnode_id = "n"\nasset = "a"\nchannel = "c"\n'
        ),
    )
    assert re.search(
        r"line 3, opcua\.nodes\[0\]\.channel: required key missing",
        _error(tmp_path, '[opcua]\nendpoint = "opc.tcp://h:1"\n[[opcua.nodes]]\nnode_id = "n"\nasset = "a"\n'),
    )


def test_duplicate_model_ids_name_the_fix(tmp_path: Path) -> None:
    text = GOOD + '\n[[models]]\npath = "other/pump"\n'
    assert re.search(r"model_id values must differ, got \['pump', 'pump'\]; set model_id", _error(tmp_path, text))
    assert [m.model_id for m in load_config(_write(tmp_path, text + 'model_id = "pump-2"\n')).models] == [
        "pump",
        "pump-2",
    ]


def test_parse_config_without_text_names_the_key_only() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^config: mqtt\.subscriptions\[0\]\.topic: required key missing: an MQTT "
        r"topic filter",
    ):
        parse_config({"mqtt": {"subscriptions": [{"asset": "{1}"}]}})


def test_key_lines_follow_array_tables_dotted_keys_and_multiline_values() -> None:
    text = (
        'a.b = 1  # dotted\n[t]\nlist = [\n  [1, 2],\n  "[x]",\n]\nafter = { k = "}" }\n'
        '[[t.items]]\nname = "one"\n[t.items.sub]\nv = 1\n[[t.items]]\n"quoted key" = 2\n'
    )
    lines = key_lines(text)
    assert lines[("a", "b")] == 1 and lines[("t",)] == 2 and lines[("t", "list")] == 3
    assert lines[("t", "after")] == 7 and lines[("t", "items", 0, "name")] == 9
    assert lines[("t", "items", 0, "sub", "v")] == 11 and lines[("t", "items", 1, "quoted key")] == 13
    assert not any(loc[-1] == "x" for loc in lines)


def test_the_module_docstring_example_is_a_valid_config() -> None:
    doc = config_file.__doc__
    body = doc.split("A full example (``docs``-style)::\n", 1)[1].split("\nRelative paths", 1)[0]
    text = "\n".join(line[4:] for line in body.splitlines())
    import tomllib

    cfg = parse_config(tomllib.loads(text), text=text)
    assert cfg.mqtt is not None and len(cfg.mqtt.subscriptions) == 3 and cfg.opcua is not None
    assert cfg.models[0].alert["cooldown"] == "1h"


def test_forewarn_stream_reports_a_bad_config_with_its_line(tmp_path: Path) -> None:
    from forewarn.cli.main import app

    path = _write(tmp_path, GOOD.replace("qos = 0", "qos = 0\nprot = 1883"))
    result = CliRunner().invoke(app, ["stream", "--config", str(path)])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert "line 13, mqtt.prot: unknown key" in str(result.exception)


def test_the_readme_example_loads_through_the_config_loader(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README has no ```toml block"
    cfg = load_config(_write(tmp_path, blocks[0]))
    assert cfg.store == "plant.duckdb" and cfg.mqtt is not None and len(cfg.mqtt.subscriptions) == 3
    assert [s.layout for s in cfg.mqtt.subscriptions] == ["sparkplug", "value", "json"]
    assert cfg.mqtt.subscriptions[0].resolve("spBv1.0/plant1/DDATA/edge/P-101") == ("P-101", None)
    assert cfg.assets[0].channels["vib"] == "mm/s" and cfg.models[0].path == tmp_path / "models" / "pump-pca"
    assert cfg.models[0].alert["threshold"] == 0.65 and cfg.pipeline.batch_max_wait_s == 0.1
