"""MSET, the Multivariate State Estimation Technique (Gross, Singer et al., Argonne, 1990s).

MSET learns normal behaviour as a *memory matrix* ``D`` of representative training states and estimates
every new observation ``x`` as a similarity-weighted blend of those states:

``w = (S(D, D) + ridge * I)^-1 S(D, x)``,  ``x_hat = D^T w / sum(w)``,

where ``S`` is the similarity operator, here the Gaussian kernel ``exp(-||a - b||^2 / (2 h^2))`` on
standardised rows, with bandwidth ``h`` = ``bandwidth`` times the median distance between memory states.
The anomaly score is the root-mean-square residual ``||x - x_hat|| / sqrt(n_features)`` in standard
deviations: normal states are reproduced from memory, new relationships between sensors are not.

Memory selection (``memory_size`` states): every training row holding a column's minimum or maximum (so
the memory spans the training envelope), then rows evenly spaced along the training rows ordered by
their norm (the classic "vector ordering"), without duplicates.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> t = rng.uniform(0, 6, 400)
>>> X = np.c_[np.sin(t), np.cos(t)] + rng.normal(0, 0.05, (400, 2))
>>> det = MSETDetector().fit(X)
>>> on_circle, off_circle = det.score(np.array([[0.0, 1.0], [0.0, 0.0]]))
>>> bool(off_circle > 5 * on_circle)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.models.anomaly.scaling import fit_scaling, standardise


def select_memory(rows: np.ndarray, size: int) -> np.ndarray:
    """Indices of the memory states: column extremes first, then evenly spaced by row norm.

    >>> select_memory(np.array([[0.0], [3.0], [1.0], [2.0]]), 3).tolist()
    [0, 1, 3]
    """
    chosen: list[int] = []
    seen: set[int] = set()
    for index in (*np.argmin(rows, axis=0), *np.argmax(rows, axis=0)):
        if int(index) not in seen and len(chosen) < size:
            chosen.append(int(index))
            seen.add(int(index))
    by_norm = np.argsort(np.linalg.norm(rows, axis=1), kind="stable")
    for position in np.linspace(0, len(rows) - 1, num=min(size, len(rows))).round().astype(int):
        index = int(by_norm[position])
        if index not in seen and len(chosen) < size:
            chosen.append(index)
            seen.add(index)
    return np.asarray(sorted(chosen), dtype="int64")


@register("mset")
class MSETDetector(AnomalyDetector):
    """MSET with a Gaussian similarity; ``memory_size`` states, ``bandwidth`` x median state distance."""

    parameter_constraints = {
        "memory_size": [Interval(int, 2)],
        "bandwidth": [Interval(float, 0, None, closed="right")],
        "ridge": [Interval(float, 0)],
    }

    def __init__(self, *, memory_size: int = 200, bandwidth: float = 1.0, ridge: float = 1e-3):
        self.memory_size = memory_size
        self.bandwidth = bandwidth
        self.ridge = ridge

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64")
        self.mean_, self.scale_ = fit_scaling(values)
        rows = standardise(values, self.mean_, self.scale_)
        self.memory_ = rows[select_memory(rows, self.memory_size)]
        gaps = np.sqrt(_squared_distances(self.memory_, self.memory_))
        typical = float(np.median(gaps[np.triu_indices(len(gaps), k=1)])) if len(gaps) > 1 else 1.0
        self.width_ = np.asarray(self.bandwidth * max(typical, 1e-6))
        self._restore()

    def _restore(self) -> None:
        gram = self._similarity(self.memory_)
        self._inverse = np.linalg.pinv(gram + self.ridge * np.eye(len(gram)), hermitian=True)

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        """``S(D, rows)``: memory states x rows."""
        return np.exp(-_squared_distances(self.memory_, rows) / (2.0 * float(self.width_) ** 2))

    def estimate(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """MSET's estimate of each row (in the original units)."""
        z = standardise(self._validate_input(X).to_numpy(dtype="float64"), self.mean_, self.scale_)
        return self._estimate(z) * self.scale_ + self.mean_

    def _estimate(self, z: np.ndarray, chunk: int = 4096) -> np.ndarray:
        out = np.empty_like(z)
        for start in range(0, len(z), chunk):
            weights = self._inverse @ self._similarity(z[start : start + chunk])
            total = weights.sum(axis=0)
            total = np.where(np.abs(total) > 1e-12, total, 1e-12)
            out[start : start + chunk] = (self.memory_.T @ (weights / total)).T
        return out

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        z = standardise(X.to_numpy(dtype="float64"), self.mean_, self.scale_)
        return np.linalg.norm(z - self._estimate(z), axis=1) / np.sqrt(z.shape[1])

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "memory_", "width_")


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances, rows of ``a`` x rows of ``b``."""
    squared = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)
