"""scikit-learn estimators kept as named arrays: the shared parts of the sklearn model zoo.

Forewarn never pickles, so a fitted scikit-learn estimator cannot be saved as itself. What it learned is
copied into plain arrays and predictions come from these arrays with small numpy code, *after fit as after
load* (one code path, so a reloaded model gives bit-identical outputs):

* :class:`TreeArrays` -- every tree of a forest or of a histogram gradient-boosting model, concatenated
  (node arrays with each tree's root offset), walked for all rows and all trees at once by
  :func:`TreeArrays.leaf_values`. Forests compare ``float32`` inputs against the thresholds, as scikit-learn
  does; histogram boosting compares ``float64`` inputs and sends NaN where the tree learned to.
* :func:`mlp_layers` / :func:`mlp_forward` -- a multi-layer perceptron's weights packed into one flat array
  plus their shapes, and the ReLU forward pass.
* :class:`Standardiser` -- training medians (for missing values), means and spreads.
* :func:`check_int`, :func:`check_float`, :func:`check_choice` -- hyper-parameter checks in
  scikit-learn's wording.

>>> from sklearn.ensemble import RandomForestRegressor
>>> X = np.random.default_rng(0).normal(size=(200, 3))
>>> forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, X[:, 0])
>>> trees = TreeArrays.from_forest(forest, "regression")
>>> bool(np.allclose(trees.leaf_values(X).mean(axis=1), forest.predict(X)))
True
>>> check_int("Model", "n_estimators", 0, low=1)
Traceback (most recent call last):
...
forewarn.exceptions.ParameterError: The 'n_estimators' parameter of Model must be an int in the range [1, inf). Got 0 instead.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.exceptions import ForewarnError, ParameterError

#: rows x trees handled per block by the tree walk (bounds the memory of the index arrays)
_BLOCK = 1 << 20


# -- hyper-parameter checks (scikit-learn's wording) ----------------------------------------------------------
def check_int(owner: str, name: str, value: Any, *, low: int, high: int | None = None, none_ok: bool = False) -> None:
    """``value`` must be an int in ``[low, high]`` (``None`` allowed when ``none_ok``)."""
    if value is None and none_ok:
        return
    ok = (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and low <= value
        and (high is None or value <= high)
    )
    if not ok:
        upper = "inf)" if high is None else f"{high}]"
        extra = " or None" if none_ok else ""
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be an int in the range [{low}, {upper}{extra}. "
            f"Got {value!r} instead.",
            param=name,
            estimator=owner,
        )


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    none_ok: bool = False,
) -> None:
    """``value`` must be a real number in the given interval (``None`` allowed when ``none_ok``)."""
    if value is None and none_ok:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high)
        )
    if not ok:
        left = "(" if low_open else "["
        right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        extra = " or None" if none_ok else ""
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be a float in the range {left}{low}, {right}"
            f"{extra}. Got {value!r} instead.",
            param=name,
            estimator=owner,
        )


def check_choice(owner: str, name: str, value: Any, options: Sequence[Any]) -> None:
    """``value`` must be one of ``options``."""
    if not any(value is option or (option is not None and value == option) for option in options):
        listed = ", ".join(repr(o) for o in options)
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be one of {{{listed}}}. Got {value!r} instead.",
            param=name,
            estimator=owner,
        )


def check_layers(owner: str, value: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes``: a non-empty sequence of ints >= 1 (a list after a JSON round trip is fine)."""
    sizes = (value,) if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(sizes, (tuple, list))
        or not sizes
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise ParameterError(
            f"The 'hidden_layer_sizes' parameter of {owner} must be a non-empty sequence of ints "
            f">= 1. Got {value!r} instead.",
            param="hidden_layer_sizes",
            estimator=owner,
        )
    return tuple(int(s) for s in sizes)


