"""A model trained on hourly buckets is served on hourly buckets of minute readings (issue 12), and health follows the
event history: down after a failure, renewed by a maintenance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.bundles.bundle import Bundle, make_bundle
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.schema import Asset, Channel
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.train.score import score

API = "/api/v1"
CHANNELS = ("temp", "vib")
WINDOW = 6
START = pd.Timestamp("2026-01-01T00:00:00Z")


def _minutes(rng: np.random.Generator, hours: float, offset: str = "0min") -> pd.DataFrame:
    """Wide minute readings of a pump that wears out over ``hours``; starts ``offset`` after START."""
    n = int(hours * 60)
    ts = START + pd.Timedelta(offset) + pd.to_timedelta(np.arange(n), unit="min")
    wear = np.linspace(0.0, 1.0, n)
    return pd.DataFrame(
        {"ts": ts, "temp": 50 + 20 * wear + rng.normal(0, 1, n), "vib": 2 + 5 * wear**2 + rng.normal(0, 0.3, n)}
    )


def _hourly_features(wide: pd.DataFrame) -> pd.DataFrame:
    return window_features(
        wide.assign(asset_id="a"), group="asset_id", order="ts", columns=list(CHANNELS), window=WINDOW
    )


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A store of minute readings (pumps P-1..P-3) and a LightGBM RUL model trained on hourly features."""
    rng = np.random.default_rng(0)
    frames, targets = [], []
    for _ in range(6):  # run-to-failure histories, resampled to hours as training does
        life = int(rng.integers(60, 120))
        hourly = _minutes(rng, life).set_index("ts").resample("1h").mean().reset_index()
        frames.append(_hourly_features(hourly))
        targets.append(life - 1 - np.arange(len(hourly), dtype="float64"))
    X, y = pd.concat(frames, ignore_index=True), np.concatenate(targets)
    model = LightGBMRUL(n_estimators=30, learning_rate=0.1, num_leaves=7, max_rul=None, seed=0).fit(X, y)
    make_bundle(
        model,
        tmp_path / "models" / "rul-1h" / "v1",
        channels=CHANNELS,
        window=WINDOW,
        interval="1h",
        history_rows=200,
        horizon=24.0,
        X_holdout=X,
        y_holdout=y,
        unit="hours",
        calibration=None,
    )
    store_path = tmp_path / "plant.duckdb"
    with Store(store_path) as store:
        store.add_assets(
            [
                Asset(a, asset_class="pump", channels=(Channel("temp", "degC"), Channel("vib", "mm/s")))
                for a in ("P-1", "P-2", "P-3")
            ]
        )
        for asset, hours, offset in (("P-1", 50.5, "7min"), ("P-2", 40.25, "0min"), ("P-3", 30, "13min")):
            wide = _minutes(rng, hours, offset)
            wide.loc[rng.random(len(wide)) < 0.05, "vib"] = np.nan  # some minutes lack a reading
            long = wide.melt(id_vars="ts", var_name="channel", value_name="value").dropna()
            store.ingest_readings(long.assign(asset_id=asset), source="test")
    yield store_path, tmp_path / "models"


def _client(store: Path, models: Path) -> TestClient:
    return TestClient(
        create_app(ServeSettings(store=str(store), models=str(models), token="t" * 20, evaluate_on_start=False))
    )


def _offline(store_path: Path, models: Path, asset: str, since: object = None) -> tuple[np.ndarray, float, str]:
    """The offline answer: window features of the store's hourly resample of the whole history, its last row,
    through Bundle.predict."""
    bundle = Bundle(models / "rul-1h" / "v1")
    with Store(store_path) as store:
        hourly = store.readings(asset, since, resample="1h", wide=True)
    features = _hourly_features(hourly[["ts", *CHANNELS]])
    last = features[bundle.feature_names].tail(1).reset_index(drop=True)
    predictions = bundle.predict(last)
    return last.to_numpy()[0], float(predictions.rul[0]), pd.Timestamp(hourly["ts"].iloc[-1]).isoformat()


