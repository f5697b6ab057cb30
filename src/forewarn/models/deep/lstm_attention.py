"""An LSTM with attention over a trailing window of readings (torch, CPU): failure and RUL.

Input, as for :class:`~forewarn.models.deep.rul_cnn.CNNRUL`: one row per prediction point, the trailing window
as columns ``f"{channel}__t{k}"`` (``k = 0`` oldest) from :func:`forewarn.features.window.sequence_frame`;
other columns are *static* inputs joining after the attention; a frame without ``__t`` columns is read as
sequences of length one. The ``input`` tag ``"sequence"`` tells the training pipeline to feed such frames.

Network: channels standardised with training means and spreads (a missing reading becomes the channel's
mean) -> one LSTM layer (``hidden`` units) -> additive attention (Bahdanau: ``v . tanh(W h_t + b)``, softmax
over the time steps) -> the attention-weighted sum of the hidden states, static inputs appended -> a
``dense``-unit ReLU layer with dropout -> one output. :meth:`attention` gives each row's weights per time step
("which time steps mattered").

* ``lstm-attention-failure``: the output is a logit trained with class-weighted binary cross-entropy, then
  calibrated like every failure predictor (:mod:`forewarn.models.failure._calibrated`: the calibration folds
  each train a network, so fitting costs ``calibration_folds + 1`` trainings), with the same default map, the
  isotonic-Platt blend (the plain isotonic map ties every row beyond its end knots; a network saved with
  ``isotonic`` keeps it: the method is in its manifest's params).
* ``lstm-attention-rul``: the output is ``RUL / max_rul`` (targets clipped at ``max_rul``), mean squared error.

Training: AdamW, ``epochs`` passes over seeded shuffled mini-batches, learning rate annealed by a cosine to
1 % of ``learning_rate``, one torch thread (2-core machines slow down badly otherwise); the same seed gives
the same network. State: the standardisation arrays and every tensor of the ``state_dict`` as named arrays
``net.<name>``; nothing is pickled.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> wear = rng.uniform(0, 1, 400)
>>> X = pd.DataFrame({f"temp__t{k}": 50 + 20 * wear * k / 4 + rng.normal(0, 1, 400) for k in range(5)})
>>> model = LSTMAttentionRUL(epochs=30, seed=0).fit(X, 150 * (1 - wear))
>>> young, old = model.predict(X.iloc[np.argsort(wear)[[5, -5]]])
>>> bool(young > 90 and old < 40), model.attention(X.head(2)).shape
(True, (2, 5))
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn._optional import optional, require
from forewarn.base.estimator import RULRegressor, State
from forewarn.base.params import SEED, Interval
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError, StateError
from forewarn.models.deep.rul_cnn import sequence_layout
from forewarn.models.failure._calibrated import CALIBRATED_CONSTRAINTS, CalibratedFailurePredictor

# torch is the "deep" extra: the network class subclasses torch.nn.Module where torch is installed, and this
# module imports without it (fitting or restoring a model then says how to install it)
torch: Any = optional("torch")
nn: Any = None if torch is None else torch.nn

_PREFIX = "net."
_SCALING = ("channel_mean_", "channel_scale_", "static_mean_", "static_scale_")
_BATCH_PREDICT = 4096


def _require_torch(name: str) -> None:
    require("torch", extra="deep", by=name)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Network(nn.Module if nn is not None else object):  # type: ignore[misc]
    def __init__(self, channels: int, n_static: int, hidden: int, attention: int, dense: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(channels, hidden, batch_first=True)
        self.score = nn.Sequential(nn.Linear(hidden, attention), nn.Tanh(), nn.Linear(attention, 1, bias=False))
        self.head = nn.Sequential(
            nn.Linear(hidden + n_static, dense), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dense, 1)
        )

    def forward(self, sequence: Any, static: Any) -> tuple[Any, Any]:
        states, _ = self.lstm(sequence)  # (rows, steps, hidden)
        weights = torch.softmax(self.score(states).squeeze(2), dim=1)  # (rows, steps)
        context = (weights.unsqueeze(2) * states).sum(dim=1)
        return self.head(torch.cat([context, static], dim=1)).squeeze(1), weights


class _SequenceModel:
    """Shared parts: constraints, standardisation, tensors, the training loop, state with the network's tensors."""

    network_constraints: dict[str, list[Any]] = {
        "epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "learning_rate": [Interval(float, 0, None, closed="right")],
        "weight_decay": [Interval(float, 0)],
        "hidden": [Interval(int, 1)],
        "attention_units": [Interval(int, 1)],
        "dense": [Interval(int, 1)],
        "dropout": [Interval(float, 0, 1, closed="left")],
    }

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    hidden: int
    attention_units: int
    dense: int
    dropout: float
    seed: int
    feature_names_in_: np.ndarray
    registry_name: str

    def _layout(self) -> tuple[list[str], int, list[int], list[int]]:
        return sequence_layout(list(self.feature_names_in_))

    def _scaling(self, values: np.ndarray) -> tuple[np.ndarray, ...]:
        channels, length, seq_cols, static_cols = self._layout()
        sequence = values[:, seq_cols].reshape(len(values), len(channels), length)
        with warnings.catch_warnings():  # an all-missing channel warns; it reads as mean 0, spread 1 below
            warnings.simplefilter("ignore", RuntimeWarning)
            seq_mean, seq_std = np.nanmean(sequence, axis=(0, 2)), np.nanstd(sequence, axis=(0, 2))
            static = values[:, static_cols]
            st_mean, st_std = (
                (np.nanmean(static, axis=0), np.nanstd(static, axis=0)) if static_cols else (np.zeros(0), np.zeros(0))
            )
        return (
            np.nan_to_num(seq_mean),
            np.where(np.isfinite(seq_std) & (seq_std > 1e-9), seq_std, 1.0),
            np.nan_to_num(st_mean),
            np.where(np.isfinite(st_std) & (st_std > 1e-9), st_std, 1.0),
        )

    def _tensors(self, values: np.ndarray, scaling: tuple[np.ndarray, ...]) -> tuple[Any, Any]:
        channels, length, seq_cols, static_cols = self._layout()
        seq_mean, seq_scale, st_mean, st_scale = (s.astype("float32") for s in scaling)
        values = values.astype("float32")
        sequence = values[:, seq_cols].reshape(len(values), len(channels), length).transpose(0, 2, 1)
        sequence = np.nan_to_num((sequence - seq_mean) / seq_scale)  # missing -> the channel's mean
        static = np.nan_to_num((values[:, static_cols] - st_mean) / st_scale)
        return torch.from_numpy(np.ascontiguousarray(sequence)), torch.from_numpy(np.ascontiguousarray(static))

    def _network(self) -> Any:
        channels, _, _, static_cols = self._layout()
        return _Network(
            len(channels),
            len(static_cols),
            int(self.hidden),
            int(self.attention_units),
            int(self.dense),
            float(self.dropout),
        )

    def _train_network(
        self, values: np.ndarray, target: np.ndarray, weights: np.ndarray, loss: str
    ) -> tuple[tuple[np.ndarray, ...], Any]:
        _require_torch(self.registry_name)
        scaling = self._scaling(values)
        with _one_thread():
            torch.manual_seed(int(self.seed))
            rng = np.random.default_rng(self.seed)
            sequence, static = self._tensors(values, scaling)
            y = torch.from_numpy(target.astype("float32"))
            w = torch.from_numpy(weights.astype("float32"))
            net = self._network()
            optimiser = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
            steps = int(self.epochs) * -(-len(y) // int(self.batch_size))
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimiser, T_max=steps, eta_min=0.01 * self.learning_rate
            )
            pointwise = nn.BCEWithLogitsLoss(reduction="none") if loss == "bce" else nn.MSELoss(reduction="none")
            net.train()
            for _ in range(int(self.epochs)):
                order = rng.permutation(len(y))
                for start in range(0, len(order), int(self.batch_size)):
                    batch = torch.from_numpy(order[start : start + int(self.batch_size)])
                    optimiser.zero_grad()
                    out, _ = net(sequence[batch], static[batch])
                    ((pointwise(out, y[batch]) * w[batch]).sum() / w[batch].sum()).backward()
                    optimiser.step()
                    schedule.step()
        return scaling, net.eval()

    def _run(self, model: tuple[tuple[np.ndarray, ...], Any], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaling, net = model
        with _one_thread(), torch.no_grad():
            sequence, static = self._tensors(values, scaling)
            parts = [
                net(sequence[i : i + _BATCH_PREDICT], static[i : i + _BATCH_PREDICT])
                for i in range(0, len(sequence), _BATCH_PREDICT)
            ]
        return (torch.cat([p[0] for p in parts]).double().numpy(), torch.cat([p[1] for p in parts]).double().numpy())

    def attention(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Attention weights per row and time step (rows x steps, each row sums to 1): which steps mattered."""
        frame = self._validate_input(X)  # type: ignore[attr-defined]
        return self._run(self.model_, frame.to_numpy(dtype="float64"))[1]  # type: ignore[attr-defined]

    # -- state: the standardisation and the network's tensors as named arrays --------------------------------
    def _keep_network(self, model: tuple[tuple[np.ndarray, ...], Any]) -> None:
        scaling, net = model
        for name, value in zip(_SCALING, scaling, strict=True):
            setattr(self, name, value)
        self.net_ = net

    def get_state(self) -> State:
        state = super().get_state()  # type: ignore[misc]
        for name, tensor in self.net_.state_dict().items():
            state[_PREFIX + name] = tensor.detach().cpu().numpy().copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> Any:
        self._net_arrays = {k.removeprefix(_PREFIX): np.asarray(v) for k, v in state.items() if k.startswith(_PREFIX)}
        return super().set_state(state)  # type: ignore[misc]

    def _restore(self) -> None:
        _require_torch(self.registry_name)
        net = self._network()
        expected = set(net.state_dict())
        if set(self._net_arrays) != expected:
            missing = sorted(expected - set(self._net_arrays))
            raise StateError(
                f"network state does not fit {self.registry_name}(hidden={self.hidden}, "
                f"attention_units={self.attention_units}, dense={self.dense}) on these columns: "
                f"missing {missing or 'none'}"
            )
        net.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in self._net_arrays.items()})
        self.net_ = net.eval()
        self.model_ = (tuple(np.asarray(getattr(self, n), dtype="float64") for n in _SCALING), self.net_)


@register("lstm-attention-failure")
class LSTMAttentionFailure(_SequenceModel, CalibratedFailurePredictor):
    """LSTM + attention logit, class-weighted, calibrated on out-of-fold logits."""

    tags = {"deep": True, "nan_allowed": True, "input": "sequence"}
    input_kind = "sequence"
    parameter_constraints = _SequenceModel.network_constraints | CALIBRATED_CONSTRAINTS

    def __init__(
        self,
        *,
        epochs: int = 20,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        hidden: int = 32,
        attention_units: int = 16,
        dense: int = 32,
        dropout: float = 0.1,
        class_weight: str | None = "sqrt",
        calibration: str | None = "isotonic-platt",
        calibration_folds: int = 3,
        seed: int = 0,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.hidden = hidden
        self.attention_units = attention_units
        self.dense = dense
        self.dropout = dropout
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.seed = seed

    def _fit(self, X: pd.DataFrame, y: Any) -> None:
        _require_torch(self.registry_name)
        super()._fit(X, y)

    def _train(self, values: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Any:
        return self._train_network(values, y.astype("float64"), weights, "bce")

    def _margin(self, model: Any, values: np.ndarray) -> np.ndarray:
        return self._run(model, values)[0]

    def _keep(self, model: Any) -> None:
        self._keep_network(model)

    def _state_names(self) -> tuple[str, ...]:
        return (*_SCALING, *self._calibration_state())


@register("lstm-attention-rul")
class LSTMAttentionRUL(_SequenceModel, RULRegressor):
    """LSTM + attention regression of ``RUL / max_rul`` (targets clipped at ``max_rul``)."""

    tags = {"unit": "cycles", "deep": True, "nan_allowed": True, "input": "sequence"}
    input_kind = "sequence"
    parameter_constraints = _SequenceModel.network_constraints | {
        "max_rul": [Interval(float, 0, None, closed="right")],
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        epochs: int = 20,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        hidden: int = 32,
        attention_units: int = 16,
        dense: int = 32,
        dropout: float = 0.1,
        max_rul: float = 125.0,
        seed: int = 0,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.hidden = hidden
        self.attention_units = attention_units
        self.dense = dense
        self.dropout = dropout
        self.max_rul = max_rul
        self.seed = seed

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        _require_torch(self.registry_name)
        target = np.asarray(y, dtype="float64")
        if not np.isfinite(target).all() or (target < 0).any():
            raise SchemaError("RUL targets must be finite and non-negative", column="y")
        scaled = np.minimum(target, float(self.max_rul)) / float(self.max_rul)
        self.model_ = self._train_network(X.to_numpy(dtype="float64"), scaled, np.ones(len(target)), "mse")
        self._keep_network(self.model_)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._run(self.model_, X.to_numpy(dtype="float64"))[0] * float(self.max_rul)

    def _state_names(self) -> tuple[str, ...]:
        return _SCALING
