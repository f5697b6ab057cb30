"""The stream's open buckets: running means equal the store's resample, closed buckets come out in order, the
state round-trips, and a stream runner over buckets gives the batch features of the resampled readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.features.window import window_features
from forewarn.store import Store
from forewarn.stream.buckets import OpenBuckets
from forewarn.stream.features import MicroBatchFeatures

MIN = 60_000_000
HOUR = 60 * MIN
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def _rows(rng: np.random.Generator, assets: int = 3, minutes: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (asset, ts) at irregular minutes, some channel values missing."""
    names, stamps, values = [], [], []
    for i in range(assets):
        ts = T0 + 7 * MIN * i + np.sort(rng.choice(minutes * 2, minutes, replace=False)) * MIN // 2
        v = rng.normal(50 + i, 3, (minutes, 2))
        v[rng.random((minutes, 2)) < 0.1] = np.nan
        names += [f"P-{i}"] * minutes
        stamps.append(ts)
        values.append(v)
    return np.asarray(names, dtype=object), np.concatenate(stamps), np.concatenate(values)


def _store_means(assets: np.ndarray, ts: np.ndarray, values: np.ndarray, until: int) -> dict[str, pd.DataFrame]:
    """What Store.readings(resample='1h', wide=True) says for each asset, readings before ``until``."""
    keep = ts < until
    frame = pd.DataFrame(
        {
            "asset_id": assets[keep],
            "ts": pd.to_datetime(ts[keep], unit="us", utc=True),
            "a": values[keep, 0],
            "b": values[keep, 1],
        }
    )
    long = frame.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    with Store() as store:
        store.ingest_readings(long, source="test")
        return {a: store.readings(a, resample="1h", wide=True) for a in sorted(set(assets[keep].tolist()))}


def _fold_in_batches(
    buckets: OpenBuckets, assets: np.ndarray, ts: np.ndarray, values: np.ndarray, cuts: list[int]
) -> tuple[np.ndarray, list[tuple[str, int, list[float]]]]:
    """Fold rows in micro-batches split at time ``cuts`` (each batch sorted by asset, ts)."""
    means = np.empty_like(values)
    closed: list[tuple[str, int, list[float]]] = []
    bounds = [np.iinfo("int64").min, *cuts, np.iinfo("int64").max]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = np.flatnonzero((ts >= lo) & (ts < hi))
        folded = buckets.fold(assets[part], ts[part], values[part])
        means[part] = folded.means
        for names, starts, got in folded.closed:
            closed += [(str(n), int(s), m.tolist()) for n, s, m in zip(names, starts, got, strict=True)]
    return means, closed


def _streamed(
    buckets: OpenBuckets, online: MicroBatchFeatures, assets: np.ndarray, ts: np.ndarray, values: np.ndarray, batch: int
) -> np.ndarray:
    """Each row's features as the stream runner gives them: rows in micro-batches of ``batch`` (each sorted by asset,
    ts), every closed bucket's mean added to the window, every row scored with its open bucket (``peek``)."""
    got = np.empty((len(ts), len(online.feature_names)))
    for lo in range(0, len(ts), batch):
        part = np.arange(lo, min(len(ts), lo + batch))
        part = part[np.lexsort((ts[part], assets[part]))]
        folded = buckets.fold(assets[part], ts[part], values[part])
        for rank, (names, _, means) in enumerate(folded.closed):
            if len(names):
                online.update(names, means)
            rows = np.flatnonzero(folded.rank == rank)
            got[part[rows]] = online.peek(assets[part][rows], folded.means[rows])
    return got


@pytest.mark.parametrize("cuts", [[], [T0 + 90 * MIN, T0 + 95 * MIN, T0 + 200 * MIN]])
def test_running_means_and_closed_buckets_equal_the_store_resample(cuts: list[int]) -> None:
    assets, ts, values = _rows(np.random.default_rng(0))
    means, closed = _fold_in_batches(OpenBuckets(2, HOUR), assets, ts, values, cuts)
    end = int(ts.max()) + 1
    whole = _store_means(assets, ts, values, end)
    for asset, frame in whole.items():
        mine = [(s, m) for a, s, m in closed if a == asset]
        expected = frame.iloc[:-1]  # every bucket but the last has closed
        assert [s for s, _ in mine] == pd.DatetimeIndex(expected["ts"]).as_unit("us").asi8.tolist()
        np.testing.assert_allclose(np.array([m for _, m in mine]), expected[["a", "b"]].to_numpy(), rtol=1e-12)
    # a row's running mean is the store's last bucket of the readings up to it
    for i in (5, 100, 399, 401, 777, 1199):
        upto = _store_means(assets, ts, values, int(ts[i]) + 1)[assets[i]]
        np.testing.assert_allclose(means[i], upto[["a", "b"]].to_numpy()[-1], rtol=1e-12)


