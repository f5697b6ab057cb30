"""Features relative to an asset's own normal: its readings against a baseline taken from the start of its life.

At a site a model has never seen, levels differ (other ambient, other load, other units of the same class), so a
model trained on absolute window statistics reads a healthy machine of a warm site as a failing one of a cool
site. What a machine looked like in its own first weeks is known at every site, and a departure from it is
what wear looks like. This module computes, with no look-ahead:

* the *life* of each row: it starts at the asset's latest renewal at or before the row
  (:func:`forewarn.train.labels.renewals` of the events), or at the asset's first row when none precedes it;
* the *baseline* of a life: its rows in ``[start, start + baseline_hours)``; it is complete only once a row at or
  after ``start + baseline_hours`` exists (every feature below is NaN before that: a baseline in progress is not
  one), and a channel needs ``MIN_ROWS`` readings in it (else its features are NaN);
* per channel, ``z = (x - mean_b) / std_b`` of every row after the baseline (``mean_b``, ``std_b``: the
  baseline rows' mean and population standard deviation; a channel whose baseline does not vary is left out);
* a PCA of the baseline rows' ``z`` (channels with a missing value read 0, the baseline mean), keeping the
  leading components that explain ``VARIANCE`` of the variance: Hotelling's ``T2`` (the squared scores over
  their baseline variances) and ``Q`` (the squared residual off those components), per row: the PCA T2+Q
  detector of :mod:`forewarn.models.anomaly`, fitted per asset life on its own first weeks;
* the trailing-window mean of those per-row values over the last ``window`` rows of the asset's life (a window
  never reaches back across a renewal; :func:`forewarn.features.window.window_features`, the one kernel), named ``f"{channel}__base_z"``,
  ``base__t2`` and ``base__q`` (:func:`baseline_names`).

The same function serves training and serving: it reads the baseline rows from the frame it is given, so a
service that passes an asset's baseline rows followed by its recent history (:func:`baseline_span`) gets the
last row's features exactly as training computed them for that row, as long as the recent history holds the
last ``window`` rows.

>>> import pandas as pd
>>> ts = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
>>> frame = pd.DataFrame({"asset_id": "a", "ts": ts, "t": [1.0, 3.0, 1.0, 3.0, 4.0, 8.0]})
>>> out = baseline_features(frame, columns=["t"], window=1, baseline_hours=4, renewals=None)
>>> out["t__base_z"].tolist()
[nan, nan, nan, nan, 2.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError
from forewarn.features.window import window_features

#: readings of a channel a baseline needs (fewer: the channel's features are NaN for that life)
MIN_ROWS = 4
#: the share of the baseline's variance the PCA components keep
VARIANCE = 0.9
#: a baseline standard deviation at or below this (relative to the mean's size) means the channel does not vary
FLAT = 1e-9
T2, Q = "base__t2", "base__q"


def baseline_names(columns: Sequence[str]) -> list[str]:
    """The feature names, in :func:`baseline_features` order.

    >>> baseline_names(["a", "b"])
    ['a__base_z', 'b__base_z', 'base__t2', 'base__q']
    """
    return [f"{c}__base_z" for c in columns] + [T2, Q]


def life_starts(asset_id: np.ndarray, ts: pd.Series, renewals: pd.DataFrame | None) -> np.ndarray:
    """Each row's life start (datetime64[us], UTC-naive): its asset's latest renewal at or before it, else the
    asset's first row. Rows in any order; ``ts`` UTC."""
    times = pd.to_datetime(ts, utc=True).astype("datetime64[us, UTC]").reset_index(drop=True)
    ids = pd.Series(np.asarray(asset_id).astype(str))
    first = times.groupby(ids).transform("min")
    out: np.ndarray = first.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").copy()
    if renewals is not None and len(renewals):
        right = pd.DataFrame(
            {
                "asset_id": renewals["asset_id"].astype(str).to_numpy(dtype=object),
                "renewed": pd.to_datetime(renewals["ts"], utc=True).astype("datetime64[us, UTC]").to_numpy(),
            }
        ).dropna()
        right["renewed"] = pd.to_datetime(right["renewed"], utc=True)
        right = right.sort_values("renewed", kind="stable", ignore_index=True)
        left = pd.DataFrame({"asset_id": ids.to_numpy(dtype=object), "ts": times, "_row": np.arange(len(ids))})
        left = left.sort_values("ts", kind="stable")
        merged = pd.merge_asof(left, right, left_on="ts", right_on="renewed", by="asset_id", direction="backward")
        # rows before every renewal get NaT (an all-NaT column may come back as None objects: compare as datetimes)
        renewed = pd.to_datetime(
            pd.Series(merged["renewed"].to_numpy(), index=merged["_row"].to_numpy()).sort_index(), utc=True
        )
        at = renewed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
        later = ~np.isnat(at) & (at > out)
        out[later] = at[later]
    return out


