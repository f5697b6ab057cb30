"""Scorers for scikit-learn's model selection (``cross_val_score``, ``GridSearchCV``), one per task.

A scikit-learn scorer is a callable ``scorer(estimator, X, y) -> float``, higher is better. Forewarn's models
answer in their task's terms (no ``predict`` with a threshold inside a failure predictor, ``score(X)`` giving one
anomaly score per row), so a string scorer of scikit-learn fits some tasks only (``"neg_mean_absolute_error"``
for RUL, ``"accuracy"`` or ``"neg_log_loss"`` for faults); :func:`scorer` fits every task:

==========  =========================================================================================
task        score (higher is better)
==========  =========================================================================================
rul         minus the mean absolute error of ``predict`` (in the unit of the targets)
failure     ROC-AUC of ``predict_proba`` against the 0/1 targets
fault       accuracy of ``predict``
anomaly     ROC-AUC of ``score`` against 0/1 labels (1 = anomaly) passed as ``y`` (``fit`` ignores them)
==========  =========================================================================================

>>> from sklearn.model_selection import cross_val_score
>>> from forewarn.base.checks import task_data
>>> from forewarn.models.rul.lightgbm_rul import LightGBMRUL
>>> X, y = task_data("rul")
>>> scores = cross_val_score(LightGBMRUL(n_estimators=30), X, y, cv=3, scoring=scorer("rul"))
>>> len(scores), bool((scores < 0).all())
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from forewarn.exceptions import SchemaError

Scorer = Callable[[Any, Any, Any], float]


def _neg_mae(estimator: Any, X: Any, y: Any) -> float:
    return -float(np.mean(np.abs(estimator.predict(X) - np.asarray(y, dtype="float64"))))


def _failure_auc(estimator: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y).astype(int), estimator.predict_proba(X)))


def _accuracy(estimator: Any, X: Any, y: Any) -> float:
    return float(np.mean(np.asarray(estimator.predict(X)).astype(str) == np.asarray(y).astype(str)))


def _anomaly_auc(estimator: Any, X: Any, y: Any) -> float:
    from sklearn.metrics import roc_auc_score

    if y is None:
        raise SchemaError(
            "the anomaly scorer needs 0/1 labels (1 = anomaly) as y",
            column="y",
            hint="pass y to cross_val_score; the detector's fit ignores it",
        )
    return float(roc_auc_score(np.asarray(y).astype(int), estimator.score(X)))


_SCORERS: dict[str, Scorer] = {"rul": _neg_mae, "failure": _failure_auc, "fault": _accuracy, "anomaly": _anomaly_auc}


def scorer(task: str) -> Scorer:
    """The scorer of ``task`` (``"rul"``, ``"failure"``, ``"fault"`` or ``"anomaly"``), see the module text."""
    try:
        return _SCORERS[task]
    except KeyError:
        raise SchemaError(f"unknown task {task!r}", hint=f"use one of {', '.join(_SCORERS)}") from None
