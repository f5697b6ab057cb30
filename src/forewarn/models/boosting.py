"""LightGBM settings shared by every gradient-boosted Forewarn model.

The boosted models (``lightgbm-rul``, ``lightgbm-failure``, ``lightgbm-fault`` ...) expose the same
hyper-parameter names; :func:`lightgbm_params` maps them to LightGBM's, always deterministic and with an
explicit thread count (OpenMP spinning on a busy 2-core machine costs ten times the work).

>>> class Model:
...     learning_rate, num_leaves, min_child_samples, subsample, colsample = 0.1, 15, 20, 0.8, 0.7
...     reg_lambda, n_jobs, seed = 1.0, 1, 3
>>> params = lightgbm_params(Model(), objective="regression")
>>> params["objective"], params["feature_fraction"], params["deterministic"], "max_bin" in params
('regression', 0.7, True, False)

LightGBM refuses feature names with ``[ ] { } " , :`` (its model text is JSON-like) and rewrites whitespace
as ``_``, and plant channels hold both (``Temp [°C]``, ``Vib: "rms"``). :func:`booster_names` gives the names a
booster is trained under: the user's own when LightGBM keeps every one as it is (boosters filed before this rule
hold those, and the service's direct booster path needs them), else positional ``feature_0 ..``. Inputs are
passed by position, so a model names the booster's features by index with its own columns (``feature_names_in_``):
its explanations and importances carry the user's names, and a saved state needs nothing new.

>>> booster_names(["temp__mean", "vib__std"])
['temp__mean', 'vib__std']
>>> booster_names(["Temp [°C]__mean", "vib__std"])
['feature_0', 'feature_1']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from forewarn.base.params import N_JOBS, SEED, Interval

#: constraints of the shared LightGBM hyper-parameters (``max_bin`` only for the models that have it)
LIGHTGBM_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(int, 1)],
    "learning_rate": [Interval(float, 0, None, closed="right")],
    "num_leaves": [Interval(int, 2, 131072)],
    "min_child_samples": [Interval(int, 0)],
    "subsample": [Interval(float, 0, 1, closed="right")],
    "colsample": [Interval(float, 0, 1, closed="right")],
    "reg_lambda": [Interval(float, 0)],
    "max_bin": [Interval(int, 2)],
    "n_jobs": N_JOBS,
    "seed": SEED,
}


#: characters LightGBM refuses in a feature name (its model text is JSON-like); plant channels often hold them
LIGHTGBM_REFUSES = frozenset('[]{}",:')


def kept_by_lightgbm(name: str) -> bool:
    """Whether LightGBM stores ``name`` unchanged as a feature name (no refused character, no whitespace, which
    it rewrites as ``_``, printable and not empty).

    >>> kept_by_lightgbm("bearing_temp__mean"), kept_by_lightgbm("Temp °C"), kept_by_lightgbm("p[bar]")
    (True, False, False)
    """
    return bool(name) and name.isprintable() and not any(c.isspace() or c in LIGHTGBM_REFUSES for c in name)


def booster_names(names: Iterable[Any]) -> list[str]:
    """The feature names a booster is trained under: ``names`` as strings when LightGBM keeps each one unchanged
    and none repeats, else ``feature_0 .. feature_{n-1}`` (see the module docstring)."""
    text = [str(n) for n in names]
    if all(kept_by_lightgbm(n) for n in text) and len(set(text)) == len(text):
        return text
    return [f"feature_{i}" for i in range(len(text))]


def lightgbm_dataset(
    values: np.ndarray, names: Iterable[Any], label: np.ndarray, weight: np.ndarray | None = None
) -> Any:
    """A LightGBM ``Dataset`` of ``values`` (rows x features, in ``names`` order) under :func:`booster_names`."""
    import lightgbm as lgb

    return lgb.Dataset(values, label=label, weight=weight, feature_name=booster_names(names), free_raw_data=True)


def lightgbm_params(model: Any, **task: Any) -> dict[str, Any]:
    """LightGBM parameters from ``model``'s hyper-parameters, plus the task's (``objective``, ``num_class``...).

    ``max_bin`` is passed on when the model has it.
    """
    params: dict[str, Any] = {
        "learning_rate": model.learning_rate,
        "num_leaves": model.num_leaves,
        "min_child_samples": model.min_child_samples,
        "bagging_fraction": model.subsample,
        "bagging_freq": 1,
        "feature_fraction": model.colsample,
        "lambda_l2": model.reg_lambda,
        "seed": model.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": model.n_jobs,
        "verbosity": -1,
    }
    if getattr(model, "max_bin", None) is not None:
        params["max_bin"] = model.max_bin
    return {**params, **task}
