"""Dense autoencoder detector (torch): the reconstruction error of a bottlenecked network.

Rows are standardised with the training mean and spread; a network ``d -> hidden -> code -> hidden -> d``
(tanh activations, ``code`` defaults to ``max(2, d // 2)``) learns to reproduce normal rows through the
bottleneck by minimising the mean squared error with Adam. The score of a row is its mean squared
reconstruction error in standardised units, so higher means less like anything seen in training.

Torch is imported only when a model is fitted, restored or scored: the rest of Forewarn (and this
module) imports without it. Training is deterministic for a given ``seed`` on CPU (``torch.manual_seed``
for the weights, a numpy ``Generator`` for the batch order) and uses one thread. The state is the
network's ``state_dict`` as named numpy arrays (``layer<i>_weight_``, ``layer<i>_bias_``), loaded back
with ``torch.from_numpy``: nothing is pickled.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> t = rng.normal(size=(400, 1))
>>> X = np.c_[t, 2 * t, -t] + rng.normal(0, 0.05, (400, 3))   # three sensors, one hidden cause
>>> det = AutoencoderDetector(epochs=60, seed=0).fit(X)
>>> normal, broken = det.score(np.array([[1.0, 2.0, -1.0], [1.0, -2.0, -1.0]]))
>>> bool(broken > 10 * normal)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn._optional import require
from forewarn.base.estimator import AnomalyDetector
from forewarn.base.params import SEED, Interval
from forewarn.base.registry import register
from forewarn.models.anomaly.scaling import fit_scaling, standardise

#: positions of the linear layers in the ``torch.nn.Sequential`` (tanh layers sit between them)
_LINEAR = (0, 2, 4, 6)


def _layer_attributes() -> tuple[str, ...]:
    return tuple(f"layer{i}_{kind}_" for i in _LINEAR for kind in ("weight", "bias"))


def _network(n_features: int, hidden: int, code: int) -> Any:
    torch = require("torch", extra="deep", by="autoencoder")

    return torch.nn.Sequential(
        torch.nn.Linear(n_features, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, code),
        torch.nn.Tanh(),
        torch.nn.Linear(code, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, n_features),
    )


@register("autoencoder")
class AutoencoderDetector(AnomalyDetector):
    """Dense autoencoder; score = mean squared reconstruction error of the standardised row."""

    tags = {"deep": True}
    parameter_constraints = {
        "hidden": [Interval(int, 1)],
        "code": [Interval(int, 1), None],
        "epochs": [Interval(int, 1)],
        "batch_size": [Interval(int, 1)],
        "max_steps": [Interval(int, 1)],
        "learning_rate": [Interval(float, 0, None, closed="right")],
        "weight_decay": [Interval(float, 0)],
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        hidden: int = 32,
        code: int | None = None,
        epochs: int = 100,
        batch_size: int = 128,
        max_steps: int = 4000,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-5,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.code = code
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.seed = seed

    def _fit(self, X: pd.DataFrame, y: object) -> None:
        torch = require("torch", extra="deep", by="autoencoder")

        values = X.to_numpy(dtype="float64")
        self.mean_, self.scale_ = fit_scaling(values)
        z = standardise(values, self.mean_, self.scale_).astype("float32")
        n_features = z.shape[1]
        code = self.code if self.code is not None else max(2, n_features // 2)
        torch.set_num_threads(1)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        net = _network(n_features, self.hidden, code)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        data = torch.from_numpy(z)
        batch = min(self.batch_size, len(z))
        steps = 0
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(len(z)))
            for start in range(0, len(z), batch):
                rows = data[order[start : start + batch]]
                optimiser.zero_grad()
                loss = torch.mean((net(rows) - rows) ** 2)
                loss.backward()
                optimiser.step()
                steps += 1
                if steps >= self.max_steps:
                    break
            if steps >= self.max_steps:
                break
        for name, tensor in net.state_dict().items():
            index, kind = name.split(".")
            setattr(self, f"layer{index}_{kind}_", tensor.detach().numpy().copy())
        self._net = net.eval()

    def _restore(self) -> None:
        torch = require("torch", extra="deep", by="autoencoder")

        weights = {
            f"{i}.{kind}": torch.from_numpy(np.asarray(getattr(self, f"layer{i}_{kind}_"), dtype="float32"))
            for i in _LINEAR
            for kind in ("weight", "bias")
        }
        hidden, n_features = weights["0.weight"].shape
        code = weights["2.weight"].shape[0]
        net = _network(int(n_features), int(hidden), int(code))
        net.load_state_dict(weights)
        self._net = net.eval()

    def reconstruct(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The network's reconstruction of each row, in the original units."""
        z = standardise(self._validate_input(X).to_numpy(dtype="float64"), self.mean_, self.scale_)
        return self._reconstruct(z) * self.scale_ + self.mean_

    def _reconstruct(self, z: np.ndarray) -> np.ndarray:
        torch = require("torch", extra="deep", by="autoencoder")

        torch.set_num_threads(1)
        if getattr(self, "_net", None) is None:
            self._restore()
        with torch.no_grad():
            return self._net(torch.from_numpy(z.astype("float32"))).numpy().astype("float64")

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        z = standardise(X.to_numpy(dtype="float64"), self.mean_, self.scale_)
        return np.mean((self._reconstruct(z) - z) ** 2, axis=1)

    def _state_names(self) -> tuple[str, ...]:
        return ("mean_", "scale_", *_layer_attributes())
