"""The model zoo of each task, and a side-by-side comparison on a by-asset validation.

``forewarn train --model auto`` fits every registered candidate of the task on all but one fold of the
training assets and scores the rest (:func:`compare`), folds split by asset so no asset is both learnt and
judged; the best servable candidate is kept. The figures go into the model card, so a plant sees the zoo
compared on its own data. Scores (higher is better): failure, PR-AUC (average precision, the honest figure for
rare failures); RUL, minus the RMSE; anomaly, ROC-AUC against failure within the horizon; failure mode, macro F1.
Sequence models (tag ``input == "sequence"``) read the trailing window of readings instead of window statistics
(filed as a sequence bundle, :attr:`forewarn.bundles.bundle.ServingSpec.sequence`, which the service, ``forewarn
score`` and the stream feed the same rows); ``auto`` leaves them out for their cost, ``--model`` names one.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from forewarn.base.estimator import Estimator
from forewarn.base.registry import get, names
from forewarn.evaluate.classification import binary_metrics, multiclass_metrics
from forewarn.evaluate.rul import rmse
from forewarn.exceptions import ConfigError, ForewarnError

CANDIDATES: dict[str, tuple[str, ...]] = {
    "failure": (
        "lightgbm-failure",
        "logistic-failure",
        "random-forest-failure",
        "extra-trees-failure",
        "gradient-boosting-failure",
        "knn-failure",
        "mlp-failure",
        "lstm-attention-failure",
    ),
    "rul": (
        "lightgbm-rul",
        "random-forest-rul",
        "extra-trees-rul",
        "gradient-boosting-rul",
        "knn-rul",
        "mlp-rul",
        "lstm-attention-rul",
    ),
    "anomaly": ("pca-t2q", "isolation-forest", "knn", "mset"),
    "failure-mode": ("lightgbm-fault",),
}
#: the registry's task name of each training task
REGISTRY_TASK = {"failure": "failure", "rul": "rul", "anomaly": "anomaly", "failure-mode": "fault"}
METRIC = {"failure": "pr_auc", "rul": "neg_rmse", "anomaly": "roc_auc", "failure-mode": "macro_f1"}


def candidates(task: str) -> list[str]:
    """The registered models of the task's zoo, in the zoo's order."""
    known = set(names(REGISTRY_TASK[task]))
    return [name for name in CANDIDATES[task] if name in known]


def _class(name: str) -> type[Estimator]:
    """The registered class of ``name`` (the registry holds Estimator subclasses only)."""
    return cast("type[Estimator]", get(name))


def is_sequence(name: str) -> bool:
    """Whether the model reads sequences of readings rather than window statistics."""
    return _class(name).get_tags().get("input") == "sequence"


def build(name: str, *, task: str, seed: int, max_rul: float | None = None) -> Estimator:
    """A new estimator of ``name`` with the run's seed (and RUL cap); it must belong to the task."""
    cls = _class(name)
    if getattr(cls, "task", None) != REGISTRY_TASK[task]:
        raise ConfigError(
            f"model {name!r} is a {getattr(cls, 'task', '?')} model, not one for task {task!r}; "
            f"choose from {', '.join(candidates(task))} or auto"
        )
    accepted = inspect.signature(cls.__init__).parameters
    params: dict[str, Any] = {}
    if "seed" in accepted:
        params["seed"] = seed
    if max_rul is not None and "max_rul" in accepted:
        params["max_rul"] = max_rul
    if "n_jobs" in accepted:
        params["n_jobs"] = 1
    return cls(**params)


def output(model: Estimator, X: pd.DataFrame) -> np.ndarray:
    """What the model says of each row: failure probability, RUL, anomaly score, or predicted failure mode."""
    task = model.task
    if task == "failure":
        return np.asarray(model.predict_proba(X), dtype="float64").reshape(len(X), -1)[:, -1]  # type: ignore[attr-defined]
    if task == "rul":
        return np.asarray(model.predict(X), dtype="float64")  # type: ignore[attr-defined]
    if task == "anomaly":
        return np.asarray(model.score(X), dtype="float64")  # type: ignore[attr-defined]
    proba = np.asarray(model.predict_proba(X))  # type: ignore[attr-defined]
    return np.asarray(model.classes_)[proba.argmax(axis=1)]  # type: ignore[attr-defined]


def fit_model(model: Estimator, X: pd.DataFrame, y: np.ndarray) -> Estimator:
    """Fit on labelled rows; an anomaly detector learns from the healthy rows only (label 0).

    Channel names LightGBM refuses (``Air temperature [K]``) need nothing here: the LightGBM models train under
    positional names and answer with the user's (:mod:`forewarn.models.boosting`).
    """
    if model.task == "anomaly":
        normal = y == 0
        return model.fit(X[normal])
    if model.task == "fault":
        return model.fit(X, pd.Series(y).astype(str).to_numpy())
    return model.fit(X, y)


def validation_score(task: str, y: np.ndarray, said: np.ndarray) -> float:
    """The comparison figure of one fold (higher is better); NaN when the fold cannot tell."""
    if task in ("failure", "anomaly"):
        truth = y.astype(int)
        if len(np.unique(truth)) < 2:
            return float("nan")
        figures = binary_metrics(truth, said)
        return figures["pr_auc"] if task == "failure" else figures["roc_auc"]
    if task == "rul":
        return -rmse(y, said)
    return multiclass_metrics(pd.Series(y).astype(str).to_numpy(), pd.Series(said).astype(str).to_numpy())["macro_f1"]


def accepts_missing(name: str) -> bool:
    """Whether the model takes missing values (else they are replaced by training means, here and in service)."""
    return bool(_class(name).get_tags().get("nan_allowed"))


def compare(
    models: list[str],
    features: Callable[[str], pd.DataFrame],
    y: np.ndarray,
    groups: np.ndarray,
    *,
    task: str,
    folds: int,
    seed: int,
    max_rul: float | None = None,
    on_model: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Every model fitted and scored on ``folds`` by-asset folds (``features(name)`` gives the model's input):
    one row per model (``model``, ``score``,
    ``folds``, ``fit_s``, ``servable``, ``error``), best first."""
    n_groups = len(np.unique(groups))
    splitter = GroupKFold(n_splits=min(int(folds), n_groups))
    splits = list(splitter.split(np.zeros(len(y)), y, groups))
    rows = []
    for name in models:
        if on_model is not None:
            on_model(name)
        sequence = is_sequence(name)
        X = features(name)
        scores, started, error = [], time.perf_counter(), ""
        try:
            for fit_rows, judge_rows in splits:
                model = fit_model(build(name, task=task, seed=seed, max_rul=max_rul), X.iloc[fit_rows], y[fit_rows])
                scores.append(validation_score(task, y[judge_rows], output(model, X.iloc[judge_rows])))
        except (ForewarnError, ValueError) as err:
            error = str(err).splitlines()[0][:200]
        finite = [s for s in scores if np.isfinite(s)]
        rows.append(
            {
                "model": name,
                "metric": METRIC[task],
                "score": float(np.mean(finite)) if finite and not error else float("nan"),
                "folds": len(finite),
                "fit_s": round(time.perf_counter() - started, 2),
                "servable": not sequence,
                "error": error,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("score", ascending=False, na_position="last", ignore_index=True)
