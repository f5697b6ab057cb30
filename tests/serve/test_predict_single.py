"""The pandas-free single-row predict path gives the answers of the general (DataFrame, batch) path.

* ``Decider.decide_row`` (numpy features -> direct booster -> decisions) equals ``decide_many`` on a frame
  whose columns force the estimator's own ``explain``, on random windows: dense, with gaps, all-NaN channels,
  one channel, one row, extra unknown channels;
* ``POST /predict`` answers what the batch window features (pandas) and ``decide_many`` give, with the fields
  of before (``model_id``, ``version``, ``ignored_channels``);
* :class:`~forewarn.decide.explain.SensorIndex` equals :func:`~forewarn.decide.explain.sensor_contributions`;
* the cached live bundle follows promote, roll back and a ``registry.json`` edited by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.bundles import registry
from forewarn.bundles.bundle import Bundle
from forewarn.decide.alerts import Alert
from forewarn.decide.explain import SensorIndex, sensor_contributions
from forewarn.features.last_row import last_row_features
from forewarn.features.window import window_features
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import CHANNELS
from forewarn.serve.service import HealthService

API = "/api/v1"
TOKEN = "test-token-0123456789"  # the same as conftest.TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCALE = {"bearing_temp": (60.0, 8.0), "vibration": (3.0, 2.0), "suction_pressure": (1.5, 0.3)}


def random_window(rng: np.random.Generator) -> list[dict[str, Any]]:
    """Rows of readings as a client sends them: some channels, sometimes gaps (``None``) or unknown channels."""
    kind = rng.integers(6)
    channels = list(CHANNELS) if kind < 3 else list(rng.choice(CHANNELS, size=rng.integers(1, 3), replace=False))
    if kind == 5:
        channels.append("ambient_noise")  # a channel the model does not read
    n = int(rng.choice([1, 2, 5, 12, 30, 60, 200]))
    columns = {}
    for c in channels:
        centre, spread = SCALE.get(c, (0.0, 1.0))
        values = rng.normal(centre + rng.normal(0, spread), spread, n)
        if kind in (1, 4):
            values[rng.uniform(size=n) < 0.3] = np.nan
        if kind == 1 and rng.uniform() < 0.3:
            values[:] = np.nan  # a channel sent only as gaps
        columns[c] = values
    return [{c: (None if math.isnan(v[i]) else float(v[i])) for c, v in columns.items()} for i in range(n)]


def general_features(bundle: Bundle, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The last row's model features by the batch function (pandas), columns reversed: the estimator's path."""
    spec = bundle.spec
    frame = pd.DataFrame(
        [[row.get(c) for c in spec.channels] for row in rows], columns=list(spec.channels), dtype="float64"
    ).assign(asset_id="x", ts=np.arange(len(rows)))
    features = window_features(
        frame,
        group="asset_id",
        order="ts",
        columns=list(spec.channels),
        window=spec.window,
        stats=spec.stats,
        ewm_span=spec.ewm_span,
    )
    return features[bundle.feature_names[::-1]].iloc[[-1]].reset_index(drop=True)


def assert_same_answer(got: dict[str, Any], want: dict[str, Any], *, rel: float, abs_: float) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key == "contributions":
            assert [c["sensor"] for c in got[key]] == [c["sensor"] for c in value]
            for a, b in zip(got[key], value, strict=True):
                assert a["contribution"] == pytest.approx(b["contribution"], rel=rel, abs=abs_)
        elif isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=rel, abs=abs_), key
        else:
            assert got[key] == value, key


@pytest.fixture
def service(sample) -> Iterator[HealthService]:  # type: ignore[no-untyped-def]
    svc = HealthService(
        ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
    )
    yield svc
    svc.close()


@pytest.fixture
def client(sample) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as c:
        yield c


def test_decide_row_equals_decide_many_on_the_same_features(service: HealthService) -> None:
    rng = np.random.default_rng(0)
    for version in ("v1", "v2"):
        bundle = service.registry.bundle("rul", version)  # type: ignore[union-attr]
        spec = bundle.spec
        for _ in range(150):
            rows = random_window(rng)
            matrix = np.array([[row.get(c) for c in spec.channels] for row in rows], dtype="float64")
            features = last_row_features(
                matrix, spec.channels, window=spec.window, stats=spec.stats, ewm_span=spec.ewm_span
            )
            asset_class = str(rng.choice(["pump", "fan", None]))
            fast = service.decider.decide_row(bundle, features, asset_class)
            frame = bundle.feature_frame(features)[bundle.feature_names[::-1]]  # the estimator's own explain
            # one row is explained from tables (serve/treeshap.py), the frame by LightGBM: sums in another order
            assert_same_answer(
                fast, service.decider.decide_many(bundle, frame, [asset_class])[0], rel=1e-12, abs_=1e-12
            )
            assert_same_answer(
                fast, service.decider.decide(bundle, bundle.feature_frame(features), asset_class), rel=1e-12, abs_=1e-12
            )


