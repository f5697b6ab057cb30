"""`forewarn store copy` carries each channel's hold, so the copy's buckets are the source's."""

from __future__ import annotations

import pandas as pd

from forewarn.store import Store
from forewarn.store.copy import copy_store


def _on_change() -> pd.DataFrame:
    ts = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:10", "2024-01-01 04:30", "2024-01-01 05:50"], utc=True)
    return pd.DataFrame({"asset_id": "P-1", "ts": ts, "temp": [20.0, 21.0, 25.0, 25.5], "flow": [1.0, 1.1, 1.2, 1.3]})


def test_a_copy_keeps_the_holds_and_so_the_buckets() -> None:
    with Store() as source, Store() as target, Store() as unheld:
        source.ingest_readings(_on_change())
        source.set_hold("P-1", ["temp"], "2h")
        report = copy_store(source, target)
        assert report.holds == 1
        assert target.holds().equals(source.holds())
        expected = source.readings("P-1", resample="1h", wide=True)
        pd.testing.assert_frame_equal(target.readings("P-1", resample="1h", wide=True), expected)
        # what a copy without the hold would have served: the flat hours missing, the first hour's plain mean
        unheld.ingest_readings(_on_change())
        plain = unheld.readings("P-1", resample="1h", wide=True)
        assert (len(plain), len(expected)) == (3, 5)
        assert plain["temp"].iloc[0] == 20.5 and abs(expected["temp"].iloc[0] - 20.833333) < 1e-6
        assert copy_store(source, target).holds == 1  # idempotent: the same hold set again
        assert target.holds().equals(source.holds())
