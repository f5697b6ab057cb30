"""Convolutional sequence autoencoder detector (torch): how badly a network trained on normal windows
reproduces the last ``window`` rows.

The architecture is the Conv-AE of SKAB's leaderboard (Keras, window of 60 rows): two strided ``Conv1d``
layers compress a window of standardised channels (``filters`` then ``filters // 2`` channels, kernel 7,
stride 2, ReLU, dropout 0.2 after the first), two strided ``ConvTranspose1d`` layers expand it back
(``filters // 2`` then ``filters``, ReLU, dropout after the first) and a stride-1 ``ConvTranspose1d`` maps
to one output channel per input channel (SKAB's Keras model has a single output channel whatever the
number of sensors; here every channel is reconstructed). A window of 60 rows goes 60 -> 30 -> 15 -> 30 ->
60; other lengths are cropped back to ``window``. Training follows the same recipe: Adam (learning rate
1e-3), mean squared error, batches of 32, at most 100 epochs, early stopping once the loss on the last
10 % of the training windows (in time order, as Keras' ``validation_split``) has not improved for 5
epochs. Unlike Keras' default, the weights of the best validation epoch are kept. ``max_steps`` bounds
the optimiser steps on long training sets.

Rows are a time series (tag ``sequential``): ``score(X)`` treats the rows of ``X`` as consecutive, in
order. Channels are standardised with the training rows' mean and spread. The score of row ``t`` is the
mean squared reconstruction error, in standardised units, of the window of rows ``t - window + 1 .. t``
(all channels, all rows of the window): it uses rows ``<= t`` only. Rows before the first full window
have no history; as in ``var-residual``, the history is filled by repeating the first row, as if the
machine had been steady before the series began. Training uses exactly the windows it will score: one
window ending at every training row, the first ``window - 1`` of them padded that way, so the first
rows' scores are in the network's own training distribution and do not inflate the calibration. Score
a long series in one call (or prepend at least ``window - 1`` rows of recent history) rather than row
by row.

Torch is imported only when a model is fitted, restored or scored. Training is deterministic for a
given ``seed`` on CPU (``torch.manual_seed`` for weights and dropout, a numpy ``Generator`` for the
batch order) and uses one thread. The state is the network's ``state_dict`` as named numpy arrays
(``layer<i>_weight_``, ``layer<i>_bias_``): nothing is pickled.

>>> import numpy as np
>>> t = np.arange(400)
>>> X = np.c_[np.sin(t / 5), np.cos(t / 5)]        # two sensors in a steady cycle
>>> det = ConvAutoencoderDetector(window=20, epochs=30, seed=0).fit(X)
>>> broken = np.c_[np.sin(t / 5), np.sin(t / 5)]    # the second sensor loses its phase
>>> bool(np.median(det.score(broken)[20:]) > 5 * np.median(det.score(X)[20:]))
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from forewarn._optional import require
from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import SEED, Interval
from forewarn.base.registry import register
from forewarn.exceptions import ParameterError
from forewarn.models.anomaly.scaling import fit_scaling, standardise

#: positions of the layers with weights in the ``torch.nn.Sequential`` (see :func:`_network`)
_WEIGHTED = (0, 3, 5, 8, 10)
#: windows scored per forward pass (bounds memory on long series)
_CHUNK = 2048


def _layer_attributes() -> tuple[str, ...]:
    return tuple(f"layer{i}_{kind}_" for i in _WEIGHTED for kind in ("weight", "bias"))


def _network(n_channels: int, filters: int, kernel_size: int, dropout: float) -> Any:
    torch = require("torch", extra="deep", by="conv-ae")
    nn = torch.nn

    half, pad = max(1, filters // 2), kernel_size // 2
    return torch.nn.Sequential(
        nn.Conv1d(n_channels, filters, kernel_size, stride=2, padding=pad),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Conv1d(filters, half, kernel_size, stride=2, padding=pad),
        nn.ReLU(),
        nn.ConvTranspose1d(half, half, kernel_size, stride=2, padding=pad, output_padding=1),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.ConvTranspose1d(half, filters, kernel_size, stride=2, padding=pad, output_padding=1),
        nn.ReLU(),
        nn.ConvTranspose1d(filters, n_channels, kernel_size, stride=1, padding=pad),
    )


def trailing_windows(z: np.ndarray, window: int) -> np.ndarray:
    """The window of rows ending at every row, shape ``(rows, channels, window)``; the first row fills the
    history before the series starts.

    >>> trailing_windows(np.array([[1.0], [2.0], [3.0]]), 2).tolist()
    [[[1.0, 1.0]], [[1.0, 2.0]], [[2.0, 3.0]]]
    """
    padded = np.vstack([np.repeat(z[:1], window - 1, axis=0), z])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (rows, channels, window)
    return np.ascontiguousarray(windows)


@register("conv-ae")
class ConvAutoencoderDetector(AnomalyDetector):
    """1-D convolutional autoencoder over trailing windows; score = the window's mean squared reconstruction error."""

    tags = {"deep": True, "sequential": True}
    parameter_constraints = {
        "window": [Interval(int, 1)],
        "filters": [Interval(int, 1)],
        "kernel_size": [Interval(int, 1)],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "learning_rate": [Interval(float, 0, None, closed="right")],
        "validation_fraction": [Interval(float, 0, 1, closed="left")],
        "patience": [Interval(int, 1)],
        "max_steps": [Interval(int, 1)],
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        window: int = 60,
        filters: int = 32,
        kernel_size: int = 7,
        dropout: float = 0.2,
        epochs: int = 100,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.1,
        patience: int = 5,
        max_steps: int = 3000,
        seed: int = 0,
    ):
        self.window = window
        self.filters = filters
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.max_steps = max_steps
        self.seed = seed

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.kernel_size % 2 == 0:  # beyond the declared constraints: odd kernels keep the windows centred
            raise ParameterError(
                f"The 'kernel_size' parameter of {type(self).__name__} must be an odd int >= 1. "
                f"Got {self.kernel_size!r} instead.",
                param="kernel_size",
                estimator=type(self).__name__,
            )

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        torch = require("torch", extra="deep", by="conv-ae")

        values = X.to_numpy(dtype="float64")
        self.mean_, self.scale_ = fit_scaling(values)
        windows = trailing_windows(standardise(values, self.mean_, self.scale_), self.window).astype("float32")
        n_valid = math.floor(self.validation_fraction * len(windows))
        if len(windows) - n_valid < 1:
            n_valid = 0
        train = torch.from_numpy(windows[: len(windows) - n_valid])
        valid = torch.from_numpy(windows[len(windows) - n_valid :])
        torch.set_num_threads(1)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        net = _network(values.shape[1], self.filters, self.kernel_size, self.dropout)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        batch = min(self.batch_size, len(train))
        best, best_weights, stale, steps, epochs = math.inf, None, 0, 0, 0
        while epochs < self.epochs:
            epochs += 1
            net.train()
            order = torch.from_numpy(rng.permutation(len(train)))
            for start in range(0, len(train), batch):
                rows = train[order[start : start + batch]]
                optimiser.zero_grad()
                loss = torch.mean((net(rows)[..., : self.window] - rows) ** 2)
                loss.backward()
                optimiser.step()
                steps += 1
                if steps >= self.max_steps:
                    break
            if n_valid:
                net.eval()
                with torch.no_grad():
                    loss_valid = float(torch.mean((net(valid)[..., : self.window] - valid) ** 2))
                if loss_valid < best:
                    best, stale = loss_valid, 0
                    best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
            if steps >= self.max_steps or stale >= self.patience:
                break
        if best_weights is not None:
            net.load_state_dict(best_weights)
        for name, tensor in net.state_dict().items():
            index, kind = name.split(".")
            setattr(self, f"layer{index}_{kind}_", tensor.detach().numpy().copy())
        self.n_epochs_ = epochs  # epochs run (early stopping), for inspection; not part of the state
        self._net = net.eval()

    def _restore(self) -> None:
        torch = require("torch", extra="deep", by="conv-ae")

        weights = {
            f"{i}.{kind}": torch.from_numpy(np.asarray(getattr(self, f"layer{i}_{kind}_"), dtype="float32"))
            for i in _WEIGHTED
            for kind in ("weight", "bias")
        }
        filters, n_channels, kernel_size = weights["0.weight"].shape
        net = _network(int(n_channels), int(filters), int(kernel_size), 0.0)
        net.load_state_dict(weights)
        self._net = net.eval()

    def channel_errors(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Mean squared reconstruction error of each channel over the window ending at each row,
        shape ``(rows, channels)``, standardised units; :meth:`score` is its row mean."""
        return self._channel_errors(self._validate_input(X))

    def _channel_errors(self, X: pd.DataFrame) -> np.ndarray:
        torch = require("torch", extra="deep", by="conv-ae")

        torch.set_num_threads(1)
        if getattr(self, "_net", None) is None:
            self._restore()
        z = standardise(X.to_numpy(dtype="float64"), self.mean_, self.scale_)
        windows = trailing_windows(z, self.window).astype("float32")
        errors = np.empty((len(windows), windows.shape[1]), dtype="float64")
        with torch.no_grad():
            for start in range(0, len(windows), _CHUNK):
                part = torch.from_numpy(windows[start : start + _CHUNK])
                squared = (self._net(part)[..., : self.window] - part) ** 2
                errors[start : start + _CHUNK] = squared.mean(dim=2).numpy()
        return errors

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return self._channel_errors(X).mean(axis=1)

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", *_layer_attributes())