def test_decide_values_equals_decide_many_for_many_rows(service: HealthService) -> None:
    bundle = service.bundle_for()
    rng = np.random.default_rng(1)
    values = rng.normal(20, 10, size=(50, len(bundle.feature_names)))
    values[rng.uniform(size=values.shape) < 0.1] = np.nan
    classes = [None] * 50
    frame = pd.DataFrame(values, columns=bundle.feature_names)[bundle.feature_names[::-1]]
    # several rows: the estimator's frame sums a row's contributions in another order (last bits differ)
    for got, want in zip(
        service.decider.decide_values(bundle, values, classes),
        service.decider.decide_many(bundle, frame, classes),
        strict=True,
    ):
        assert_same_answer(got, want, rel=1e-12, abs_=1e-12)
    values[7, 0] = np.inf  # the direct call refuses infinities; the estimator's checks answer as before
    with pytest.raises(ValueError, match="not finite"):
        service.decider.decide_values(bundle, values, classes)


def test_predict_answers_what_the_general_path_answers(client: TestClient, service: HealthService) -> None:
    rng = np.random.default_rng(2)
    bundle = service.bundle_for()
    checked = insufficient = 0
    for _ in range(120):
        rows = random_window(rng)
        response = client.post(
            f"{API}/predict", content=json.dumps({"rows": rows}), headers={"content-type": "application/json"}
        )
        sent = {c for row in rows for c in row}
        if not sent & set(bundle.spec.channels):
            assert response.status_code == 422
            continue
        assert response.status_code == 200, response.text
        spec = bundle.spec  # the channels with a reading in the window (the last `window` rows), counted here
        read = {c for row in rows[-int(spec.window) :] for c in spec.channels if row.get(c) is not None}
        missing = [c for c in spec.channels if c not in read]
        if len(read) < 0.75 * len(spec.channels):  # below the default minimum share: nothing said
            got = response.json()
            assert (got["status"], got["probability"], got["rul"]) == ("insufficient data", None, None)
            assert got["channels_missing"] == missing
            insufficient += 1
            continue
        want = service.decider.decide_many(bundle, general_features(bundle, rows), [None])[0]
        want.update(model_id="rul", version=bundle.version, ignored_channels=sorted(sent - set(bundle.spec.channels)))
        want.update(status="in_service", channels_missing=missing)
        # features by pandas' rolling kernels and by numpy agree to float tolerance; health is rounded to 0.1
        got = response.json()
        assert got["health"] == pytest.approx(want["health"], abs=0.1 + 1e-9)
        assert_same_answer({**got, "health": want["health"]}, want, rel=1e-6, abs_=2e-6)
        checked += 1
    assert checked > 30 and insufficient > 20  # both kinds of answer were compared


