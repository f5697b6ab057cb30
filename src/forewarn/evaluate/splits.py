"""Leak-free splits: by asset (engine, recording) and by time within each asset.

Rows of one asset are never split at random: overlapping windows of the same asset on both sides of a
split let a model memorise the asset instead of learning the failure. :func:`group_kfold` and
:func:`group_holdout` keep every asset wholly on one side (seeded, so reruns give the same folds);
:func:`time_cut` cuts each asset's history at a fraction of its length, and with ``window`` > 1 it drops the
first ``window - 1`` rows after the cut from the test side, so that no trailing window of a test row reaches
back across the cut into training data.

>>> groups = [1, 1, 2, 2, 3, 3, 4, 4]
>>> train, test = group_holdout(groups, test_fraction=0.25, seed=0)
>>> sorted(set(groups[i] for i in test)), len(train)
([3], 6)
>>> [len(te) for _, te in group_kfold(groups, n_splits=2, seed=0)]
[4, 4]
>>> train, test = time_cut([1] * 6 + [2] * 4, list(range(6)) + list(range(4)), train_fraction=0.5)
>>> train.tolist(), test.tolist()
([0, 1, 2, 6, 7], [3, 4, 5, 8, 9])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError


def _codes(groups: Sequence[Any] | np.ndarray | pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups)), use_na_sentinel=False)
    if len(codes) == 0:
        raise SchemaError("no rows to split", column="groups")
    return codes, len(uniques)


def _shuffled_groups(n_groups: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n_groups)


def group_kfold(
    groups: Sequence[Any] | np.ndarray | pd.Series, n_splits: int = 5, *, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_rows, test_rows)`` for ``n_splits`` folds; each group is in exactly one test fold.

    Groups are shuffled with ``seed`` and dealt to folds largest-first onto the fold with the fewest rows, so
    folds hold similar numbers of rows even when assets have very different history lengths.
    """
    codes, n_groups = _codes(groups)
    if not 2 <= n_splits <= n_groups:
        raise SchemaError(
            f"n_splits must be between 2 and the number of groups ({n_groups}), got {n_splits}", column="n_splits"
        )
    sizes = np.bincount(codes, minlength=n_groups)
    shuffled = _shuffled_groups(n_groups, seed)
    dealing = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    fold_of = np.empty(n_groups, dtype="int64")
    fold_rows = np.zeros(n_splits, dtype="int64")
    for g in dealing:
        fold = int(np.argmin(fold_rows))
        fold_of[g] = fold
        fold_rows[fold] += sizes[g]
    row_fold = fold_of[codes]
    rows = np.arange(len(codes))
    for fold in range(n_splits):
        yield rows[row_fold != fold], rows[row_fold == fold]


def group_holdout(
    groups: Sequence[Any] | np.ndarray | pd.Series, test_fraction: float = 0.2, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, test_rows)`` with ``round(test_fraction * n_groups)`` (at least 1) whole groups held out."""
    codes, n_groups = _codes(groups)
    if not 0.0 < test_fraction < 1.0:
        raise SchemaError(f"test_fraction must be between 0 and 1, got {test_fraction}", column="test_fraction")
    if n_groups < 2:
        raise SchemaError("a group split needs at least two groups", column="groups")
    n_test = min(max(1, round(test_fraction * n_groups)), n_groups - 1)
    held = np.zeros(n_groups, dtype=bool)
    held[_shuffled_groups(n_groups, seed)[:n_test]] = True
    rows = np.arange(len(codes))
    return rows[~held[codes]], rows[held[codes]]


def time_cut(
    groups: Sequence[Any] | np.ndarray | pd.Series,
    order: Sequence[Any] | np.ndarray | pd.Series,
    train_fraction: float = 0.7,
    *,
    window: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each group's history in time: its first ``ceil(train_fraction * n)`` rows train, the rest test.

    ``window``: the length of the trailing windows the rows will be turned into; the first ``window - 1``
    rows after each cut are left out of both sides, so no test window contains a training row.
    """
    codes, _ = _codes(groups)
    order_values = np.asarray(order)
    if len(order_values) != len(codes):
        raise SchemaError(f"order has {len(order_values)} values but groups has {len(codes)}", column="order")
    if not 0.0 < train_fraction < 1.0:
        raise SchemaError(f"train_fraction must be between 0 and 1, got {train_fraction}", column="train_fraction")
    if int(window) < 1:
        raise SchemaError(f"window must be at least 1, got {window}", column="window")
    permutation = np.lexsort((order_values, codes))
    sorted_codes = codes[permutation]
    rank = pd.Series(sorted_codes).groupby(sorted_codes).cumcount().to_numpy()
    length = np.bincount(sorted_codes)[sorted_codes]
    cut = np.ceil(train_fraction * length).astype("int64")
    train = np.sort(permutation[rank < cut])
    test = np.sort(permutation[rank >= cut + int(window) - 1])
    return train, test
