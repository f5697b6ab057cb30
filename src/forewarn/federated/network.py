"""The network every site trains: a ReLU perceptron on standardised window statistics (torch, CPU).

Its parameters are plain named arrays (``layer<i>.weight`` in torch's ``(out, in)`` layout, ``layer<i>.bias``)
plus the standardiser (``scaler.mean``, ``scaler.scale``), so that a Flower ``ArrayRecord`` carries them and
:func:`as_estimator` turns them into the registry's ``mlp-failure`` or ``mlp-rul`` (same layer layout: ReLU between
layers, ``h @ W + b``): the filed model is served, streamed and backtested like any model ``forewarn train`` makes.

Kinds of output: ``binary`` (one logit, class-weighted binary cross-entropy), ``multiclass`` (softmax, class-weighted
cross-entropy) and ``regression`` (the target divided by ``target_scale``, clipped at 1, mean squared error).
One round of local training (:func:`train_local`) starts from the arrays it is given and runs ``epochs`` passes of
Adam over seeded mini-batches; ``mu > 0`` adds FedProx's proximal term ``mu / 2 * ||w - w_start||^2``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 3)); y = (X[:, 0] + X[:, 1] > 0).astype(float)
>>> spec = NetSpec(inputs=3, hidden=(8,), kind="binary", learning_rate=1e-2)
>>> params = initial(spec, Moments.of(X).scaler(), seed=0)
>>> params, _ = train_local(params, spec, X, y, epochs=30, seed=0)
>>> bool(((predict(params, spec, X) > 0.5) == y).mean() > 0.9)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, SchemaError

Params = dict[str, np.ndarray]
KINDS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class NetSpec:
    """Layer sizes and training settings shared by every site (the server sends nothing else)."""

    inputs: int
    hidden: tuple[int, ...] = (64, 32)
    kind: str = "binary"
    classes: int = 1
    target_scale: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 128
    weight_decay: float = 1e-4
    class_weight: str | None = "sqrt"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind={self.kind!r} is not one of {', '.join(KINDS)}")
        if self.inputs < 1 or any(h < 1 for h in self.hidden):
            raise ConfigError(f"layer sizes must be positive, got inputs={self.inputs} hidden={self.hidden}")
        if self.kind == "multiclass" and self.classes < 2:
            raise ConfigError("a multiclass network needs classes >= 2")
        if self.class_weight not in (None, "sqrt", "balanced"):
            raise ConfigError(f"class_weight={self.class_weight!r} is not one of None, 'sqrt', 'balanced'")

    @property
    def outputs(self) -> int:
        return self.classes if self.kind == "multiclass" else 1

    @property
    def sizes(self) -> list[int]:
        return [self.inputs, *self.hidden, self.outputs]


@dataclass(frozen=True)
class Moments:
    """Per-feature count, sum and sum of squares of the finite values: what a site shares for the standardiser.

    >>> a = Moments.of(np.array([[1.0], [3.0]])); b = Moments.of(np.array([[5.0], [np.nan]]))
    >>> mean, scale = (a + b).scaler()
    >>> mean.tolist(), [round(float(s), 4) for s in scale]
    ([3.0], [1.633])
    """

    count: np.ndarray
    total: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> Moments:
        values = np.asarray(X, dtype="float64")
        finite = np.isfinite(values)
        zeroed = np.where(finite, values, 0.0)
        return cls(finite.sum(axis=0).astype("float64"), zeroed.sum(axis=0), (zeroed**2).sum(axis=0))

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.count + other.count, self.total + other.total, self.squares + other.squares)

    def scaler(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread (1 where a feature is constant or never seen)."""
        n = np.maximum(self.count, 1.0)
        mean = self.total / n
        var = np.maximum(self.squares / n - mean**2, 0.0)
        spread = np.sqrt(var)
        return mean, np.where(spread > 1e-12, spread, 1.0)


