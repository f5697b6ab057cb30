"""The window model every site can train instead of the perceptron: a 1-D CNN over the last N cycles (torch, CPU).

The network is the registry's ``cnn-rul`` (:mod:`forewarn.models.deep.rul_cnn`: convolutions along time, a
bottleneck, a dense head), used through its public API: the parameters are its ``state_dict`` as named arrays
(``net.<name>``, what ``CNNRUL.get_state`` gives), a site builds the module with ``CNNRUL.set_state`` and trains
its ``net_`` from the arrays it was sent, and :func:`as_estimator` files the global parameters as a ``cnn-rul``
that is served, streamed and backtested like any model ``forewarn train`` makes.

A row is one prediction point: the trailing window of ``channels`` channels as ``channels x length`` columns,
channel-major (``c0`` steps 0..length-1, then ``c1``...; what :func:`forewarn.features.window.sequence_frame`
writes), then ``static`` plain columns (the cycle). The standardiser is one mean and spread per channel (over all
its steps) and per static column (``scaler.mean``, ``scaler.scale``); in federation it comes from the sites'
summed moments (:func:`scaler_of`), or, with ``norm = "local"``, each site standardises with its own training
rows' figures and never shares them (the FedBN idea for a network without normalisation layers: what differs
between plants' calibrations stays local; :func:`local_scaler`).

One round of local training (:func:`train_local`) starts from the arrays it is given and runs ``epochs`` passes
of Adam over seeded mini-batches with dropout on; the learning rate follows a cosine over the federation's rounds
(``round`` of ``rounds``, from ``learning_rate`` to 1 % of it), as ``cnn-rul`` anneals over its epochs; ``mu > 0``
adds FedProx's proximal term. The target is the RUL clipped at ``target_scale`` and divided by it (MSE).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> wear = rng.uniform(0, 1, 400)
>>> X = np.column_stack([50 + 20 * wear + 0.5 * k + rng.normal(0, 1, 400) for k in range(6)])
>>> spec = WindowSpec(channels=1, length=6, static=0, filters=4, kernel=3, n_layers=1, hidden=16, dropout=0.0,
...                   learning_rate=1e-2, batch_size=64, target_scale=150.0)
>>> params = initial(spec, scaler_of(spec, Moments.of(X)), seed=0)
>>> params, _ = train_local(params, spec, X, 150 * (1 - wear), epochs=40, seed=0)
>>> young, old = predict(params, spec, X[np.argsort(wear)[[5, -5]]])
>>> bool(young > 100 and old < 50)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.federated.network import Moments, adam_epochs, check_rows

Params = dict[str, np.ndarray]
PREFIX = "net."
NORMS = ("shared", "local")
ARCHS = ("cnn", "gru")


@dataclass(frozen=True)
class WindowSpec:
    """The window network's shape and training settings (``cnn-rul``'s hyper-parameters; RUL only)."""

    channels: int
    length: int
    static: int = 0
    filters: int = 10
    kernel: int = 10
    n_layers: int = 4
    bottleneck: int = 1
    hidden: int = 100
    dropout: float = 0.5
    activation: str = "tanh"
    learning_rate: float = 1e-3
    batch_size: int = 512
    weight_decay: float = 1e-4
    target_scale: float = 125.0
    kind: str = "regression"
    #: ``cnn`` (``cnn-rul``'s convolutions) or ``gru`` (:mod:`~forewarn.federated.gru`: ``n_layers`` GRU layers of
    #: ``units`` units, the same head; not a registry model)
    arch: str = "cnn"
    units: int = 32

    def __post_init__(self) -> None:
        if self.kind != "regression":
            raise ConfigError(f"the window model predicts RUL (kind 'regression'), not {self.kind!r}")
        if self.arch not in ARCHS or self.units < 1:
            raise ConfigError(f"arch={self.arch!r} (one of {', '.join(ARCHS)}), units={self.units} (at least 1)")
        if min(self.channels, self.length, self.filters, self.kernel, self.n_layers, self.bottleneck) < 1:
            raise ConfigError(f"window sizes must be positive: {self}")
        if self.static < 0 or self.hidden < 1 or not 0 <= self.dropout < 1:
            raise ConfigError(f"static={self.static}, hidden={self.hidden}, dropout={self.dropout} out of range")

    @property
    def inputs(self) -> int:
        """Columns of a row: the window's ``channels x length`` then the static ones."""
        return self.channels * self.length + self.static

    def hyper(self) -> dict[str, Any]:
        """``cnn-rul``'s constructor arguments for this shape."""
        return {
            "filters": self.filters,
            "kernel": self.kernel,
            "n_layers": self.n_layers,
            "bottleneck": self.bottleneck,
            "hidden": self.hidden,
            "dropout": self.dropout,
            "activation": self.activation,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "weight_decay": self.weight_decay,
            "max_rul": float(self.target_scale),
        }

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The ``state_dict`` of ``cnn-rul``'s network: per convolution a (pad, conv, activation) triple, the
        3-wide bottleneck convolution, then the head (dropout, linear, activation, linear); the GRU's:
        :func:`forewarn.federated.gru.shapes`."""
        if self.arch == "gru":
            from forewarn.federated import gru

            return gru.shapes(self)
        out: dict[str, tuple[int, ...]] = {}
        width = self.channels
        for i in range(self.n_layers):
            out[f"convolutions.{3 * i + 1}.weight"] = (self.filters, width, self.kernel)
            out[f"convolutions.{3 * i + 1}.bias"] = (self.filters,)
            width = self.filters
        out[f"convolutions.{3 * self.n_layers}.weight"] = (self.bottleneck, width, 3)
        out[f"convolutions.{3 * self.n_layers}.bias"] = (self.bottleneck,)
        out["head.1.weight"] = (self.hidden, self.bottleneck * self.length + self.static)
        out["head.1.bias"] = (self.hidden,)
        out["head.3.weight"] = (1, self.hidden)
        out["head.3.bias"] = (1,)
        return out


def _torch() -> Any:
    from forewarn._optional import require

    require("torch", extra="deep", by="forewarn federate")
    import torch

    return torch


def scaler_of(spec: WindowSpec, moments: Moments) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (all its steps together) and per static column: mean and spread from per-column moments.

    >>> spec = WindowSpec(channels=1, length=2, static=1)
    >>> mean, scale = scaler_of(spec, Moments.of(np.array([[0.0, 2.0, 5.0], [4.0, 6.0, 5.0]])))
    >>> mean.tolist(), scale.tolist()
    ([3.0, 5.0], [2.23606797749979, 1.0])
    """
    if len(moments.count) != spec.inputs:
        raise SchemaError(f"{len(moments.count)} columns for a window model of {spec.inputs} inputs")
    cut = spec.channels * spec.length

    def fold(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values[:cut].reshape(spec.channels, spec.length).sum(axis=1), values[cut:]])

    return Moments(fold(moments.count), fold(moments.total), fold(moments.squares)).scaler()


