"""The stream's open buckets weigh a held channel (recorded on change) by time as the store does: every closed bucket
equals ``Store.readings(resample=..., wide=True)``, every row's running value the store's last bucket of the readings
up to it, a held value carries across a bucket with no reading until its hold ends, and the stream reads the holds
from its store (checkpoint and restart included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.features.window import window_features
from forewarn.store import Store
from forewarn.stream.buckets import OpenBuckets

MIN = 60_000_000
HOUR = 60 * MIN
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOLDS = {"P-0": "2h", "P-1": "90min"}
HOLD_US = {"P-0": 2 * HOUR, "P-1": 90 * MIN}


def _on_change(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (asset, ts): ``a`` recorded on change (a slow walk kept when it moves past 0.5), ``b`` every
    7-20 minutes; nothing at all from hour 5 to hour 9 (a's hold reaches into that gap and ends there)."""
    names, stamps, values = [], [], []
    for i, asset in enumerate(HOLDS):
        minutes = np.cumsum(rng.integers(1, 9, 300)) + 3 * i
        minutes = minutes[(minutes < 5 * 60) | (minutes >= 9 * 60 + 10)]
        walk = 20.0 + np.cumsum(rng.normal(0, 0.2, len(minutes)))
        a = np.full(len(minutes), np.nan)
        last = np.inf
        for k, v in enumerate(walk):
            if abs(v - last) > 0.5:
                a[k] = last = v
        b = np.where(rng.random(len(minutes)) < 0.35, rng.normal(5, 1, len(minutes)), np.nan)
        keep = np.isfinite(a) | np.isfinite(b)
        names += [asset] * int(keep.sum())
        stamps.append(T0 + minutes[keep] * MIN + 11)
        values.append(np.c_[a, b][keep])
    return np.asarray(names, dtype=object), np.concatenate(stamps), np.concatenate(values)


def _store(assets: np.ndarray, ts: np.ndarray, values: np.ndarray) -> Store:
    frame = pd.DataFrame({"asset_id": assets, "ts": pd.to_datetime(ts, unit="us", utc=True)})
    frame[["a", "b"]] = values
    long = frame.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    store = Store()
    store.ingest_readings(long, source="test")
    for asset, hold in HOLDS.items():
        store.set_hold(asset, ["a"], hold)
    return store


def _buckets() -> OpenBuckets:
    buckets = OpenBuckets(2, HOUR)
    buckets.set_holds({asset: [micros, 0] for asset, micros in HOLD_US.items()})
    return buckets


def _fold(
    buckets: OpenBuckets, assets: np.ndarray, ts: np.ndarray, values: np.ndarray, cuts: list[int]
) -> tuple[np.ndarray, list[tuple[str, int, list[float]]]]:
    """Fold in micro-batches split at the times ``cuts``; each row's value and every closed bucket in rank order."""
    means = np.empty_like(values)
    closed: list[tuple[str, int, list[float]]] = []
    bounds = [np.iinfo("int64").min, *cuts, np.iinfo("int64").max]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = np.flatnonzero((ts >= lo) & (ts < hi))
        folded = buckets.fold(assets[part], ts[part], values[part])
        means[part] = folded.means
        assert len(folded.closed) >= int(folded.rank.max(initial=-1)) + 1
        for names, starts, got in folded.closed:
            closed += [(str(n), int(s), m.tolist()) for n, s, m in zip(names, starts, got, strict=True)]
    return means, closed