def _torch() -> Any:
    from forewarn._optional import require

    require("torch", extra="deep", by="forewarn federate")
    import torch

    return torch


def initial(spec: NetSpec, scaler: tuple[np.ndarray, np.ndarray], seed: int) -> Params:
    """Seeded starting parameters (Xavier-normal weights, zero biases) with the shared standardiser."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    sizes = spec.sizes
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        std = np.sqrt(2.0 / (n_in + n_out))
        params[f"layer{i}.weight"] = rng.normal(0.0, std, size=(n_out, n_in)).astype("float32")
        params[f"layer{i}.bias"] = np.zeros(n_out, dtype="float32")
    mean, scale = scaler
    if len(mean) != spec.inputs:
        raise SchemaError(f"the standardiser has {len(mean)} features, the network {spec.inputs}")
    params["scaler.mean"] = np.asarray(mean, dtype="float64")
    params["scaler.scale"] = np.asarray(scale, dtype="float64")
    return params


def standardise(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """``(X - mean) / scale`` with missing values at the mean (0), as float32."""
    z = (np.asarray(X, dtype="float64") - params["scaler.mean"]) / params["scaler.scale"]
    return np.where(np.isfinite(z), z, 0.0).astype("float32")


def _layers(params: Mapping[str, np.ndarray]) -> int:
    return sum(1 for k in params if k.startswith("layer") and k.endswith(".weight"))


def _forward(torch: Any, weights: list[Any], z: Any) -> Any:
    h = z
    for i in range(0, len(weights), 2):
        h = h @ weights[i].T + weights[i + 1]
        if i < len(weights) - 2:
            h = torch.relu(h)
    return h


def _class_weights(spec: NetSpec, y: np.ndarray) -> np.ndarray | None:
    """Weight per class (rare failures count more): ``balanced`` n / (k * n_c), ``sqrt`` its square root."""
    if spec.class_weight is None or spec.kind == "regression":
        return None
    k = 2 if spec.kind == "binary" else spec.classes
    counts = np.bincount(y.astype("int64"), minlength=k).astype("float64")
    weights = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1.0)), 0.0)
    return np.sqrt(weights) if spec.class_weight == "sqrt" else weights


def check_rows(X: np.ndarray, y: np.ndarray) -> None:
    """Refuse a site's training rows when ``X`` and ``y`` differ in length or there are none."""
    if len(X) != len(y):
        raise SchemaError(f"X has {len(X)} rows but y has {len(y)}", column="y")
    if len(X) == 0:
        raise SchemaError("a site has no training rows")


