"""Against a real mosquitto on 127.0.0.1: layouts, alerts out, bad messages, broker restart, consumer SIGKILL."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.base import load, read_manifest
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.mqtt import new_client
from forewarn.stream.replay import Publisher, sparkplug_messages
from testkit import wait_until

from .conftest import (
    CHANNELS,
    WINDOW,
    ConsumerThread,
    assets_config,
    batch_features,
    make_fleet,
    sparkplug,
)

PREFIX = "spBv1.0/plant/DDATA/edge"


def _config(port: int, model_dir: Path | None = None, *, client_id: str = "consumer-1", **pipeline: object) -> dict:
    raw: dict = {
        "pipeline": {"batch_max_wait": "50ms", "idle_release": "1s", **pipeline},
        "mqtt": {
            "port": port,
            "client_id": client_id,
            "alert_topic": "forewarn/alerts",
            "subscriptions": [
                {"topic": f"{PREFIX}/+", "layout": "sparkplug", "asset": "{4}"},
                {"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"},
                {"topic": "lines/+/telemetry", "layout": "json", "asset": "{1}", "fields": {"t": "temp", "v": "vib"}},
            ],
        },
        "assets": assets_config(),
    }
    if model_dir is not None:
        raw["models"] = [
            {
                "path": str(model_dir),
                "window": WINDOW,
                "alert": {"threshold": 20.0, "clear_threshold": 10.0, "min_consecutive": 2},
            }
        ]
    return raw


def _toml(raw: dict) -> str:
    """The test configs as TOML (only the shapes used here)."""

    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines = []
    for section in ("pipeline", "mqtt"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in raw[section].items() if k != "subscriptions"]
    for sub in raw["mqtt"]["subscriptions"]:
        lines.append("[[mqtt.subscriptions]]")
        lines += [f"{k} = {value(v)}" for k, v in sub.items()]
    for table in ("assets", "models"):
        for item in raw.get(table, []):
            lines.append(f"[[{table}]]")
            lines += [f"{k} = {value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _publish_all(port: int, messages: list[tuple[str, bytes]], client_id: str = "publisher-1") -> None:
    pub = Publisher("127.0.0.1", port, client_id=client_id)
    try:
        pub.send([(topic, 1, 0, payload) for topic, payload in messages])
    finally:
        pub.close()


def test_layouts_store_score_and_publish_alerts(tmp_path: Path, broker: LocalBroker, model_dir: Path) -> None:
    wide = make_fleet(3, 90, anomaly="P-2", seed=4)
    messages = [(f"{PREFIX}/{a}", p) for a, p, _ in sparkplug(wide, rows_per_message=15)]
    messages += [
        ("plant/P-4/temp", b'{"value": 41.0, "ts": "2024-01-01T00:00:00Z"}'),
        ("plant/P-4/vib", b"2.5"),
        ("lines/P-5/telemetry", b'{"ts": 1704067200000, "t": 39.5, "v": 1.25}'),
    ]
    alerts: queue.Queue = queue.Queue()
    listener = new_client("alert-listener")
    listener.on_message = lambda c, u, m: alerts.put((m.topic, json.loads(m.payload)))
    listener.connect("127.0.0.1", broker.port)
    listener.subscribe("forewarn/alerts/#", qos=1)
    listener.loop_start()
    try:
        with Store(tmp_path / "plant.duckdb") as store:
            running = ConsumerThread(_config(broker.port, model_dir), store)
            _publish_all(broker.port, messages)
            metrics = running.join()
            assert store.count_readings() == 3 * 90 * 2 + 4
            assert metrics["dead_letters"] == {} and metrics["readings_written"] == 3 * 90 * 2 + 4
            scored = store.sql("SELECT count(*) AS n FROM stream_scores WHERE asset_id IN ('P-0', 'P-1', 'P-2')")
            assert scored["n"].iloc[0] == 3 * 90
            assert store.sql("SELECT asset_id FROM stream_alerts")["asset_id"].tolist() == ["P-2"]
        topic, alert = alerts.get(timeout=10)
        assert topic == "forewarn/alerts/P-2" and alert["model_id"] == "pump-pca" and "vib" in alert["explanation"]
    finally:
        listener.disconnect()
        listener.loop_stop()


def test_bad_messages_go_to_the_dead_letter_table(tmp_path: Path, broker: LocalBroker) -> None:
    raw = _config(broker.port)
    raw["pipeline"]["max_payload_bytes"] = 2000
    bad = [
        (f"{PREFIX}/P-1", b'{"timestamp": 1, "metrics": [{"name": "temp", "value": 4'),  # malformed JSON
        (f"{PREFIX}/Q-9", b'{"timestamp": 1, "metrics": [{"name": "temp", "value": 4}]}'),  # unknown asset
        (f"{PREFIX}/P-1", b'{"timestamp": 1, "metrics": [{"name": "rpm", "value": 4}]}'),  # unknown channel
        (f"{PREFIX}/P-1", b'{"timestamp": 1, "metrics": [{"name": "temp", "value": NaN}]}'),  # NaN
        ("plant/P-1/vib", b"Infinity"),  # infinity
        ("plant/P-1/vib", b'"very high"'),  # wrong type
        (f"{PREFIX}/P-1", b'{"timestamp": 1, "metrics": [], "pad": "' + b"x" * 5000 + b'"}'),  # oversized
    ]
    good = (f"{PREFIX}/P-1", b'{"timestamp": 1704067200000, "metrics": [{"name": "temp", "value": 40.5}]}')
    with Store(tmp_path / "plant.duckdb") as store:
        running = ConsumerThread(raw, store)
        _publish_all(broker.port, [*bad, good])
        metrics = running.join()
        assert store.count_readings() == 1, "the good message after the bad ones is stored: the consumer lives on"
        found = store.sql("SELECT reason, source, payload FROM stream_dead_letters ORDER BY reason")
    expected = {
        "malformed_json": 1,
        "unknown_asset": 1,
        "unknown_channel": 1,
        "not_finite": 2,
        "wrong_type": 1,
        "oversized": 1,
    }
    assert metrics["dead_letters"] == expected
    assert found["reason"].value_counts().to_dict() == expected
    assert set(found["source"]) == {f"mqtt:{PREFIX}/P-1", f"mqtt:{PREFIX}/Q-9", "mqtt:plant/P-1/vib"}
    assert found.loc[found["reason"] == "oversized", "payload"].str.len().iloc[0] < 2200


def _expected(wide: pd.DataFrame) -> set[tuple[str, str, int, float]]:
    long = wide.melt(id_vars=["asset_id", "ts"], value_vars=list(CHANNELS), var_name="channel").dropna()
    return {
        (a, c, int(t), float(v))
        for a, c, t, v in zip(long["asset_id"], long["channel"], long["ts"].astype("int64"), long["value"], strict=True)
    }


def _check_store(store: Store, wide: pd.DataFrame, model_dir: Path) -> None:
    """Every reading once with its value; every row scored exactly once, with the batch score."""
    got = store.sql("SELECT asset_id, channel, epoch_us(ts) AS t, value FROM readings")
    assert len(got) == len(_expected(wide))
    assert set(zip(got["asset_id"], got["channel"], got["t"], got["value"], strict=True)) == _expected(wide)
    scores = store.sql("SELECT asset_id, epoch_us(ts) AS t, score FROM stream_scores ORDER BY 1, 2")
    assert not scores.duplicated(["asset_id", "t"]).any(), "a row was scored twice"
    batch = batch_features(wide, read_manifest(model_dir)["feature_names"])
    expected = pd.Series(
        load(model_dir).score(batch), index=pd.MultiIndex.from_arrays([wide["asset_id"], wide["ts"].astype("int64")])
    )
    assert len(scores) == len(wide)
    np.testing.assert_allclose(
        scores["score"].to_numpy(),
        expected.loc[list(zip(scores["asset_id"], scores["t"], strict=True))].to_numpy(),
        rtol=1e-7,
    )


def test_broker_restart_loses_and_duplicates_nothing(tmp_path: Path, broker: LocalBroker, model_dir: Path) -> None:
    wide = make_fleet(4, 120, seed=6)
    messages = [(f"{PREFIX}/{a}", p) for a, p, _ in sparkplug(wide, rows_per_message=4)]
    with Store(tmp_path / "plant.duckdb") as store:
        running = ConsumerThread(_config(broker.port, model_dir, idle_release="3s"), store, idle_exit=3.0)
        pub = Publisher("127.0.0.1", broker.port, client_id="publisher-restart")
        half = len(messages) // 2
        pub.send([(t, 1, 0, p) for t, p in messages[:half]])
        assert wait_until(lambda: store.count_readings() > 0, timeout=20)
        broker.restart(down_s=0.5)  # queued messages and both sessions survive (persistence, SIGTERM)
        pub.send([(t, 1, 0, p) for t, p in messages[half:]], flush_timeout=60)
        pub.close()
        running.join(timeout=60)
        _check_store(store, wide, model_dir)


def _reader(stream, lines: queue.Queue) -> None:  # noqa: ANN001 - a text pipe
    for line in stream:
        lines.put(line)


class Consumer:
    """``forewarn stream`` as a subprocess, with its stdout events in a queue and its stderr in a file."""

    def __init__(self, config: Path, store: Path, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "forewarn.cli.stream",
                "stream",
                "--config",
                str(config),
                "--store",
                str(store),
                "--progress",
                "--idle-exit",
                "3",
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=_reader, args=(self.proc.stdout, self.lines), daemon=True)
        self.reader.start()
        self.log_path = log

    def wait_event(self, check, timeout: float) -> dict:  # noqa: ANN001 - a predicate on events
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = json.loads(self.lines.get(timeout=0.2))
            except queue.Empty:
                assert self.proc.poll() is None, f"the consumer exited: {self.log_path.read_text()[-3000:]}"
                continue
            if check(event):
                return event
        raise AssertionError(f"the consumer did not get there in time: {self.log_path.read_text()[-3000:]}")

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=20)
        self.reader.join(timeout=5)
        self.proc.stdout.close()
        self.log.close()
        return code


def test_consumer_killed_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, broker: LocalBroker, model_dir: Path
) -> None:
    wide = make_fleet(4, 150, seed=9)
    messages = list(sparkplug_messages(wide, prefix=PREFIX, rows_per_message=3))  # with their times, for pacing
    total = 4 * 150 * 2
    config = tmp_path / "stream.toml"
    config.write_text(_toml(_config(broker.port, model_dir, client_id="crash-consumer")))
    store = tmp_path / "plant.duckdb"
    first = Consumer(config, store, tmp_path / "first.log")
    try:
        first.wait_event(lambda e: e["event"] == "ready", timeout=60)
        pub = Publisher("127.0.0.1", broker.port, client_id="crash-publisher")
        sender = threading.Thread(
            target=pub.send, args=(messages,), kwargs={"speedup": 60 * 60 * 2.0}
        )  # 150 minutes of data in about 1.3 s
        sender.start()
        first.wait_event(lambda e: e.get("total_written", 0) >= total // 4, timeout=30)
        first.proc.send_signal(signal.SIGKILL)  # mid-stream: batches in flight, messages unacknowledged
        assert first.proc.wait(timeout=10) == -signal.SIGKILL
        sender.join(timeout=60)
        pub.close()
    finally:
        first.close()
    second = Consumer(config, store, tmp_path / "second.log")
    try:
        stopped = second.wait_event(lambda e: e["event"] == "stopped", timeout=60)
        assert second.proc.wait(timeout=20) == 0
    finally:
        second.close()
    assert stopped["dead_letters"] == {}
    with Store(store) as db:
        _check_store(db, wide, model_dir)
    assert 0 < stopped["readings_written"] < total, "the restarted consumer picks up where the killed one stopped"
