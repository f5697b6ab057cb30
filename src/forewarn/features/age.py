"""Age since the last renewal: hours from an asset's latest life-renewing event to each of its rows.

A plant's first stored reading is when its historian started, not when the machine was new, so "time since the
first reading" would teach a spurious age. A recorded renewal (an installation, a replacement, an overhaul: the
maintenance events :func:`forewarn.train.labels.renewals` counts) does start a life, and the hours since it are an
honest feature. :func:`hours_since_renewal` is the one function that computes it; training rows
(:mod:`forewarn.train.dataset`), ``forewarn score``, the service (health, trend, ``/predict``) and the stream all
call it, so a model never sees one age in training and another in service.

Definition: for a row of asset ``a`` at time ``t`` (the row's timestamp: a bucket's start when readings are read
at an interval, as every path reads them), ``age_h = (t - r) / 1 h`` where ``r`` is the latest renewal of ``a``
at or before ``t``; NaN when ``a`` has none (no renewal recorded yet: the age is unknown, not zero).

>>> import pandas as pd
>>> ts = pd.to_datetime(["2024-01-01 06:00", "2024-01-02 00:00", "2024-01-03 12:00", "2024-01-01 00:00"], utc=True)
>>> renewed = pd.DataFrame({"asset_id": ["a", "a"], "ts": pd.to_datetime(["2024-01-01", "2024-01-03"], utc=True)})
>>> hours_since_renewal(["a", "a", "a", "b"], ts, renewed).tolist()
[6.0, 24.0, 12.0, nan]
>>> hours_since_renewal(["a"], ts[:1], {"a": pd.Timestamp("2024-01-01 03:00", tz="UTC")}).tolist()
[3.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

#: the feature's name in a model's feature names (and a serving spec's ``age_feature`` when the model uses it)
AGE_FEATURE = "age_h"


def _renewal_frame(renewals: pd.DataFrame | Mapping[str, Any] | None) -> pd.DataFrame:
    """Renewals as ``asset_id, ts`` (UTC, microseconds), sorted by time, without missing times."""
    if renewals is None:
        frame = pd.DataFrame({"asset_id": [], "ts": []})
    elif isinstance(renewals, pd.DataFrame):
        missing = [c for c in ("asset_id", "ts") if c not in renewals.columns]
        if missing:
            raise SchemaError(f"renewals lack column(s) {', '.join(missing)}", column=missing[0])
        frame = renewals[["asset_id", "ts"]]
    else:
        frame = pd.DataFrame({"asset_id": list(renewals.keys()), "ts": list(renewals.values())})
    frame = frame[frame["ts"].notna()]
    out = pd.DataFrame(
        {
            "asset_id": frame["asset_id"].astype(str).to_numpy(dtype=object),
            "renewed": pd.to_datetime(frame["ts"], utc=True).astype("datetime64[us, UTC]").reset_index(drop=True),
        }
    )
    return out.sort_values("renewed", kind="stable", ignore_index=True)


def hours_since_renewal(
    asset_id: Sequence[Any] | np.ndarray | pd.Series,
    ts: Sequence[Any] | np.ndarray | pd.Series | pd.DatetimeIndex,
    renewals: pd.DataFrame | Mapping[str, Any] | None,
) -> np.ndarray:
    """Hours since each row's latest renewal at or before its time (see the module docstring); NaN without one.

    ``asset_id`` and ``ts`` are the rows (any order, same length; naive times are read as UTC); ``renewals`` is a
    frame of ``asset_id, ts`` (every renewal, e.g. :func:`forewarn.train.labels.renewals` of the events) or a
    mapping ``{asset_id: latest renewal or None}`` (what the service and the stream hold: enough for rows after
    that renewal). Returns float64 hours, one per row, in the rows' order.
    """
    ids = np.asarray(pd.Series(asset_id).astype(str).to_numpy(dtype=object))
    times = pd.to_datetime(pd.Series(ts), utc=True).astype("datetime64[us, UTC]").reset_index(drop=True)
    if len(ids) != len(times):
        raise SchemaError(f"{len(ids)} asset ids for {len(times)} times", column="ts")
    out = np.full(len(ids), np.nan)
    right = _renewal_frame(renewals)
    if not len(ids) or not len(right):
        return out
    left = pd.DataFrame({"asset_id": ids, "ts": times, "_row": np.arange(len(ids))})
    left = left[left["ts"].notna()].sort_values("ts", kind="stable")
    merged = pd.merge_asof(
        left, right, left_on="ts", right_on="renewed", by="asset_id", direction="backward", allow_exact_matches=True
    )
    age = (merged["ts"] - merged["renewed"]) / pd.Timedelta(hours=1)
    out[merged["_row"].to_numpy()] = age.to_numpy(dtype="float64", na_value=np.nan)
    return out


def with_age(features: np.ndarray, age: np.ndarray | float) -> np.ndarray:
    """A matrix of window features (rows x features) with the age as one more, last column (what a serving spec
    with an ``age_feature`` lists last).

    >>> with_age(np.array([[1.0, 2.0]]), np.array([5.0])).tolist()
    [[1.0, 2.0, 5.0]]
    """
    matrix = np.atleast_2d(np.asarray(features, dtype="float64"))
    column = np.broadcast_to(np.asarray(age, dtype="float64").reshape(-1), (len(matrix),))
    return np.column_stack([matrix, column])


def first_sensor(drivers: Iterable[str]) -> str | None:
    """The first of ``drivers`` (names ranked by contribution) that is a sensor: the age since renewal drives a
    prediction but is nothing to inspect, so an action never names it.

    >>> first_sensor(["age_h", "bearing_temp", "flow"]), first_sensor(["age_h"])
    ('bearing_temp', None)
    """
    return next((name for name in drivers if name and name != AGE_FEATURE), None)
