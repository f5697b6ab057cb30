"""Federated gradient boosting by histogram aggregation: the sites grow every tree together, level by level.

Why this scheme beside bagging (:mod:`~forewarn.federated.trees`): a tree grown on the sum of the sites'
gradient histograms is the tree one would grow on the pooled rows with the same bin edges, so the federated model
*is* the pooled model (up to the order of floating-point additions): no split that needs two sites' rows together
is lost, which bagging loses. Cyclic boosting (sites adding trees in turn) keeps each tree a one-site tree and
its result depends on the order of the sites; it was not built.

The protocol (every message goes through the same Flower ``ClientApp``, :func:`site_reply`):

1. ``hist-sketch``: each site sends, per feature, the quantiles of its training values at ``1/bins, 2/bins, ...``
   and its count of finite values, plus its row count and its target sum (regression) or positives (binary).
   The server's bin edges are the count-weighted mean of the sites' quantiles (:func:`merge_edges`); the starting
   score is the pooled mean target or log-odds of the pooled positive rate.
2. ``hist-setup``: the server sends the edges and the starting score; each site bins its rows (bin 0 holds a
   missing value) and keeps the bins and its running scores in its Flower ``Context.state``.
3. ``hist-level`` (``trees x depth`` times): the server sends the tree grown so far (and, at a tree's first
   level, the previous finished tree, which the site adds to its scores); each site answers with the sums of its
   gradients, hessians and row counts per (node of the level, feature, bin) (:meth:`SiteBooster.histograms`).
   The server adds the sites' histograms in site order and picks each node's split (feature, bin, which side a
   missing value goes) by the usual second-order gain (:func:`split_level`).

What a site reveals: per-feature quantiles of its values (bins - 1 numbers per feature), its row count and
target sum or positive count, and per tree level the gradient/hessian sums and row counts of its rows in every
(node, feature, bin) cell: aggregates, never a row, but finer than the network's parameters (a cell that holds
one row gives that row's gradient away; secure aggregation of the histograms would hide a site's own sums, and
was not built).

The same tree growth runs on rows in one place (:func:`fit_central`: the local and pooled arms), so the three
arms differ only in which rows they see.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(600, 3)); y = np.where(X[:, 0] > 0.3, 40.0, 10.0) + rng.normal(0, 1, 600)
>>> model = fit_central(X, y, "regression", HistSettings(trees=30, depth=2, learning_rate=0.3))
>>> round(float(y.std()), 1), round(float(np.sqrt(np.mean((model.predict(X) - y) ** 2))), 1)  # spread, RMSE
(14.4, 2.1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError

STAGES = ("hist-sketch", "hist-setup", "hist-level")
KINDS = ("binary", "regression")


@dataclass(frozen=True)
class HistSettings:
    """The boosting settings every site is told (fixed before any run; the bench uses the defaults)."""

    trees: int = 100
    depth: int = 4
    learning_rate: float = 0.1
    l2: float = 1.0
    #: fewest training rows on either side of a split
    min_rows: int = 20
    min_hessian: float = 1e-3
    #: value bins per feature (a missing value has a bin of its own)
    bins: int = 32

    def __post_init__(self) -> None:
        if self.trees < 1 or not 1 <= self.depth <= 10:
            raise ConfigError(f"trees={self.trees} must be >= 1 and depth={self.depth} within 1..10")
        if not 2 <= self.bins <= 255:
            raise ConfigError(f"bins={self.bins} must be within 2..255 (a bin index is one byte)")
        if self.learning_rate <= 0 or self.l2 < 0 or self.min_rows < 1:
            raise ConfigError("learning_rate must be > 0, l2 >= 0 and min_rows >= 1")


# -- bins --------------------------------------------------------------------------------------------------------
def sketch(X: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """A site's per-feature quantiles at ``k / bins`` (``k = 1 .. bins - 1``; NaN for a feature it never saw) and
    its count of finite values per feature.

    >>> q, n = sketch(np.array([[1.0], [2.0], [3.0], [np.nan]]), bins=2)
    >>> q.tolist(), n.tolist()
    ([[2.0]], [3.0])
    """
    values = np.asarray(X, dtype="float64")
    finite = np.isfinite(values)
    counts = finite.sum(axis=0).astype("float64")
    levels = np.arange(1, bins) / bins
    out = np.full((values.shape[1], bins - 1), np.nan)
    for f in np.flatnonzero(counts > 0):
        out[f] = np.quantile(values[finite[:, f], f], levels)
    return out, counts


def _cdf(quantiles: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A site's distribution function at ``x``, piecewise linear through its sketch (``F(q_k) = k / bins``, the
    largest ``k`` for a repeated value), 0 below its first quantile's ramp and 1 above its last."""
    bins = len(quantiles) + 1
    values = np.unique(quantiles)
    levels = np.searchsorted(quantiles, values, side="right") / bins
    return np.interp(x, values, levels, left=0.0, right=1.0)


