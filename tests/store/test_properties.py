"""Property tests: round trip in every layout and input kind, idempotence, and batch order.

The documented rule under test: the first value of a key ``(asset_id, channel, ts)`` wins, inside a
batch (lowest line) and across batches (the stored value), so batches ingested one after another store
exactly what their concatenation stores.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import canon, read_all, wipe, write_table

from forewarn.schema import to_long_readings
from forewarn.store import Store
from forewarn.store.postgres import PgStore

ASSETS = ("P-1", "P-2", "fan 3")
CHANNELS = ("temp", "vib", "flow,rate")
BASE = pd.Timestamp("2024-01-01", tz="UTC")
VIAS = ("pandas", "arrow", "csv", "parquet", "jsonl")
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MULTI_BATCH = settings(SETTINGS, max_examples=25)
_names = itertools.count()

timestamps = st.builds(
    lambda minute, micro: BASE + pd.Timedelta(minutes=minute, microseconds=micro),
    st.integers(0, 30),
    st.sampled_from([0, 1, 250_000]),
)
values = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))


@st.composite
def readings_frames(draw: st.DrawFn) -> pd.DataFrame:
    """A long or wide readings frame with gaps, repeated keys and clashing values."""
    if draw(st.booleans()):
        rows = draw(
            st.lists(
                st.tuples(st.sampled_from(ASSETS), timestamps, st.sampled_from(CHANNELS), values),
                min_size=1,
                max_size=30,
            )
        )
        return pd.DataFrame(rows, columns=["asset_id", "ts", "channel", "value"]).astype({"value": "float64"})
    channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True))
    rows = draw(
        st.lists(st.tuples(st.sampled_from(ASSETS), timestamps, *[values] * len(channels)), min_size=1, max_size=20)
    )
    return pd.DataFrame(rows, columns=["asset_id", "ts", *channels]).astype({c: "float64" for c in channels})


def expected(*frames: pd.DataFrame) -> pd.DataFrame:
    """What the store must hold after ingesting ``frames`` in order: first value of each key wins."""
    long = pd.concat([to_long_readings(f) for f in frames], ignore_index=True)
    return canon(long.drop_duplicates(["asset_id", "channel", "ts"], keep="first"))


def ingest(store: Store, frame: pd.DataFrame, via: str, folder: Path):
    if via == "pandas":
        return store.ingest_readings(frame)
    if via == "arrow":
        return store.ingest_readings(pa.Table.from_pandas(frame, preserve_index=False))
    return store.ingest_file(write_table(folder / f"batch{next(_names)}.{via}", frame))


_examples = itertools.count()
PG_EVERY = 3  # on PostgreSQL every third example runs: ~0.3 s of server round trips each on this machine


def skipped(store: Store) -> bool:
    """True for the examples a PostgreSQL store leaves out (DuckDB runs them all)."""
    return isinstance(store, PgStore) and next(_examples) % PG_EVERY != 0


@pytest.fixture(scope="module")
def shared(make_module_store) -> Store:
    """One store for all examples, wiped at the start of each."""
    return make_module_store()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batches")


@SETTINGS
@given(frame=readings_frames(), via=st.sampled_from(VIAS))
def test_round_trip(shared: Store, folder: Path, frame: pd.DataFrame, via: str):
    if skipped(shared):
        return
    want = expected(frame)
    store = wipe(shared)
    report = ingest(store, frame, via, folder)
    pd.testing.assert_frame_equal(read_all(store), want)
    assert report.written == len(want) == store.count_readings()
    assert report.rows_read == report.written + report.duplicates == len(to_long_readings(frame))
    for asset in want["asset_id"].unique():  # the per-asset query returns the same rows, sorted by ts
        got = store.readings(asset)
        pd.testing.assert_frame_equal(canon(got), want[want["asset_id"] == asset].reset_index(drop=True))
        assert got["ts"].is_monotonic_increasing


@SETTINGS
@given(frame=readings_frames(), via=st.sampled_from(VIAS))
def test_ingesting_twice_equals_once(shared: Store, folder: Path, frame: pd.DataFrame, via: str):
    if skipped(shared):
        return
    store = wipe(shared)
    first = ingest(store, frame, via, folder)
    once = read_all(store)
    second = ingest(store, frame, via, folder)
    pd.testing.assert_frame_equal(read_all(store), once)
    assert second.written == 0 and second.duplicates == second.rows_read == first.rows_read
    assert second.assets_created == ()


@MULTI_BATCH
@given(frames=st.lists(readings_frames(), min_size=2, max_size=4), via=st.sampled_from(VIAS))
def test_batches_one_by_one_equal_their_concatenation(
    shared: Store, folder: Path, frames: list[pd.DataFrame], via: str
):
    if skipped(shared):
        return
    store = wipe(shared)
    for frame in frames:
        ingest(store, frame, via, folder)
    pd.testing.assert_frame_equal(read_all(store), expected(*frames))


@MULTI_BATCH
@given(frame=readings_frames(), cuts=st.lists(st.integers(0, 30), max_size=3), data=st.data())
def test_order_of_batches_does_not_matter(
    shared: Store, folder: Path, frame: pd.DataFrame, cuts: list[int], data: st.DataObject
):
    """Batches that agree on the value of each key (overlaps allowed) give the same store in any order."""
    if skipped(shared):
        return
    consistent = to_long_readings(frame).drop_duplicates(["asset_id", "channel", "ts"], keep="first")
    bounds = sorted({0, len(consistent), *[min(c, len(consistent)) for c in cuts]})
    batches = [consistent.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    batches.append(consistent.sample(frac=0.5, random_state=0))  # an overlapping batch with the same values
    batches = [b for b in batches if len(b)]  # an empty JSON-lines file is an error, like a CSV without header
    order = data.draw(st.permutations(range(len(batches))))
    via = data.draw(st.sampled_from(VIAS))
    store = wipe(shared)
    for i in order:
        ingest(store, batches[i].reset_index(drop=True), via, folder)
    pd.testing.assert_frame_equal(read_all(store), canon(consistent))
