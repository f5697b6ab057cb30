"""Exact TreeSHAP of one row from tables computed once per model (the serving hot path for small models).

LightGBM explains a row with path-dependent TreeSHAP: for every leaf, a sum over the subsets of the features on
its path, O(leaves x depth^2) per tree and row. For one row of an 80-tree model that is most of a prediction's
time. What a leaf adds to the explanation depends on the row only through *which* of its path's conditions the
row meets (one bit per distinct feature on the path), so it can be tabulated once per leaf for every pattern
of those bits (Yang, "Fast TreeSHAP", 2021, its "v2" space-time trade-off). Explaining a row is then a handful of
vectorised numpy steps over all leaves of all trees: evaluate every split on the row's path conditions, pack
each leaf's bits into a pattern, gather the tabulated values, sum them per feature.

A leaf with ``d`` distinct features on its path takes ``2**d * d`` numbers, so the tables suit models with
shallow trees; :meth:`PathTables.of` declines (``None``) above a budget, for categorical or linear trees, and when
the tables do not reproduce LightGBM's own contributions on probe rows; callers then use LightGBM itself.

The sum for a leaf with value ``v``, path features ``P`` (``|P| = d``), cover fractions ``z_j`` (the product of
child/parent data counts along the path's splits on ``j``) and ``o_j`` (1 when the row meets every condition on
``j`` along the path), for ``i`` in ``P``::

    phi_i += v * (o_i - z_i) * sum over S in P \\ {i} of  |S|! (d - 1 - |S|)! / d!  *  prod_{j in S} o_j * prod_{j in P \\ S \\ {i}} z_j

Only subsets of the met features count (``o_j`` is 0 or 1), which the tables enumerate through a polynomial
whose coefficient of ``t**s`` is the sum over subsets of size ``s``.

>>> import lightgbm as lgb
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> X[::9, 2] = np.nan
>>> booster = lgb.train({"verbose": -1, "num_leaves": 7}, lgb.Dataset(X, X[:, 0] - 2 * X[:, 1]), num_boost_round=20)
>>> tables = PathTables.of(booster)
>>> bool(np.allclose(tables(X[9]), booster.predict(X[9:10], pred_contrib=True)[0], rtol=1e-9, atol=1e-12))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import factorial
from typing import Any

import numpy as np

DEFAULT_BUDGET = 1 << 20  # tabulated numbers per model (8 MiB of float64)
_WORK = 1 << 19  # numbers in one temporary array while tabulating (4 MiB)
_DUMP_CHUNK = 100  # iterations read from LightGBM at a time
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float): a feature this close to zero is zero
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass
class _Leaf:
    value: float
    features: list[int] = field(default_factory=list)  # distinct path features, in order of first split
    zero: list[float] = field(default_factory=list)  # cover fraction per distinct feature
    path: list[tuple[int, bool, int]] = field(default_factory=list)  # (split id, path goes left, feature slot)


@dataclass
class _Splits:
    """The numerical splits of all trees, each with an id (its index in these lists)."""

    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    default_left: list[bool] = field(default_factory=list)

    def add(self, node: dict[str, Any]) -> int:
        if node.get("decision_type") != "<=" or node.get("missing_type") not in _MISSING:
            raise ValueError("only numerical splits can be tabulated")
        if not node.get("internal_count"):
            raise ValueError("a split without data counts")
        self.feature.append(int(node["split_feature"]))
        self.threshold.append(float(node["threshold"]))
        self.missing.append(_MISSING[node["missing_type"]])
        self.default_left.append(bool(node["default_left"]))
        return len(self.feature) - 1


def _leaves(
    node: dict[str, Any], splits: _Splits, path: list[tuple[dict[str, Any], int, bool]], out: list[_Leaf]
) -> None:
    """Every leaf under ``node`` with its path (depth-first, left first); the splits on the way join ``splits``."""
    if "leaf_value" in node:
        leaf = _Leaf(float(node["leaf_value"]))
        for parent, split, left in path:
            child = parent["left_child" if left else "right_child"]
            fraction = float(child.get("internal_count", child.get("leaf_count", 0))) / float(parent["internal_count"])
            feature = int(parent["split_feature"])
            if feature in leaf.features:
                slot = leaf.features.index(feature)
                leaf.zero[slot] *= fraction
            else:
                slot = len(leaf.features)
                leaf.features.append(feature)
                leaf.zero.append(fraction)
            leaf.path.append((split, left, slot))
        out.append(leaf)
        return
    split = splits.add(node)
    _leaves(node["left_child"], splits, [*path, (node, split, True)], out)
    _leaves(node["right_child"], splits, [*path, (node, split, False)], out)


def _tabulate(leaves: list[_Leaf]) -> list[np.ndarray]:
    """Per leaf, ``2**d x d`` values: row ``pattern`` (bit ``k`` set when the row meets the path's conditions on
    its ``k``-th feature), column ``k``: what the leaf adds to that feature's contribution. Leaves with the
    same ``d`` are computed together."""
    tables: list[np.ndarray] = [np.empty((1, 0))] * len(leaves)
    by_depth: dict[int, list[int]] = {}
    for i, leaf in enumerate(leaves):
        by_depth.setdefault(len(leaf.features), []).append(i)
    for d, group in by_depth.items():
        if d == 0:
            continue
        bits = ((np.arange(1 << d)[:, None] >> np.arange(d)) & 1).astype(bool)  # patterns x d
        weights = np.array([factorial(s) * factorial(d - 1 - s) / factorial(d) for s in range(d)])
        chunk = max(1, _WORK // ((1 << d) * d))  # leaves computed at once: bounds the temporary arrays
        for first in range(0, len(group), chunk):
            members = group[first : first + chunk]
            z = np.array([leaves[i].zero for i in members])  # leaves x d
            value = np.array([leaves[i].value for i in members])
            out = np.empty((len(members), 1 << d, d))
            for k in range(d):
                # coefficients of the product over j != k of (t + z_j) where the row meets j's conditions, else z_j
                poly = np.zeros((len(members), 1 << d, d))
                poly[..., 0] = 1.0
                for j in range(d):
                    if j == k:
                        continue
                    zj = z[:, j][:, None, None]
                    shifted = np.concatenate([np.zeros_like(poly[..., :1]), poly[..., :-1]], axis=-1)
                    poly = np.where(bits[None, :, j, None], shifted + zj * poly, zj * poly)
                out[..., k] = value[:, None] * (bits[None, :, k] - z[:, k][:, None]) * (poly @ weights)
            for row, i in enumerate(members):
                tables[i] = out[row]
    return tables


def _expected(node: dict[str, Any]) -> float:
    """Sum of leaf value x leaf data count under ``node`` (divided by the root's count: the tree's expected value,
    as LightGBM's TreeSHAP takes it)."""
    if "leaf_value" in node:
        return float(node["leaf_value"]) * float(node["leaf_count"])
    return _expected(node["left_child"]) + _expected(node["right_child"])


class PathTables:
    """TreeSHAP contributions (features, then the expected value) of one row, from per-leaf tables."""

    def __init__(self, leaves: list[_Leaf], splits: _Splits, bias: float, n_features: int):
        tables = _tabulate(leaves)
        self.n_features = n_features
        self.bias = bias
        self.size = int(sum(t.size for t in tables))
        # the splits: what a row does at each, and last a sentinel split that every row meets (the padding of
        # shorter paths). LightGBM reads a value within its kZeroThreshold of zero as 0.0; a threshold in
        # [-kZero, kZero) is moved so that comparing the value as sent gives the same side (the only thresholds
        # where it matters), which spares cleaning the row.
        feature = np.array(splits.feature, dtype=np.intp)
        threshold = np.array(splits.threshold, dtype="float64")
        self._cuts = {j: threshold[feature == j] for j in range(n_features)}  # for the agreement probes
        missing = np.array(splits.missing, dtype=np.int8)
        default_left = np.array(splits.default_left, dtype=bool)
        near_zero = (threshold >= -_ZERO) & (threshold < _ZERO)
        compared = np.where(near_zero, np.where(threshold >= 0.0, _ZERO, np.nextafter(-_ZERO, -np.inf)), threshold)
        self._feature = np.append(feature, 0)
        self._threshold = np.append(compared, np.inf)
        # a gap: the default direction, or as 0.0 where gaps are not missing
        self._nan_left = np.append(np.where(missing == _MISSING["None"], threshold >= 0.0, default_left), True)
        self._zero_missing = np.append(missing == _MISSING["Zero"], False)
        self._zero_left = default_left[self._zero_missing[:-1]]
        # each leaf's path, position-major (row k: the k-th split of every leaf's path), padded to the longest
        # with a split that every row "meets" (index len(splits), answered True)
        longest = max((len(leaf.path) for leaf in leaves), default=0)
        self._path = np.full((longest, len(leaves)), len(feature), dtype=np.intp)
        self._path_left = np.ones((longest, len(leaves)), dtype=bool)
        self._path_bit = np.zeros((longest, len(leaves)), dtype=np.int32)  # bit of the split's feature slot
        for i, leaf in enumerate(leaves):
            for k, (split, left, slot) in enumerate(leaf.path):
                self._path[k, i], self._path_left[k, i], self._path_bit[k, i] = split, left, 1 << slot
        depth = np.array([len(leaf.features) for leaf in leaves], dtype=np.int64)
        self._depth = depth
        # where a leaf's row for a pattern starts is _met_base - missed * depth (the pattern: all bits, less missed)
        self._met_base = np.cumsum([0] + [t.size for t in tables])[:-1].astype(np.int64) + ((1 << depth) - 1) * depth
        # every (leaf, distinct feature), grouped by feature: its leaf, its rank on the leaf's path
        slot_leaf = np.repeat(np.arange(len(leaves)), depth)
        slot_rank = np.concatenate([np.arange(d) for d in depth]) if len(depth) else np.empty(0, np.int64)
        slot_feature = np.array([f for leaf in leaves for f in leaf.features], dtype=np.intp)
        order = np.argsort(slot_feature, kind="stable")
        self._slot_leaf, self._slot_rank = slot_leaf[order], slot_rank[order]
        self._features_used, self._feature_start = np.unique(slot_feature[order], return_index=True)
        self._table = np.concatenate([t.reshape(-1) for t in tables]) if tables else np.empty(0)

    @classmethod
    def of(cls, booster: Any, *, budget: int = DEFAULT_BUDGET, probes: int = 8) -> PathTables | None:
        """Tables for a ``lightgbm.Booster`` (one tree per iteration, numerical splits, at most ``budget``
        tabulated numbers) that reproduce its ``pred_contrib`` on ``probes`` rows; ``None`` otherwise."""
        try:
            if booster.params.get("linear_tree") or int(booster.num_model_per_iteration()) != 1:
                return None
            leaves: list[_Leaf] = []
            splits = _Splits()
            bias = 0.0
            size = 0
            iterations = int(booster.current_iteration())
            for start in range(0, iterations, _DUMP_CHUNK):  # a large model is declined after its first trees
                for tree in booster.dump_model(start_iteration=start, num_iteration=_DUMP_CHUNK)["tree_info"]:
                    root = tree["tree_structure"]
                    if "leaf_value" in root:  # a single-leaf tree only shifts the expected value
                        bias += float(root["leaf_value"])
                        continue
                    first = len(leaves)
                    _leaves(root, splits, [], leaves)
                    bias += _expected(root) / float(root["internal_count"])
                    size += sum((1 << len(leaf.features)) * len(leaf.features) for leaf in leaves[first:])
                if size > budget:
                    return None
            tables = cls(leaves, splits, bias, int(booster.num_feature()))
        except (ValueError, KeyError, TypeError):
            return None
        return tables if tables._agrees(booster, probes) else None

    def __call__(self, row: np.ndarray) -> np.ndarray | None:
        """Contributions of ``row`` (float64 features, the model's order) and, last, the expected value."""
        x = np.asarray(row, dtype="float64")
        if x.shape != (self.n_features,):
            return None
        value = x[self._feature]
        left = value <= self._threshold
        if np.isnan(x).any():
            gap = np.isnan(value)
            left[gap] = self._nan_left[gap]
        if len(self._zero_left):  # within kZeroThreshold of zero (or a gap, read as 0.0): the default direction
            zero = ~(np.abs(value[self._zero_missing]) > _ZERO)
            left[self._zero_missing] = np.where(zero, self._zero_left, left[self._zero_missing])
        missed = np.bitwise_or.reduce(self._path_bit * (left[self._path] != self._path_left), axis=0)
        start = self._met_base - missed * self._depth
        out = np.zeros(self.n_features + 1)
        if len(self._features_used):
            out[self._features_used] = np.add.reduceat(
                self._table[start[self._slot_leaf] + self._slot_rank], self._feature_start
            )
        out[self.n_features] = self.bias
        return out

    def _agrees(self, booster: Any, probes: int) -> bool:
        """Whether these tables give LightGBM's own contributions on rows near the model's split thresholds,
        with gaps and zeros among them."""
        rng = np.random.default_rng(0)
        rows = np.zeros((probes, self.n_features))
        for j in range(self.n_features):
            cuts = self._cuts[j]
            if len(cuts):
                rows[:, j] = rng.choice(cuts, probes) + rng.choice([-1e-6, 1e-6], probes)
        rows[rng.random(rows.shape) < 0.1] = np.nan
        rows[rng.random(rows.shape) < 0.1] = 0.0
        expected = booster.predict(rows, pred_contrib=True, num_threads=1)
        ours = np.array([self(r) for r in rows])
        scale = max(float(np.abs(expected).max()), 1.0)
        return bool(np.allclose(ours, expected, rtol=1e-9, atol=1e-10 * scale))