@pytest.mark.parametrize("cuts", [[], [T0 + 90 * MIN, T0 + 95 * MIN + 11, T0 + 6 * HOUR, T0 + 10 * HOUR]])
def test_closed_and_running_buckets_of_a_held_channel_equal_the_store(cuts: list[int]) -> None:
    assets, ts, values = _on_change(np.random.default_rng(0))
    means, closed = _fold(_buckets(), assets, ts, values, cuts)
    with _store(assets, ts, values) as store:
        for asset in HOLDS:
            whole = store.readings(asset, resample="1h", wide=True)
            mine = [(s, m) for a, s, m in closed if a == asset]
            expected = whole.iloc[:-1]  # every bucket but the asset's last has closed
            assert [s for s, _ in mine] == pd.DatetimeIndex(expected["ts"]).as_unit("us").asi8.tolist()
            np.testing.assert_allclose(np.array([m for _, m in mine]), expected[["a", "b"]].to_numpy(), rtol=1e-9)
        # a row's value is the store's last bucket of the readings up to it (the row's instant the end)
        for i in range(0, len(ts), 7):
            upto = store.readings(
                assets[i], end=pd.Timestamp(int(ts[i]) + 1, unit="us", tz="UTC"), resample="1h", wide=True
            )
            assert int(pd.Timestamp(upto["ts"].iloc[-1]).value // 1000) == (ts[i] // HOUR) * HOUR
            np.testing.assert_allclose(means[i], upto[["a", "b"]].to_numpy()[-1], rtol=1e-9, err_msg=f"row {i}")


def test_a_held_value_carries_across_an_empty_bucket_until_its_hold_ends() -> None:
    buckets = _buckets()
    rows = np.array([[10.0, 1.0], [12.0, np.nan], [np.nan, 3.0]])
    at = np.array([T0, T0 + 30 * MIN, T0 + 6 * HOUR + 15 * MIN])
    first = buckets.fold(np.array(["P-0"] * 2), at[:2], rows[:2])
    # 10 for 30 min, then 12 for the newest instant (one microsecond)
    assert first.means[1, 0] == pytest.approx((10.0 * 30 * MIN + 12.0) / (30 * MIN + 1), rel=1e-12)
    later = buckets.fold(np.array(["P-0"]), at[2:], rows[2:])
    starts = [int(s) for _, part, _ in later.closed for s in part]
    values = [m.tolist() for _, _, part in later.closed for m in part]
    # hour 0 closes (10 for 30 min, 12 for 30 min); 12 holds for two hours: all of hour 1, half of hour 2; hours 3-5
    # hold nothing and are no bucket; the row opens hour 6 with a expired (NaN) and b = 3
    assert starts == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert values[0] == pytest.approx([11.0, 1.0]) and values[1][0] == 12.0 and values[2][0] == 12.0
    assert np.isnan(values[1][1]) and np.isnan(values[2][1])
    assert later.rank.tolist() == [2] and np.isnan(later.means[0, 0]) and later.means[0, 1] == 3.0


def test_state_round_trip_continues_the_held_account() -> None:
    assets, ts, values = _on_change(np.random.default_rng(1))
    cut = T0 + 4 * HOUR + 7 * MIN
    straight, closed_straight = _fold(_buckets(), assets, ts, values, [cut])
    first = _buckets()
    before = np.flatnonzero(ts < cut)
    first.fold(assets[before], ts[before], values[before])
    second = _buckets().set_state(first.get_state())
    after = np.flatnonzero(ts >= cut)
    folded = second.fold(assets[after], ts[after], values[after])
    np.testing.assert_array_equal(folded.means, straight[after])


def test_holds_are_checked() -> None:
    with pytest.raises(SchemaError, match="2 non-negative microseconds"):
        OpenBuckets(2, HOUR).set_holds({"P": [HOUR]})
    assert not OpenBuckets(2, HOUR).held


def test_the_stream_reads_the_holds_of_its_store_and_keeps_them_over_a_restart(tmp_path: Path) -> None:
    """Through the pipeline (holds set in the store the stream writes to, a restart from the checkpoint between
    micro-batches): each row's features are the last row of the window features of the store's held buckets."""
    from forewarn.bundles.bundle import Bundle, make_bundle
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    rng = np.random.default_rng(4)
    stats = ("mean", "max", "ewm")
    names = [f"{c}__{s}" for c in ("a", "b") for s in stats]
    X = pd.DataFrame(rng.normal(20, 3, (60, 6)), columns=names)
    model = LightGBMRUL(n_estimators=5, num_leaves=3, max_rul=None, seed=0).fit(X, X["a__mean"] - 10)
    folder = make_bundle(
        model,
        tmp_path / "m",
        channels=("a", "b"),
        window=3,
        interval="1h",
        stats=stats,
        horizon=5.0,
        X_holdout=X,
        y_holdout=X["a__mean"] - 10,
        calibration=None,
    )
    config = parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": a, "channels": {"a": "u", "b": "u"}} for a in HOLDS],
            "models": [{"path": str(folder)}],
        }
    )
    assets, ts, values = _on_change(np.random.default_rng(2))
    bundle = Bundle(folder)
    path = tmp_path / "s.duckdb"
    seen: dict[tuple[str, int], np.ndarray] = {}
    order = np.argsort(ts, kind="stable")
    for half, rows in enumerate(np.array_split(order, [len(order) // 2])):
        with Store(path) as store:
            pipe = OnlinePipeline(store, config)  # declares the assets' channels
            if half == 0:
                for asset, hold in HOLDS.items():
                    store.set_hold(asset, ["a"], hold)
            pipe.on_features = lambda model_id, names, stamps, feats: seen.update(
                {(str(a), int(t)): f for a, t, f in zip(names, np.asarray(stamps, dtype="int64"), feats, strict=True)}
            )
            for lo in range(0, len(rows), 40):
                cols = ReadingColumns()
                for i in rows[lo : lo + 40]:
                    for k, channel in enumerate(("a", "b")):
                        if np.isfinite(values[i, k]):
                            cols.add(str(assets[i]), channel, int(ts[i]), float(values[i, k]))
                pipe.process(cols, [])
            pipe.close()
    with Store(path, read_only=True) as store:
        for i in range(3, len(ts), 9):
            upto = store.readings(
                assets[i], end=pd.Timestamp(int(ts[i]) + 1, unit="us", tz="UTC"), resample="1h", wide=True
            )
            feats = window_features(upto, group="asset_id", order="ts", columns=["a", "b"], window=3, stats=stats)
            np.testing.assert_allclose(
                seen[(str(assets[i]), int(ts[i]))],
                feats[bundle.feature_names].to_numpy()[-1],
                rtol=1e-9,
                err_msg=f"row {i}",
            )
