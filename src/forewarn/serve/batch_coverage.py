"""The channel coverage rule (:mod:`forewarn.features.coverage`) for every row of a batch prediction.

A batch row is scored from its own window (the asset's last ``window`` rows up to it, as
:meth:`~forewarn.bundles.bundle.ServingSpec.window_frame` reads them), so the rule is applied row by row: which of
the model's channels have a reading in that row's window (:func:`read_in_windows` for readings,
:func:`read_from_features` for feature rows), then :func:`~forewarn.features.coverage.coverage_of`, the one
function of the rule, once per distinct (asset class, channels read) pair (a batch holds a handful of them), and
each row takes its pair's answer.

>>> ts = np.arange(4)
>>> values = np.array([[1.0, 2.0], [1.0, np.nan], [1.0, np.nan], [1.0, np.nan]])
>>> read_in_windows(np.array(["a"] * 4), ts, values, window=2).tolist()
[[True, True], [True, True], [True, False], [True, False]]
>>> rows = row_coverage(read_in_windows(np.array(["a"] * 4), ts, values, 2), ["t", "v"], None, None, 0.75)
>>> rows.scored.tolist(), rows.status, rows.missing
([True, True, False, False], ['in_service', 'in_service', 'insufficient data', 'insufficient data'], [[], [], ['v'], ['v']])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.features.coverage import INSUFFICIENT, coverage_of

#: the status of a row that is scored
IN_SERVICE = "in_service"
#: window statistics that are a number exactly when the window holds a reading of the channel (``last`` and
#: ``diff`` also need one at the row itself; ``ewm`` reads the whole past)
WINDOW_READ_STATS = ("mean", "std", "min", "max", "slope")


@dataclass(frozen=True)
class RowCoverage:
    """Per row: whether it may be scored, its ``status`` and the expected channels with no reading in its window."""

    scored: np.ndarray
    status: list[str]
    missing: list[list[str]]


def read_in_windows(asset_id: np.ndarray, ts: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """``(rows, channels)``: whether each channel has a reading in the row's window, the last ``window`` rows of its
    asset up to it in time order (rows in any order, as the window statistics take them)."""
    matrix = np.asarray(values, dtype="float64")
    n = len(matrix)
    codes, _ = pd.factorize(np.asarray(asset_id), use_na_sentinel=False)
    order = np.lexsort((np.asarray(ts), codes))
    sorted_codes = codes[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    lower = np.maximum(starts, np.arange(n) - (max(int(window), 1) - 1))
    counts = np.zeros((n + 1, matrix.shape[1]), dtype=np.int64)
    np.cumsum(~np.isnan(matrix[order]), axis=0, out=counts[1:])
    read = np.empty((n, matrix.shape[1]), dtype=bool)
    read[order] = counts[1:] - counts[lower] > 0
    return read


def read_from_features(frame: pd.DataFrame, channels: Sequence[str], stats: Sequence[str]) -> np.ndarray | None:
    """``(rows, channels)`` from model feature rows (columns ``f"{channel}__{stat}"``): a channel is read when one of
    its window statistics of :data:`WINDOW_READ_STATS` is a number (all of its statistics when the model reads none
    of those); None when the columns cannot tell (a sequence model's steps are forward-filled, missing as 0).

    >>> frame = pd.DataFrame({"t__mean": [1.0, np.nan], "t__ewm": [1.0, 2.0], "v__mean": [np.nan, 3.0]})
    >>> read_from_features(frame, ["t", "v"], ["mean", "ewm"]).tolist()
    [[True, False], [False, True]]
    """
    telling = [s for s in stats if s in WINDOW_READ_STATS] or list(stats)
    read = np.zeros((len(frame), len(channels)), dtype=bool)
    for k, channel in enumerate(channels):
        names = [f"{channel}__{s}" for s in telling if f"{channel}__{s}" in frame.columns]
        if not names:
            return None
        for name in names:
            read[:, k] |= ~np.isnan(frame[name].to_numpy(dtype="float64", na_value=np.nan))
    return read


def row_coverage(
    read: np.ndarray,
    channels: Sequence[str],
    classes: str | None | Sequence[str | None] | np.ndarray,
    reported: Mapping[str, frozenset[str]] | None,
    min_share: float | None,
) -> RowCoverage:
    """The rule for each row from ``read`` (see :func:`read_in_windows`) and the row's asset class (``classes``: one
    per row, or one for all; None: every model channel is expected), through :func:`~forewarn.features.coverage.coverage_of`."""
    read = np.asarray(read, dtype=bool)
    codes, names = _class_codes(classes, len(read))
    if not codes.any() and read.all():  # the usual batch: no class, every channel read in every window
        distinct, inverse = np.column_stack([codes[:1], read[:1]]).astype(np.int64), np.zeros(len(read), np.int64)
    else:
        distinct, inverse = _distinct_rows(np.column_stack([codes, read]))
    sufficient = np.zeros(len(distinct), dtype=bool)
    missing: list[list[str]] = []
    for k, row in enumerate(distinct):
        asset_class = None if row[0] == 0 else str(names[row[0] - 1])
        values = np.where(row[1:] > 0, 0.0, np.nan)[None, :]
        cover = coverage_of(values, channels, 1, asset_class, reported, min_share)
        sufficient[k] = cover.sufficient
        missing.append(list(cover.missing))
    labels = [IN_SERVICE if ok else INSUFFICIENT for ok in sufficient.tolist()]
    if len(distinct) == 1:  # the usual batch: one class, every channel read everywhere
        return RowCoverage(np.repeat(sufficient, len(read)), [labels[0]] * len(read), [missing[0]] * len(read))
    index = inverse.tolist()
    return RowCoverage(sufficient[inverse], [labels[i] for i in index], [missing[i] for i in index])


def _class_codes(classes: str | None | Sequence[str | None] | np.ndarray, n: int) -> tuple[np.ndarray, list[str]]:
    """Each of ``n`` rows' class as a code (0: None, ``k``: ``names[k - 1]``) and the names (``classes``: one per
    row, or one for all)."""
    if classes is None or isinstance(classes, str):
        return np.full(n, 0 if classes is None else 1, dtype=np.int64), [] if classes is None else [classes]
    codes, names = pd.factorize(np.asarray(classes, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64) + 1, [str(name) for name in names]


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a small non-negative integer matrix and each row's index among them: packed into one
    integer per row when it fits (a 1-D unique is many times faster than ``np.unique(axis=0)``)."""
    widths = [max(int(key[:, j].max(initial=0)).bit_length(), 1) for j in range(key.shape[1])]
    if sum(widths) > 62:
        distinct, inverse = np.unique(key, axis=0, return_inverse=True)
        return distinct, inverse.reshape(-1)
    shifts = np.concatenate([[0], np.cumsum(widths[:-1])]).astype(np.int64)
    packed = (key.astype(np.int64) << shifts).sum(axis=1)
    values, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    return key[first], inverse.reshape(-1)