def test_state_round_trip_continues_the_open_bucket() -> None:
    assets, ts, values = _rows(np.random.default_rng(1), assets=2, minutes=150)
    cut = T0 + 100 * MIN + 17
    one = OpenBuckets(2, HOUR)
    straight, closed_straight = _fold_in_batches(one, assets, ts, values, [cut])
    first = OpenBuckets(2, HOUR)
    before = np.flatnonzero(ts < cut)
    first.fold(assets[before], ts[before], values[before])
    state = first.get_state()
    assert sorted(state["assets"].tolist()) == ["P-0", "P-1"]
    second = OpenBuckets(2, HOUR).set_state(state)
    after = np.flatnonzero(ts >= cut)
    folded = second.fold(assets[after], ts[after], values[after])
    np.testing.assert_array_equal(folded.means, straight[after])
    for key in ("starts", "sums", "counts"):
        np.testing.assert_array_equal(second.get_state()[key], one.get_state()[key])


def test_a_batch_continues_closes_and_opens_buckets() -> None:
    buckets = OpenBuckets(1, HOUR)
    buckets.fold(np.array(["p"]), np.array([T0 + 10 * MIN]), np.array([[2.0]]))
    folded = buckets.fold(
        np.array(["p", "p", "p", "q"]),
        np.array([T0 + 20 * MIN, T0 + HOUR, T0 + 3 * HOUR, T0]),
        np.array([[4.0], [np.nan], [5.0], [1.0]]),
    )
    assert folded.means[:, 0].tolist()[:1] == [3.0] and np.isnan(folded.means[1, 0])
    assert folded.rank.tolist() == [0, 1, 2, 0]
    assert [(n.tolist(), s.tolist()) for n, s, _ in folded.closed] == [([], []), (["p"], [T0]), (["p"], [T0 + HOUR])]
    assert folded.closed[1][2].tolist() == [[3.0]] and np.isnan(folded.closed[2][2][0, 0])
    assert buckets.get_state(["p"])["starts"].tolist() == [T0 + 3 * HOUR]
    closing = buckets.fold(np.array(["q"]), np.array([T0 + 2 * HOUR]), np.array([[7.0]]))
    assert closing.closed[0][0].tolist() == ["q"] and closing.closed[0][2].tolist() == [[1.0]]


def test_rows_out_of_order_or_older_than_the_open_bucket_are_refused() -> None:
    buckets = OpenBuckets(1, HOUR)
    with pytest.raises(SchemaError, match="time order"):
        buckets.fold(np.array(["p", "p"]), np.array([T0 + MIN, T0]), np.array([[1.0], [2.0]]))
    buckets.fold(np.array(["p"]), np.array([T0 + HOUR]), np.array([[1.0]]))
    with pytest.raises(SchemaError, match="older than"):
        buckets.fold(np.array(["p"]), np.array([T0]), np.array([[1.0]]))


def test_peek_is_update_of_one_row_and_leaves_the_state() -> None:
    rng = np.random.default_rng(2)
    online = MicroBatchFeatures(["a", "b"], window=4, stats=("mean", "std", "min", "last", "slope", "ewm", "diff"))
    online.update(np.array(["p"] * 3 + ["q"]), rng.normal(size=(4, 2)))
    before = online.get_state()
    rows = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    peeked = online.peek(np.array(["p", "q", "new"]), rows)
    for key, value in before.items():
        np.testing.assert_array_equal(online.get_state()[key], value)
    for i, asset in enumerate(("p", "q", "new")):
        np.testing.assert_array_equal(peeked[i], online.update(np.array([asset]), rows[i : i + 1])[0])
        online.set_state(before) if asset != "new" else None


def test_runner_features_over_buckets_equal_batch_features_of_the_resample() -> None:
    """Features of open buckets (peek after the closed ones) are the last row of window_features on the resample."""
    assets, ts, values = _rows(np.random.default_rng(3), assets=2, minutes=300)
    stats = ("mean", "std", "max", "slope", "ewm", "diff")
    buckets, online = OpenBuckets(2, HOUR), MicroBatchFeatures(["a", "b"], window=3, stats=stats, ewm_span=4.0)
    got = _streamed(buckets, online, assets, ts, values, batch=97)  # batches cut across assets and buckets
    for i in (0, 61, 299, 300, 450, 599):
        hourly = _store_means(assets, ts, values, int(ts[i]) + 1)[assets[i]]
        offline = window_features(
            hourly, group="asset_id", order="ts", columns=["a", "b"], window=3, stats=stats, ewm_span=4.0
        )
        np.testing.assert_allclose(
            got[i], offline.iloc[-1][online.feature_names].to_numpy(dtype=float), rtol=1e-9, atol=1e-12
        )


