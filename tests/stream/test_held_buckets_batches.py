"""The held fold of the stream's open buckets (``OpenBuckets._fold_held``, vectorised) on batches that mix assets
held and not, long silences a held value carries across many buckets, rows on bucket boundaries, and checkpoints with and without the held account: closed buckets and each row's value equal the
store's (``Store.readings(resample=..., wide=True)``), and the ranks put every closed bucket before the rows of its
asset's later buckets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store
from forewarn.stream.buckets import HELD_STATE, OpenBuckets

MIN = 60_000_000
WIDTH = 10 * MIN
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
CHANNELS = ("a", "b", "c")
#: per asset, each channel's hold in minutes (0: not held); P-2 holds nothing
HOLDS = {"P-0": (180, 0, 45), "P-1": (50, 50, 0), "P-2": (0, 0, 0)}


def _fleet(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (asset, ts): bursts of readings up to 4 minutes apart (some on bucket boundaries) and silences
    of 1-5 hours between bursts."""
    rng = np.random.default_rng(seed)
    names, stamps, values = [], [], []
    for asset in HOLDS:
        gaps = np.where(rng.random(90) < 0.08, rng.integers(60, 300, 90), rng.integers(0, 5, 90)) * MIN
        t = np.unique(T0 + np.cumsum(gaps) + rng.choice([0, 7_000_000, 31], 90))
        v = np.round(rng.normal(10, 3, (len(t), len(CHANNELS))), 3)
        v[rng.random(v.shape) < 0.45] = np.nan
        keep = np.isfinite(v).any(axis=1)
        names += [asset] * int(keep.sum())
        stamps.append(t[keep])
        values.append(v[keep])
    return np.asarray(names, dtype=object), np.concatenate(stamps), np.concatenate(values)


def _buckets() -> OpenBuckets:
    buckets = OpenBuckets(len(CHANNELS), WIDTH)
    buckets.set_holds({asset: [m * MIN for m in minutes] for asset, minutes in HOLDS.items()})
    return buckets


def _store(assets: np.ndarray, ts: np.ndarray, values: np.ndarray) -> Store:
    frame = pd.DataFrame({"asset_id": assets, "ts": pd.to_datetime(ts, unit="us", utc=True)})
    frame[list(CHANNELS)] = values
    long = frame.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    store = Store()
    store.ingest_readings(long, source="test")
    for asset, minutes in HOLDS.items():
        for channel, m in zip(CHANNELS, minutes, strict=True):
            if m:
                store.set_hold(asset, [channel], f"{m}min")
    return store


