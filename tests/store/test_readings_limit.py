"""``Store.readings(..., limit=n)``: the last ``n`` times of an asset (rows of the wide frame, buckets when
resampled), found by the store's query rather than by reading the whole history and keeping its tail; the same
rows as the tail of the full read, on DuckDB and PostgreSQL, raw or resampled, wide or long, in a time window or a
channel subset, and nothing for a span without readings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError
from forewarn.schema import Asset
from forewarn.store import Store

T0 = pd.Timestamp("2024-03-01T00:00:00Z")


@pytest.fixture
def plant(store: Store) -> Store:
    """One pump: temperature every minute for 100 minutes, vibration every other minute and at 100.5 minutes alone
    (a time only one channel reads), and a motor with no reading."""
    store.add_assets([Asset("P-1", asset_class="pump"), Asset("M-1", asset_class="motor")])
    ts = T0 + pd.to_timedelta(np.arange(100), unit="min")
    temp = pd.DataFrame({"asset_id": "P-1", "ts": ts, "channel": "temp", "value": np.arange(100.0)})
    vib = pd.DataFrame(
        {"asset_id": "P-1", "ts": [*ts[::2], T0 + pd.Timedelta(minutes=100.5)], "channel": "vib", "value": 0.5}
    )
    store.ingest_readings(pd.concat([temp, vib], ignore_index=True), source="test")
    return store


def _last(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """What the route kept before: the last ``n`` distinct times of the full read."""
    times = frame["ts"].unique()[-n:]
    return frame[frame["ts"].isin(times)].reset_index(drop=True)


@pytest.mark.parametrize("n", [1, 2, 7, 60, 101, 5000])
def test_the_last_times_equal_the_tail_of_the_whole_read(plant: Store, n: int) -> None:
    for options in (
        {"wide": True},
        {"wide": False},
        {"wide": True, "channels": ["vib"]},
        {"wide": True, "start": T0 + pd.Timedelta(minutes=10), "end": T0 + pd.Timedelta(minutes=50)},
        {"wide": True, "resample": "15min"},
        {"wide": False, "resample": "10min", "start": T0 + pd.Timedelta(minutes=30)},
    ):
        whole = plant.readings("P-1", **options)  # type: ignore[arg-type]
        got = plant.readings("P-1", limit=n, **options)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), _last(whole, n), check_dtype=False)
    wide = plant.readings("P-1", wide=True, limit=2)
    assert wide["ts"].tolist() == [T0 + pd.Timedelta(minutes=99), T0 + pd.Timedelta(minutes=100.5)]
    assert wide["temp"].isna().tolist() == [False, True]  # 100.5 min: vibration alone


def test_a_span_without_readings_and_bad_limits(plant: Store) -> None:
    assert plant.readings("M-1", wide=True, limit=5).empty
    late = plant.readings("P-1", T0 + pd.Timedelta(days=1), wide=True, limit=5)
    assert late.empty and list(late.columns) == ["asset_id", "ts", "temp", "vib"]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="limit="):
            plant.readings("P-1", wide=True, limit=bad)  # type: ignore[arg-type]