def test_api_health_at_the_bundle_interval_equals_the_offline_prediction(plant: tuple[Path, Path]) -> None:
    store_path, models = plant
    wanted = {a: _offline(store_path, models, a) for a in ("P-1", "P-2", "P-3")}
    with _client(store_path, models) as client:
        for asset, (_, rul, ts) in wanted.items():
            body = client.get(f"{API}/assets/{asset}/health").json()
            assert body["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
            assert body["ts"] == ts  # the last (still-filling) bucket, labelled by its start
            assert body["status"] == "in_service"
        fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    for asset, (_, rul, ts) in wanted.items():
        assert fleet[asset]["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert fleet[asset]["ts"] == ts
    ranked = score(store_path, models).set_index("asset_id")  # forewarn score, no server
    for asset, (_, rul, ts) in wanted.items():
        assert float(ranked.loc[asset, "rul"]) == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert pd.Timestamp(ranked.loc[asset, "last_reading"]).isoformat() == ts


def test_the_service_reads_buckets_not_raw_rows(plant: tuple[Path, Path]) -> None:
    """The service's window is the last buckets of the store's resample, value for value."""
    from forewarn.serve.service import HealthService

    store_path, models = plant
    features, _, _ = _offline(store_path, models, "P-1")
    service = HealthService(ServeSettings(store=str(store_path), models=str(models)))
    try:
        bundle = service.bundle_for("pump")
        frame = service.recent.history("P-1", bundle.spec, bundle.spec.history_rows)
        hourly = service.store.readings("P-1", resample="1h", wide=True)
        np.testing.assert_allclose(
            frame[list(CHANNELS)].to_numpy(), hourly[list(CHANNELS)].tail(200).to_numpy(), rtol=1e-12
        )
        fleet = service.recent.recent_buckets(["P-1"], bundle.spec.channels, bundle.spec.history_rows, "1h", {})
        np.testing.assert_allclose(fleet["P-1"][1], frame[list(CHANNELS)].to_numpy(), rtol=1e-12)
        assert len(features) == len(bundle.feature_names)
    finally:
        service.close()


def test_an_asset_is_down_after_a_failure_until_a_maintenance_renews_it(plant: tuple[Path, Path]) -> None:
    store_path, models = plant
    failed, repaired = START + pd.Timedelta(hours=20), START + pd.Timedelta(hours=21, minutes=30)
    with Store(store_path) as store:
        store.ingest_events(
            pd.DataFrame({"asset_id": ["P-2"], "ts": [failed], "kind": ["failure"], "failure_mode": ["bearing"]}),
            source="test",
        )
    with _client(store_path, models) as client:
        body = client.get(f"{API}/assets/P-2/health").json()
        fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    for answer in (body, fleet["P-2"]):
        assert answer["status"] == "down" and answer["health"] == 0.0 and answer["risk_level"] == "critical"
    assert fleet["P-1"]["status"] == "in_service"

    with Store(store_path) as store:
        store.ingest_events(
            pd.DataFrame(
                {"asset_id": ["P-2"], "ts": [repaired], "kind": ["maintenance"], "action": ["replaced bearing"]}
            ),
            source="test",
        )
    renewed, rul, ts = _offline(store_path, models, "P-2", since=repaired)
    whole, _, _ = _offline(store_path, models, "P-2")
    with _client(store_path, models) as client:
        body = client.get(f"{API}/assets/P-2/health").json()
        fleet = {h["asset_id"]: h for h in client.get(f"{API}/fleet/health").json()}
    for answer in (body, fleet["P-2"]):
        assert answer["status"] == "in_service" and answer["renewed_at"] == repaired.isoformat()
        assert answer["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert answer["ts"] == ts
    assert not np.allclose(renewed, whole)  # the exponential mean started again at the maintenance


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _offline_until(store: Store, bundle: Bundle, asset: str, end_us: int) -> tuple[np.ndarray, float]:
    """The offline features and RUL of ``asset`` from its readings before ``end_us``: window features of the hourly
    resample, last row, Bundle.predict."""
    hourly = store.readings(asset, None, pd.Timestamp(end_us, unit="us", tz="UTC"), resample="1h", wide=True)
    last = _hourly_features(hourly[["ts", *CHANNELS]])[bundle.feature_names].tail(1).reset_index(drop=True)
    return last.to_numpy()[0], float(bundle.predict(last).rul[0])


def test_stream_scores_of_the_open_bucket_equal_the_offline_prediction(
    plant: tuple[Path, Path], tmp_path: Path
) -> None:
    """The minute readings streamed in shuffled micro-batches (with a restart midway) through a 1 h bundle: every
    reading is scored with its open bucket as it stands, and equals the offline prediction from the readings up to
    it; the last one equals what API health and forewarn score give (test above)."""
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    store_path, models = plant
    with Store(store_path) as source:
        long = pd.concat([source.readings(a) for a in ("P-1", "P-2", "P-3")], ignore_index=True)
    wanted = {a: _offline(store_path, models, a) for a in ("P-1", "P-2", "P-3")}
    rng = np.random.default_rng(7)
    long["ts_us"] = pd.DatetimeIndex(long["ts"]).as_unit("us").asi8
    long = long.sort_values(["ts_us", "asset_id", "channel"], ignore_index=True)
    order = np.concatenate([lo + rng.permutation(min(12, len(long) - lo)) for lo in range(0, len(long), 12)])
    rows = long.iloc[order][["asset_id", "channel", "ts_us", "value"]].itertuples(index=False, name=None)
    rows = list(rows)  # out of order within 12 readings (6 minutes at most), under the allowed lateness
    config = parse_config(
        {
            "pipeline": {"allowed_lateness": "10min", "idle_release": "10s"},
            "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [
                {"asset_id": a, "asset_class": "pump", "channels": {"temp": "degC", "vib": "mm/s"}}
                for a in ("P-1", "P-2", "P-3")
            ],
            "models": [{"path": str(models / "rul-1h" / "v1"), "model_id": "rul-1h"}],
        }
    )
    stream_path, clock = tmp_path / "stream.duckdb", _Clock()
    seen: dict[tuple[str, int], np.ndarray] = {}
    restarted: list[tuple[str, int]] = []  # the first rows scored after the restart

    def keep(model_id: str, assets: np.ndarray, ts: np.ndarray, feats: np.ndarray) -> None:
        seen.update({(str(a), int(t)): f for a, t, f in zip(assets, ts, feats, strict=True)})

    with Store(stream_path) as store:
        pipe = OnlinePipeline(store, config, clock=clock, on_features=keep)
        assert pipe.runners[0].interval == "1h" and pipe.runners[0].features.window == WINDOW
        for lo in range(0, len(rows), 700):
            if lo == 700 * 9:  # a restart midway: open buckets, windows and held readings continue
                pipe.close()
                pipe = OnlinePipeline(store, config, clock=clock, on_features=keep)
                before = set(seen)
            cols = ReadingColumns()
            for asset, channel, ts, value in rows[lo : lo + 700]:
                cols.add(asset, channel, ts, value)
            pipe.process(cols, [])
            if lo == 700 * 9:
                restarted += [k for k in seen if k not in before]
            clock.now += 0.1
        clock.now += 60
        pipe.tick()  # the quiet assets' held readings
        pipe.close()
        scores = store.sql(
            "SELECT asset_id, epoch_us(ts) AS ts_us, score, probability, rul, status FROM stream_scores ORDER BY 1, 2"
        )
        assert len(scores) == long.groupby(["asset_id", "ts_us"]).ngroups  # one score per reading instant
        bundle = Bundle(models / "rul-1h" / "v1")
        for asset, group in scores.groupby("asset_id"):
            last = group.iloc[-1]
            assert last["rul"] == pytest.approx(wanted[asset][1], abs=1e-9, rel=1e-9)
            np.testing.assert_allclose(seen[(str(asset), int(last["ts_us"]))], wanted[asset][0], rtol=1e-9, atol=1e-9)
            after = [t for a, t in restarted if a == asset]
            restart = [int(np.searchsorted(group["ts_us"], min(after)))] if after else []
            for pick in [*rng.choice(len(group), 12, replace=False), 0, 1, 59, 60, 61, *restart]:
                row = group.iloc[int(pick)]
                features, rul = _offline_until(store, bundle, str(asset), int(row["ts_us"]) + 1)
                np.testing.assert_allclose(seen[(str(asset), int(row["ts_us"]))], features, rtol=1e-9, atol=1e-9)
                if row["status"] == "insufficient data":  # a first bucket without vib: 1 of 2 channels, no score
                    assert np.isnan(row["rul"]) and np.isnan(features[bundle.feature_names.index("vib__mean")])
                    continue
                assert row["rul"] == pytest.approx(rul, abs=1e-9, rel=1e-9)
        assert {a for a, _ in restarted} == {"P-1", "P-2", "P-3"}
        scored = scores[scores["status"] == "in_service"]
        assert (scored["score"] == scored["probability"]).all() and len(scored) > 0.99 * len(scores)