def _fit_life(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean, std (NaN for a channel left out), components (k x C) and their variances from baseline rows."""
    present = np.isfinite(values)
    count = present.sum(axis=0)
    seen = np.maximum(count, 1)
    mean = np.where(present, values, 0.0).sum(axis=0) / seen
    std = np.sqrt((np.where(present, values - mean, 0.0) ** 2).sum(axis=0) / seen)
    usable = (count >= MIN_ROWS) & (std > FLAT * np.maximum(1.0, np.abs(mean)))
    if not usable.any():
        return None
    mean = np.where(usable, mean, np.nan)
    std = np.where(usable, std, np.nan)
    z = np.nan_to_num((values[:, usable] - mean[usable]) / std[usable], nan=0.0)
    _, singular, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    variance = singular**2 / max(len(z) - 1, 1)
    share = np.cumsum(variance) / variance.sum() if variance.sum() > 0 else np.ones(len(variance))
    k = min(int(np.searchsorted(share, VARIANCE - 1e-12)) + 1, len(variance))
    components = np.zeros((k, values.shape[1]))
    components[:, usable] = vt[:k]
    return mean, std, components, np.maximum(variance[:k], 1e-9)


def _score_life(values: np.ndarray, fitted: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Per row: z of every channel, then T2 and Q (``rows x (C + 2)``)."""
    mean, std, components, variance = fitted
    z = (values - mean) / std
    filled = np.nan_to_num(z, nan=0.0)
    scores = filled @ components.T
    t2 = (scores**2 / variance).sum(axis=1)
    q = ((filled - scores @ components) ** 2).sum(axis=1)
    return np.column_stack([z, t2, q])


def baseline_rows(
    frame: pd.DataFrame, *, columns: Sequence[str], baseline_hours: float, renewals: pd.DataFrame | None
) -> np.ndarray:
    """Per row of ``frame`` (``asset_id, ts, <columns>``, any order): z of each channel, T2 and Q against its
    life's baseline, NaN while that baseline is incomplete (see the module text); ``rows x (len(columns) + 2)``."""
    missing = [c for c in ("asset_id", "ts", *columns) if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing column(s) {', '.join(map(repr, missing))}", source="baseline_features")
    if not baseline_hours > 0:
        raise SchemaError(f"baseline_hours must be positive, got {baseline_hours!r}", column="baseline")
    out = np.full((len(frame), len(columns) + 2), np.nan)
    if not len(frame):
        return out
    ids = frame["asset_id"].astype(str).to_numpy()
    ts = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[us, UTC]").reset_index(drop=True)
    start = life_starts(ids, ts, renewals)
    tsv = ts.to_numpy(dtype="datetime64[us]")
    end = start + np.timedelta64(int(round(baseline_hours * 3.6e9)), "us")
    values = frame[list(columns)].to_numpy(dtype="float64")
    lives = pd.DataFrame({"a": ids, "s": start}).groupby(["a", "s"], sort=False).indices
    for rows in lives.values():
        inside = tsv[rows] < end[rows]
        after = rows[~inside]
        if not len(after):  # the baseline is not complete yet
            continue
        fitted = _fit_life(values[rows[inside]])
        if fitted is not None:
            out[after] = _score_life(values[after], fitted)
    return out


def baseline_features(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str],
    window: int,
    baseline_hours: float,
    renewals: pd.DataFrame | None,
) -> pd.DataFrame:
    """The baseline features of every row of ``frame`` (``asset_id, ts, <columns>``), indexed like it, in
    :func:`baseline_names` order: the trailing ``window``-row mean (the one kernel) of :func:`baseline_rows`."""
    per_row = baseline_rows(frame, columns=columns, baseline_hours=baseline_hours, renewals=renewals)
    derived = [f"_z{i}" for i in range(len(columns))] + ["_t2", "_q"]
    table = pd.DataFrame(per_row, columns=derived, index=frame.index)
    if not len(frame):
        return pd.DataFrame(per_row, columns=baseline_names(columns), index=frame.index)
    # the window runs within a life: a renewal's new life reads none of the old life's rows (NaN until its own
    # baseline is complete)
    ids = frame["asset_id"].astype(str).to_numpy()
    starts = life_starts(ids, frame["ts"], renewals).astype("int64").astype(str)
    table["_life"] = np.char.add(np.char.add(ids.astype(str), "|"), starts)
    table["ts"] = frame["ts"].to_numpy()
    stats = window_features(table, group="_life", order="ts", columns=derived, window=int(window), stats=("mean",))
    stats.columns = baseline_names(columns)
    return stats


def baseline_span(start: Any, baseline_hours: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The span ``[start, end)`` of the baseline of a life that starts at ``start``: the rows a service reads
    before an asset's recent history to compute these features.

    >>> baseline_span(pd.Timestamp("2024-01-01", tz="UTC"), 48)[1]
    Timestamp('2024-01-03 00:00:00+0000', tz='UTC')
    """
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    return first, first + pd.Timedelta(hours=float(baseline_hours))