def local_scaler(spec: WindowSpec, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A site's own standardiser (``norm = "local"``): from its own training rows, never sent anywhere."""
    return scaler_of(spec, Moments.of(X))


def initial(spec: WindowSpec, scaler: tuple[np.ndarray, np.ndarray], seed: int) -> Params:
    """Seeded starting parameters (Xavier-normal weights, zero biases, as ``cnn-rul``) with the standardiser."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for name, shape in spec.shapes().items():
        if name.rsplit(".", 1)[-1].startswith("bias"):  # cnn's ``bias``, the GRU's ``bias_ih_l0``...
            params[PREFIX + name] = np.zeros(shape, dtype="float32")
            continue
        field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        std = math.sqrt(2.0 / (shape[1] * field + shape[0] * field))
        params[PREFIX + name] = rng.normal(0.0, std, size=shape).astype("float32")
    mean, scale = scaler
    if len(mean) != spec.channels + spec.static:
        raise SchemaError(f"the standardiser has {len(mean)} entries, the window model {spec.channels + spec.static}")
    params["scaler.mean"] = np.asarray(mean, dtype="float64")
    params["scaler.scale"] = np.asarray(scale, dtype="float64")
    return params


def feature_names(spec: WindowSpec) -> list[str]:
    """Column names in ``cnn-rul``'s layout (``c<i>__t<k>``, then ``s<j>``) for rows that come without names."""
    return [f"c{i}__t{k}" for i in range(spec.channels) for k in range(spec.length)] + [
        f"s{j}" for j in range(spec.static)
    ]


def as_estimator(
    params: Mapping[str, np.ndarray], spec: WindowSpec, names: list[str] | None = None, seed: int = 0
) -> Any:
    """The registry's ``cnn-rul`` holding these parameters (``names``: the real column names, in the layout of
    :func:`feature_names`)."""
    from forewarn.base.registry import create

    if spec.arch != "cnn":
        raise ConfigError(f"the window model's {spec.arch!r} variant is not a registry model: only arch 'cnn' files")
    names = feature_names(spec) if names is None else list(names)
    if len(names) != spec.inputs:
        raise SchemaError(f"{len(names)} feature names for a window model of {spec.inputs} inputs")
    mean = np.asarray(params["scaler.mean"], dtype="float64")
    scale = np.asarray(params["scaler.scale"], dtype="float64")
    c = spec.channels
    state: dict[str, np.ndarray | str] = {
        "feature_names_in_": np.asarray(names, dtype=str),
        "channel_mean_": mean[:c],
        "channel_scale_": scale[:c],
        "static_mean_": mean[c:],
        "static_scale_": scale[c:],
    }
    state |= {k: np.asarray(v) for k, v in params.items() if k.startswith(PREFIX)}
    return create("cnn-rul", **spec.hyper(), seed=seed).set_state(state)


def _tensors(torch: Any, params: Mapping[str, np.ndarray], spec: WindowSpec, X: np.ndarray) -> tuple[Any, Any]:
    """The standardised window ``(rows, channels, length)`` and static inputs, as ``cnn-rul`` builds them."""
    values = np.asarray(X, dtype="float64")
    if values.ndim != 2 or values.shape[1] != spec.inputs:
        raise SchemaError(f"rows of {values.shape[1:]} columns for a window model of {spec.inputs} inputs")
    mean, scale, c, cut = params["scaler.mean"], params["scaler.scale"], spec.channels, spec.channels * spec.length
    sequence = values[:, :cut].reshape(len(values), c, spec.length)
    sequence = (sequence - mean[None, :c, None]) / scale[None, :c, None]
    static = (values[:, cut:] - mean[c:]) / scale[c:]
    clean = [np.ascontiguousarray(np.where(np.isfinite(a), a, 0.0), dtype="float32") for a in (sequence, static)]
    return torch.from_numpy(clean[0]), torch.from_numpy(clean[1])


def _module(params: Mapping[str, np.ndarray], spec: WindowSpec) -> Any:
    if spec.arch == "gru":
        from forewarn.federated import gru

        return gru.module(spec, {k.removeprefix(PREFIX): v for k, v in params.items() if k.startswith(PREFIX)})
    return as_estimator(params, spec).net_


def rate(spec: WindowSpec, round_: int, rounds: int) -> float:
    """Round ``round_``'s learning rate: a cosine from ``learning_rate`` (round 1) to 1 % of it (the last round).

    >>> spec = WindowSpec(channels=1, length=1, learning_rate=1.0)
    >>> [round(rate(spec, r, 3), 3) for r in (1, 2, 3)]
    [1.0, 0.505, 0.01]
    """
    if rounds <= 1:
        return spec.learning_rate
    share = (min(max(round_, 1), rounds) - 1) / (rounds - 1)
    return spec.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * share)))


