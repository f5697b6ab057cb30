"""Isolation forest (Liu, Ting & Zhou, 2008), written for named-array state.

Each tree isolates a random subsample of ``max_samples`` rows by splitting on a random feature at a
random value between that feature's minimum and maximum in the node, down to depth
``ceil(log2(max_samples))``. Anomalies are isolated in few splits. The score of a row is
``2 ** (-E[h(x)] / c(psi))`` with ``h`` the path length (plus ``c(size)`` for the unresolved rows of a
leaf) and ``c(n) = 2 H(n-1) - 2 (n-1)/n`` the average path length of an unsuccessful binary-search-tree
search; it lies in (0, 1], and 0.5 or less means nothing unusual.

All trees live in flat node arrays (feature, threshold, left, right, size), so state is a handful of
arrays, scoring is vectorised over rows and trees, and federated or saved copies are exact.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> X = rng.normal(size=(400, 3))
>>> det = IsolationForestDetector(n_trees=50, seed=0).fit(X)
>>> inlier, outlier = det.score(np.array([[0.0, 0.0, 0.0], [6.0, 6.0, -6.0]]))
>>> bool(outlier > 0.6 > inlier)
True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import SEED, Interval
from forewarn.base.registry import register

_EULER_GAMMA = 0.5772156649015329


def average_path_length(n: np.ndarray | float) -> np.ndarray:
    """``c(n)``: the average path length of an unsuccessful search in a binary search tree of ``n`` nodes.

    >>> float(average_path_length(2)), float(average_path_length(1))
    (1.0, 0.0)
    """
    n = np.asarray(n, dtype="float64")
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    harmonic = np.log(n[big] - 1.0) + _EULER_GAMMA
    out[big] = 2.0 * harmonic - 2.0 * (n[big] - 1.0) / n[big]
    return out


@register("isolation-forest")
class IsolationForestDetector(AnomalyDetector):
    """Isolation forest. ``n_trees`` trees, each on ``max_samples`` rows drawn without replacement."""

    parameter_constraints = {"n_trees": [Interval(int, 1)], "max_samples": [Interval(int, 2)], "seed": SEED}

    def __init__(self, *, n_trees: int = 100, max_samples: int = 256, seed: int = 0):
        self.n_trees = n_trees
        self.max_samples = max_samples
        self.seed = seed

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        values = X.to_numpy(dtype="float64")
        rng = np.random.default_rng(self.seed)
        psi = min(self.max_samples, len(values))
        height = max(1, math.ceil(math.log2(max(psi, 2))))
        nodes: dict[str, list[float]] = {"feature": [], "threshold": [], "left": [], "right": [], "size": []}
        roots = []
        for _ in range(self.n_trees):
            rows = values[rng.choice(len(values), size=psi, replace=False)]
            roots.append(len(nodes["feature"]))
            self._grow(rows, height, rng, nodes)
        self.feature_ = np.asarray(nodes["feature"], dtype="int64")
        self.threshold_ = np.asarray(nodes["threshold"], dtype="float64")
        self.left_ = np.asarray(nodes["left"], dtype="int64")
        self.right_ = np.asarray(nodes["right"], dtype="int64")
        self.size_ = np.asarray(nodes["size"], dtype="float64")
        self.roots_ = np.asarray(roots, dtype="int64")
        self.normaliser_ = np.asarray(average_path_length(psi) if psi > 1 else 1.0, dtype="float64")

    @staticmethod
    def _grow(rows: np.ndarray, height: int, rng: np.random.Generator, nodes: dict[str, list[float]]) -> None:
        """Grow one tree depth-first with an explicit stack, appending to the flat node arrays."""
        root = len(nodes["feature"])
        for key in nodes:
            nodes[key].append(-1)
        stack = [(root, rows, 0)]
        while stack:
            index, part, depth = stack.pop()
            nodes["size"][index] = len(part)
            low, high = part.min(axis=0), part.max(axis=0)  # parts are never empty: see the split below
            splittable = np.flatnonzero(high > low)
            if depth >= height or splittable.size == 0:
                continue  # a leaf: feature stays -1
            feature = int(rng.choice(splittable))
            threshold = float(rng.uniform(low[feature], high[feature]))
            goes_left = part[:, feature] < threshold  # min goes left, max goes right: both sides non-empty
            children = []
            for side in (part[goes_left], part[~goes_left]):
                child = len(nodes["feature"])
                for key in nodes:
                    nodes[key].append(-1)
                children.append(child)
                stack.append((child, side, depth + 1))
            nodes["feature"][index] = feature
            nodes["threshold"][index] = threshold
            nodes["left"][index], nodes["right"][index] = children

    def _score(self, X: pd.DataFrame, chunk: int = 8192) -> np.ndarray:
        values = X.to_numpy(dtype="float64")
        out = np.empty(len(values))
        for start in range(0, len(values), chunk):
            out[start : start + chunk] = self._mean_path(values[start : start + chunk])
        return np.power(2.0, -out / float(self.normaliser_))

    def _mean_path(self, values: np.ndarray) -> np.ndarray:
        node = np.broadcast_to(self.roots_, (len(values), len(self.roots_))).copy()
        depth = np.zeros(node.shape)
        rows = np.arange(len(values))[:, None]
        while True:
            feature = self.feature_[node]
            inner = feature >= 0
            if not inner.any():
                break
            value = values[rows, np.where(inner, feature, 0)]
            step = np.where(value < self.threshold_[node], self.left_[node], self.right_[node])
            node = np.where(inner, step, node)
            depth += inner
        return (depth + average_path_length(self.size_[node])).mean(axis=1)

    def _state_names(self) -> tuple[str, ...]:
        return ("feature_", "threshold_", "left_", "right_", "size_", "roots_", "normaliser_")
