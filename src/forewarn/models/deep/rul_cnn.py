"""Remaining useful life from a window of readings with a 1-D convolutional network (torch, CPU).

Input: one row per prediction point, the trailing window as columns ``f"{sensor}__t{k}"`` (``k = 0`` oldest,
``k = T-1`` the current reading), as built by :func:`forewarn.features.window.sequence_frame`. Any other
column (say the cycle count) is a *static* input that joins the network after the convolutions. A frame
without ``__t`` columns is read as sequences of length one (every column a channel).

Network (the DCNN of Li, Ding & Sun 2018): ``n_layers`` convolutions along time (``filters`` channels,
kernel ``kernel``, same padding), a 3-wide convolution down to ``bottleneck`` channels, the feature map
flattened (keeping *where* in the window a pattern sits), static inputs appended, dropout, a ``hidden``-unit
layer and one output; ``activation`` (tanh or relu) after every layer but the last, Xavier initialisation.
Targets are clipped at ``max_rul`` and divided by it. Training: AdamW, MSE, ``epochs`` passes over seeded
shuffled mini-batches, the learning rate annealed by a cosine from ``learning_rate`` to 1 % of it, optional
Gaussian ``noise`` on the standardised readings; no validation data is used inside. The defaults were chosen
on unit-wise hold-out splits of C-MAPSS FD001's *training* engines (wider ReLU networks, GRUs and longer or
strided windows all over-fitted the 75 engines they saw), never on test scores.

State: channel means and spreads and every tensor of the ``state_dict`` as named arrays ``net.<name>``;
the architecture is rebuilt from the parameters and the feature names. Nothing is pickled.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> wear = rng.uniform(0, 1, 300)
>>> X = pd.DataFrame({f"temp__t{k}": 50 + 20 * wear - 0.5 * (4 - k) + rng.normal(0, 1, 300) for k in range(5)})
>>> model = CNNRUL(epochs=40, seed=0).fit(X, 150 * (1 - wear))
>>> young, old = model.predict(X.iloc[np.argsort(wear)[[5, -5]]])
>>> bool(young > 90 and old < 40)
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn._optional import optional, require
from forewarn.base.estimator import RULRegressor, State
from forewarn.base.params import SEED, Interval, Options
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError

# torch is the "deep" extra: the network class subclasses torch.nn.Module where torch is installed, and this
# module imports without it (fitting or restoring a model then says how to install it)
torch: Any = optional("torch")
nn: Any = None if torch is None else torch.nn

_PREFIX = "net."
_STEP = re.compile(r"^(?P<channel>.+)__t(?P<step>\d+)$")


def _require_torch() -> None:
    require("torch", extra="deep", by="cnn-rul")


def sequence_layout(names: list[str]) -> tuple[list[str], int, list[int], list[int]]:
    """Channels, window length, column positions of the sequence (channel-major) and of the static inputs.

    >>> sequence_layout(["a__t0", "cycle", "a__t1", "b__t0", "b__t1"])
    (['a', 'b'], 2, [0, 2, 3, 4], [1])
    """
    steps: dict[str, dict[int, int]] = {}
    static = []
    for position, name in enumerate(names):
        match = _STEP.match(name)
        if match is None:
            static.append(position)
        else:
            steps.setdefault(match["channel"], {})[int(match["step"])] = position
    if not steps:  # plain columns: each a channel with a one-step sequence
        return list(names), 1, list(range(len(names))), []
    length = max(max(s) for s in steps.values()) + 1
    positions = []
    for channel, found in steps.items():
        if sorted(found) != list(range(length)):
            raise SchemaError(
                f"channel {channel!r} lacks steps {sorted(set(range(length)) - set(found))}",
                column=f"{channel}__t*",
                hint="build the columns with features.window.sequence_frame",
            )
        positions += [found[k] for k in range(length)]
    return list(steps), length, positions, static


class _Network(nn.Module if nn is not None else object):  # type: ignore[misc]
    def __init__(
        self,
        channels: int,
        length: int,
        n_static: int,
        filters: int,
        kernel: int,
        n_layers: int,
        bottleneck: int,
        hidden: int,
        dropout: float,
        activation: str,
    ):
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        layers: list[Any] = []
        width = channels
        for _ in range(n_layers):  # "same" padding spelled out: torch warns about it for even kernels
            layers += [
                nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0),
                nn.Conv1d(width, filters, kernel),
                act(),
            ]
            width = filters
        layers += [nn.Conv1d(width, bottleneck, 3, padding=1), act()]
        self.convolutions = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(bottleneck * length + n_static, hidden), act(), nn.Linear(hidden, 1)
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, sequence: Any, static: Any) -> Any:
        features = self.convolutions(sequence).flatten(1)
        return self.head(torch.cat([features, static], dim=1)).squeeze(1)


@register("cnn-rul")
class CNNRUL(RULRegressor):
    """1-D CNN over a trailing window of readings; RUL in the unit of the targets (``max_rul`` clips them)."""

    tags = {"unit": "cycles", "deep": True}
    #: which columns an ensemble hands this model: the ``__t`` sequence columns (plus plain static ones)
    input_kind = "sequence"
    parameter_constraints = {
        "epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "learning_rate": [Interval(float, 0, None, closed="right")],
        "weight_decay": [Interval(float, 0)],
        "filters": [Interval(int, 1)],
        "kernel": [Interval(int, 1)],
        "n_layers": [Interval(int, 1)],
        "bottleneck": [Interval(int, 1)],
        "hidden": [Interval(int, 1)],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "activation": [Options("relu", "tanh")],
        "noise": [Interval(float, 0)],
        "max_rul": [Interval(float, 0, None, closed="right")],
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        epochs: int = 40,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        filters: int = 10,
        kernel: int = 10,
        n_layers: int = 4,
        bottleneck: int = 1,
        hidden: int = 100,
        dropout: float = 0.5,
        activation: str = "tanh",
        noise: float = 0.0,
        max_rul: float = 125.0,
        seed: int = 0,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.filters = filters
        self.kernel = kernel
        self.n_layers = n_layers
        self.bottleneck = bottleneck
        self.hidden = hidden
        self.activation = activation
        self.noise = noise
        self.dropout = dropout
        self.max_rul = max_rul
        self.seed = seed

    def _network(self) -> Any:
        channels, length, _, static = sequence_layout(list(self.feature_names_in_))
        return _Network(
            len(channels),
            length,
            len(static),
            int(self.filters),
            int(self.kernel),
            int(self.n_layers),
            int(self.bottleneck),
            int(self.hidden),
            float(self.dropout),
            str(self.activation),
        )

    def _tensors(self, X: pd.DataFrame) -> tuple[Any, Any]:
        channels, length, seq_cols, static_cols = sequence_layout(list(self.feature_names_in_))
        values = X.to_numpy(dtype="float32")
        sequence = values[:, seq_cols].reshape(len(X), len(channels), length)
        sequence = (sequence - self.channel_mean_[None, :, None].astype("float32")) / self.channel_scale_[
            None, :, None
        ].astype("float32")
        static = (values[:, static_cols] - self.static_mean_.astype("float32")) / self.static_scale_.astype("float32")
        return torch.from_numpy(np.ascontiguousarray(sequence)), torch.from_numpy(np.ascontiguousarray(static))

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        _require_torch()
        target = np.asarray(y, dtype="float64")
        if not np.isfinite(target).all() or (target < 0).any():
            raise SchemaError("RUL targets must be finite and non-negative", column="y")
        channels, length, seq_cols, static_cols = sequence_layout(list(self.feature_names_in_))
        values = X.to_numpy(dtype="float64")
        sequence = values[:, seq_cols].reshape(len(X), len(channels), length)
        self.channel_mean_ = sequence.mean(axis=(0, 2))
        spread = sequence.std(axis=(0, 2))
        self.channel_scale_ = np.where(spread > 1e-9, spread, 1.0)
        static = values[:, static_cols]
        self.static_mean_ = static.mean(axis=0) if static_cols else np.zeros(0)
        spread = static.std(axis=0) if static_cols else np.zeros(0)
        self.static_scale_ = np.where(spread > 1e-9, spread, 1.0)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._train(X, np.minimum(target, self.max_rul) / self.max_rul)
        finally:
            torch.set_num_threads(previous_threads)

    def _train(self, X: pd.DataFrame, scaled_target: np.ndarray) -> None:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        sequence, static = self._tensors(X)
        target = torch.from_numpy(scaled_target.astype("float32"))
        self.net_ = self._network()
        optimiser = torch.optim.AdamW(self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        steps_per_epoch = -(-len(target) // int(self.batch_size))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=int(self.epochs) * steps_per_epoch, eta_min=0.01 * self.learning_rate
        )
        loss_fn = nn.MSELoss()
        self.net_.train()
        for _ in range(int(self.epochs)):
            order = rng.permutation(len(target))
            for start in range(0, len(order), int(self.batch_size)):
                batch = torch.from_numpy(order[start : start + int(self.batch_size)])
                optimiser.zero_grad()
                inputs = sequence[batch]
                if self.noise > 0:  # jitter the standardised readings: the net must not memorise an engine's noise
                    inputs = inputs + float(self.noise) * torch.randn_like(inputs)
                loss_fn(self.net_(inputs, static[batch]), target[batch]).backward()
                optimiser.step()
                schedule.step()
        self.net_.eval()

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            sequence, static = self._tensors(X)
            with torch.no_grad():
                out = [self.net_(sequence[i : i + 4096], static[i : i + 4096]) for i in range(0, len(sequence), 4096)]
        finally:
            torch.set_num_threads(previous_threads)
        return torch.cat(out).double().numpy() * self.max_rul

    # -- state: the network's tensors as named arrays ------------------------------------------------------
    def _state_names(self) -> tuple[str, ...]:
        return ("channel_mean_", "channel_scale_", "static_mean_", "static_scale_")

    def get_state(self) -> State:
        state = super().get_state()
        for name, tensor in self.net_.state_dict().items():
            state[_PREFIX + name] = tensor.detach().cpu().numpy().copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> CNNRUL:
        self._net_arrays = {k.removeprefix(_PREFIX): np.asarray(v) for k, v in state.items() if k.startswith(_PREFIX)}
        return super().set_state(state)  # type: ignore[return-value]

    def _restore(self) -> None:
        _require_torch()
        net = self._network()
        expected = set(net.state_dict())
        if set(self._net_arrays) != expected:
            missing = sorted(expected - set(self._net_arrays))
            raise SchemaError(
                f"network state does not fit cnn-rul(filters={self.filters}, n_layers={self.n_layers}) "
                f"on these columns: missing {missing or 'none'}"
            )
        net.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in self._net_arrays.items()})
        self.net_ = net.eval()
