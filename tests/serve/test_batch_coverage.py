"""Batch predictions apply the channel coverage rule row by row (issue 12): a row whose window holds too few of the
model's channels is null with risk 'unknown', never a confident low risk; JSON and Arrow answers say so per row."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.features.window import window_features
from forewarn.schema import Asset
from forewarn.serve.batch_coverage import read_from_features, read_in_windows
from forewarn.serve.sample import CHANNELS, ORIGIN, STATS, WINDOW
from forewarn.store import Store

from .test_api import API, make_client

ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}


def _readings(assets: dict[str, tuple[str, ...]], hours: int = 30) -> pd.DataFrame:
    """``hours`` hourly rows of each asset, with readings of the channels given for it (blank elsewhere)."""
    rng = np.random.default_rng(1)
    parts = []
    for asset_id, sent in assets.items():
        part = pd.DataFrame({"asset_id": asset_id, "ts": ORIGIN + pd.to_timedelta(np.arange(hours), unit="h")})
        for channel in CHANNELS:
            part[channel] = rng.normal(50.0, 1.0, hours) if channel in sent else np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _json(frame: pd.DataFrame, **extra: object) -> dict:
    values = {c: [None if np.isnan(v) else float(v) for v in frame[c]] for c in CHANNELS}
    ts = [t.isoformat() for t in frame["ts"]]
    return {"readings": {"asset_id": frame["asset_id"].tolist(), "ts": ts, "values": values}, **extra}


def _arrow(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_an_asset_with_one_channel_of_three_gets_no_risk_in_a_batch(sample) -> None:  # type: ignore[no-untyped-def]
    frame = _readings({"full": CHANNELS, "thin": ("bearing_temp",)})
    thin = (frame["asset_id"] == "thin").to_numpy()
    with make_client(sample) as client:
        body = client.post(f"{API}/predict/batch", json=_json(frame)).json()
        arrow = client.post(
            f"{API}/predict/batch/arrow", params={"input": "readings"}, content=_arrow(frame), headers=ARROW
        )
    assert arrow.status_code == 200, arrow.text
    out = pa.ipc.open_stream(arrow.content).read_all().to_pandas()
    assert len(body["status"]) == len(body["channels_missing"]) == len(frame) == len(out)
    for k in np.flatnonzero(thin):
        assert body["probability"][k] is None and body["health"][k] is None and body["rul"][k] is None
        assert body["risk_level"][k] == "unknown" and body["status"][k] == "insufficient data"
        assert body["channels_missing"][k] == ["vibration", "suction_pressure"]
    for k in np.flatnonzero(~thin):
        assert body["probability"][k] is not None and body["risk_level"][k] != "unknown"
        assert body["status"][k] == "in_service" and body["channels_missing"][k] == []
    assert out.loc[thin, "probability"].isna().all() and out.loc[thin, "rul"].isna().all()
    assert out.loc[~thin, "probability"].notna().all()
    assert out["status"].tolist() == body["status"]
    assert [list(v) for v in out["channels_missing"]] == body["channels_missing"]


def test_a_channel_that_stops_blanks_the_rows_whose_window_lost_it(sample, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FOREWARN_MIN_CHANNEL_SHARE", "1")
    frame = _readings({"P-001": CHANNELS}, hours=40)
    frame.loc[20:, "vibration"] = np.nan  # the vibration sensor dies after row 19
    with make_client(sample) as client:
        body = client.post(f"{API}/predict/batch", json=_json(frame)).json()
    last_read = 19 + WINDOW - 1  # the last row whose window still holds row 19
    assert body["status"][: last_read + 1] == ["in_service"] * (last_read + 1)
    assert body["status"][last_read + 1 :] == ["insufficient data"] * (40 - last_read - 1)
    assert body["channels_missing"][-1] == ["vibration"] and body["probability"][-1] is None


def test_the_store_class_of_an_asset_sets_what_it_is_expected_to_send(sample) -> None:  # type: ignore[no-untyped-def]
    """Fans carry no suction pressure sensor: a known fan with the other two is complete; an unknown asset with
    the same two channels is counted against all three (2 of 3 is below 0.75)."""
    with Store(sample.store) as db:
        db.add_assets([Asset("F-1", asset_class="fan")])
        db.ingest_readings(_readings({"F-1": ("bearing_temp", "vibration")}, hours=5))
    frame = _readings({"F-1": ("bearing_temp", "vibration"), "stranger": ("bearing_temp", "vibration")})
    with make_client(sample) as client:
        body = client.post(f"{API}/predict/batch", json=_json(frame)).json()
        named = client.post(f"{API}/predict/batch", json=_json(frame, asset_class="fan")).json()
    fan = (frame["asset_id"] == "F-1").to_numpy()
    assert {body["status"][k] for k in np.flatnonzero(fan)} == {"in_service"}
    assert {body["status"][k] for k in np.flatnonzero(~fan)} == {"insufficient data"}
    assert set(named["status"]) == {"in_service"}  # the body's class holds for every row


def test_feature_rows_with_a_blank_channel_are_insufficient(sample) -> None:  # type: ignore[no-untyped-def]
    with make_client(sample) as client:
        live = client.get(f"{API}/models/rul").json()["live"]
        names = [f"{c}__{s}" for c in live["channels"] for s in STATS]
        features: dict[str, list[float | None]] = {name: [1.0, 2.0, 3.0] for name in names}
        for stat in STATS:
            features[f"vibration__{stat}"][1] = None  # row 1: vibration never read in its window
        features["suction_pressure__mean"][2] = None  # row 2: one statistic blank, the channel still read
        body = client.post(f"{API}/predict/batch", json={"features": features}).json()
    assert body["status"] == ["in_service", "insufficient data", "in_service"]
    assert body["channels_missing"] == [[], ["vibration"], []]
    assert body["probability"][1] is None and body["risk_level"][1] == "unknown"
    assert body["probability"][0] is not None and body["probability"][2] is not None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.booleans(), st.booleans()), min_size=1, max_size=40),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_read_in_windows_is_what_the_window_statistics_see(rows, window, rnd) -> None:  # type: ignore[no-untyped-def]
    """Rows in any order: a channel is read in a row's window exactly when the kernel's window mean is a number."""
    frame = pd.DataFrame(
        {
            "asset_id": [r[0] for r in rows],
            "ts": np.arange(len(rows)),
            "x": [1.0 if r[1] else np.nan for r in rows],
            "y": [2.0 if r[2] else np.nan for r in rows],
        }
    )
    order = list(range(len(rows)))
    rnd.shuffle(order)
    frame = frame.iloc[order].reset_index(drop=True)
    read = read_in_windows(frame["asset_id"].to_numpy(), frame["ts"].to_numpy(), frame[["x", "y"]].to_numpy(), window)
    kernel = window_features(frame, group="asset_id", order="ts", columns=["x", "y"], window=window, stats=("mean",))
    assert read.tolist() == kernel.notna().to_numpy().tolist()
    assert read_from_features(kernel, ["x", "y"], ["mean"]).tolist() == read.tolist()  # type: ignore[union-attr]
