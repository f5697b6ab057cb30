"""Rolling-element bearings: defect frequencies from geometry, and how a spall starts and grows.

Geometry (``n`` rolling elements of diameter ``d`` on a pitch circle ``D``, contact angle ``phi``, shaft
frequency ``f_r``) gives the rates at which a single defect is struck::

    BPFO = n/2 * f_r * (1 - d/D cos phi)           ball pass, outer race
    BPFI = n/2 * f_r * (1 + d/D cos phi)           ball pass, inner race
    BSF  = D/(2d) * f_r * (1 - (d/D cos phi)^2)    ball spin
    FTF  = f_r/2 * (1 - d/D cos phi)               cage (fundamental train)

Degradation has two phases:

* **initiation**: a subsurface fatigue spall appears with a Weibull hazard in operating hours
  ``h(t) = beta/eta * (t/eta)^(beta-1)``; ``eta`` follows from the catalogue life ``L10`` (10 % of bearings
  fail by then: ``eta = L10 / (-ln 0.9)^(1/beta)``) and the hazard scales with ``(P/P_rated)^3`` (ball-bearing
  life exponent) and with poor lubrication;
* **growth**: the spall size ``a`` grows like a fatigue crack (Paris law ``da/dN = C * dK^m`` with
  ``dK ~ sqrt(a)``), i.e. ``da/dt = r * a^(m/2)``; with ``m = 3`` the damage ``D = a/a_crit`` follows
  ``dD/dt = r * D^1.5`` and the time from ``D0`` to failure is ``(D0^-0.5 - 1) / (0.5 r)``. The simulator
  multiplies each step's increment by a unit-mean gamma variate (a stochastic, monotone degradation path).

>>> g = BEARINGS["6205"]
>>> [round(x, 4) for x in g.orders()]        # BPFO, BPFI, BSF, FTF per shaft revolution
[3.5848, 5.4152, 2.3567, 0.3983]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "BEARINGS",
    "BearingFrequencies",
    "BearingGeometry",
    "paris_growth_rate",
    "time_to_failure_hours",
    "weibull_eta",
    "weibull_hazard",
]

PARIS_EXPONENT = 1.5  # m/2 with Paris exponent m = 3


class BearingFrequencies(NamedTuple):
    """Defect frequencies in Hz (or orders, for a shaft frequency of 1)."""

    bpfo: float
    bpfi: float
    bsf: float
    ftf: float


@dataclass(frozen=True)
class BearingGeometry:
    """Geometry of a rolling-element bearing (lengths in mm, angle in degrees)."""

    n_elements: int
    element_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0

    @property
    def _ratio(self) -> float:
        return self.element_diameter_mm / self.pitch_diameter_mm * math.cos(math.radians(self.contact_angle_deg))

    def frequencies(self, shaft_hz: float) -> BearingFrequencies:
        """BPFO, BPFI, BSF and FTF in Hz for a shaft turning at ``shaft_hz``.

        >>> round(BEARINGS["6205"].frequencies(29.95).bpfo, 2)
        107.36
        """
        r = self._ratio
        n = self.n_elements
        return BearingFrequencies(
            bpfo=n / 2 * shaft_hz * (1 - r),
            bpfi=n / 2 * shaft_hz * (1 + r),
            bsf=self.pitch_diameter_mm / (2 * self.element_diameter_mm) * shaft_hz * (1 - r * r),
            ftf=shaft_hz / 2 * (1 - r),
        )

    def orders(self) -> BearingFrequencies:
        """The defect frequencies as multiples of the shaft frequency."""
        return self.frequencies(1.0)


#: Deep-groove ball bearings common on motors, pumps and fans (element count and diameters from
#: manufacturers' tables; 6205 is the bearing of the Case Western Reserve test rig).
BEARINGS: dict[str, BearingGeometry] = {
    "6205": BearingGeometry(9, 7.94, 39.04),
    "6206": BearingGeometry(9, 9.53, 46.0),
    "6309": BearingGeometry(8, 17.46, 72.5),
    "6312": BearingGeometry(8, 22.23, 95.0),
    "6316": BearingGeometry(8, 28.58, 125.0),
}


def weibull_eta(l10_hours: np.ndarray | float, beta: float) -> np.ndarray:
    """Weibull scale from the L10 life: ``eta = L10 / (-ln 0.9)^(1/beta)``.

    >>> round(float(weibull_eta(10_000.0, 1.5)))
    44828
    """
    return np.asarray(l10_hours, dtype=float) / (-math.log(0.9)) ** (1.0 / beta)


def weibull_hazard(age_hours: np.ndarray, eta: np.ndarray, beta: float) -> np.ndarray:
    """Instantaneous Weibull hazard per hour ``beta/eta * (age/eta)^(beta-1)`` (age floored at 1 h)."""
    age = np.maximum(np.asarray(age_hours, dtype=float), 1.0)
    return beta / eta * (age / eta) ** (beta - 1.0)


def paris_growth_rate(damage: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Mean growth ``dD/dt = rate * D^1.5`` of a spall's normalised size ``D = a/a_crit`` (per hour)."""
    d = np.maximum(np.asarray(damage, dtype=float), 0.0)
    return rate * d * np.sqrt(d)


def time_to_failure_hours(d0: float, rate: float) -> float:
    """Hours for a spall to grow from ``d0`` to 1 at constant ``rate`` (the closed form of the Paris law).

    >>> d, h, rate = 0.04, 0.01, 0.02
    >>> steps = 0
    >>> while d < 1.0:
    ...     d += h * rate * d ** 1.5; steps += 1
    >>> abs(steps * h - time_to_failure_hours(0.04, rate)) < 1.0
    True
    """
    return (d0 ** (1.0 - PARIS_EXPONENT) - 1.0) / ((PARIS_EXPONENT - 1.0) * rate)
