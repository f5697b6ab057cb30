"""Vibration fault diagnosis with a small 1-D convolutional network on raw segments (torch, CPU).

Input as for :class:`~forewarn.models.fault.spectral_gbm.SpectralGBM`: one row per segment, one column per
sample in time order. Samples are standardised with one mean and one spread of the training set (not per
segment: the vibration level itself tells faults apart).

Network (in the spirit of WDCNN, Zhang et al. 2017), sized from the segment length ``L``: a wide first
convolution (kernel ``min(64, L)``, stride ``clip(L // 256, 1, 8)``) that acts as a learned filter bank, then
three 3-wide convolutions; each convolution is followed by batch normalisation, ReLU and, while the signal
is at least two steps long, max-pooling by 2; global average pooling and a linear layer give the class
scores. Training: Adam, class-weighted cross-entropy, ``epochs`` passes in seeded shuffled mini-batches.

State: ``mean_``, ``scale_``, ``classes_`` and every tensor of the network's ``state_dict`` as a named
array ``net.<name>`` (no pickle); the architecture is rebuilt from the parameters and the column count.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> t = np.arange(256) / 1000.0
>>> X = pd.DataFrame([np.sin(2 * np.pi * (50 if k % 2 else 200) * t + rng.uniform(0, 6)) + rng.normal(0, 0.3, 256)
...                   for k in range(120)])
>>> y = np.where(np.arange(120) % 2, "slow", "fast")
>>> model = CNNFault(epochs=15, seed=0).fit(X, y)
>>> float((model.predict(X) == y).mean())
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn._optional import require
from forewarn.base.estimator import FaultClassifier, State
from forewarn.base.params import SEED, Interval
from forewarn.base.registry import register
from forewarn.exceptions import SchemaError, StateError
from forewarn.models.fault._labels import CLASS_WEIGHT, class_weights, encode_labels

_PREFIX = "net."


def _torch() -> Any:
    """The torch module, imported on first use: registering the model (and importing Forewarn) stays fast and
    works without torch, an optional extra (``forewarn[deep]``)."""
    return require("torch", extra="deep", by="cnn-fault")


def _build_network(length: int, n_classes: int, width: int) -> Any:
    """The 1-D CNN for segments of ``length`` samples (see the module docstring)."""
    nn = _torch().nn
    kernel = min(64, length)
    stride = int(np.clip(length // 256, 1, 8))
    layers: list[Any] = []
    channels = [1, width, 2 * width, 4 * width, 4 * width]
    size = length
    for block in range(4):
        k, s = (kernel, stride) if block == 0 else (min(3, size), 1)
        layers += [
            nn.Conv1d(channels[block], channels[block + 1], k, stride=s, padding=k // 2),
            nn.BatchNorm1d(channels[block + 1]),
            nn.ReLU(),
        ]
        size = (size + 2 * (k // 2) - k) // s + 1
        if size >= 2:
            layers.append(nn.MaxPool1d(2))
            size //= 2
    layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(channels[-1], n_classes)]
    return nn.Sequential(*layers)


@register("cnn-fault")
class CNNFault(FaultClassifier):
    """1-D CNN on raw segments. ``width``: channels of the first layer (later layers 2x and 4x)."""

    tags = {"deep": True}
    parameter_constraints = {
        "epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 2)],
        "learning_rate": [Interval(float, 0, None, closed="right")],
        "weight_decay": [Interval(float, 0)],
        "width": [Interval(int, 1)],
        "class_weight": CLASS_WEIGHT,
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        width: int = 16,
        class_weight: str | None = "balanced",
        seed: int = 0,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.width = width
        self.class_weight = class_weight
        self.seed = seed

    def _inputs(self, X: pd.DataFrame) -> Any:
        torch = _torch()
        values = (X.to_numpy(dtype="float32") - np.float32(self.mean_[0])) / np.float32(self.scale_[0])
        return torch.from_numpy(np.ascontiguousarray(values))[:, None, :]

    def _fit(self, X: pd.DataFrame, y: Any) -> None:
        torch = _torch()
        if X.shape[1] < 2:
            raise SchemaError(f"cnn-fault needs segments of at least 2 samples (columns), got {X.shape[1]}")
        classes, codes = encode_labels(y)
        if len(classes) < 2:
            raise SchemaError(
                f"fault classifier needs at least two classes in y, got one class: {classes.tolist()}", column="y"
            )
        torch.set_num_threads(1)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        values = X.to_numpy(dtype="float64")
        self.mean_ = np.array([values.mean()])
        self.scale_ = np.array([max(float(values.std()), 1e-12)])
        self.classes_ = classes
        inputs, target = self._inputs(X), torch.from_numpy(codes)
        per_class = np.bincount(codes, weights=class_weights(codes, self.class_weight)) / np.bincount(codes)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(per_class, dtype=torch.float32))
        self.net_ = _build_network(X.shape[1], len(classes), int(self.width))
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        self.net_.train()
        for _ in range(int(self.epochs)):
            order = rng.permutation(len(codes))
            for start in range(0, len(order), self.batch_size):
                batch = torch.from_numpy(order[start : start + self.batch_size])
                if len(batch) < 2:  # batch normalisation needs two rows
                    continue
                optimiser.zero_grad()
                loss_fn(self.net_(inputs[batch]), target[batch]).backward()
                optimiser.step()
        self.net_.eval()

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        torch = _torch()
        torch.set_num_threads(1)
        inputs = self._inputs(X)
        with torch.no_grad():
            chunks = [torch.softmax(self.net_(inputs[i : i + 1024]), dim=1) for i in range(0, len(inputs), 1024)]
        return torch.cat(chunks).double().numpy()

    # -- state: the network's tensors as named arrays ------------------------------------------------------
    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", "classes_")

    def get_state(self) -> State:
        state = super().get_state()
        for name, tensor in self.net_.state_dict().items():
            state[_PREFIX + name] = tensor.detach().cpu().numpy().copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> CNNFault:
        self._net_arrays = {k.removeprefix(_PREFIX): np.asarray(v) for k, v in state.items() if k.startswith(_PREFIX)}
        return super().set_state(state)  # type: ignore[return-value]

    def _restore(self) -> None:
        torch = _torch()
        net = _build_network(len(self.feature_names_in_), len(self.classes_), int(self.width))
        expected = {name: tuple(tensor.shape) for name, tensor in net.state_dict().items()}
        got = {name: tuple(np.shape(array)) for name, array in self._net_arrays.items()}
        if got != expected:
            wrong = sorted(n for n in expected.keys() | got.keys() if expected.get(n) != got.get(n))
            raise StateError(
                f"network state does not fit cnn-fault(width={self.width}) on "
                f"{len(self.feature_names_in_)} samples and {len(self.classes_)} classes: "
                f"{len(wrong)} tensors differ (first: {wrong[0]!r}, expected shape "
                f"{expected.get(wrong[0])}, got {got.get(wrong[0])})"
            )
        net.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in self._net_arrays.items()})
        self.net_ = net.eval()
