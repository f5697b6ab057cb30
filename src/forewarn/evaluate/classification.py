"""Classification metrics: failure prediction (binary) and fault / failure-type diagnosis (multi-class).

Binary (``1`` = failure): ``precision``, ``recall``, ``f1`` and ``accuracy`` at a decision threshold, and the
threshold-free ``roc_auc`` and ``pr_auc`` (average precision, the area under the precision-recall curve, which
is the honest summary when failures are rare). Multi-class: ``accuracy``, ``macro_f1`` (unweighted mean of the
per-class F1, so a rare class counts as much as a common one) and the confusion matrix.
A precision or F1 with nothing predicted positive is 0, not an error; an AUC with one class present is NaN.

:func:`best_f1_threshold` picks the threshold that maximises F1 on the scores it is given: call it on
*training* (out-of-fold) scores only, then apply the threshold to test scores.

>>> y = [0, 0, 0, 1, 1, 0, 1, 0]
>>> p = [0.1, 0.3, 0.2, 0.8, 0.4, 0.6, 0.9, 0.05]
>>> m = binary_metrics(y, p, threshold=0.5)
>>> round(m["precision"], 3), round(m["recall"], 3), round(m["f1"], 3), m["roc_auc"]
(0.667, 0.667, 0.667, 0.9333333333333333)
>>> best_f1_threshold(y, p)
0.35
>>> multiclass_metrics(["a", "b", "b", "c"], ["a", "b", "c", "c"])["macro_f1"].__round__(3)
0.778
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from forewarn.exceptions import SchemaError

ArrayLike: TypeAlias = Sequence[Any] | np.ndarray | pd.Series


def _pair(y_true: ArrayLike, other: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    truth, values = np.asarray(y_true), np.asarray(other)
    if truth.ndim != 1 or values.ndim != 1 or len(truth) != len(values):
        raise SchemaError(f"y_true and {name} must be 1-D of the same length, got {truth.shape} and {values.shape}")
    if len(truth) == 0:
        raise SchemaError(f"y_true and {name} are empty")
    return truth, values


def _binary(y_true: ArrayLike) -> np.ndarray:
    truth = np.asarray(y_true)
    if truth.dtype == bool:
        return truth.astype("int64")
    if not np.isin(truth, (0, 1)).all():
        raise SchemaError(
            "binary targets must be 0/1 or booleans", column="y_true", hint="encode failure as 1 and no failure as 0"
        )
    return truth.astype("int64")


def binary_metrics(y_true: ArrayLike, y_score: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, F1, accuracy at ``threshold`` (score >= threshold means failure), ROC-AUC, PR-AUC."""
    truth, score = _pair(y_true, y_score, "y_score")
    truth, score = _binary(truth), score.astype("float64")
    if not np.isfinite(score).all():
        raise SchemaError("y_score has non-finite values", column="y_score")
    predicted = (score >= threshold).astype("int64")
    both = len(np.unique(truth)) == 2
    return {
        "f1": float(skm.f1_score(truth, predicted, zero_division=0)),
        "precision": float(skm.precision_score(truth, predicted, zero_division=0)),
        "recall": float(skm.recall_score(truth, predicted, zero_division=0)),
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "roc_auc": float(skm.roc_auc_score(truth, score)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(truth, score)) if both else float("nan"),
    }


def alarm_figures(truth: ArrayLike, alarm: ArrayLike) -> dict[str, float]:
    """Precision, recall, F1 and false-alarm rate (false alarms over the negatives) of boolean alarms against 0/1
    truth; each 0.0 where its denominator is empty.

    >>> f = alarm_figures([1, 1, 0, 0, 0], [True, False, True, False, False])
    >>> f["precision"], f["recall"], f["f1"], round(f["far"], 3)
    (0.5, 0.5, 0.5, 0.333)
    """
    positive, raised = np.asarray(truth).astype(bool), np.asarray(alarm).astype(bool)
    tp, fp = int((raised & positive).sum()), int((raised & ~positive).sum())
    tn, fn = int((~raised & ~positive).sum()), int((~raised & positive).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "far": fp / (fp + tn) if fp + tn else 0.0,
    }


def best_f1_threshold(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """The threshold maximising F1 over ``y_score`` (midway between the best cut's neighbouring scores).

    With no positive in ``y_true`` the result is just above the largest score (predict nothing).
    """
    truth, score = _pair(y_true, y_score, "y_score")
    truth, score = _binary(truth), score.astype("float64")
    if truth.sum() == 0:
        return float(np.nextafter(score.max(), np.inf))
    precision, recall, thresholds = skm.precision_recall_curve(truth, score)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1[:-1]))
    cut = thresholds[best]
    below = score[score < cut]
    if not len(below):
        return float(cut)
    middle = (cut + below.max()) / 2
    # between two neighbouring floats the midpoint rounds onto the lower one: the cut itself then separates them
    return float(middle if middle > below.max() else cut)


def multiclass_metrics(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any] | None = None) -> dict[str, float]:
    """Accuracy and macro-F1; ``labels`` restricts the macro average to those classes (all present ones if None)."""
    truth, predicted = _pair(y_true, y_pred, "y_pred")
    chosen = None if labels is None else list(labels)
    return {
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "macro_f1": float(skm.f1_score(truth, predicted, labels=chosen, average="macro", zero_division=0)),
    }


def per_class_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any] | None = None) -> pd.Series:
    """F1 of each class (index: class label)."""
    truth, predicted = _pair(y_true, y_pred, "y_pred")
    chosen = sorted(set(truth.tolist()) | set(predicted.tolist())) if labels is None else list(labels)
    scores = skm.f1_score(truth, predicted, labels=chosen, average=None, zero_division=0)
    return pd.Series(scores, index=chosen, name="f1")


def confusion(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any] | None = None) -> pd.DataFrame:
    """Confusion matrix as a frame: rows are true classes, columns predicted classes.

    >>> confusion([0, 1, 1], [0, 1, 0]).values.tolist()
    [[1, 0], [1, 1]]
    """
    truth, predicted = _pair(y_true, y_pred, "y_pred")
    chosen = sorted(set(truth.tolist()) | set(predicted.tolist())) if labels is None else list(labels)
    matrix = skm.confusion_matrix(truth, predicted, labels=chosen)
    return pd.DataFrame(matrix, index=pd.Index(chosen, name="true"), columns=pd.Index(chosen, name="predicted"))
