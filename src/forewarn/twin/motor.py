"""Induction motor: losses, efficiency, current, and thermal ageing of the winding insulation.

**Losses.** With rated output ``P_r`` and rated efficiency ``eta_r`` the rated losses are
``P_L = P_r (1/eta_r - 1)``. A share ``c0`` of them is fixed (iron and windage, proportional to speed under V/f
control) and the rest is copper loss, proportional to the square of the load ``l = P_shaft / P_r``::

    losses = P_L * (c0 * speed_ratio + (1 - c0) * l^2) * (1 + 0.25 * D_ins^2)

where ``D_ins`` is the insulation damage (inter-turn leakage raises losses as insulation degrades), so the
efficiency ``eta = P_shaft / (P_shaft + losses)`` falls as the motor degrades. The winding node receives the
copper losses and half the fixed losses (stator iron).

**Current.** The magnetising current ``i0`` (about a third of rated) is in quadrature with the load current::

    I = I_r * sqrt(i0^2 + (1 - i0^2) * (P_in / P_in_r)^2),   I_r = P_in_r / (sqrt(3) V pf_r)

**Insulation life** follows the 10-degree rule (Montsinger/Arrhenius): life halves for every 10 K above the
class temperature, ``L(T) = L_ref * 2^((T_ref - T)/10)``; damage accrues as ``dD/dt = 1/L(T)`` plus a small
increment per start (voltage and mechanical stress).

>>> round(float(efficiency(shaft_kw=30.0, rated_kw=30.0, rated_efficiency=0.93)), 3)
0.93
>>> float(insulation_life_hours(165.0) / insulation_life_hours(155.0))
0.5
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "FIXED_LOSS_SHARE",
    "INSULATION_CLASS_F_C",
    "current_a",
    "efficiency",
    "insulation_life_hours",
    "loss_split_kw",
    "rated_current_a",
    "rated_efficiency_for",
]

FIXED_LOSS_SHARE = 0.35
NO_LOAD_CURRENT = 0.35
INSULATION_CLASS_F_C = 155.0
INSULATION_LIFE_REF_H = 20_000.0


def rated_efficiency_for(rated_kw: np.ndarray | float) -> np.ndarray:
    """A premium-efficiency (IE3-like) rated efficiency for a motor size.

    >>> [round(float(rated_efficiency_for(p)), 3) for p in (5.5, 55.0, 160.0)]
    [0.884, 0.954, 0.96]
    """
    return 0.96 - 0.1 * np.exp(-np.asarray(rated_kw, dtype=float) / 20.0)


def loss_split_kw(
    shaft_kw: Any, rated_kw: Any, rated_efficiency: Any, speed_ratio: Any = 1.0, insulation_damage: Any = 0.0
) -> Any:
    """``(fixed_kw, copper_kw)`` losses at a shaft load (arrays broadcast; dtype follows ``shaft_kw``)."""
    rated_loss = rated_kw * (1.0 / rated_efficiency - 1.0)
    load = shaft_kw / rated_kw
    worn = np.minimum(insulation_damage, 1.0)
    ageing = 1.0 + 0.25 * worn * worn
    fixed = rated_loss * FIXED_LOSS_SHARE * speed_ratio * ageing
    copper = rated_loss * (1.0 - FIXED_LOSS_SHARE) * load * load * ageing
    return fixed, copper


def efficiency(
    shaft_kw: Any, rated_kw: Any, rated_efficiency: Any, speed_ratio: Any = 1.0, insulation_damage: Any = 0.0
) -> Any:
    """Motor efficiency ``P_shaft / (P_shaft + losses)``; falls as the insulation degrades.

    >>> bool(efficiency(30.0, 30.0, 0.93, insulation_damage=0.8) < efficiency(30.0, 30.0, 0.93))
    True
    """
    fixed, copper = loss_split_kw(shaft_kw, rated_kw, rated_efficiency, speed_ratio, insulation_damage)
    return shaft_kw / (shaft_kw + fixed + copper)


def rated_current_a(rated_kw: Any, rated_efficiency: Any, voltage_v: Any = 400.0, power_factor: Any = 0.86) -> Any:
    """Line current at rated output: ``P_in_r / (sqrt(3) V pf_r)`` in A.

    >>> round(float(rated_current_a(55.0, 0.954)), 1)
    96.8
    """
    return rated_kw / rated_efficiency * 1000.0 / (math.sqrt(3.0) * voltage_v * power_factor)


def current_a(input_kw: Any, rated_kw: Any, rated_efficiency: Any, rated_current: Any) -> Any:
    """Line current for an electrical input power (magnetising + load components in quadrature)."""
    ratio = input_kw * (rated_efficiency / rated_kw)
    return rated_current * np.sqrt(NO_LOAD_CURRENT**2 + (1.0 - NO_LOAD_CURRENT**2) * ratio * ratio)


def insulation_life_hours(
    winding_c: np.ndarray | float, life_ref_h: float = INSULATION_LIFE_REF_H, class_c: float = INSULATION_CLASS_F_C
) -> np.ndarray:
    """Thermal life of class-F insulation at a winding temperature (10-degree rule)."""
    return life_ref_h * np.exp2((class_c - np.asarray(winding_c, dtype=float)) / 10.0)
