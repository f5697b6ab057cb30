"""Multi-class fault (failure type) classifier: LightGBM with class weights.

Rare fault types are up-weighted so the booster does not learn to answer "healthy" for everything. The
default ``class_weight="sqrt"`` weights a class by the square root of its balancing factor
``n / (k * count)``: full balancing (``"balanced"``) makes each row of a class of a few dozen weigh as much
as hundreds of healthy rows, so trees carve leaves around single, possibly random, rows; the square root keeps
most of the emphasis with less variance. ``max_bin=1023`` (LightGBM's default is 255) resolves split points
finely in the sparse tails of each feature, where failures and faults live (e.g. a power or a wear limit). Labels may be strings or integers;
``classes_`` keeps them sorted, one probability column each. Two classes use LightGBM's binary objective,
more use ``multiclass`` (softmax). The state is the booster in LightGBM's text format plus ``classes_``.

Subclasses can turn raw input into model features by overriding :meth:`LightGBMFault._design` (see
:class:`forewarn.models.fault.spectral_gbm.SpectralGBM`).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"temp": rng.normal(size=600), "vib": rng.normal(size=600)})
>>> y = np.where(X["vib"] > 1.0, "bearing", np.where(X["temp"] > 1.2, "overheat", "ok"))
>>> model = LightGBMFault(n_estimators=60, seed=0).fit(X, y)
>>> model.classes_.tolist()
['bearing', 'ok', 'overheat']
>>> model.predict(pd.DataFrame({"temp": [0.0, 2.0], "vib": [2.0, 0.0]})).tolist()
['bearing', 'overheat']
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from forewarn.base.estimator import FaultClassifier
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError
from forewarn.models.boosting import LIGHTGBM_CONSTRAINTS, lightgbm_dataset, lightgbm_params
from forewarn.models.fault._labels import CLASS_WEIGHT, class_weights, encode_labels


@register("lightgbm-fault")
class LightGBMFault(FaultClassifier):
    """Gradient-boosted multi-class classifier. ``class_weight``: ``"balanced"``, ``"sqrt"`` or ``None``."""

    tags = {"nan_allowed": True}
    parameter_constraints = LIGHTGBM_CONSTRAINTS | {"class_weight": CLASS_WEIGHT}

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 10,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 1023,
        class_weight: str | None = "sqrt",
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
        self.max_bin = max_bin
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.seed = seed

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        """The booster's input for validated ``X`` (identity here; subclasses derive features)."""
        return X

    def _design_names(self) -> list[str]:
        """The names of the booster's input features, in its order: the model's columns here (the booster's own
        names may be positional, :func:`~forewarn.models.boosting.booster_names`)."""
        return [str(n) for n in self.feature_names_in_]

    def _lgb_params(self, n_classes: int) -> dict[str, Any]:
        if n_classes == 2:
            return lightgbm_params(self, objective="binary")
        return lightgbm_params(self, objective="multiclass", num_class=n_classes)

    def _fit(self, X: pd.DataFrame, y: Any) -> None:
        classes, codes = encode_labels(y)
        if len(classes) < 2:
            raise SchemaError(
                f"fault classifier needs at least two classes in y, got one class: {classes.tolist()}",
                column="y",
                hint="add examples of another class (e.g. healthy rows)",
            )
        design = self._design(X)
        data = lightgbm_dataset(
            design.to_numpy(dtype="float64"), design.columns, codes, class_weights(codes, self.class_weight)
        )
        self.booster_ = lgb.train(self._lgb_params(len(classes)), data, num_boost_round=self.n_estimators)
        self.model_text_ = self.booster_.model_to_string()
        self.classes_ = classes

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster_.predict(self._design(X).to_numpy(dtype="float64"), num_threads=self.n_jobs)
        if raw.ndim == 1:  # binary objective: probability of the second class
            raw = np.column_stack([1.0 - raw, raw])
        return raw / raw.sum(axis=1, keepdims=True)

    def feature_importance(self) -> pd.Series:
        """Total split gain per booster input feature (named as the model names them), largest first."""
        self._check_fitted()
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self._design_names()).sort_values(ascending=False)

    def _state_names(self) -> tuple[str, ...]:
        return ("model_text_", "classes_")

    def _restore(self) -> None:
        self.booster_ = lgb.Booster(model_str=self.model_text_)
