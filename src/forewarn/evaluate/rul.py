"""Remaining-useful-life metrics: RMSE and the asymmetric PHM08 score.

The PHM08 challenge score (Saxena et al., 2008) punishes late predictions (predicted life longer than the true
one: the machine fails before the planned repair) harder than early ones::

    d = predicted - true
    s = exp(-d / 13) - 1   for d < 0 (early)
    s = exp(d / 10) - 1    for d >= 0 (late)
    S = sum of s over engines (lower is better, 0 is perfect)

>>> rmse([100, 50], [110, 40])
10.0
>>> round(phm08_score([100, 100], [90, 110]), 3)   # 10 cycles early vs 10 cycles late
2.876
>>> rul_metrics([10, 20], [10, 20])
{'rmse': 0.0, 'score': 0.0, 'mae': 0.0}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forewarn.exceptions import SchemaError

ArrayLike = Sequence[float] | np.ndarray


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype="float64").reshape(-1)
    pred = np.asarray(y_pred, dtype="float64").reshape(-1)
    if len(true) != len(pred):
        raise SchemaError(
            f"y_true has {len(true)} values but y_pred has {len(pred)}",
            column="y_pred",
            hint="pass one prediction per true RUL",
        )
    if len(true) == 0:
        raise SchemaError("no values to score", column="y_true")
    for name, values in (("y_true", true), ("y_pred", pred)):
        if not np.isfinite(values).all():
            raise SchemaError(
                f"{name} holds a value that is not finite at position {int(np.argmin(np.isfinite(values)))}",
                column=name,
                hint="drop or impute missing predictions before scoring",
            )
    return true, pred


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


def phm08_terms(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """The per-engine PHM08 penalties (``exp(-d/13)-1`` early, ``exp(d/10)-1`` late, ``d = pred - true``)."""
    true, pred = _pair(y_true, y_pred)
    d = pred - true
    return np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))


def phm08_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The PHM08 score: the sum of :func:`phm08_terms` (lower is better, 0 = perfect)."""
    return float(np.sum(phm08_terms(y_true, y_pred)))


def rul_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """``rmse``, PHM08 ``score`` and ``mae`` under the names the benchmark reports use."""
    return {"rmse": rmse(y_true, y_pred), "score": phm08_score(y_true, y_pred), "mae": mae(y_true, y_pred)}
