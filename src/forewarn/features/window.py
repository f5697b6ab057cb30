"""Trailing-window features per asset: statistics, trends and rates of change, with no look-ahead.

Every output row describes the window that *ends* at that row: the last ``window`` rows of the same
asset (``group``) in ``order``, fewer at the start of an asset's history. Nothing after the row is used, so
the features of a row are the same whether or not later rows exist (what online scoring needs; see
:mod:`forewarn.features.incremental` for the one-reading-at-a-time version).

Statistics (column ``f"{col}__{stat}"``):

``mean``, ``std`` (population, 0 for a single reading), ``min``, ``max``
    over the trailing window, ignoring missing values;
``last``
    the reading itself;
``slope``
    least-squares slope of the readings against their step number in the window (units per step, 0 for a
    single reading);
``ewm``
    exponentially weighted mean over the asset's whole past, ``e = (1 - a) e + a x`` with ``a = 2 / (span + 1)``,
    missing readings skipped;
``diff``
    rate of change over the window: the reading minus the first reading of its window.

The work is vectorised: rows are sorted once by (group, order); window sums come from pandas' rolling kernels
over variable bounds ``[window start, row]`` (compensated running sums, one pass per statistic for every asset
at once), the exponential mean from
pandas' grouped ``ewm``, and ``diff``/:func:`sequence_frame` from index arithmetic. Running sums are used instead
of raw cumulative sums because a cumulative sum of ``t * x`` over a long history (10^6 rows) loses the digits a
30-row slope needs; rolling sums stay window-sized.

>>> import pandas as pd
>>> frame = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "cycle": [1, 2, 3, 1, 2], "temp": [10.0, 12.0, 17.0, 5.0, 4.0]})
>>> out = window_features(frame, group="unit", order="cycle", columns=["temp"], window=2, stats=("mean", "slope", "diff"))
>>> out.round(2).values.tolist()
[[10.0, 0.0, 0.0], [11.0, 2.0, 2.0], [14.5, 5.0, 5.0], [5.0, 0.0, 0.0], [4.5, -1.0, -1.0]]
>>> sequence_frame(frame, group="unit", order="cycle", columns=["temp"], window=3).loc[3].tolist()
[5.0, 5.0, 5.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

from forewarn.exceptions import SchemaError

STATS = ("mean", "std", "min", "max", "last", "slope", "ewm", "diff")
DEFAULT_STATS = STATS


@dataclass(frozen=True)
class _Ordered:
    """Rows sorted by (group, order): the permutation, group codes and each row's group start, in sorted order."""

    permutation: np.ndarray
    codes: np.ndarray
    starts: np.ndarray

    @property
    def rank(self) -> np.ndarray:
        """Position of each sorted row inside its group (0 = the group's first row)."""
        return np.arange(len(self.codes)) - self.starts


def check_settings(stats: Sequence[str], window: int) -> None:
    """Reject unknown statistics and windows shorter than one row (shared by batch and online features).

    >>> check_settings(("mean", "slope"), 30)
    >>> check_settings(("median",), 30)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.SchemaError: column 'stats': unknown statistic(s) 'median' (choose from mean, std, min, max, last, slope, ewm, diff)
    """
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise SchemaError(f"unknown statistic(s) {', '.join(map(repr, unknown))}", column="stats",
                          hint=f"choose from {', '.join(STATS)}")
    if int(window) < 1:
        raise SchemaError(f"window must be at least 1 row, got {window}", column="window")


def _check_inputs(frame: pd.DataFrame, group: str, order: str, columns: Sequence[str], window: int) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(columns, str):
        raise SchemaError("columns must be a list of column names, not one string", column=columns)
    missing = [c for c in (group, order, *columns) if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing column(s) {', '.join(map(repr, missing))}", source="window features",
                          hint=f"the frame has {', '.join(map(str, frame.columns[:12]))}")
    if int(window) < 1:
        raise SchemaError(f"window must be at least 1 row, got {window}", column="window")


