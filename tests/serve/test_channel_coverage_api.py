"""Too few channels is not a confident answer, in the service as in ``forewarn score``: /health, /fleet/health and
POST /predict answer "insufficient data" (no probability) below the minimum share of the model's channels, list the
missing channels when scored all the same, and agree with ``forewarn score``."""

from __future__ import annotations

import pandas as pd
import pytest

from forewarn.exceptions import ConfigError
from forewarn.features.coverage import MIN_SHARE_ENV
from forewarn.schema import Asset
from forewarn.serve.sample import CHANNELS
from forewarn.store import Store
from forewarn.train.score import score

from .test_api import API, make_client


def _send_only(sample, asset_id: str, channels: tuple[str, ...], hours: int = 14) -> None:  # type: ignore[no-untyped-def]
    """``hours`` more hourly readings of ``asset_id`` (after its last one), of ``channels`` only."""
    with Store(sample.store) as db:
        last = db.fleet_summary().set_index("asset_id").loc[asset_id, "last_ts"]
        ts = pd.date_range(last + pd.Timedelta("1h"), periods=hours, freq="1h")
        db.ingest_readings(pd.DataFrame({"asset_id": asset_id, "ts": ts, **dict.fromkeys(channels, 50.0)}))


def test_one_channel_of_three_is_insufficient_data_everywhere(sample) -> None:  # type: ignore[no-untyped-def]
    _send_only(sample, "P-001", ("bearing_temp",))
    with make_client(sample) as client:
        health = client.get(f"{API}/assets/P-001/health").json()
        assert health["status"] == "insufficient data" and health["risk_level"] == "unknown"
        assert health["probability"] is None and health["health"] is None and health["rul"] is None
        assert health["channels_missing"] == ["vibration", "suction_pressure"]
        assert health["recommended_action"].startswith("insufficient data: 1 of 3 channels read")
        assert health["ts"] is not None  # it has readings: the time of the last one
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
        assert fleet["P-001"]["status"] == "insufficient data" and fleet["P-001"]["probability"] is None
        assert all(a["channels_missing"] == [] for k, a in fleet.items() if k != "P-001")
    ranked = score(sample.store, sample.models).set_index("asset_id")  # forewarn score says the same
    assert ranked.loc["P-001", "status"] == "insufficient data" and pd.isna(ranked.loc["P-001", "probability"])
    assert list(ranked.loc["P-001", "channels_missing"]) == ["vibration", "suction_pressure"]


def test_scored_with_a_missing_channel_agrees_with_score(sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(MIN_SHARE_ENV, "0.5")  # 2 of 3 channels is enough here
    _send_only(sample, "P-002", ("bearing_temp", "vibration"))
    ranked = score(sample.store, sample.models).set_index("asset_id")
    with make_client(sample) as client:
        health = client.get(f"{API}/assets/P-002/health").json()
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
    assert health["status"] == "in_service" and health["channels_missing"] == ["suction_pressure"]
    assert fleet["P-002"]["channels_missing"] == ["suction_pressure"]
    assert list(ranked.loc["P-002", "channels_missing"]) == ["suction_pressure"]
    assert health["probability"] == pytest.approx(float(ranked.loc["P-002", "probability"]), rel=1e-9, abs=1e-9)
    assert health["rul"] == pytest.approx(float(ranked.loc["P-002", "rul"]), rel=1e-9, abs=1e-9)


def _window(channels: tuple[str, ...], rows: int = 12) -> list[dict[str, float]]:
    return [{c: 40.0 + 0.1 * k for c in channels} for k in range(rows)]


def test_predict_with_too_few_channels_answers_200_insufficient_data(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample) as client:
        _predict_checks(client)


def _predict_checks(client) -> None:  # type: ignore[no-untyped-def]
    full = client.post(f"{API}/predict", json={"rows": _window(CHANNELS)})
    assert full.status_code == 200 and full.json()["status"] == "in_service" and full.json()["channels_missing"] == []
    assert full.json()["probability"] is not None
    one = client.post(f"{API}/predict", json={"rows": _window(("bearing_temp", "humidity"))})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["status"] == "insufficient data" and body["probability"] is None and body["rul"] is None
    assert body["health"] is None and body["risk_level"] == "unknown" and body["contributions"] == []
    assert body["channels_missing"] == ["vibration", "suction_pressure"] and body["ignored_channels"] == ["humidity"]
    gaps = [{"bearing_temp": 40.0, "vibration": None, "suction_pressure": None}] * 12  # named but blank: missing
    assert client.post(f"{API}/predict", json={"rows": gaps}).json()["status"] == "insufficient data"
    none = client.post(f"{API}/predict", json={"rows": _window(("humidity",))})
    assert none.status_code == 422  # none of the model's channels: a body that cannot be for this model


def test_predict_lists_a_missing_channel_when_enough_remain(sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(MIN_SHARE_ENV, "0.6")  # read when the service starts
    with make_client(sample) as client:
        body = client.post(f"{API}/predict", json={"rows": _window(("bearing_temp", "vibration"))}).json()
        assert body["status"] == "in_service" and body["probability"] is not None
        assert body["channels_missing"] == ["suction_pressure"]
        assert client.post(f"{API}/predict", json={"rows": _window(("bearing_temp",))}).json()["probability"] is None
    monkeypatch.setenv(MIN_SHARE_ENV, "lots")
    with pytest.raises(ConfigError, match="FOREWARN_MIN_CHANNEL_SHARE"), make_client(sample):
        pass  # a bad setting stops the start with its name, rather than answering 500 later


def test_a_class_is_expected_to_send_only_the_model_channels_it_has(sample) -> None:  # type: ignore[no-untyped-def]
    """Fans carry no suction pressure sensor: a fan with the other two channels is complete, in /health and in a
    /predict that names the class; a window without a class is counted against all three channels."""
    with Store(sample.store) as db:
        db.add_assets([Asset("F-1", asset_class="fan")])
        ts = pd.date_range("2024-01-01", periods=20, freq="1h", tz="UTC")
        db.ingest_readings(pd.DataFrame({"asset_id": "F-1", "ts": ts, "bearing_temp": 40.0, "vibration": 1.0}))
    two = _window(("bearing_temp", "vibration"))
    with make_client(sample) as client:
        health = client.get(f"{API}/assets/F-1/health").json()
        assert health["status"] == "in_service" and health["channels_missing"] == []
        assert health["probability"] is not None
        fan = client.post(f"{API}/predict", json={"rows": two, "asset_class": "fan"}).json()
        assert fan["status"] == "in_service" and fan["channels_missing"] == [] and fan["probability"] is not None
        anyone = client.post(f"{API}/predict", json={"rows": two}).json()
        assert anyone["status"] == "insufficient data" and anyone["channels_missing"] == ["suction_pressure"]
    row = score(sample.store, sample.models).set_index("asset_id").loc["F-1"]
    assert row["status"] == "in_service" and list(row["channels_missing"]) == []
    assert float(row["probability"]) == pytest.approx(health["probability"], rel=1e-9, abs=1e-9)
