"""Gradient-boosted remaining useful life on window features (LightGBM).

Training targets are clipped at ``max_rul`` (the piecewise-linear target of the C-MAPSS protocol: a new
machine's life is not predictable from its sensors, so every RUL above the knee counts as the knee).
The state is the booster as LightGBM's own text format, so a saved model is readable and never unpickled.
``explain(X)`` gives per-feature contributions (TreeSHAP, from LightGBM) that sum with the bias column to
the prediction.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"wear": rng.uniform(0, 1, 400), "noise": rng.normal(size=400)})
>>> y = 200 * (1 - X["wear"])
>>> model = LightGBMRUL(n_estimators=150, learning_rate=0.1, seed=0).fit(X, y)
>>> young, old = model.predict(pd.DataFrame({"wear": [0.05, 0.9], "noise": [0.0, 0.0]}))
>>> bool(young > 110 and old < 40)
True
>>> model.explain(X.head(2)).columns.tolist()
['wear', 'noise', 'bias']
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from forewarn.base.estimator import RULRegressor
from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError
from forewarn.models.boosting import LIGHTGBM_CONSTRAINTS, lightgbm_dataset, lightgbm_params


@register("lightgbm-rul")
class LightGBMRUL(RULRegressor):
    """LightGBM regressor for RUL. ``max_rul`` clips training targets (``None``: no clipping)."""

    tags = {"unit": "cycles", "nan_allowed": True}
    parameter_constraints = {
        name: LIGHTGBM_CONSTRAINTS[name]
        for name in (
            "n_estimators",
            "learning_rate",
            "num_leaves",
            "min_child_samples",
            "subsample",
            "colsample",
            "reg_lambda",
            "n_jobs",
            "seed",
        )
    } | {"max_rul": [Interval(float, 0, None, closed="right"), None]}

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample: float = 0.7,
        reg_lambda: float = 1.0,
        max_rul: float | None = 125.0,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.max_rul = max_rul
        self.n_jobs = n_jobs
        self.seed = seed

    def _lgb_params(self) -> dict[str, object]:
        return lightgbm_params(self, objective="regression")

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        target = np.asarray(y, dtype="float64")
        if not np.isfinite(target).all() or (target < 0).any():
            raise SchemaError("RUL targets must be finite and non-negative", column="y")
        if self.max_rul is not None:
            target = np.minimum(target, float(self.max_rul))
        data = lightgbm_dataset(X.to_numpy(dtype="float64"), self.feature_names_in_, target)
        self.booster_ = lgb.train(self._lgb_params(), data, num_boost_round=self.n_estimators)
        self.model_text_ = self.booster_.model_to_string()

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(X.to_numpy(dtype="float64"), num_threads=self.n_jobs)

    def explain(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Per-feature contributions to each prediction (columns: features, then ``bias``)."""
        frame = self._validate_input(X)
        contrib = self.booster_.predict(frame.to_numpy(dtype="float64"), pred_contrib=True, num_threads=self.n_jobs)
        return pd.DataFrame(contrib, columns=[*self.feature_names_in_, "bias"], index=frame.index)

    def _state_names(self) -> tuple[str, ...]:
        return ("model_text_",)

    def _restore(self) -> None:
        self.booster_ = lgb.Booster(model_str=self.model_text_)
