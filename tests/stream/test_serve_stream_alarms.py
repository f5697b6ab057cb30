"""``serve --stream`` with an anomaly model in the stream config: its alarms open cases in the service's own case book
(through :meth:`forewarn.serve.cases.CaseDesk.file`), listed at once by the API, with a real mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.replay import Publisher
from testkit import wait_until

from .conftest import WINDOW, assets_config, make_fleet, sparkplug

PREFIX = "spBv1.0/plant/DDATA/edge"
TOKEN = "serve-stream-alarm-token-0123"


def _toml(port: int, model_dir: Path) -> str:
    assets = "\n".join(
        f'[[assets]]\nasset_id = "{a["asset_id"]}"\nasset_class = "pump"\nchannels = {{ temp = "degC", vib = "mm/s" }}\n'
        for a in assets_config()
    )
    return f"""[pipeline]
batch_max_wait = "50ms"
idle_release = "1s"

[mqtt]
host = "127.0.0.1"
port = {port}
client_id = "serve-stream-alarms"

[[mqtt.subscriptions]]
topic = "{PREFIX}/+"
layout = "sparkplug"
asset = "{{4}}"

{assets}
[[models]]
path = {json.dumps(str(model_dir))}
model_id = "pump-pca"
window = {WINDOW}
alarm = {{ on = 0.5, off = 0.3, clear_rows = 3, scale = 50.0 }}
"""


@pytest.mark.slow
def test_stream_alarms_open_cases_in_the_service(tmp_path: Path, broker: LocalBroker, model_dir: Path) -> None:
    store_path = tmp_path / "plant.duckdb"
    Store(store_path).close()
    config = tmp_path / "stream.toml"
    config.write_text(_toml(broker.port, model_dir), encoding="utf-8")
    wide = make_fleet(3, 120, anomaly="P-2", seed=4)  # P-2's vibration jumps for its last 40 minutes
    messages = [(f"{PREFIX}/{a}", n, 0, p) for a, p, n in sparkplug(wide, rows_per_message=15)]
    settings = ServeSettings(store=str(store_path), token=TOKEN, stream=str(config))
    with TestClient(create_app(settings)) as client:
        pub = Publisher("127.0.0.1", broker.port, client_id="alarm-publisher")
        try:
            pub.send(messages)
        finally:
            pub.close()

        def listed() -> list[dict]:
            return client.get("/api/v1/alerts").json()

        total = sum(n for _, n, _, _ in messages)
        assert wait_until(
            lambda: client.get("/healthz").json().get("stream", {}).get("readings_written") == total, timeout=60
        )
        assert wait_until(lambda: len(listed()) >= 1, timeout=30), "no stream alarm reached the case book"
        (alert,) = listed()
        assert (alert["asset_id"], alert["source"], alert["model_id"]) == ("P-2", "stream", "pump-pca")
        (case,) = client.get("/api/v1/cases", params={"status": "open"}).json()
        assert case["asset_id"] == "P-2" and case["n_alerts"] == 1 and case["case_id"] == alert["case_id"]
        streamed = client.get("/api/v1/stream/alerts").json()  # the outbox stays readable
        assert [a["asset_id"] for a in streamed] == ["P-2"]
