"""The window model's recurrent variant: a GRU over the last N cycles, then the same dense head (torch, CPU).

:class:`~forewarn.federated.window.WindowSpec` with ``arch = "gru"`` trains this network through the same apps,
strategies and local loop as the 1-D CNN (:func:`forewarn.federated.window.train_local`): the window's channels
are read step by step by ``layers`` stacked GRU layers of ``units`` units; the last step's state, with the static
inputs, goes through the head ``Dropout, Linear(hidden), tanh, Linear(1)`` (the CNN's head, same names, so the
personalised arm fine-tunes ``head.3`` alike). Parameters are the module's ``state_dict`` as named arrays
(``net.gru.weight_ih_l0``, ...). It is not a registry model: it runs in the benchmark
(``forewarn bench federated``'s window arms with ``window_arch = "gru"``) and is not filed by ``forewarn federate``.

>>> from forewarn.federated.window import WindowSpec
>>> shapes(WindowSpec(channels=3, length=5, static=1, arch="gru", units=4, n_layers=1, hidden=6))["gru.weight_hh_l0"]
(12, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forewarn.exceptions import StateError


def shapes(spec: Any) -> dict[str, tuple[int, ...]]:
    """The ``state_dict`` of :func:`module`: per GRU layer its input and hidden weights and biases (reset, update
    and new gates stacked: ``3 x units`` rows), then the head."""
    out: dict[str, tuple[int, ...]] = {}
    width = spec.channels
    for i in range(spec.n_layers):
        out[f"gru.weight_ih_l{i}"] = (3 * spec.units, width)
        out[f"gru.weight_hh_l{i}"] = (3 * spec.units, spec.units)
        out[f"gru.bias_ih_l{i}"] = (3 * spec.units,)
        out[f"gru.bias_hh_l{i}"] = (3 * spec.units,)
        width = spec.units
    out["head.1.weight"] = (spec.hidden, spec.units + spec.static)
    out["head.1.bias"] = (spec.hidden,)
    out["head.3.weight"] = (1, spec.hidden)
    out["head.3.bias"] = (1,)
    return out


def module(spec: Any, state: dict[str, np.ndarray]) -> Any:
    """The GRU network holding ``state`` (``state_dict`` names, without the ``net.`` prefix)."""
    import torch
    from torch import nn

    class _GRUNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(
                spec.channels,
                spec.units,
                num_layers=spec.n_layers,
                batch_first=True,
                dropout=spec.dropout if spec.n_layers > 1 else 0.0,
            )
            self.head = nn.Sequential(
                nn.Dropout(spec.dropout),
                nn.Linear(spec.units + spec.static, spec.hidden),
                nn.Tanh(),
                nn.Linear(spec.hidden, 1),
            )

        def forward(self, sequence: Any, static: Any) -> Any:
            steps, _ = self.gru(sequence.transpose(1, 2))  # (rows, channels, length) -> (rows, length, units)
            return self.head(torch.cat([steps[:, -1], static], dim=1)).squeeze(1)

    network = _GRUNetwork()
    expected = shapes(spec)
    if set(state) != set(expected):
        raise StateError(f"GRU parameters {sorted(set(state) ^ set(expected))[:4]} missing or unexpected")
    network.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype="float32")) for k, v in state.items()})
    network.eval()
    return network