def test_sequence_features_over_buckets_equal_the_bundle_spec_on_the_resample() -> None:
    """A sequence model's input in the stream (each open bucket peeked after the closed ones, micro-batches cut
    across assets and buckets) is the last row of the serving spec's frame of the resample, gaps included: a
    channel silent for longer than the window carries its last value, one never read yet is 0."""
    from forewarn.bundles.bundle import ServingSpec

    assets, ts, values = _rows(np.random.default_rng(5), assets=2, minutes=500)
    hours = (ts - T0) // HOUR
    values[(assets == "P-0") & (hours >= 2) & (hours < 7), 1] = np.nan  # b silent for 5 buckets (window 3)
    values[(assets == "P-1") & (hours < 2), 0] = np.nan  # a not read in P-1's first buckets
    spec = ServingSpec(channels=("a", "b"), window=3, sequence=True, interval="1h")
    buckets = OpenBuckets(2, HOUR)
    online = MicroBatchFeatures(["a", "b"], window=3, sequence=True)
    assert online.feature_names == spec.window_feature_names
    got = _streamed(buckets, online, assets, ts, values, batch=89)
    checked = [0, 61, 130, 200, 260, 340, 499, 500, 520, 600, 700, 999]
    for i in checked:
        hourly = _store_means(assets, ts, values, int(ts[i]) + 1)[assets[i]]
        hourly = hourly.reindex(columns=["asset_id", "ts", "a", "b"])  # a channel not read yet: no column
        offline = spec.window_frame(hourly).iloc[-1].to_numpy(dtype=float)
        np.testing.assert_allclose(got[i], offline, rtol=1e-9, atol=1e-12, err_msg=f"row {i}")
    assert (got[checked][:, 3:] != 0).all()  # b's gap read its last value, not 0


def test_a_late_reading_is_stored_but_not_folded_into_its_closed_bucket(tmp_path: Path) -> None:
    """A reading at or before the watermark (here of a bucket that has closed) goes to the store, is not scored, and
    leaves the stream's buckets as they were: the next score is that of the readings without it."""
    from forewarn.bundles.bundle import Bundle, make_bundle
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    rng = np.random.default_rng(4)
    stats = ("mean", "max", "ewm")
    names = [f"{c}__{s}" for c in ("a", "b") for s in stats]
    X = pd.DataFrame(rng.normal(50, 3, (60, 6)), columns=names)
    model = LightGBMRUL(n_estimators=5, num_leaves=3, max_rul=None, seed=0).fit(X, X["a__mean"] - 40)
    folder = make_bundle(
        model,
        tmp_path / "m",
        channels=("a", "b"),
        window=3,
        interval="1h",
        stats=stats,
        horizon=5.0,
        X_holdout=X,
        y_holdout=X["a__mean"] - 40,
        calibration=None,
    )
    config = parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": "P-1", "channels": {"a": "u", "b": "u"}}],
            "models": [{"path": str(folder)}],
        }
    )
    minutes = np.arange(150)
    values = rng.normal(50, 3, (150, 2))
    with Store(tmp_path / "s.duckdb") as store:
        pipe = OnlinePipeline(store, config)
        cols = ReadingColumns()
        for m, (a, b) in zip(minutes.tolist(), values.tolist(), strict=True):
            cols.add("P-1", "a", T0 + m * MIN, a)
            cols.add("P-1", "b", T0 + m * MIN, b)
        pipe.process(cols, [])
        runner = pipe.runners[0]
        held = runner.buckets.get_state()
        late = ReadingColumns()
        late.add("P-1", "a", T0 + 30 * MIN + 1, 500.0)  # in the first bucket, closed since minute 60
        result = pipe.process(late, [])
        assert (result.late, result.written, result.rows_scored) == (1, 1, 0)
        for key, value in held.items():
            np.testing.assert_array_equal(runner.buckets.get_state()[key], value)
        seen: list[np.ndarray] = []
        pipe.on_features = lambda model_id, assets, ts, feats: seen.append(feats)
        nxt = ReadingColumns()
        nxt.add("P-1", "a", T0 + 150 * MIN, 51.0)
        pipe.process(nxt, [])
        pipe.close()
        bundle = Bundle(folder)

        def offline(hourly: pd.DataFrame) -> np.ndarray:
            feats = window_features(hourly, group="asset_id", order="ts", columns=["a", "b"], window=3, stats=stats)
            return feats[bundle.feature_names].to_numpy()[-1]

        stored = store.readings("P-1", resample="1h", wide=True)  # the store's first bucket holds the late reading
        without = stored.copy()
        without.loc[0, "a"] = values[minutes < 60, 0].mean()
        np.testing.assert_allclose(seen[0][0], offline(without), rtol=1e-9)
        assert not np.allclose(seen[0][0], offline(stored))
