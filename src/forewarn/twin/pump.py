"""Centrifugal machines (pumps, fans, compressors): head/flow curve, wear, seal leak and cavitation.

All three are modelled as a centrifugal impeller on a variable-speed drive (speed ratio ``s``) working against a
system curve. Around the best efficiency point (``Q_bep``, ``H_bep``, ``eta_bep``)::

    machine curve  H = H0 s^2 (1 - w) - K Q^2,     H0 = 1.25 H_bep,  K = 0.25 H_bep / Q_bep^2
    system curve   H = H_st + R Q^2,               H_st = f_st H_bep, R = (1 - f_st) H_bep / Q_bep^2
    operating point Q = sqrt((H0 s^2 (1 - w) - H_st) / (K + R))   (0 when the machine cannot lift H_st)
    efficiency     eta = eta_bep (1 - (Q / (s Q_bep) - 1)^2) (1 - 0.5 w)
    shaft power    P = rho g (Q + leak) H / eta

(affinity laws: at ``w = 0`` the machine delivers ``Q_bep`` at ``H_bep`` when ``s = 1``). Impeller wear ``w``
lowers the head and efficiency. A worn shaft seal leaks ``leak = leak_max w_s^2 s`` (L/min, pressure driven).
Cavitation starts when the net positive suction head available, ``NPSHa = (p_atm + p_suction - p_vapour) /
(rho g)``, falls below 1.15 times the head required, ``NPSHr = NPSHr_bep (Q/Q_bep)^2 (1 + 2 w)``; its severity
(0 to 1) grows linearly until ``NPSHa = 0.5 NPSHr``. A compressor's discharge pressure follows the isothermal
relation ``p2 = p1 exp(g H / (R_air T1))`` and its discharge temperature the enthalpy rise
``T2 = T1 + g H / (c_p eta)``.

>>> q, h, eta = operating_point(1.0, h_bep=50.0, q_bep=120.0, eta_bep=0.8, static_fraction=0.3)
>>> round(float(q), 3), round(float(h), 3), round(float(eta), 3)
(120.0, 50.0, 0.8)
>>> q2, h2, _ = operating_point(1.0, 50.0, 120.0, 0.8, 0.3, wear=0.2)
>>> bool(q2 < q and h2 < h)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "G",
    "cavitation_severity",
    "compressor_discharge",
    "npsh_available_m",
    "operating_point",
    "seal_leak_lpm",
    "shaft_power_kw",
]

G = 9.81
P_ATM_KPA = 101.325
R_AIR = 287.0
CP_AIR = 1005.0


def operating_point(
    speed_ratio: Any, h_bep: Any, q_bep: Any, eta_bep: Any, static_fraction: Any, wear: Any = 0.0
) -> Any:
    """``(flow, head, efficiency)`` where the machine curve meets the system curve (arrays broadcast)."""
    h0 = 1.25 * h_bep
    k = 0.25 * h_bep / (q_bep * q_bep)
    h_static = static_fraction * h_bep
    r = (1.0 - static_fraction) * h_bep / (q_bep * q_bep)
    lift = h0 * speed_ratio * speed_ratio * (1.0 - wear) - h_static
    flow = np.sqrt(np.maximum(lift, 0.0) / (k + r))
    head = h_static + r * flow * flow
    rel = flow / (np.maximum(speed_ratio, 0.05) * q_bep) - 1.0
    eta = np.clip(eta_bep * (1.0 - rel * rel) * (1.0 - 0.5 * wear), 0.05, 1.0)
    return flow, head, eta


def shaft_power_kw(density: Any, flow_m3h: Any, head_m: Any, eta: Any, leak_m3h: Any = 0.0) -> Any:
    """Hydraulic power over efficiency, ``rho g (Q + leak) H / eta`` in kW (flow in m3/h).

    >>> round(float(shaft_power_kw(1000.0, 120.0, 50.0, 0.8)), 2)
    20.44
    """
    return density * (G / 3.6e6) * (flow_m3h + leak_m3h) * head_m / eta


def seal_leak_lpm(leak_max_lpm: Any, seal_wear: Any, speed_ratio: Any) -> Any:
    """Leak through a worn seal, ``leak_max * w^2 * s`` in L/min."""
    return leak_max_lpm * seal_wear * seal_wear * speed_ratio


def npsh_available_m(suction_kpa_gauge: Any, density: Any = 1000.0, vapour_kpa: Any = 3.2) -> Any:
    """Net positive suction head available (m) for a gauge suction pressure.

    >>> round(float(npsh_available_m(0.0)), 2)
    10.0
    """
    return (P_ATM_KPA + suction_kpa_gauge - vapour_kpa) * 1000.0 / (density * G)


def cavitation_severity(npsha_m: Any, npshr_bep_m: Any, flow_m3h: Any, q_bep: Any, wear: Any = 0.0) -> Any:
    """Cavitation severity in [0, 1]: 0 above 1.15 NPSHr, 1 at NPSHa = 0.5 NPSHr.

    >>> float(cavitation_severity(10.0, 4.0, 120.0, 120.0)), float(cavitation_severity(1.0, 4.0, 120.0, 120.0))
    (0.0, 1.0)
    """
    rel = flow_m3h / q_bep
    npshr = npshr_bep_m * rel * rel * (1.0 + 2.0 * wear)
    return np.clip((1.15 * npshr - npsha_m) / np.maximum(0.65 * npshr, 1e-6), 0.0, 1.0)


def compressor_discharge(head_m: Any, eta: Any, inlet_c: Any, inlet_kpa_abs: Any = P_ATM_KPA) -> Any:
    """``(pressure_kpa_gauge, temperature_c)`` at a compressor's discharge.

    >>> p, t = compressor_discharge(9000.0, 0.78, 25.0)
    >>> round(float(p)), round(float(t))
    (183, 138)
    """
    inlet_k = inlet_c + 273.15
    ratio = np.exp(G * head_m / (R_AIR * inlet_k))
    return inlet_kpa_abs * (ratio - 1.0), inlet_c + G * head_m / (CP_AIR * eta)
