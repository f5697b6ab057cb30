"""PCA detector: Hotelling's T2 in the principal subspace plus the Q statistic (squared prediction error).

Rows are standardised with the training mean and spread; the principal components that explain
``variance`` of the training variance span the normal subspace. ``T2 = sum(t_k^2 / lambda_k)`` measures
distance inside it, ``Q = ||x - P P^T x||^2`` the distance from it. Each is divided by its training
``quantile`` (the empirical control limit), and the score is the larger of the two ratios, so a score
above 1 means "outside the limit the training data set" for either statistic.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 4))
>>> det = PCADetector(variance=0.95).fit(X)
>>> normal, odd = det.score(np.array([[0.0, 0, 0, 0], [8.0, -8, 8, -8]]))
>>> bool(odd > 1.0 > normal)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import Interval
from forewarn.base.registry import register


@register("pca-t2q")
class PCADetector(AnomalyDetector):
    """T2 + Q detector. ``variance``: fraction of variance kept (0-1]; ``quantile``: control-limit quantile."""

    tags = {"online": False}
    parameter_constraints = {
        "variance": [Interval(float, 0, 1, closed="right")],
        "quantile": [Interval(float, 0, 1, closed="right")],
    }

    def __init__(self, *, variance: float = 0.95, quantile: float = 0.99):
        self.variance = variance
        self.quantile = quantile

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64")
        self.mean_ = values.mean(axis=0)
        scale = values.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        z = (values - self.mean_) / self.scale_
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        eigen = singular**2 / max(len(z) - 1, 1)
        share = np.cumsum(eigen) / max(eigen.sum(), 1e-300)
        k = int(np.searchsorted(share, self.variance - 1e-12) + 1)
        k = min(k, len(eigen))
        self.components_ = vt[:k]
        self.eigenvalues_ = np.maximum(eigen[:k], 1e-12)
        t2, q = self._statistics(z)
        self.t2_limit_ = np.asarray(max(float(np.quantile(t2, self.quantile)), 1e-12))
        self.q_limit_ = np.asarray(max(float(np.quantile(q, self.quantile)), 1e-12))

    def _statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = z @ self.components_.T
        t2 = np.sum(scores**2 / self.eigenvalues_, axis=1)
        residual = z - scores @ self.components_
        return t2, np.sum(residual**2, axis=1)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        z = (X.to_numpy(dtype="float64") - self.mean_) / self.scale_
        t2, q = self._statistics(z)
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_)

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "components_", "eigenvalues_", "t2_limit_", "q_limit_")
