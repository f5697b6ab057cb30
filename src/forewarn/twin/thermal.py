"""Lumped thermal models: one heat balance per node (motor winding, bearing housing).

A node of mass ``m`` (kg) and specific heat ``c`` (J/(kg K)) receives ``losses`` (W) and gives heat to the
surroundings through a film of heat-transfer coefficient ``h`` (W/(m2 K)) over an area ``A`` (m2)::

    m * c * dT/dt = losses - h * A * (T - T_amb)

With constant inputs the node settles at ``T_ss = T_amb + losses / (h * A)`` and approaches it with the time
constant ``tau = m * c / (h * A)``: after one ``tau`` it has covered 1 - 1/e (63.2 %) of the way.

The simulator integrates the balance *exactly* for inputs held over each step (zero-order hold)::

    T[k+1] = T_ss[k] + (T[k] - T_ss[k]) * exp(-dt / tau[k])

which is stable for any step, so a 1-minute or a 10-minute summary interval give the same physics.

>>> node = LumpedThermal(mass_kg=20.0, specific_heat=500.0, h=25.0, area_m2=0.8)
>>> node.conductance_w_per_k, node.time_constant_s
(20.0, 500.0)
>>> float(node.steady_state(losses_w=1000.0, ambient_c=25.0))
75.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LumpedThermal", "first_order_lag", "lag_coefficient"]


@dataclass(frozen=True)
class LumpedThermal:
    """One thermal node: ``m*c*dT/dt = losses - h*A*(T - T_amb)``.

    Parameters: ``mass_kg`` m, ``specific_heat`` c in J/(kg K), ``h`` film coefficient in W/(m2 K),
    ``area_m2`` A. Derived: conductance ``h*A`` (W/K), thermal resistance ``1/(h*A)`` (K/W) and the time
    constant ``m*c/(h*A)`` (s).
    """

    mass_kg: float
    specific_heat: float
    h: float
    area_m2: float

    @property
    def conductance_w_per_k(self) -> float:
        """``h * A`` in W/K."""
        return self.h * self.area_m2

    @property
    def resistance_k_per_w(self) -> float:
        """``1 / (h * A)`` in K/W."""
        return 1.0 / self.conductance_w_per_k

    @property
    def capacitance_j_per_k(self) -> float:
        """``m * c`` in J/K."""
        return self.mass_kg * self.specific_heat

    @property
    def time_constant_s(self) -> float:
        """``tau = m * c / (h * A)`` in seconds."""
        return self.capacitance_j_per_k / self.conductance_w_per_k

    def steady_state(
        self, losses_w: np.ndarray | float, ambient_c: np.ndarray | float, cooling: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """Temperature the node settles at: ``T_amb + losses / (cooling * h * A)``.

        ``cooling`` scales the conductance (1 = clean, 0.4 = fouled fins or a stopped fan).
        """
        return np.asarray(ambient_c) + np.asarray(losses_w) / (np.asarray(cooling) * self.conductance_w_per_k)

    def response(
        self,
        losses_w: np.ndarray,
        ambient_c: np.ndarray | float,
        dt_s: float,
        temp0_c: float | None = None,
        cooling: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        """Temperature after each of ``len(losses_w)`` steps of ``dt_s`` seconds (exact for held inputs).

        >>> node = LumpedThermal(mass_kg=1.0, specific_heat=600.0, h=10.0, area_m2=1.0)   # tau = 60 s
        >>> temps = node.response(np.full(120, 100.0), ambient_c=20.0, dt_s=1.0, temp0_c=20.0)
        >>> round(float((temps[59] - 20.0) / 10.0), 4)     # after 60 s: 1 - 1/e of the way to +10 K
        0.6321
        """
        losses = np.asarray(losses_w, dtype=float).reshape(-1)
        n = losses.size
        ambient = np.broadcast_to(np.asarray(ambient_c, dtype=float), (n,))
        cool = np.broadcast_to(np.asarray(cooling, dtype=float), (n,))
        target = ambient + losses / (cool * self.conductance_w_per_k)
        alpha = lag_coefficient(dt_s, self.time_constant_s / cool)
        start = float(ambient[0]) if temp0_c is None else float(temp0_c)
        return first_order_lag(target[:, None], alpha[:, None], np.array([start]))[:, 0]


def lag_coefficient(dt_s: float | np.ndarray, tau_s: float | np.ndarray) -> np.ndarray:
    """The per-step decay ``exp(-dt / tau)`` of a first-order lag.

    >>> round(float(lag_coefficient(60.0, 60.0)), 6)
    0.367879
    """
    return np.exp(-np.asarray(dt_s, dtype=float) / np.asarray(tau_s, dtype=float))


def first_order_lag(target: np.ndarray, decay: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Integrate ``x[k] = target[k] + (x[k-1] - target[k]) * decay[k]`` for many nodes at once.

    ``target`` and ``decay`` are time-major ``(n_steps, n_nodes)`` arrays (``decay`` may also be
    ``(1, n_nodes)`` when constant); ``x0`` holds the ``n_nodes`` states before the first step. The loop runs
    over time steps only, each step one vector operation over all nodes of the fleet, so its cost per
    asset-minute falls as the fleet grows. Returns the states after each step, same dtype as ``target``.

    >>> first_order_lag(np.array([[10.0], [10.0]]), np.array([[0.5]]), np.array([0.0]))[:, 0].tolist()
    [5.0, 7.5]
    """
    steps = target.shape[0]
    decay = np.ascontiguousarray(np.broadcast_to(decay, target.shape), dtype=target.dtype)
    # x[k] = decay*x[k-1] + (1-decay)*target: precompute the forcing term once, vectorised
    forcing = (1.0 - decay) * target
    out = np.empty(target.shape, dtype=target.dtype)
    state = np.array(x0, dtype=target.dtype, copy=True)
    for k in range(steps):
        state *= decay[k]
        state += forcing[k]
        out[k] = state
    return out


