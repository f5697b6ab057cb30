"""Stream metrics through prometheus_client: one registry per consumer, served by ``forewarn stream --metrics-port``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.config_file import parse_config
from forewarn.stream.metrics import COUNTERS, StreamMetrics, serve_metrics
from forewarn.stream.replay import Publisher
from forewarn.stream.runner import StreamRunner
from testkit import wait_until

from .conftest import T0_MS, assets_config


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback URL of the test
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("forewarn_stream_")
    }


def test_each_instance_counts_in_its_own_registry() -> None:
    first, second = StreamMetrics(), StreamMetrics()
    first.add("readings_written", 5)
    first.add("batch_seconds", 0.25)
    first.dead_letter("bad_json", 2)
    assert second.snapshot()["readings_written"] == 0 and second.snapshot()["dead_letters"] == {}
    snap = first.snapshot()
    assert snap["readings_written"] == 5 and isinstance(snap["readings_written"], int)
    assert snap["batch_seconds"] == 0.25 and snap["dead_letters"] == {"bad_json": 2}
    assert set(snap) == set(COUNTERS) | {"dead_letters", "fields_unmapped"}
    text = first.prometheus()
    assert "# TYPE forewarn_stream_readings_written_total counter" in text
    assert "forewarn_stream_readings_written_total 5.0" in text
    assert 'forewarn_stream_dead_letters_total{reason="bad_json"} 2.0' in text
    with pytest.raises(KeyError, match="unknown stream metric 'colour'"):
        first.add("colour")


def test_the_server_answers_on_loopback_and_a_busy_port_is_a_config_error() -> None:
    metrics = StreamMetrics()
    metrics.add("messages", 3)
    with serve_metrics(metrics.registry) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        assert _scrape(server.url)["forewarn_stream_messages_total"] == 3.0
        with pytest.raises(ConfigError, match=rf"cannot serve stream metrics on 127.0.0.1:{server.port}"):
            serve_metrics(metrics.registry, port=server.port)
    with pytest.raises(ConnectionRefusedError):  # closed: nothing listens any more
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


def _config(tmp_path: Path, port: int) -> Path:
    lines = [
        "[pipeline]",
        'batch_max_wait = "20ms"',
        "[mqtt]",
        f"port = {port}",
        'client_id = "metrics-test"',
        "[[mqtt.subscriptions]]",
        'topic = "plant/+/+"',
        'layout = "value"',
        'asset = "{1}"',
        'channel = "{2}"',
    ]
    for asset in assets_config():
        channels = ", ".join(f'{c} = "{u}"' for c, u in asset["channels"].items())
        lines += [
            "[[assets]]",
            f'asset_id = "{asset["asset_id"]}"',
            f'asset_class = "{asset["asset_class"]}"',
            f"channels = {{ {channels} }}",
        ]
    path = tmp_path / "stream.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _publish(port: int, start: int, count: int, *, bad: int = 0) -> None:
    messages = [
        (
            "plant/P-1/temp",
            1,
            T0_MS + i * 60_000,
            json.dumps({"value": 40.0 + i % 7, "ts": T0_MS + i * 60_000}).encode(),
        )
        for i in range(start, start + count)
    ]
    messages += [("plant/P-1/temp", 1, T0_MS, b"not json") for _ in range(bad)]
    pub = Publisher("127.0.0.1", port, client_id="metrics-publisher")
    try:
        pub.send(messages)
    finally:
        pub.close()


def test_forewarn_stream_serves_its_counters_and_they_move(broker: LocalBroker, tmp_path: Path) -> None:
    log = (tmp_path / "stream.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forewarn.cli.stream",
            "stream",
            "--config",
            str(_config(tmp_path, broker.port)),
            "--store",
            str(tmp_path / "plant.duckdb"),
            "--progress",
            "--idle-exit",
            "4",
            "--max-seconds",
            "90",
            "--metrics-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready", (tmp_path / "stream.log").read_text()
        url = ready["metrics"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        before = _scrape(url)
        assert before["forewarn_stream_readings_written_total"] == 0 and before["forewarn_stream_batches_total"] == 0

        _publish(broker.port, 0, 30, bad=2)
        assert wait_until(lambda: _scrape(url)["forewarn_stream_readings_written_total"] == 30, timeout=30)
        after = _scrape(url)
        assert after["forewarn_stream_messages_total"] == 32 and after["forewarn_stream_batches_total"] >= 1
        assert after["forewarn_stream_readings_received_total"] == 30
        assert sum(v for k, v in after.items() if k.startswith("forewarn_stream_dead_letters_total{")) == 2
        assert after["forewarn_stream_batch_seconds_total"] > 0

        _publish(broker.port, 20, 20)  # 10 repeats, 10 new
        assert wait_until(lambda: _scrape(url)["forewarn_stream_readings_written_total"] == 40, timeout=30)
        assert _scrape(url)["forewarn_stream_readings_duplicate_total"] == 10
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["event"] == "stopped" and stopped["readings_written"] == 40 and proc.returncode == 0
    with pytest.raises(OSError):  # the endpoint closed with the stream
        urllib.request.urlopen(url, timeout=2)  # noqa: S310


def test_a_runner_is_a_collector_of_its_consumer_registry(broker: LocalBroker) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    raw = {
        "pipeline": {"batch_max_wait": "20ms"},
        "assets": assets_config(),
        "mqtt": {
            "port": broker.port,
            "client_id": "runner-metrics",
            "subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}],
        },
    }
    runner = StreamRunner(parse_config(raw), Store())
    host = CollectorRegistry()  # what a host such as the service does
    host.register(runner)
    assert generate_latest(host) == b""  # nothing before start
    runner.start()
    try:
        _publish(broker.port, 0, 12)
        assert wait_until(lambda: runner.status()["readings_written"] == 12, timeout=30)
        assert host.get_sample_value("forewarn_stream_readings_written_total") == 12
        assert host.get_sample_value("forewarn_stream_messages_total") == 12
    finally:
        runner.stop()
        runner.store.close()