def merge_edges(sketches: Sequence[np.ndarray], counts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Shared bin edges per feature: the quantiles at ``k / bins`` of the sites' mixture, whose distribution
    function is the count-weighted mean of the sites' (each piecewise linear through its sketch, :func:`_cdf`);
    distinct values only. Sites that read a feature on different scales (calibration) get edges over both ranges,
    where averaging their quantiles would put the edges between them.

    >>> merge_edges([np.array([[1.0, 2.0, 3.0]])], [np.array([10.0])])[0].tolist()  # one site: its own quantiles
    [1.0, 2.0, 3.0]
    >>> a = np.array([[0.0, 1.0, 2.0]]); b = np.array([[10.0, 11.0, 12.0]])
    >>> merge_edges([a, b], [np.array([1.0]), np.array([1.0])])[0].tolist()  # half the mass on each site
    [1.0, 6.0, 11.0]

    (the mixture's quartiles: a's median, the gap between the sites, b's median; averaging the quantiles would
    give 5, 6, 7, where neither site has a value.)
    """
    if not sketches or len(sketches) != len(counts):
        raise ConfigError(f"{len(sketches)} sketches with {len(counts)} counts")
    stacked = [np.asarray(q, dtype="float64") for q in sketches]
    weights = [np.asarray(c, dtype="float64") for c in counts]
    width = stacked[0].shape[1]
    levels = np.arange(1, width + 1) / (width + 1)
    edges = []
    for f in range(stacked[0].shape[0]):
        parts = [(q[f], w[f]) for q, w in zip(stacked, weights, strict=True) if w[f] > 0 and np.isfinite(q[f]).all()]
        if not parts:
            edges.append(np.empty(0))
            continue
        if len(parts) == 1:
            edges.append(np.unique(parts[0][0]))
            continue
        points = np.unique(np.concatenate([q for q, _ in parts]))
        total = float(sum(w for _, w in parts))
        mixture = np.maximum.accumulate(sum((w / total) * _cdf(q, points) for q, w in parts))
        kept, first = np.unique(mixture, return_index=True)  # a flat stretch keeps its first point
        edges.append(np.unique(np.interp(levels, kept, points[first])))
    return edges


def bin_rows(X: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    """Bin index per value (uint8): 0 for a missing value, else 1 + the number of edges below the value, so that
    ``bin <= t`` means ``value <= edges[t - 1]``.

    >>> bin_rows(np.array([[0.5], [1.0], [1.5], [np.nan]]), [np.array([1.0])]).ravel().tolist()
    [1, 1, 2, 0]
    """
    values = np.asarray(X, dtype="float64")
    if values.ndim != 2 or values.shape[1] != len(edges):
        raise SchemaError(f"rows of {values.shape[1:]} features for {len(edges)} features' bin edges")
    out = np.zeros(values.shape, dtype=np.uint8)
    for f, e in enumerate(edges):
        column = values[:, f]
        finite = np.isfinite(column)
        out[finite, f] = 1 + np.searchsorted(e, column[finite], side="left")
    return out


# -- trees -------------------------------------------------------------------------------------------------------
@dataclass
class Tree:
    """A tree in heap layout (node ``i`` has children ``2i + 1`` and ``2i + 2``): where it splits and each node's
    value (already times the learning rate); a row stops at the first node that does not split."""

    split: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls, depth: int) -> Tree:
        n = 2 ** (depth + 1) - 1
        return cls(
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype="float64"),
        )

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + k: np.asarray(v) for k, v in asdict(self).items()}

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> Tree:
        return cls(
            **{k: np.asarray(arrays[prefix + k]) for k in ("split", "feature", "threshold", "nan_left", "value")}
        )

    def nodes(self, bins: np.ndarray, levels: int) -> np.ndarray:
        """Each row's node after descending at most ``levels`` levels."""
        node = np.zeros(len(bins), dtype=np.int64)
        rows = np.arange(len(bins))
        for _ in range(levels):
            going = self.split[node]
            b = bins[rows, self.feature[node]]
            left = np.where(b == 0, self.nan_left[node], b <= self.threshold[node])
            node = np.where(going, 2 * node + np.where(left, 1, 2), node)
        return node

    def leaf_values(self, bins: np.ndarray) -> np.ndarray:
        depth = int(np.log2(len(self.split) + 1)) - 1
        return self.value[self.nodes(bins, depth)]


def gradients(kind: str, y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of the loss at the current scores (squared error / 2, or log loss)."""
    if kind == "regression":
        return score - y, np.ones_like(score)
    p = 1.0 / (1.0 + np.exp(-np.clip(score, -60.0, 60.0)))
    return p - y, p * (1.0 - p)


def split_level(tree: Tree, level: int, hist: np.ndarray, settings: HistSettings, edge_counts: np.ndarray) -> None:
    """Decide every node of ``level`` from the summed histograms ``hist`` (nodes, features, bins + 1, 3 channels:
    gradient, hessian, rows): its value, and its split where one gains and leaves ``min_rows`` on each side; the
    children's values come from the split's sums (so the last level needs no histograms of its own)."""
    first = 2**level - 1
    lam, lr = settings.l2, settings.learning_rate
    G_all, H_all, C_all = (hist[:, 0, :, c].sum(axis=1) for c in range(3))
    for j in range(hist.shape[0]):
        node = first + j
        if level > 0 and not tree.split[(node - 1) // 2]:
            continue  # its parent is a leaf: no row reaches it
        if level == 0:
            tree.value[node] = -lr * G_all[j] / (H_all[j] + lam)
        if C_all[j] < 2 * settings.min_rows:
            continue
        g, h, c = hist[j, :, :, 0], hist[j, :, :, 1], hist[j, :, :, 2]  # (features, bins + 1)
        G, H, C = G_all[j], H_all[j], C_all[j]
        cum = [np.cumsum(a[:, 1:], axis=1) for a in (g, h, c)]  # values in bins 1..t (t = 1 .. bins)
        best = (1e-12, -1, -1, False, 0.0, 0.0)
        parent = G * G / (H + lam)
        for nan_left in (True, False):
            gl, hl, cl = (cum[i] + (a[:, :1] if nan_left else 0.0) for i, a in enumerate((g, h, c)))
            gr, hr, cr = G - gl, H - hl, C - cl
            gain = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent
            ok = (cl >= settings.min_rows) & (cr >= settings.min_rows)
            ok &= (hl >= settings.min_hessian) & (hr >= settings.min_hessian)
            ok &= np.arange(1, gl.shape[1] + 1)[None, :] <= edge_counts[:, None]  # t names a real edge
            gain = np.where(ok, gain, -np.inf)
            at = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[at] > best[0]:
                best = (float(gain[at]), int(at[0]), int(at[1]) + 1, nan_left, float(gl[at]), float(hl[at]))
        if best[1] < 0:
            continue
        _, feature, threshold, nan_left, gl_best, hl_best = best
        tree.split[node], tree.feature[node], tree.threshold[node] = True, feature, threshold
        tree.nan_left[node] = nan_left
        tree.value[2 * node + 1] = -lr * gl_best / (hl_best + lam)
        tree.value[2 * node + 2] = -lr * (G - gl_best) / (H - hl_best + lam)


@dataclass
class SiteBooster:
    """One site's (or the pooled) rows as the boosting sees them: bins, targets, running scores."""

    bins: np.ndarray
    y: np.ndarray
    score: np.ndarray
    kind: str
    applied: int = 0

    def add(self, tree: Tree) -> None:
        self.score = self.score + tree.leaf_values(self.bins)
        self.applied += 1

    def histograms(self, tree: Tree, level: int, bins: int) -> np.ndarray:
        """Gradient, hessian and row sums per (node of ``level``, feature, bin); rows that stopped earlier are out."""
        g, h = gradients(self.kind, self.y, self.score)
        node = tree.nodes(self.bins, level) - (2**level - 1)
        width = 2**level
        live = (node >= 0) & (node < width)
        n_features = self.bins.shape[1]
        cells = width * (bins + 1)
        base = node[live] * (bins + 1)
        g, h, kept = g[live], h[live], self.bins[live]
        out = np.empty((width, n_features, bins + 1, 3))
        for f in range(n_features):  # one feature at a time: small temporaries, three times faster than all at once
            index = base + kept[:, f]
            out[:, f, :, 0] = np.bincount(index, weights=g, minlength=cells).reshape(width, bins + 1)
            out[:, f, :, 1] = np.bincount(index, weights=h, minlength=cells).reshape(width, bins + 1)
            if self.kind == "regression":  # the hessian of squared error is 1: it counts the rows
                out[:, f, :, 2] = out[:, f, :, 1]
            else:
                out[:, f, :, 2] = np.bincount(index, minlength=cells).reshape(width, bins + 1)
        return out


def start_score(kind: str, rows: float, target_sum: float) -> float:
    """The first score: the mean target (regression) or the log-odds of the positive rate (binary)."""
    if rows <= 0:
        raise DataNotFoundError("no training rows to boost on")
    mean = target_sum / rows
    if kind == "regression":
        return float(mean)
    p = min(max(mean, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


@dataclass
class HistBooster:
    """The boosted model: bin edges, the starting score and the trees (the federated and the central one alike)."""

    kind: str
    edges: list[np.ndarray]
    base: float
    trees: list[Tree] = field(default_factory=list)

    def score(self, X: np.ndarray) -> np.ndarray:
        bins = bin_rows(X, self.edges)
        out = np.full(len(bins), self.base)
        for tree in self.trees:
            out += tree.leaf_values(bins)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """RUL (regression, at least 0) or P(failure) (binary)."""
        s = self.score(X)
        if self.kind == "binary":
            return 1.0 / (1.0 + np.exp(-np.clip(s, -60.0, 60.0)))
        return np.maximum(s, 0.0)


def _check(kind: str, X: np.ndarray, y: np.ndarray) -> None:
    if kind not in KINDS:
        raise ConfigError(f"histogram boosting is for {' or '.join(KINDS)} targets, not kind={kind!r}")
    if len(X) != len(y) or len(X) == 0:
        raise DataNotFoundError(f"{len(X)} rows and {len(y)} targets to boost on")


def grow(
    settings: HistSettings,
    model: HistBooster,
    histograms: Callable[[Tree, int, Tree | None], np.ndarray],
) -> HistBooster:
    """Grow ``settings.trees`` trees onto ``model``; ``histograms(tree, level, finished)`` returns the summed
    histograms of ``level`` (``finished``: the tree completed just before, for the sites to add, or None)."""
    edge_counts = np.array([len(e) for e in model.edges])
    finished: Tree | None = None
    for _ in range(settings.trees):
        tree = Tree.empty(settings.depth)
        for level in range(settings.depth):
            hist = histograms(tree, level, finished if level == 0 else None)
            split_level(tree, level, hist, settings, edge_counts)
            if not tree.split[2**level - 1 : 2 ** (level + 1) - 1].any():
                break  # no node of this level splits: no row goes deeper
        model.trees.append(tree)
        finished = tree
    return model


def fit_central(
    X: np.ndarray, y: np.ndarray, kind: str, settings: HistSettings | None = None, start: HistBooster | None = None
) -> HistBooster:
    """The same tree growth on rows in one place (the local and pooled arms): edges from these rows' own
    quantiles; with ``start``, keep boosting that model on these rows (its edges, more trees: a site's
    personalisation of the federated model)."""
    settings = settings or HistSettings()
    y = np.asarray(y, dtype="float64")
    _check(kind, X, y)
    if start is None:
        q, n = sketch(X, settings.bins)
        model = HistBooster(kind, merge_edges([q], [n]), start_score(kind, len(y), float(y.sum())))
    else:
        model = HistBooster(kind, start.edges, start.base, list(start.trees))
    rows = SiteBooster(bin_rows(X, model.edges), y, model.score(X), kind)

    def histograms(tree: Tree, level: int, finished: Tree | None) -> np.ndarray:
        if finished is not None:
            rows.add(finished)
        return rows.histograms(tree, level, settings.bins)

    return grow(settings, model, histograms)


# -- a site's side of the protocol ------------------------------------------------------------------------------
def site_reply(data: dict[str, np.ndarray], config: Any, arrays: dict[str, np.ndarray], state: Any) -> dict[str, Any]:
    """What a site's ``ClientApp`` answers a ``hist-*`` query with (named arrays), keeping its bins and scores in
    ``state`` (its Flower ``Context.state``) between messages."""
    from flwr.app import Array, ArrayRecord

    stage = str(config["stage"])
    kind = str(config["kind"])
    X, y = data["X_train"], np.asarray(data["y_train"], dtype="float64")
    _check(kind, X, y)
    if stage == "hist-sketch":
        q, n = sketch(X, int(config["bins"]))
        return {"quantiles": q, "counts": n, "rows": np.array([len(y)], dtype="float64"), "target": np.array([y.sum()])}
    if stage == "hist-setup":
        lengths = arrays["edge_lengths"].astype(np.int64)
        edges = np.split(arrays["edges"], np.cumsum(lengths)[:-1])
        bins = bin_rows(X, edges)
        score = np.full(len(y), float(config["base"]))
        state["hist"] = ArrayRecord({"bins": Array(bins), "score": Array(score), "applied": Array(np.zeros(1))})
        return {"ready": np.array([len(y)], dtype="float64")}
    if stage != "hist-level":
        raise ConfigError(f"unknown boosting stage {stage!r}; expected one of {', '.join(STAGES)}")
    if "hist" not in state:
        raise ConfigError("a hist-level message came before hist-setup (the site's state holds no bins)")
    kept: Any = state["hist"]
    site = SiteBooster(kept["bins"].numpy(), y, kept["score"].numpy(), kind, int(kept["applied"].numpy()[0]))
    tree_index, level = int(config["tree"]), int(config["level"])
    if "finished.split" in arrays:
        if site.applied != tree_index - 1:
            raise ConfigError(f"site holds {site.applied} trees, the server sent tree {tree_index - 1} to add")
        site.add(Tree.of(arrays, "finished."))
        kept["score"], kept["applied"] = Array(site.score), Array(np.array([float(site.applied)]))
    if site.applied != tree_index:
        raise ConfigError(f"site holds {site.applied} trees while the server grows tree {tree_index}")
    return {"hist": site.histograms(Tree.of(arrays, "tree."), level, int(config["bins"]))}


__all__ = [
    "HistBooster",
    "HistSettings",
    "SiteBooster",
    "Tree",
    "bin_rows",
    "fit_central",
    "grow",
    "merge_edges",
    "site_reply",
    "sketch",
    "split_level",
]