def first_order_lag_blocked(
    target: np.ndarray, log_decay: np.ndarray, x0: np.ndarray, max_exponent: float = 40.0
) -> np.ndarray:
    """Same recursion as :func:`first_order_lag`, solved with cumulative sums instead of a loop over steps.

    Here time is the **last** axis: ``target`` and ``log_decay`` are ``(..., n_steps)`` and ``x0`` is ``(...)``.
    With ``a[k] = exp(l[k])`` and ``L[k] = l[1] + ... + l[k]`` the recursion has the closed form
    ``x[k] = exp(L[k]) * (x0 + sum_{j<=k} (1 - a[j]) target[j] exp(-L[j]))``. The steps are cut into blocks in
    which ``-L`` stays below ``max_exponent`` (so ``exp(-L)`` cannot overflow float32), and the state is carried
    from block to block. ``log_decay`` is ``-dt / tau`` (``<= 0``).

    >>> target = np.full((2, 500), 80.0, dtype=np.float32)
    >>> log_decay = np.full((2, 500), -0.05, dtype=np.float32)
    >>> x0 = np.array([20.0, 30.0], dtype=np.float32)
    >>> loop = first_order_lag(target.T, np.exp(log_decay).T, x0).T
    >>> bool(np.allclose(first_order_lag_blocked(target, log_decay, x0), loop, atol=1e-3))
    True
    """
    steps = target.shape[-1]
    log_decay = np.broadcast_to(log_decay, target.shape)
    worst = float(-log_decay.min()) if log_decay.size else 0.0
    block = steps if worst <= 0.0 else max(1, min(steps, int(max_exponent // worst)))
    out = np.empty(target.shape, dtype=target.dtype)
    state = np.asarray(x0, dtype=target.dtype)[..., None]
    for first in range(0, steps, block):
        part = slice(first, first + block)
        cum = np.cumsum(log_decay[..., part], axis=-1, dtype=target.dtype)
        growth = np.exp(cum)
        weights = -np.expm1(log_decay[..., part]) * target[..., part]
        weights /= growth
        np.cumsum(weights, axis=-1, out=weights)
        weights += state
        weights *= growth
        out[..., part] = weights
        state = weights[..., -1:]
    return out