def _ordered(frame: pd.DataFrame, group: str, order: str) -> _Ordered:
    codes, _ = pd.factorize(frame[group], use_na_sentinel=False)
    order_key = frame[order].to_numpy()
    permutation = np.lexsort((order_key, codes))
    sorted_codes = codes[permutation]
    new_group = np.ones(len(sorted_codes), dtype=bool)
    new_group[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.maximum.accumulate(np.where(new_group, np.arange(len(sorted_codes)), 0))
    return _Ordered(permutation, sorted_codes, starts)


class _TrailingWindows(BaseIndexer):
    """Window bounds ``[start, row]`` per sorted row: one rolling pass covers every asset at once."""

    def __init__(self, starts: np.ndarray):
        super().__init__()
        self.starts = starts

    def get_window_bounds(self, num_values: int = 0, min_periods: int | None = None, center: bool | None = None,
                          closed: str | None = None, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.starts.astype("int64"), np.arange(1, num_values + 1, dtype="int64")


def _window_start(ordered: _Ordered, window: int) -> np.ndarray:
    return np.maximum(ordered.starts, np.arange(len(ordered.codes)) - (window - 1))


def _rolling(values: np.ndarray, ordered: _Ordered, window: int):  # type: ignore[no-untyped-def]
    return pd.DataFrame(values).rolling(_TrailingWindows(_window_start(ordered, window)), min_periods=1)


def _slope(values: np.ndarray, ordered: _Ordered, window: int) -> np.ndarray:
    """Least-squares slope per window from rolling means of t, t^2, x and t*x over the readings present."""
    valid = np.isfinite(values)
    t = np.where(valid, ordered.rank[:, None].astype("float64"), np.nan)
    c = values.shape[1]
    means = _rolling(np.hstack([t, t * t, values, t * values]), ordered, window).mean().to_numpy()
    mean_t, mean_tt, mean_x, mean_tx = (means[:, i * c:(i + 1) * c] for i in range(4))
    var = mean_tt - mean_t * mean_t
    cov = mean_tx - mean_t * mean_x
    enough = np.nan_to_num(var, nan=0.0) > 1e-9
    slope = np.divide(cov, var, out=np.zeros_like(cov), where=enough)
    slope[~np.isfinite(mean_x)] = np.nan
    return slope


def _ewm(values: np.ndarray, codes: np.ndarray, span: float) -> np.ndarray:
    grouped = pd.DataFrame(values).groupby(codes, sort=False)
    return grouped.ewm(span=span, adjust=False, ignore_na=True).mean().to_numpy()


def window_features(frame: pd.DataFrame, *, group: str, order: str, columns: Sequence[str], window: int = 30,
                    stats: Sequence[str] = DEFAULT_STATS, ewm_span: float = 10) -> pd.DataFrame:
    """Trailing-window features of ``columns`` per ``group`` in ``order``; same index as ``frame``.

    Columns are ``f"{col}__{stat}"``, grouped by input column in the order of ``stats``.
    """
    _check_inputs(frame, group, order, columns, window)
    check_settings(stats, window)
    if ewm_span < 1:
        raise SchemaError(f"ewm_span must be at least 1, got {ewm_span}", column="ewm_span")
    window = int(window)
    ordered = _ordered(frame, group, order)
    values = frame[list(columns)].to_numpy(dtype="float64", na_value=np.nan)[ordered.permutation]
    computed: dict[str, np.ndarray] = {}
    if {"mean", "std", "min", "max"} & set(stats):
        rolling = _rolling(values, ordered, window)
        for stat in ("mean", "min", "max"):
            if stat in stats:
                computed[stat] = getattr(rolling, stat)().to_numpy()
        if "std" in stats:
            computed["std"] = rolling.std(ddof=0).to_numpy()
    if "last" in stats:
        computed["last"] = values
    if "slope" in stats:
        computed["slope"] = _slope(values, ordered, window)
    if "ewm" in stats:
        computed["ewm"] = _ewm(values, ordered.codes, ewm_span)
    if "diff" in stats:
        computed["diff"] = values - values[_window_start(ordered, window)]
    names = [f"{col}__{stat}" for col in columns for stat in stats]
    block = np.stack([computed[stat] for stat in stats], axis=2).reshape(len(values), -1)
    out = np.empty_like(block)
    out[ordered.permutation] = block
    return pd.DataFrame(out, index=frame.index, columns=names)


def sequence_frame(frame: pd.DataFrame, *, group: str, order: str, columns: Sequence[str],
                   window: int = 30, stride: int = 1) -> pd.DataFrame:
    """The last ``window`` steps of ``columns`` as columns ``f"{col}__t{k}"`` (``t{window-1}`` = this row).

    With ``stride`` > 1 each step is the mean of ``stride`` consecutive readings (step ``t{window-1}`` the
    mean of the last ``stride`` readings), so ``window * stride`` readings of history fit in ``window`` steps
    with the noise averaged down. Steps before the start of an asset's history repeat its first step, so
    every row gets a full-length sequence without looking ahead. Same index as ``frame``.

    >>> frame = pd.DataFrame({"unit": 1, "cycle": range(6), "a": [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]})
    >>> sequence_frame(frame, group="unit", order="cycle", columns=["a"], window=2, stride=2).iloc[-1].tolist()
    [5.0, 9.0]
    """
    _check_inputs(frame, group, order, columns, window)
    if int(stride) < 1:
        raise SchemaError(f"stride must be at least 1, got {stride}", column="stride")
    window, stride = int(window), int(stride)
    ordered = _ordered(frame, group, order)
    values = frame[list(columns)].to_numpy(dtype="float64", na_value=np.nan)[ordered.permutation]
    if stride > 1:
        values = _rolling(values, ordered, stride).mean().to_numpy()
    rows = np.arange(len(values))[:, None]
    positions = rows - stride * (window - 1 - np.arange(window))[None, :]
    positions = np.maximum(positions, ordered.starts[:, None])
    block = values[positions].transpose(0, 2, 1).reshape(len(values), -1)  # (rows, columns * window)
    out = np.empty_like(block)
    out[ordered.permutation] = block
    names = [f"{col}__t{k}" for col in columns for k in range(window)]
    return pd.DataFrame(out, index=frame.index, columns=names)
