"""``forewarn serve --stream``: the MQTT connector inside the service, on one store, with a real mosquitto.

Readings published over MQTT must show in the API (health, readings), the service's alert policy must see them
(alerts listed by the API), and a shutdown while messages flow must lose nothing that was acknowledged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.cli.main import run
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker, free_port
from forewarn.stream.replay import Publisher
from testkit import wait_until

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
PREFIX = "spBv1.0/plant/DDATA/edge"
LATER = pd.Timestamp("2025-01-01", tz="UTC")  # after every reading of the sample plant
FAILING = {"bearing_temp": 92.0, "vibration": 10.5, "suction_pressure": 1.5}
HEALTHY = {"bearing_temp": 55.0, "vibration": 2.0, "suction_pressure": 1.5}


def write_config(path: Path, port: int, *, client_id: str = "serve-stream") -> Path:
    """A ``forewarn stream`` config: Sparkplug-style JSON per asset (the assets are already in the store)."""
    path.write_text(
        "\n".join(
            [
                "[pipeline]",
                'batch_max_wait = "50ms"',
                'allowed_lateness = "0s"',
                "",
                "[mqtt]",
                'host = "127.0.0.1"',
                f"port = {port}",
                f'client_id = "{client_id}"',
                "",
                "[[mqtt.subscriptions]]",
                f'topic = "{PREFIX}/+"',
                'layout = "sparkplug"',
                'asset = "{4}"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def messages(asset_id: str, start: pd.Timestamp, hours: int, values: dict[str, float]) -> list[tuple]:
    """One Sparkplug-style message per hour for ``asset_id`` (what :class:`Publisher.send` takes)."""
    out = []
    for k in range(hours):
        ms = int((start + pd.Timedelta(hours=k)).value // 1_000_000)
        payload = {"timestamp": ms, "metrics": [{"name": c, "timestamp": ms, "value": v} for c, v in values.items()]}
        out.append((f"{PREFIX}/{asset_id}", len(values), ms, json.dumps(payload).encode()))
    return out


def publish(port: int, batch: list[tuple], client_id: str = "test-publisher") -> None:
    pub = Publisher("127.0.0.1", port, client_id=client_id)
    try:
        pub.send(batch)
    finally:
        pub.close()


def make_client(sample, config: Path, **overrides) -> TestClient:  # type: ignore[no-untyped-def]
    values = {"store": str(sample.store), "models": str(sample.models), "token": TOKEN, "stream": str(config)}
    values.update(overrides)
    return TestClient(create_app(ServeSettings(**values)))


def count_after(store_path: Path, since: pd.Timestamp) -> int:
    with Store(store_path, read_only=True) as store:
        return int(store.sql("SELECT count(*) AS n FROM readings WHERE ts >= ?", [since.to_pydatetime()])["n"][0])


def test_mqtt_readings_refresh_health_readings_and_alerts(sample, broker: LocalBroker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "stream.toml", broker.port)
    with make_client(sample, config) as client:
        ready = client.get("/healthz").json()
        assert ready["status"] == "ok" and ready["stream"]["running"] is True
        fleet = client.get(f"{API}/fleet/health").json()
        calm = min(
            (h for h in fleet if h["open_case"] is None and h["probability"] is not None),
            key=lambda h: h["probability"],
        )
        asset = calm["asset_id"]
        before = client.get(f"{API}/assets/{asset}/health").json()  # now cached by the service
        assert before == calm and before["risk_level"] in ("low", "medium")
        assert client.get(f"{API}/alerts", params={"asset_id": asset}).json() == []

        publish(broker.port, messages(asset, LATER, 24, FAILING))
        last = (LATER + pd.Timedelta(hours=23)).isoformat()

        def refreshed() -> bool:
            return client.get(f"{API}/assets/{asset}/health").json()["ts"] == last

        assert wait_until(refreshed, timeout=30), "the health answer never reflected the MQTT readings"
        after = client.get(f"{API}/assets/{asset}/health").json()
        assert after["probability"] > before["probability"] and after["risk_level"] in ("high", "critical")
        readings = client.get(f"{API}/assets/{asset}/readings", params={"start": LATER.isoformat()}).json()
        assert len(readings["ts"]) == 24 and readings["values"]["vibration"] == [10.5] * 24
        # the service's alert policy saw the streamed readings: its alert and case are where the API lists them
        assert wait_until(
            lambda: len(client.get(f"{API}/alerts", params={"asset_id": asset}).json()) == 1, timeout=30
        ), "no alert for the streamed failing readings"
        case = client.get(f"{API}/cases", params={"asset_id": asset, "status": "open"}).json()
        assert len(case) == 1
        assert wait_until(
            lambda: client.get(f"{API}/assets/{asset}/health").json()["open_case"] == case[0]["case_id"], timeout=10
        )
        stream = client.app.state.service.stream  # type: ignore[attr-defined]
        scraped = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("forewarn_stream_")
        }
        assert scraped["forewarn_stream_readings_written_total"] == stream.status()["readings_written"] >= 24 * 3
        assert "forewarn_stream_alerts_opened_total" in scraped and "forewarn_stream_batches_total" in scraped
    assert not stream.running and stream.error is None
    with Store(sample.store) as store:  # the service let go of the file: it shut down cleanly
        assert store.count_readings() > 0


def test_shutdown_while_streaming_loses_no_acknowledged_message(
    sample,
    broker: LocalBroker,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "stream.toml", broker.port)
    assets = [f"P-{i:03d}" for i in range(6)]
    burst = [
        m for k in range(0, 200, 20) for a in assets for m in messages(a, LATER + pd.Timedelta(hours=k), 20, HEALTHY)
    ]
    expected = len(burst) * len(HEALTHY)
    with make_client(sample, config, evaluate_on_start=False) as client:
        base = client.get("/healthz").json()["readings"]
        publish(broker.port, burst)  # returns once the broker holds every message; the service is still busy
        stopped = client.app.state.service.stream  # type: ignore[attr-defined]
    metrics = stopped.stop()  # a second stop is harmless and returns the metrics
    first_run = count_after(sample.store, LATER)
    assert first_run == metrics["readings_written"] <= expected
    # whatever was not acknowledged is still queued for this client id at the broker: a restart gets it
    with make_client(sample, config, evaluate_on_start=False) as client:
        assert wait_until(lambda: client.get("/healthz").json()["readings"] == base + expected, timeout=60), (
            f"{first_run} readings before the restart, {expected} published"
        )
    assert count_after(sample.store, LATER) == expected


def test_cli_serve_with_stream_over_http_then_sigint(
    sample,
    broker: LocalBroker,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "stream.toml", broker.port)
    port = free_port()
    env = {**os.environ, "FOREWARN_API_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forewarn.cli.main",
            "serve",
            "--store",
            str(sample.store),
            "--models",
            str(sample.models),
            "--stream",
            str(config),
            "--port",
            str(port),
            "--no-evaluate",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "serving the dashboard" in line, proc.stderr.read() if proc.stderr else line
        base = f"http://127.0.0.1:{port}"
        publish(broker.port, messages("P-003", LATER, 5, HEALTHY))
        assert wait_until(
            lambda: (
                httpx.get(f"{base}{API}/assets/P-003/health").json()["ts"]
                == (LATER + pd.Timedelta(hours=4)).isoformat()
            ),
            timeout=30,
        )
        # a second process on the same store gets one line that points at serve --stream
        with pytest.raises(SystemExit) as stopped:
            run(["stream", "--config", str(config), "--store", str(sample.store)])
        assert stopped.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and str(sample.store) in lines[0] and "--stream" in lines[0], lines
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert count_after(sample.store, LATER) == 5 * len(HEALTHY)


def test_cli_refuses_a_stream_config_for_another_store(sample, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "stream.toml", 1883)
    config.write_text(f'store = "{tmp_path / "other.duckdb"}"\n' + config.read_text(), encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        run(["serve", "--store", str(sample.store), "--stream", str(config)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.duckdb" in err[0] and "remove `store` from the config" in err[0]