# -- inputs: missing values and standardisation ----------------------------------------------------------------
@dataclass
class Standardiser:
    """Training medians replace missing values; then ``(x - mean) / scale`` (``scale`` 1 for constant columns)."""

    median: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardiser:
        with warnings.catch_warnings():  # an all-missing column warns; it reads as 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(values, axis=0) if np.isnan(values).any() else np.median(values, axis=0)
        median = np.where(np.isfinite(median), median, 0.0)  # an all-missing column reads as 0
        filled = impute(values, median)
        spread = filled.std(axis=0)
        return cls(median, filled.mean(axis=0), np.where(spread > 1e-12, spread, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (impute(values, self.median) - self.mean) / self.scale


def impute(values: np.ndarray, median: np.ndarray) -> np.ndarray:
    """``values`` with NaN replaced by the column's training median (a copy only when something is missing)."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    return np.where(missing, median[None, :], values)


def logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Log-odds of probabilities clipped to ``[eps, 1 - eps]``: a margin for the calibration."""
    p = np.clip(p, eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


# -- trees ------------------------------------------------------------------------------------------------------
@dataclass
class TreeArrays:
    """All trees of an ensemble as concatenated node arrays.

    ``left``/``right`` are global node indices (-1 at leaves), ``roots`` the index of each tree's root;
    a row goes left when ``x[feature] <= threshold`` (NaN: when ``missing_left``). ``value`` is the leaf's
    output (class-1 probability for forest classifiers, the leaf value otherwise). ``float32`` says whether
    inputs are cast to float32 before the comparison (scikit-learn's forests do; histogram boosting does not).
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    missing_left: np.ndarray
    roots: np.ndarray
    float32: bool

    STATE = (
        "tree_left_",
        "tree_right_",
        "tree_feature_",
        "tree_threshold_",
        "tree_value_",
        "tree_missing_left_",
        "tree_roots_",
    )

    @classmethod
    def _join(cls, parts: list[tuple[np.ndarray, ...]], float32: bool) -> TreeArrays:
        offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
        parts = [(np.asarray(p[0], dtype="int64"), np.asarray(p[1], dtype="int64"), *p[2:]) for p in parts]
        left = np.concatenate([np.where(p[0] >= 0, p[0] + o, -1) for p, o in zip(parts, offsets, strict=True)])
        right = np.concatenate([np.where(p[1] >= 0, p[1] + o, -1) for p, o in zip(parts, offsets, strict=True)])
        feature = np.concatenate([np.maximum(p[2], 0) for p in parts])  # leaves: any valid column
        return cls(
            left.astype("int64"),
            right.astype("int64"),
            feature.astype("int64"),
            np.concatenate([p[3] for p in parts]).astype("float64"),
            np.concatenate([p[4] for p in parts]).astype("float64"),
            np.concatenate([p[5] for p in parts]).astype("bool"),
            offsets.astype("int64"),
            float32,
        )

    @classmethod
    def from_forest(cls, forest: Any, kind: str) -> TreeArrays:
        """From a fitted random forest or extra-trees model (``kind``: "classification" or "regression")."""
        parts = []
        for estimator in forest.estimators_:
            tree = estimator.tree_
            if kind == "classification":
                counts = tree.value[:, 0, :]
                value = counts[:, 1] / np.maximum(counts.sum(axis=1), 1e-300)
            else:
                value = tree.value[:, 0, 0]
            missing = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
            parts.append((tree.children_left, tree.children_right, tree.feature, tree.threshold, value, missing))
        return cls._join(parts, float32=True)

    @classmethod
    def from_hist_boosting(cls, model: Any) -> TreeArrays:
        """From a fitted binary or regression ``HistGradientBoosting*`` model (numerical features only).

        scikit-learn has no public accessor for these trees; the node records of its predictors have kept the
        same fields since 0.21. :func:`boosting_baseline` checks the copy against scikit-learn's own output.
        """
        parts = []
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():  # pragma: no cover - we never declare categorical features
                raise ForewarnError("categorical splits are not supported in tree arrays")
            leaf = nodes["is_leaf"].astype(bool)
            left, right = (np.where(leaf, -1, nodes[side].astype("int64")) for side in ("left", "right"))
            parts.append(
                (
                    left,
                    right,
                    nodes["feature_idx"].astype("int64"),
                    nodes["num_threshold"],
                    np.where(leaf, nodes["value"], 0.0),
                    nodes["missing_go_to_left"],
                )
            )
        return cls._join(parts, float32=False)

    def leaf_values(self, values: np.ndarray) -> np.ndarray:
        """Each row's leaf value in each tree, shape (rows, trees); all trees walked together, in row blocks."""
        X = np.ascontiguousarray(values, dtype="float32" if self.float32 else "float64")
        n_trees = len(self.roots)
        out = np.empty((len(X), n_trees))
        block = max(1, _BLOCK // max(n_trees, 1))
        for start in range(0, len(X), block):
            chunk = X[start : start + block]
            flat = chunk.ravel()
            width = chunk.shape[1]
            node = np.tile(self.roots, len(chunk))
            row_start = np.repeat(np.arange(len(chunk)) * width, n_trees)
            active = np.flatnonzero(self.left[node] >= 0)
            while active.size:
                at = node[active]
                x = flat[row_start[active] + self.feature[at]]
                go_left = np.where(np.isnan(x), self.missing_left[at], x <= self.threshold[at])
                nxt = np.where(go_left, self.left[at], self.right[at])
                node[active] = nxt
                active = active[self.left[nxt] >= 0]
            out[start : start + len(chunk)] = self.value[node].reshape(len(chunk), n_trees)
        return out

    def state(self) -> dict[str, np.ndarray]:
        arrays = (self.left, self.right, self.feature, self.threshold, self.value, self.missing_left, self.roots)
        return dict(zip(self.STATE, arrays, strict=True))

    @classmethod
    def from_state(cls, owner: Any, float32: bool) -> TreeArrays:
        arrays = [np.asarray(getattr(owner, name)) for name in cls.STATE]
        return cls(
            arrays[0].astype("int64"),
            arrays[1].astype("int64"),
            arrays[2].astype("int64"),
            arrays[3].astype("float64"),
            arrays[4].astype("float64"),
            arrays[5].astype(bool),
            arrays[6].astype("int64"),
            float32,
        )


def boosting_baseline(trees: TreeArrays, raw: np.ndarray, values: np.ndarray) -> float:
    """The constant that scikit-learn adds to the trees' sum (its baseline prediction), from its raw output.

    ``raw`` is scikit-learn's raw score of ``values`` (decision function or regression prediction). If the
    copied trees do not reproduce it up to that constant, the model's internals changed: a clear error.
    """
    gap = raw - trees.leaf_values(values).sum(axis=1)
    baseline = float(np.median(gap))
    if np.abs(gap - baseline).max() > 1e-6 * max(1.0, float(np.abs(raw).max())):
        raise ForewarnError(
            "copying scikit-learn's HistGradientBoosting trees did not reproduce its predictions; "
            "this scikit-learn version is not supported by the gradient-boosting models"
        )
    return baseline


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted row indices: all rows, or a seeded subsample of ``limit`` of them."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


# -- multi-layer perceptrons -------------------------------------------------------------------------------------
def mlp_layers(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A fitted MLP's weights as one flat float64 array and the (inputs, outputs) shape of each layer."""
    shapes = np.asarray([c.shape for c in coefs], dtype="int64")
    flat = np.concatenate([np.r_[c.ravel(), b.ravel()] for c, b in zip(coefs, intercepts, strict=True)])
    return flat.astype("float64"), shapes


def mlp_forward(z: np.ndarray, flat: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """The network's last-layer output (before any output function) for standardised inputs ``z``."""
    position = 0
    h = z
    for i, (n_in, n_out) in enumerate(np.asarray(shapes).tolist()):
        weight = flat[position : position + n_in * n_out].reshape(n_in, n_out)
        position += n_in * n_out
        bias = flat[position : position + n_out]
        position += n_out
        h = h @ weight + bias
        if i < len(shapes) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]
