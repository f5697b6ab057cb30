"""SKAB's outlier-detection metrics: every row is a binary decision, pooled over all files of a corpus.

The SKAB leaderboard (Katser & Kozitsin, the ``binary`` metric of its ``chp_score``, now in the TSAD
package) scores outlier detection as plain binary classification of the *test* rows of all 34 files
together: the confusion counts TP, FP, FN, TN are summed over every file first, then

* ``F1  = TP / (TP + (FP + FN) / 2)``  (the harmonic mean of precision and recall),
* ``FAR = 100 * FP / (FP + TN)``         false alarm rate, % of normal rows flagged,
* ``MAR = 100 * FN / (FN + TP)``         missed alarm rate, % of anomalous rows not flagged.

SKAB rounds F1 to 2 decimals and FAR/MAR to 2 decimals for its table; these functions return unrounded
floats. Predictions are decisions, not scores: a detector's ``anomaly_score`` becomes one through the one
alarm rule (:mod:`forewarn.decide.alarms`: rows inside an alarm episode, which opens at ``score >= on``), or a
fixed level compared with ``>=`` (the one convention). A corpus without a positive row has no recall: MAR is
then reported as 0 and F1 as 0 when any row was flagged (1 when none was), so that the null detector on a
clean corpus is perfect.

>>> m = outlier_metrics([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
>>> round(m.f1, 3), round(m.far, 1), round(m.mar, 1)
(0.667, 50.0, 33.3)
>>> pooled = pooled_outlier_metrics([([0, 1], [0, 1]), ([0, 0, 1], [1, 0, 1])])
>>> (pooled.tp, pooled.fp, pooled.fn, pooled.tn), round(pooled.f1, 2)
((2, 1, 0, 2), 0.8)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from forewarn.exceptions import SchemaError


@dataclass(frozen=True)
class OutlierMetrics:
    """Pooled confusion counts and SKAB's F1, FAR % and MAR %."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1(self) -> float:
        """``TP / (TP + (FP + FN) / 2)``."""
        denominator = self.tp + (self.fp + self.fn) / 2
        if denominator == 0:
            return 1.0  # nothing to find and nothing flagged
        return self.tp / denominator

    @property
    def far(self) -> float:
        """False alarm rate in %: flagged normal rows over all normal rows."""
        negatives = self.fp + self.tn
        return 100.0 * self.fp / negatives if negatives else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate in %: unflagged anomalous rows over all anomalous rows."""
        positives = self.fn + self.tp
        return 100.0 * self.fn / positives if positives else 0.0

    def __add__(self, other: OutlierMetrics) -> OutlierMetrics:
        return OutlierMetrics(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def as_dict(self) -> dict[str, float]:
        """``f1``, ``far``, ``mar`` and the four counts, as plain numbers."""
        return {
            "f1": self.f1,
            "far": self.far,
            "mar": self.mar,
            "tp": float(self.tp),
            "fp": float(self.fp),
            "fn": float(self.fn),
            "tn": float(self.tn),
        }


def _binary(values: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise SchemaError(f"{name} must be one-dimensional, got shape {array.shape}", column=name)
    if array.dtype == bool:
        return array
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"{name}[{row}] is {array[row]!r}; labels and predictions must be 0 or 1",
            column=name,
            hint="turn scores into decisions first: score >= threshold, or the alarm rule of forewarn.decide.alarms",
        )
    return array.astype(bool)


def outlier_metrics(true: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> OutlierMetrics:
    """Confusion counts of one file (``true`` labels, ``predicted`` 0/1 decisions, same length)."""
    t, p = _binary(true, "true"), _binary(predicted, "predicted")
    if len(t) != len(p):
        raise SchemaError(
            f"true has {len(t)} rows but predicted has {len(p)}",
            column="predicted",
            hint="give one decision per labelled row",
        )
    return OutlierMetrics(
        tp=int(np.sum(t & p)), fp=int(np.sum(~t & p)), fn=int(np.sum(t & ~p)), tn=int(np.sum(~t & ~p))
    )


def pooled_outlier_metrics(
    files: Iterable[tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]],
) -> OutlierMetrics:
    """SKAB's corpus figures: confusion counts summed over ``(true, predicted)`` pairs, one pair per file."""
    total = OutlierMetrics(0, 0, 0, 0)
    for true, predicted in files:
        total = total + outlier_metrics(true, predicted)
    return total
