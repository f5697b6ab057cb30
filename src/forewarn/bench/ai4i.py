"""AI4I 2020 benchmark: machine failure (binary) and failure type (multi-class), stratified 5-fold CV.

Protocol (per seed): the 10,000 rows are split by a shuffled, stratified 5-fold CV seeded with the seed.
For each fold, the model is fitted on the four training folds and predicts the held-out fold; every row is
predicted exactly once and the metrics are computed on the pooled held-out predictions.

* Features: product type one-hot (``type_L``, ``type_M``, ``type_H``), the five process readings and three
  derived, physically motivated ones computed row by row (so nothing is learned from other rows):
  ``power_w = torque_nm * rotational_speed_rpm * 2 pi / 60`` (mechanical power, W),
  ``temperature_difference_k = process - air temperature`` (heat dissipation margin, K) and
  ``wear_torque = tool_wear_min * torque_nm`` (min Nm, the overstrain load). The failure-mode columns
  (TWF, HDF, PWF, OSF, RNF), the ids and the target are never features.
* Machine failure: a failure predictor gives calibrated probabilities; the decision threshold is the one
  maximising F1 on out-of-fold probabilities of an inner stratified 3-fold CV of the *training* folds (the
  test fold never sees it). Reported: ``f1``, ``precision``, ``recall``, ``accuracy`` at that threshold and
  the threshold-free ``roc_auc`` and ``pr_auc``.
* Failure type: label ``none`` for rows without machine failure; for a failure, the first mode flag set in
  the order TWF, HDF, PWF, OSF, RNF (24 failures carry two flags), and ``unspecified`` for the 9 failures
  with no flag. A fault classifier predicts the label; ``macro_f1`` averages the F1 of the classes a
  failure type is defined for (none, twf, hdf, pwf, osf; RNF never wins on a failure row) while the
  ``unspecified`` rows stay in the test folds and count as errors wherever they are predicted as a type;
  ``accuracy`` over all rows.

Run: ``forewarn bench ai4i --seeds 5`` (or :func:`run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from forewarn.base.executor import resolve
from forewarn.bench.anchors import anchor_protocol, anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.datasets.ai4i import AI4IData, load_ai4i
from forewarn.evaluate.classification import best_f1_threshold, binary_metrics, multiclass_metrics
from forewarn.exceptions import ConfigError
from forewarn.models.failure import LightGBMFailure, LogisticFailure
from forewarn.models.fault import LightGBMFault

#: model label -> factory taking a seed; failure predictors do machine failure, fault classifiers failure type
MODELS: dict[str, Callable[[int], Any]] = {
    "lightgbm-failure": lambda seed: LightGBMFailure(seed=seed),
    "logistic-failure": lambda seed: LogisticFailure(seed=seed),
    "lightgbm-fault": lambda seed: LightGBMFault(seed=seed),
}
MODE_ORDER = ("twf", "hdf", "pwf", "osf", "rnf")
TYPE_LABELS = ("none", "twf", "hdf", "pwf", "osf")
N_SPLITS = 5
INNER_SPLITS = 3


def process_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model features of AI4I rows (see the module docstring); row-wise, no statistics across rows.

    >>> row = pd.DataFrame({"type": pd.Categorical(["M"], categories=["L", "M", "H"]), "air_temperature_k": [298.0],
    ...     "process_temperature_k": [308.5], "rotational_speed_rpm": [1500], "torque_nm": [40.0], "tool_wear_min": [100]})
    >>> process_features(row).round(1).iloc[0].tolist()
    [0.0, 1.0, 0.0, 298.0, 308.5, 1500.0, 40.0, 100.0, 6283.2, 10.5, 4000.0]
    """
    out = pd.DataFrame(index=frame.index)
    for kind in ("L", "M", "H"):
        out[f"type_{kind}"] = (frame["type"].astype(str) == kind).astype("float64")
    for column in ("air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min"):
        out[column] = frame[column].astype("float64")
    out["power_w"] = out["torque_nm"] * out["rotational_speed_rpm"] * 2 * np.pi / 60
    out["temperature_difference_k"] = out["process_temperature_k"] - out["air_temperature_k"]
    out["wear_torque"] = out["tool_wear_min"] * out["torque_nm"]
    return out


def failure_types(frame: pd.DataFrame) -> np.ndarray:
    """The failure-type label of each row (see the module docstring)."""
    labels = np.full(len(frame), "none", dtype=object)
    failed = frame["machine_failure"].to_numpy() == 1
    labels[failed] = "unspecified"
    for mode in reversed(MODE_ORDER):  # the first flag in MODE_ORDER wins
        labels[failed & (frame[mode].to_numpy() == 1)] = mode
    return labels.astype(str)


