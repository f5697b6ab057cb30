"""StreamRunner: a stream consumer in background threads of a host program (what ``serve --stream`` uses)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pytest

from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker, free_port
from forewarn.stream.config_file import parse_config
from forewarn.stream.replay import Publisher
from forewarn.stream.runner import StreamRunner
from testkit import wait_until

from .conftest import T0_MS, assets_config


def _config(port: int) -> dict:
    return {
        "pipeline": {"batch_max_wait": "20ms"},
        "mqtt": {
            "port": port,
            "client_id": "runner-1",
            "subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}],
        },
        "assets": assets_config(),
    }


def _publish(port: int, rows: list[tuple[str, str, int, float]]) -> None:
    pub = Publisher("127.0.0.1", port, client_id="runner-publisher")
    try:
        pub.send([(f"plant/{a}/{c}", 1, ms, json.dumps({"value": v, "ts": ms}).encode()) for a, c, ms, v in rows])
    finally:
        pub.close()


def test_no_broker_fails_start_with_the_consumer_error_and_leaves_the_store_usable() -> None:
    store = Store()
    runner = StreamRunner(parse_config(_config(free_port())), store, connect_timeout_s=1)
    with pytest.raises(ConfigError, match="no MQTT broker answered"):
        runner.start()
    assert not runner.running and "no MQTT broker" in runner.status()["error"]
    assert runner.consumer is not None
    with pytest.raises(duckdb.Error):  # the streaming tables' connection was closed
        runner.consumer.pipeline.tables.con.execute("SELECT 1")
    assert store.count_readings() == 0  # the host's store is still open
    store.close()


def test_hooks_see_committed_assets_and_a_failing_hook_does_not_stop_the_stream(
    tmp_path: Path, broker: LocalBroker
) -> None:
    seen: list[list[str]] = []
    settled: list[list[str]] = []
    settle_calls = threading.Event()

    def on_readings(assets: list[str]) -> None:
        seen.append(assets)
        raise RuntimeError("a host bug")

    def settle(assets: list[str]) -> None:
        settled.append(assets)
        settle_calls.set()

    with Store(tmp_path / "plant.duckdb") as store:
        runner = StreamRunner(
            parse_config(_config(broker.port)), store, on_readings=on_readings, settle=settle, tick=0.05
        ).start()
        _publish(broker.port, [("P-1", "temp", T0_MS, 40.0), ("P-2", "temp", T0_MS, 41.0)])
        assert wait_until(lambda: store.count_readings() == 2, timeout=20)
        assert settle_calls.wait(10)
        _publish(broker.port, [("P-3", "vib", T0_MS + 60_000, 2.0)])  # still running after the failing hook
        assert wait_until(lambda: store.count_readings() == 3, timeout=20)
        assert wait_until(lambda: runner.status()["readings_written"] == 3, timeout=10)  # counted after the commit
        assert runner.running
        metrics = runner.stop()
    assert metrics["readings_written"] == 3 and not runner.running and runner.error is None
    assert sorted(a for batch in seen for a in batch) == ["P-1", "P-2", "P-3"]
    assert sorted(a for batch in settled for a in batch) == ["P-1", "P-2", "P-3"]  # coalesced, none lost
