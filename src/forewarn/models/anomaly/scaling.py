"""Standardisation fitted on training rows only, shared by the anomaly detectors.

A constant training column (zero spread) keeps scale 1, so it neither divides by zero nor dominates:
any later change in it shows up in original units.

>>> import numpy as np
>>> mean, scale = fit_scaling(np.array([[1.0, 5.0], [3.0, 5.0]]))
>>> mean.tolist(), scale.tolist()
([2.0, 5.0], [1.0, 1.0])
>>> standardise(np.array([[4.0, 6.0]]), mean, scale).tolist()
[[2.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

#: spreads below this count as constant columns
TINY = 1e-12


def fit_scaling(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of the training rows (constant columns get scale 1)."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    return mean, np.where(scale > TINY, scale, 1.0)


def standardise(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(values - mean) / scale`` with the training statistics."""
    return (values - mean) / scale