def inner_threshold(factory: Callable[[int], Any], seed: int, X: pd.DataFrame, y: np.ndarray) -> float:
    """F1-maximising threshold from out-of-fold probabilities of an inner stratified CV of (X, y)."""
    oof = np.empty(len(y))
    splitter = StratifiedKFold(n_splits=INNER_SPLITS, shuffle=True, random_state=seed)
    for train, held_out in splitter.split(X, y):
        oof[held_out] = factory(seed).fit(X.iloc[train], y[train]).predict_proba(X.iloc[held_out])
    return best_f1_threshold(y, oof)


def _failure_run(
    name: str,
    factory: Callable[[int], Any],
    seed: int,
    data: AI4IData,
    X: pd.DataFrame,
    progress: Callable[[str], None],
) -> ModelRun:
    y = data.y
    proba, predicted = np.empty(len(y)), np.empty(len(y), dtype="int64")
    fit_s, predict_s, thresholds = [], [], []
    for k, (train, test) in enumerate(data.stratified_folds(N_SPLITS, seed=seed), start=1):
        progress(f"ai4i {name} seed {seed} fold {k}/{N_SPLITS}")
        threshold = inner_threshold(factory, seed, X.iloc[train], y[train])
        start = time.perf_counter()
        model = factory(seed).fit(X.iloc[train], y[train])
        fit_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        proba[test] = model.predict_proba(X.iloc[test])
        predict_s.append(time.perf_counter() - start)
        predicted[test] = proba[test] >= threshold
        thresholds.append(threshold)
    metrics = binary_metrics(y, proba)
    metrics.update(
        {
            k: v
            for k, v in binary_metrics(y, predicted.astype("float64"), 0.5).items()
            if k in ("f1", "precision", "recall", "accuracy")
        }
    )
    metrics["threshold"] = float(np.mean(thresholds))
    return ModelRun(name, seed, metrics, float(np.mean(fit_s)), float(np.mean(predict_s)))


def _type_run(
    name: str,
    factory: Callable[[int], Any],
    seed: int,
    data: AI4IData,
    X: pd.DataFrame,
    progress: Callable[[str], None],
) -> ModelRun:
    labels = failure_types(data.frame)
    predicted = np.empty(len(labels), dtype=object)
    fit_s, predict_s = [], []
    for k, (train, test) in enumerate(data.stratified_folds(N_SPLITS, seed=seed), start=1):
        progress(f"ai4i {name} seed {seed} fold {k}/{N_SPLITS}")
        start = time.perf_counter()
        model = factory(seed).fit(X.iloc[train], labels[train])
        fit_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        predicted[test] = model.predict(X.iloc[test])
        predict_s.append(time.perf_counter() - start)
    predicted = predicted.astype(str)
    metrics = multiclass_metrics(labels, predicted, labels=TYPE_LABELS)
    metrics["macro_f1_all"] = multiclass_metrics(labels, predicted)["macro_f1"]
    return ModelRun(name, seed, metrics, float(np.mean(fit_s)), float(np.mean(predict_s)))


def _run_unit(data: AI4IData, X: pd.DataFrame, say: Callable[[str], None] | None, unit: tuple[str, int]) -> ModelRun:
    """One unit of :func:`run`: ``unit`` is ``(model name, seed)``."""
    name, seed = unit
    factory = MODELS[name]
    runner = _failure_run if factory(0).task == "failure" else _type_run
    return runner(name, factory, seed, data, X, say or (lambda message: None))


def run(
    models: Sequence[str] | None = None,
    seeds: int = 5,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run the AI4I benchmark; returns the payload of ``forewarn bench ai4i`` (see :mod:`forewarn.bench`).

    ``executor`` (:mod:`forewarn.base.executor`) runs each model and seed as one unit, e.g. on Ray (the figures do
    not depend on it, the timings do)."""
    executor = options.pop("executor", None)
    if options:
        raise ConfigError(f"ai4i takes no options {sorted(options)} (ai4i has no subsets)")
    chosen = list(MODELS) if models is None else list(models)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or seeds < 1:
        raise ConfigError(f"unknown model(s) {unknown} (known: {', '.join(MODELS)}) or seeds={seeds} < 1")
    say = progress or (lambda message: None)
    data = load_ai4i(data_dir)
    X = process_features(data.frame)
    units = [(name, seed) for name in chosen for seed in range(seeds)]
    runs = resolve(executor).map(partial(_run_unit, data, X, say if executor is None else None), units)
    return {
        "dataset": "ai4i",
        "subset": None,
        "protocol": f"{anchor_protocol('ai4i')}; stratified {N_SPLITS}-fold CV per seed, pooled held-out "
        f"predictions; threshold maximising F1 on inner {INNER_SPLITS}-fold out-of-fold training "
        "probabilities; failure-type macro-F1 over none/twf/hdf/pwf/osf",
        "primary_metric": "f1",
        "results": summarise(runs),
        "published": anchor_rows("ai4i"),
    }
