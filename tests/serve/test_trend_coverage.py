"""The trend follows the channel coverage rule of /health: a point whose window holds too few of the asset's
channels has no probability, health or RUL and lists the missing channels; its last point agrees with /health."""

from __future__ import annotations

import pandas as pd
import pytest

from forewarn.features.coverage import MIN_SHARE_ENV
from forewarn.store import Store

from .test_api import API, make_client


def _send_only(sample, asset_id: str, channels: tuple[str, ...], hours: int = 14) -> None:  # type: ignore[no-untyped-def]
    """``hours`` more hourly readings of ``asset_id`` (after its last one), of ``channels`` only."""
    with Store(sample.store) as db:
        last = db.fleet_summary().set_index("asset_id").loc[asset_id, "last_ts"]
        ts = pd.date_range(last + pd.Timedelta("1h"), periods=hours, freq="1h")
        db.ingest_readings(pd.DataFrame({"asset_id": asset_id, "ts": ts, **dict.fromkeys(channels, 50.0)}))


def test_trend_points_with_one_channel_of_three_carry_no_probability(sample) -> None:  # type: ignore[no-untyped-def]
    _send_only(sample, "P-001", ("bearing_temp",), hours=40)
    with make_client(sample) as client:
        trend = client.get(f"{API}/assets/P-001/trend", params={"points": 5000}).json()
        health = client.get(f"{API}/assets/P-001/health").json()
    n = len(trend["ts"])
    assert n > 40 and all(len(trend[k]) == n for k in ("probability", "health", "rul", "status", "channels_missing"))
    # the last point's window holds bearing_temp only: insufficient, as /health says
    assert trend["status"][-1] == health["status"] == "insufficient data"
    assert trend["probability"][-1] is None and trend["health"][-1] is None and trend["rul"][-1] is None
    assert trend["channels_missing"][-1] == health["channels_missing"] == ["vibration", "suction_pressure"]
    # the points before the gap were read with every channel: scored, nothing missing
    assert trend["status"][0] == "in_service" and trend["probability"][0] is not None
    assert trend["channels_missing"][0] == [] and trend["rul"][0] is not None
    insufficient = [s == "insufficient data" for s in trend["status"]]
    assert all((p is None) == bad for p, bad in zip(trend["probability"], insufficient, strict=True))
    # the change comes where the window stops holding the other channels, not at the first one-channel reading
    first_bad = insufficient.index(True)
    assert all(insufficient[first_bad:]) and 0 < first_bad < n - 1


def test_trend_scored_with_a_missing_channel_lists_it_and_agrees_with_health(  # type: ignore[no-untyped-def]
    sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIN_SHARE_ENV, "0.5")  # 2 of 3 channels is enough here
    _send_only(sample, "P-002", ("bearing_temp", "vibration"), hours=40)
    with make_client(sample) as client:
        trend = client.get(f"{API}/assets/P-002/trend", params={"points": 5000}).json()
        health = client.get(f"{API}/assets/P-002/health").json()
    assert trend["status"][-1] == health["status"] == "in_service"
    assert trend["channels_missing"][-1] == health["channels_missing"] == ["suction_pressure"]
    assert trend["probability"][-1] == pytest.approx(health["probability"], rel=1e-9, abs=1e-9)
    assert trend["ts"][-1] == health["ts"]
