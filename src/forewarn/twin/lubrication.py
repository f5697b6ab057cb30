"""Lubrication: oil (or grease) quality and what poor oil does to a bearing.

Oil quality ``q`` runs from 1 (fresh) to 0 (spent). Oxidation, like most chemical ageing, doubles in rate for
every 10 K (Arrhenius rule of thumb), so with a reference life ``L_oil`` at 60 degC::

    dq/dt = -1 / (L_oil * 2^((60 - T_bearing) / 10))

An oil change sets ``q = 1``. Poor oil thins the lubricating film: bearing friction rises by ``1 + (1 - q)``,
the spall initiation hazard by ``1 / (0.25 + 0.75 q)^2`` and spall growth by ``1 + (1 - q)``.

>>> round(float(oil_decay_per_hour(60.0, 8000.0)), 6), round(float(oil_decay_per_hour(80.0, 8000.0)), 6)
(0.000125, 0.0005)
>>> float(initiation_factor(1.0)), round(float(initiation_factor(0.2)), 2)
(1.0, 6.25)
"""

from __future__ import annotations

import numpy as np

__all__ = ["OIL_REFERENCE_C", "friction_factor", "growth_factor", "initiation_factor", "oil_decay_per_hour"]

OIL_REFERENCE_C = 60.0


def oil_decay_per_hour(bearing_c: np.ndarray | float, life_h: np.ndarray | float) -> np.ndarray:
    """Loss of oil quality per hour at a bearing temperature."""
    return 1.0 / (np.asarray(life_h) * np.exp2((OIL_REFERENCE_C - np.asarray(bearing_c)) / 10.0))


def friction_factor(quality: np.ndarray | float) -> np.ndarray:
    """Multiplier of bearing friction losses for an oil quality."""
    return 2.0 - np.asarray(quality)


def initiation_factor(quality: np.ndarray | float) -> np.ndarray:
    """Multiplier of the spall initiation hazard for an oil quality."""
    film = 0.25 + 0.75 * np.asarray(quality)
    return 1.0 / (film * film)


def growth_factor(quality: np.ndarray | float) -> np.ndarray:
    """Multiplier of spall growth for an oil quality."""
    return 2.0 - np.asarray(quality)