def epochs_for(rows: int, batch_size: int, epochs: int, min_steps: int = 0) -> int:
    """The passes one site makes over its ``rows`` rows in a round: ``epochs``, or more where its rows fill so few
    mini-batches of ``batch_size`` that ``epochs`` passes would take fewer than ``min_steps`` optimiser steps.

    A fixed number of epochs is a number of *steps* that grows with a site's rows: a site of 60 rows at 64 a
    batch takes one step per epoch, so ten rounds of one epoch move its model ten steps while a large site takes
    hundreds. The floor gives every site at least ``min_steps`` steps a round (0: off, ``epochs`` passes).

    >>> epochs_for(600, 64, 1, 20), epochs_for(60, 64, 1, 20), epochs_for(6000, 256, 1, 20), epochs_for(60, 64, 2)
    (2, 20, 1, 2)
    """
    batches = max(1, -(-int(rows) // max(1, int(batch_size))))
    return max(int(epochs), -(-int(min_steps) // batches))


def adam_epochs(
    torch: Any,
    optimiser: Any,
    rows: int,
    *,
    batch_size: int,
    epochs: int,
    rng: np.random.Generator,
    batch_loss: Callable[[Any], Any],
    pairs: list[tuple[Any, Any]],
    mu: float,
) -> float:
    """``epochs`` passes of ``optimiser`` over seeded mini-batches of ``rows`` rows (a permutation from ``rng`` each
    pass); returns the last pass's mean loss. ``batch_loss(index)`` is one batch's loss (``index`` a tensor of row
    numbers); ``mu > 0`` adds FedProx's proximal term ``mu / 2 * sum ||w - w_start||^2`` over ``pairs`` of
    (tensor, its value at the start). Every federated network's local round runs through this one loop.

    >>> import numpy as np, torch
    >>> w = torch.zeros(1, requires_grad=True)
    >>> target = torch.ones(4)
    >>> optimiser = torch.optim.SGD([w], lr=0.5)
    >>> loss = adam_epochs(torch, optimiser, 4, batch_size=4, epochs=1, rng=np.random.default_rng(0),
    ...                    batch_loss=lambda i: ((w - target[i]) ** 2).mean(), pairs=[], mu=0.0)
    >>> loss, round(w.detach().item(), 6)    # the one batch's loss at w = 0, then one step: w = 0 - 0.5 * 2 * (0 - 1)
    (1.0, 1.0)
    """
    last = float("nan")
    for _ in range(int(epochs)):
        order = rng.permutation(rows)
        total = 0.0
        for begin in range(0, rows, batch_size):
            batch = torch.from_numpy(order[begin : begin + batch_size])
            optimiser.zero_grad()
            loss = batch_loss(batch)
            if mu > 0:
                loss = loss + 0.5 * mu * sum(((w - s) ** 2).sum() for w, s in pairs)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        last = total / rows
    return last


def train_local(
    params: Mapping[str, np.ndarray],
    spec: NetSpec,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    mu: float = 0.0,
    trainable: tuple[str, ...] | None = None,
) -> tuple[Params, float]:
    """``epochs`` passes of Adam from ``params`` over ``(X, y)``; returns the new parameters and the last epoch's
    mean loss. ``trainable`` names the layers that move (all by default; local head fine-tuning passes the last)."""
    torch = _torch()
    check_rows(X, y)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        z = torch.from_numpy(standardise(params, X))
        n_layers = _layers(params)
        names = [f"layer{i}.{part}" for i in range(n_layers) for part in ("weight", "bias")]
        start = [torch.tensor(np.asarray(params[n], dtype="float32")) for n in names]
        weights = [
            w.clone().requires_grad_(trainable is None or n.split(".")[0] in trainable)
            for n, w in zip(names, start, strict=True)
        ]
        moving = [w for w in weights if w.requires_grad]
        optimiser = torch.optim.Adam(moving, lr=spec.learning_rate, weight_decay=spec.weight_decay)
        target, loss_fn = _target_and_loss(torch, spec, np.asarray(y))
        last = adam_epochs(
            torch,
            optimiser,
            len(z),
            batch_size=spec.batch_size,
            epochs=epochs,
            rng=rng,
            batch_loss=lambda batch: loss_fn(_forward(torch, weights, z[batch]), target[batch]),
            pairs=list(zip(weights, start, strict=True)),
            mu=mu,
        )
    finally:
        torch.set_num_threads(previous)
    result: Params = {n: w.detach().numpy().copy() for n, w in zip(names, weights, strict=True)}
    result["scaler.mean"] = np.asarray(params["scaler.mean"], dtype="float64")
    result["scaler.scale"] = np.asarray(params["scaler.scale"], dtype="float64")
    return result, last


def _target_and_loss(torch: Any, spec: NetSpec, y: np.ndarray) -> tuple[Any, Any]:
    nn = torch.nn
    weights = _class_weights(spec, y)
    if spec.kind == "regression":
        scaled = np.minimum(np.asarray(y, dtype="float64"), spec.target_scale) / spec.target_scale
        mse = nn.MSELoss()
        return torch.from_numpy(scaled.astype("float32")), lambda out, t: mse(out[:, 0], t)
    if spec.kind == "binary":
        pos_weight = None if weights is None else torch.tensor(float(weights[1] / max(weights[0], 1e-12)))
        bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        return torch.from_numpy(y.astype("float32")), lambda out, t: bce(out[:, 0], t)
    ce = nn.CrossEntropyLoss(weight=None if weights is None else torch.from_numpy(weights.astype("float32")))
    return torch.from_numpy(y.astype("int64")), ce


def raw_output(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """The last layer's output for ``X`` (numpy, float64: what ``mlp-failure``/``mlp-rul`` compute)."""
    h = standardise(params, X).astype("float64")
    n_layers = _layers(params)
    for i in range(n_layers):
        h = h @ np.asarray(params[f"layer{i}.weight"], dtype="float64").T + params[f"layer{i}.bias"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h


def predict(params: Mapping[str, np.ndarray], spec: NetSpec, X: np.ndarray) -> np.ndarray:
    """Failure probability (binary), class probabilities (multiclass) or the target (regression)."""
    out = raw_output(params, X)
    if spec.kind == "binary":
        return 1.0 / (1.0 + np.exp(-np.clip(out[:, 0], -60.0, 60.0)))  # no overflow for a wild logit
    if spec.kind == "multiclass":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    return np.maximum(out[:, 0], 0.0) * spec.target_scale


def average(updates: list[tuple[Mapping[str, np.ndarray], float]]) -> Params:
    """Sample-weighted mean of parameter sets (FedAvg), for the local and pooled arms' bookkeeping and tests.

    >>> average([({"w": np.array([0.0])}, 1.0), ({"w": np.array([4.0])}, 3.0)])["w"].tolist()
    [3.0]
    """
    total = float(sum(w for _, w in updates))
    if total <= 0:
        raise ConfigError("FedAvg needs at least one update with samples")
    keys = list(updates[0][0])
    return {k: np.asarray(sum(np.asarray(p[k], dtype="float64") * (w / total) for p, w in updates)) for k in keys}


def as_estimator(params: Mapping[str, np.ndarray], spec: NetSpec, feature_names: list[str], seed: int = 0) -> Any:
    """The registry's ``mlp-failure`` (binary) or ``mlp-rul`` (regression) holding these parameters."""
    from forewarn.base.registry import create
    from forewarn.models.sklearn_state import mlp_layers

    if spec.kind == "multiclass":
        raise ConfigError("only binary (failure) and regression (RUL) networks become registry models")
    if len(feature_names) != spec.inputs:
        raise SchemaError(f"{len(feature_names)} feature names for a network of {spec.inputs} inputs")
    n_layers = _layers(params)
    coefs = [np.asarray(params[f"layer{i}.weight"], dtype="float64").T for i in range(n_layers)]
    intercepts = [np.asarray(params[f"layer{i}.bias"], dtype="float64") for i in range(n_layers)]
    flat, shapes = mlp_layers(coefs, intercepts)
    mean = np.asarray(params["scaler.mean"], dtype="float64")
    state: dict[str, np.ndarray | str] = {
        "feature_names_in_": np.asarray(feature_names, dtype=str),
        "median_": mean,  # missing values read as the federated mean (no site shares a median)
        "mean_": mean,
        "scale_": np.asarray(params["scaler.scale"], dtype="float64"),
        "weights_": flat,
        "layer_shapes_": shapes,
    }
    hidden = tuple(int(h) for h in spec.hidden)
    if spec.kind == "binary":
        model = create("mlp-failure", hidden_layer_sizes=hidden, calibration=None, seed=seed)
        state["target_scale_"] = np.asarray([1.0])
        state["calibration_a_"] = np.empty(0)
        state["calibration_b_"] = np.empty(0)
    else:
        model = create("mlp-rul", hidden_layer_sizes=hidden, max_rul=float(spec.target_scale), seed=seed)
        state["target_scale_"] = np.asarray([float(spec.target_scale)])
    return model.set_state(state)