def _check_ranks(assets: np.ndarray, ts: np.ndarray, folded) -> None:
    """Each closed bucket at ``closed[k]`` is older than the bucket of every row of its asset with rank >= k, and
    each row's bucket is older than every closed bucket of its asset at a later position."""
    for k, (names, starts, _) in enumerate(folded.closed):
        assert len(set(names.tolist())) == len(names)  # at most one per asset
        for name, start in zip(names, starts, strict=True):
            rows = assets == name
            bucket = (ts[rows] // WIDTH) * WIDTH
            assert np.all(bucket[folded.rank[rows] >= k] > start)
            assert np.all(bucket[folded.rank[rows] < k] <= start)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixed_batches_with_long_carries_equal_the_store(seed: int) -> None:
    assets, ts, values = _fleet(seed)
    rng = np.random.default_rng(100 + seed)
    cuts = np.sort(rng.choice(ts, 6, replace=False))
    buckets = _buckets()
    means = np.empty_like(values)
    closed: list[tuple[str, int, list[float]]] = []
    for lo, hi in zip([ts.min(), *cuts], [*cuts, ts.max() + 1], strict=True):
        part = np.flatnonzero((ts >= lo) & (ts < hi))
        folded = buckets.fold(assets[part], ts[part], values[part])
        _check_ranks(assets[part], ts[part], folded)
        means[part] = folded.means
        for names, starts, got in folded.closed:
            closed += [(str(n), int(s), m.tolist()) for n, s, m in zip(names, starts, got, strict=True)]
    carried = 0
    with _store(assets, ts, values) as store:
        for asset in HOLDS:
            whole = store.readings(asset, resample="10min", wide=True)
            expected = whole.iloc[:-1]
            mine = [(s, m) for a, s, m in closed if a == asset]
            assert [s for s, _ in mine] == pd.DatetimeIndex(expected["ts"]).as_unit("us").asi8.tolist()
            got = np.array([m for _, m in mine])
            np.testing.assert_allclose(got, expected[list(CHANNELS)].to_numpy(), rtol=1e-9, atol=1e-12)
            carried += len(set(s for s, _ in mine) - set((ts[assets == asset] // WIDTH * WIDTH).tolist()))
        for i in range(0, len(ts), 5):
            upto = store.readings(
                assets[i], end=pd.Timestamp(int(ts[i]) + 1, unit="us", tz="UTC"), resample="10min", wide=True
            )
            np.testing.assert_allclose(
                means[i], upto[list(CHANNELS)].to_numpy()[-1], rtol=1e-9, atol=1e-12, err_msg=f"row {i}"
            )
    assert carried > 10  # buckets only a held value reached: the long carries were exercised


def test_one_batch_equals_row_by_row_batches() -> None:
    """Folding the rows one at a time (every row its own batch, each asset's stored account read back) gives the
    same closed buckets, in the same order per asset, and the same row values as one batch of everything."""
    assets, ts, values = _fleet(3)
    whole = _buckets().fold(assets, ts, values)
    single = _buckets()
    means, closed = [], []
    for i in np.argsort(ts, kind="stable"):
        folded = single.fold(assets[i : i + 1], ts[i : i + 1], values[i : i + 1])
        means.append((i, folded.means[0]))
        closed += [(str(n), int(s), m) for part in folded.closed for n, s, m in zip(*part, strict=True)]
    for i, m in means:
        np.testing.assert_allclose(m, whole.means[i], rtol=1e-12, atol=1e-12)
    every = [(str(n), int(s), m) for part in whole.closed for n, s, m in zip(*part, strict=True)]
    for asset in HOLDS:
        one = [(s, m) for a, s, m in every if a == asset]
        many = [(s, m) for a, s, m in closed if a == asset]
        assert [s for s, _ in one] == [s for s, _ in many]
        np.testing.assert_allclose(np.array([m for _, m in one]), np.array([m for _, m in many]), rtol=1e-12)


def test_a_checkpoint_without_the_held_account_counts_holds_from_the_next_reading() -> None:
    buckets = _buckets()
    first = buckets.fold(np.array(["P-0"]), np.array([T0 + MIN]), np.array([[4.0, 2.0, 6.0]]))
    assert first.means[0].tolist() == [4.0, 2.0, 6.0]
    plain = {k: v for k, v in buckets.get_state().items() if k not in HELD_STATE}
    again = _buckets().set_state(plain)
    # the next bucket: the stored one closes with what a plain state knows (b's mean; a and c held, nothing
    # covered: NaN), and a's new reading holds from its own time on
    at = T0 + WIDTH + 2 * MIN
    later = again.fold(np.array(["P-0", "P-0"]), np.array([at, at + 4 * MIN]), np.array([[8.0] * 3, [np.nan] * 3]))
    (names, starts, stored), *_ = later.closed
    assert names.tolist() == ["P-0"] and starts.tolist() == [T0]
    assert np.isnan(stored[0, 0]) and stored[0, 1] == 2.0 and np.isnan(stored[0, 2])
    assert later.rank.tolist() == [0, 0]
    assert later.means[1].tolist() == pytest.approx([8.0, 8.0, 8.0])
    # with the held account the stored bucket weighs a's 4 and c's 6 over the minutes they covered
    full = _buckets().set_state(buckets.get_state())
    kept = full.fold(np.array(["P-0"]), np.array([at]), np.array([[8.0] * 3]))
    assert kept.closed[0][2][0].tolist() == [4.0, 2.0, 6.0]


def test_the_state_of_buckets_none_of_which_is_open_reads_back() -> None:
    empty = _buckets().get_state()
    assert len(empty["assets"]) == 0
    again = _buckets().set_state(empty)
    assert again.assets == [] and again.fold(np.array(["P-1"]), np.array([T0]), np.ones((1, 3))).means.shape == (1, 3)