def test_predict_refuses_windows_without_model_channels(client: TestClient) -> None:
    response = client.post(f"{API}/predict", json={"rows": [{"ambient_noise": 1.0}, {"ambient_noise": 2.0}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rows"]
    response = client.post(f"{API}/predict", json={"rows": [{"vibration": "loud"}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "rows", 0]


def test_sensor_index_equals_sensor_contributions() -> None:
    columns = ["a__mean", "b__max", "a__slope", "c__mean", "a__ewm", "c__std", "bias"]
    index = SensorIndex(columns)
    rng = np.random.default_rng(3)
    for _ in range(500):
        row = rng.normal(0, rng.choice([1e-3, 1.0, 1e3]), len(columns))
        row[rng.uniform(size=len(columns)) < 0.2] = rng.choice([np.nan, np.inf, -np.inf])
        for top in (None, 0, 1, 2, 5):
            expected = sensor_contributions(dict(zip(columns, row.tolist(), strict=True)), top=top)
            assert index.contributions(row, top=top) == expected


def test_live_bundle_follows_promote_rollback_and_hand_edits(
    client: TestClient,
    sample,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [{c: 1.0 + i for c in CHANNELS} for i in range(20)]

    def version() -> str:
        return str(client.post(f"{API}/predict", json={"rows": rows}).json()["version"])

    assert version() == "v2"
    assert client.post(f"{API}/models/rul/promote", json={"version": "v1"}, headers=AUTH).status_code == 200
    assert version() == "v1"
    assert client.post(f"{API}/models/rul/rollback", headers=AUTH).status_code == 200
    assert version() == "v2"
    monkeypatch.setattr(registry, "RESCAN_S", 0.0)  # notice a registry.json edited by hand at once
    (sample.models / registry.REGISTRY_FILE).write_text(json.dumps({"active": {"rul": "v1"}, "history": {}}))
    assert version() == "v1"


def test_fleet_recent_readings_equal_each_assets_own_history(
    service: HealthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet's recent readings (one top-n query, cut from one matrix) and one asset's history are each asset's own
    last instants, also where a channel skips instants and a series is shorter than the window, and when bounded by
    where the windows started the last time."""
    bundle = service.bundle_for()
    spec = bundle.spec
    assets = sorted(service.store.assets()["asset_id"])
    last = service.store.sql("SELECT max(ts) AS ts FROM readings")["ts"].iloc[0]
    extra = pd.DataFrame(
        {
            "asset_id": assets[0],
            "ts": pd.Timestamp(last) + pd.to_timedelta(range(1, 8), unit="h"),
            "channel": "vibration",
            "value": [3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6],
        }
    )
    service.store.ingest_readings(extra)  # one channel runs ahead of the others: gaps in the wide rows
    rows = spec.history_rows

    def same_as_own_history(k: int) -> None:
        recent = service.recent.recent_many(assets, spec.channels, k)
        assert set(recent) == set(assets)
        for asset_id in assets:
            own = service.store.readings(asset_id, wide=True).tail(k).reindex(columns=["ts", *spec.channels])
            times, values = recent[asset_id]
            assert list(times) == list(pd.DatetimeIndex(own["ts"]))
            np.testing.assert_array_equal(values, own[list(spec.channels)].to_numpy(dtype="float64", na_value=np.nan))
            # one asset's history, bounded by the same window starts when known (health of one asset)
            pd.testing.assert_frame_equal(
                service.recent.history(asset_id, spec, k).reset_index(drop=True), own.reset_index(drop=True)
            )

    for k in (rows, 5):
        same_as_own_history(k)
    # again, each query bounded by where the windows started last time: after new readings of every channel and a
    # late reading older than the window
    queries: list[object] = []
    read = service.recent.query
    monkeypatch.setattr(service.recent, "query", lambda *args, since: queries.append(since) or read(*args, since=since))
    newer = pd.DataFrame(
        [
            {"asset_id": a, "ts": pd.Timestamp(last) + pd.Timedelta(hours=9), "channel": c, "value": 1.0}
            for a in assets[:3]
            for c in spec.channels
        ]
    )
    late = pd.DataFrame(
        {
            "asset_id": [assets[1]],
            "ts": [pd.Timestamp(last) - pd.Timedelta(days=300)],
            "channel": ["vibration"],
            "value": [9.0],
        }
    )
    service.store.ingest_readings(pd.concat([newer, late]))
    same_as_own_history(rows)
    assert queries[0] is not None  # (assets with fewer instants than a window are read unbounded, after)
    queries.clear()
    same_as_own_history(5)
    assert len(queries) == 1 and queries[0] is not None  # every asset had a full window: one bounded query
    # bounds past the real starts (as if readings had been replaced or removed): the assets short of a full window
    # are read again without a bound
    starts = service.recent.window_starts[(tuple(spec.channels), 5)]
    assert set(starts) == set(assets)
    for asset_id in assets:
        starts[asset_id] = pd.Timestamp(last) + pd.Timedelta(hours=9)
    for asset_id in assets:
        own = service.store.readings(asset_id, wide=True).tail(5).reindex(columns=["ts", *spec.channels])
        pd.testing.assert_frame_equal(
            service.recent.history(asset_id, spec, 5).reset_index(drop=True), own.reset_index(drop=True)
        )
    queries.clear()
    same_as_own_history(5)
    assert queries[0] is not None and queries[1] is None


def test_a_case_filed_while_health_is_computed_is_not_hidden_by_the_cache(
    service: HealthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert evaluation files cases in its own thread while API requests compute health: a health that read the
    asset's open case just before a case was filed must not be served from the cache afterwards. The case is filed
    the way the service files it (``cases.file``), with no invalidation call of the test's own."""
    asset = sorted(service.store.assets()["asset_id"])[0]
    assert service.health(asset)["open_case"] is None
    service.readings_changed([asset])  # new readings: the next health is computed afresh
    read = service.casebook.open_case_id
    filed: list[int] = []

    def open_case_id(asset_id: str) -> int | None:
        seen = read(asset_id)
        if not filed:  # another thread files a case right after this read
            alert = Alert(asset_id, pd.Timestamp("2026-01-01", tz="UTC"), "rul:v2", 0.9, "high", {"vibration": 1.0})
            filed.extend(service.cases.file([alert]))
        return seen

    monkeypatch.setattr(service.casebook, "open_case_id", open_case_id)
    assert service.health(asset)["open_case"] is None  # computed during the race
    assert service.scores.cached_json(asset) is None
    assert service.health(asset)["open_case"] == filed[0]
    assert service.scores.health_many([asset])[0]["open_case"] == filed[0]
