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
"""

from __future__ import annotations

from typing import Any

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
