"""``forewarn detect --store --save-models`` and then ``forewarn serve --stream`` with the printed ``[[models]]`` entry
(a real mosquitto on 127.0.0.1): the readings published to the broker are scored by each asset's own fit inside the
service, the injected anomaly's alarm is filed into the service's case book as a case of source ``stream`` under the
detector's model id, at ``detect``'s alarm row, and the healthy assets get no case."""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.cli.main import run
from forewarn.schema import Asset
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.replay import Publisher, sparkplug_messages
from testkit import wait_until

pytestmark = pytest.mark.slow  # a real broker and the service's stream thread
PREFIX = "spBv1.0/plant/DDATA/edge"
TOKEN = "detect-service-token-0123456789"
ASSETS = ("P-0", "P-1")
ANOMALY = "P-1"


def fleet(steps: int = 600, seed: int = 15) -> pd.DataFrame:
    """Two pumps at 1-minute steps, white noise around a level; ``ANOMALY``'s vibration jumps by 6 mm/s for its last
    40 minutes. On 90 training rows the default detector also raises false alarms on white noise in most seeds (29 of
    30 seeds tried give the healthy pump or the anomaly's normal part an alarm; seed 15 gives none; bounded noise or a
    longer history do no better): the test holds for any seed, as it checks the service against whatever ``detect``
    alarmed; seed 15 is kept because its case book is the plainest to read (one case, at the onset)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, asset in enumerate(ASSETS):
        vib = 2.0 + rng.normal(0, 0.1, steps)
        if asset == ANOMALY:
            vib[-40:] += 6.0
        parts.append(
            pd.DataFrame(
                {
                    "asset_id": asset,
                    "ts": pd.date_range("2024-03-01", periods=steps, freq="1min", tz="UTC"),
                    "temp": 40 + i + rng.normal(0, 0.2, steps),
                    "vib": vib,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def detect_with_fits(wide: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, dict]:
    """``detect --store --save-models`` on a history store: its alarm rows and the ``[[models]]`` entry it printed."""
    with Store(root / "history.duckdb") as db:
        db.add_assets([Asset(a, "pump") for a in ASSETS])
        db.ingest_readings(wide)
    argv = ["detect", "--store", str(root / "history.duckdb"), "--out", str(root / "scores.csv")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        run([*argv, "--save-models", str(root / "fits")])
    text = printed.getvalue()
    entry = tomllib.loads(text[text.index("[[models]]") :])["models"][0]
    scores = pd.read_csv(root / "scores.csv")
    alarms = scores.loc[scores["alarm"] == 1, ["asset_id", "timestamp"]]
    return alarms.assign(ts=pd.to_datetime(alarms["timestamp"], utc=True)), entry


def stream_toml(port: int, entry: dict) -> str:
    assets = "".join(
        f'[[assets]]\nasset_id = "{a}"\nasset_class = "pump"\nchannels = {{ temp = "degC", vib = "mm/s" }}\n\n'
        for a in ASSETS
    )
    return f"""[pipeline]
batch_max_wait = "50ms"
idle_release = "300ms"

[mqtt]
host = "127.0.0.1"
port = {port}
client_id = "detect-service-test"

[[mqtt.subscriptions]]
topic = "{PREFIX}/+"
layout = "sparkplug"
asset = "{{4}}"

{assets}[[models]]
path = {json.dumps(entry["path"])}
model_id = {json.dumps(entry["model_id"])}
alarm = {{}}
context = {entry["context"]}
"""


def test_the_anomalys_alarm_is_a_stream_case_under_the_detectors_id(tmp_path: Path, broker: LocalBroker) -> None:
    wide = fleet()
    alarms, entry = detect_with_fits(wide, tmp_path)
    onset = wide.loc[wide["asset_id"] == ANOMALY, "ts"].iloc[-40]
    detected = sorted(zip(alarms["asset_id"], alarms["ts"], strict=True))
    assert (ANOMALY, onset) in detected, "the fleet's premise: detect alarms where the anomaly starts (60 sigma)"
    config = tmp_path / "stream.toml"
    config.write_text(stream_toml(broker.port, entry), encoding="utf-8")
    messages = list(sparkplug_messages(wide, prefix=PREFIX, rows_per_message=20))
    settings = ServeSettings(store=str(tmp_path / "serve.duckdb"), token=TOKEN, stream=str(config))
    with TestClient(create_app(settings)) as client:
        publisher = Publisher("127.0.0.1", broker.port, client_id="detect-service-publisher")
        try:
            publisher.send(messages)
        finally:
            publisher.close()
        metrics = client.app.state.service.stream.consumer.metrics  # type: ignore[attr-defined]
        assert wait_until(lambda: metrics.snapshot()["rows_scored"] == len(wide), timeout=60), metrics.snapshot()
        assert wait_until(lambda: len(client.get("/api/v1/alerts").json()) >= len(alarms), timeout=30)
        listed = client.get("/api/v1/alerts").json()
        cases = client.get("/api/v1/cases").json()
    assert sorted((a["asset_id"], pd.Timestamp(a["ts"])) for a in listed) == detected, (
        "the service's case book holds detect's alarms, no more, no fewer"
    )
    assert {(a["source"], a["model_id"]) for a in listed} == {("stream", entry["model_id"])}
    # one open case per alarmed asset (a healthy asset detect did not alarm has none), opened at its first alarm and
    # holding all of them
    by_asset = {c["asset_id"]: c for c in cases}
    assert len(by_asset) == len(cases) and set(by_asset) == {a for a, _ in detected}
    for asset, case in by_asset.items():
        mine = [ts for a, ts in detected if a == asset]
        assert (case["model_id"], case["status"], case["kind"]) == ("detect", "open", "health")
        assert case["n_alerts"] == len(mine) and pd.Timestamp(case["opened_ts"]) == mine[0]
        assert {a["case_id"] for a in listed if a["asset_id"] == asset} == {case["case_id"]}
    if detected == [(ANOMALY, onset)]:  # the anomaly's own case: its top sensor is the channel that moved
        assert by_asset[ANOMALY]["top_sensors"][0] == "vib", "the alarm names the channel that moved"
