"""k-nearest-neighbour detector: mean distance to the ``k`` closest training rows, in standardised units.

Rows are standardised with the training mean and spread; the training rows (at most ``max_memory`` of
them, drawn evenly in time when there are more) are kept as the memory. The score of a row is its mean
Euclidean distance to its ``k`` nearest memory rows divided by ``sqrt(n_features)``, so it reads as a
typical per-feature deviation in standard deviations. A training row scored again finds itself at
distance 0 among its neighbours; that is the usual in-sample optimism of nearest-neighbour methods.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> det = KNNDetector(k=5).fit(rng.normal(size=(300, 3)))
>>> normal, odd = det.score(np.array([[0.0, 0.0, 0.0], [5.0, -5.0, 5.0]]))
>>> bool(odd > 2.0 > normal)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.models.anomaly.scaling import fit_scaling, standardise


@register("knn")
class KNNDetector(AnomalyDetector):
    """Mean distance to the ``k`` nearest of up to ``max_memory`` standardised training rows."""

    parameter_constraints = {"k": [Interval(int, 1)], "max_memory": [Interval(int, 1)]}

    def __init__(self, *, k: int = 5, max_memory: int = 5000):
        self.k = k
        self.max_memory = max_memory

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64")
        self.mean_, self.scale_ = fit_scaling(values)
        rows = standardise(values, self.mean_, self.scale_)
        if len(rows) > self.max_memory:  # evenly spaced in time: deterministic, keeps every regime
            rows = rows[np.linspace(0, len(rows) - 1, self.max_memory).round().astype(int)]
        self.memory_ = rows
        self._restore()

    def _restore(self) -> None:
        self._tree = cKDTree(self.memory_)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        z = standardise(X.to_numpy(dtype="float64"), self.mean_, self.scale_)
        k = min(self.k, len(self.memory_))
        distances, _ = self._tree.query(z, k=k)
        distances = distances.reshape(len(z), k)
        return distances.mean(axis=1) / np.sqrt(z.shape[1])

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "memory_")