def train_local(
    params: Mapping[str, np.ndarray],
    spec: WindowSpec,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    mu: float = 0.0,
    trainable: tuple[str, ...] | None = None,
    round_: int = 1,
    rounds: int = 1,
) -> tuple[Params, float]:
    """``epochs`` passes of Adam from ``params`` over ``(X, y)`` at round ``round_`` of ``rounds`` (see
    :func:`rate`); returns the new parameters and the last epoch's mean loss. ``trainable`` names the layers that
    move (prefixes of the ``state_dict`` names, e.g. ``("head.3",)`` for the last layer); all by default."""
    torch = _torch()
    check_rows(X, y)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        module = _module(params, spec)
        sequence, static = _tensors(torch, params, spec, X)
        scaled = np.minimum(np.asarray(y, dtype="float64"), spec.target_scale) / spec.target_scale
        target = torch.from_numpy(scaled.astype("float32"))
        named = dict(module.named_parameters())
        for name, tensor in named.items():
            tensor.requires_grad_(trainable is None or any(name.startswith(t) for t in trainable))
        moving = [t for t in named.values() if t.requires_grad]
        start = {n: t.detach().clone() for n, t in named.items()}
        optimiser = torch.optim.Adam(moving, lr=rate(spec, round_, rounds), weight_decay=spec.weight_decay)
        loss_fn = torch.nn.MSELoss()
        module.train()
        last = adam_epochs(
            torch,
            optimiser,
            len(target),
            batch_size=spec.batch_size,
            epochs=epochs,
            rng=rng,
            batch_loss=lambda batch: loss_fn(module(sequence[batch], static[batch]), target[batch]),
            pairs=[(t, start[n]) for n, t in named.items()],
            mu=mu,
        )
        module.eval()
    finally:
        torch.set_num_threads(previous)
    result: Params = {PREFIX + n: t.detach().numpy().copy() for n, t in module.state_dict().items()}
    result["scaler.mean"] = np.asarray(params["scaler.mean"], dtype="float64")
    result["scaler.scale"] = np.asarray(params["scaler.scale"], dtype="float64")
    return result, last


def predict(params: Mapping[str, np.ndarray], spec: WindowSpec, X: np.ndarray) -> np.ndarray:
    """The RUL for each row (never negative), as the filed ``cnn-rul`` computes it (dropout off)."""
    import pandas as pd

    values = np.asarray(X, dtype="float64")
    if values.ndim != 2 or values.shape[1] != spec.inputs:
        raise SchemaError(f"rows of {values.shape[1:]} columns for a window model of {spec.inputs} inputs")
    if spec.arch == "gru":
        torch = _torch()
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                out = _module(params, spec)(*_tensors(torch, params, spec, values)).numpy().astype("float64")
        finally:
            torch.set_num_threads(previous)
        return np.maximum(out * spec.target_scale, 0.0)
    model = as_estimator(params, spec)
    return np.maximum(model.predict(pd.DataFrame(values, columns=feature_names(spec))), 0.0)


def with_scaler(params: Mapping[str, np.ndarray], scaler: tuple[np.ndarray, np.ndarray]) -> Params:
    """``params`` with another standardiser (a site's own, ``norm = "local"``)."""
    out = dict(params)
    out["scaler.mean"], out["scaler.scale"] = (np.asarray(a, dtype="float64") for a in scaler)
    return out
