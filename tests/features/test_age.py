"""The age since the last renewal (forewarn.features.age): hand-computed rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.features.age import hours_since_renewal, with_age

T0 = pd.Timestamp("2024-03-01T00:00:00Z")


def at(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


def test_latest_renewal_at_or_before_each_row_per_asset() -> None:
    renewed = pd.DataFrame(
        {"asset_id": ["a", "b", "a", "a"], "ts": [at(10), at(0), at(2), at(30.5)]}  # any order
    )
    rows = pd.DataFrame(
        {
            "asset_id": ["a", "a", "a", "a", "a", "b", "c", "a"],
            "ts": [at(1), at(2), at(9), at(10), at(30), at(5.25), at(50), at(50)],
        }
    )
    got = hours_since_renewal(rows["asset_id"], rows["ts"], renewed)
    # a: before its first renewal NaN; at a renewal 0; 9 - 2; 10 - 10; 30 - 10 (30.5 is later); b: 5.25; c: none
    np.testing.assert_array_equal(got, [np.nan, 0.0, 7.0, 0.0, 20.0, 5.25, np.nan, 19.5])


def test_rows_in_any_order_keep_their_order() -> None:
    renewed = {"p": at(0), "q": at(4)}
    ids = ["q", "p", "q", "p"]
    ts = [at(6), at(3), at(4.5), at(0)]
    np.testing.assert_array_equal(hours_since_renewal(ids, ts, renewed), [2.0, 3.0, 0.5, 0.0])


def test_mapping_none_naive_times_and_no_renewals() -> None:
    assert np.isnan(hours_since_renewal(["a"], [at(1)], {"a": None})).all()
    assert np.isnan(hours_since_renewal(["a"], [at(1)], None)).all()
    assert np.isnan(hours_since_renewal(["a"], [at(1)], pd.DataFrame({"asset_id": [], "ts": []}))).all()
    naive = pd.Timestamp("2024-03-01 06:00")  # read as UTC
    assert hours_since_renewal(["a"], [naive], {"a": at(0)}).tolist() == [6.0]
    assert hours_since_renewal([], [], {"a": at(0)}).shape == (0,)
    assert np.isnan(hours_since_renewal(["a"], [None], {"a": at(0)})).all()  # a row without a time


def test_bad_input_is_named() -> None:
    with pytest.raises(SchemaError, match="renewals lack column"):
        hours_since_renewal(["a"], [at(1)], pd.DataFrame({"asset_id": ["a"]}))
    with pytest.raises(SchemaError, match="2 asset ids for 1 times"):
        hours_since_renewal(["a", "b"], [at(1)], {"a": at(0)})


def test_with_age_appends_one_column() -> None:
    out = with_age(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, np.nan]))
    np.testing.assert_array_equal(out, [[1.0, 2.0, 5.0], [3.0, 4.0, np.nan]])
    assert with_age(np.array([1.0, 2.0]), 7.0).tolist() == [[1.0, 2.0, 7.0]]
