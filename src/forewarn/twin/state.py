"""The state of one asset's twin, the starting point of a what-if (:mod:`~forewarn.twin.whatif`).

It comes from the simulator (:meth:`forewarn.twin.fleet.Fleet.twin_state`) or is estimated from readings
(:func:`forewarn.twin.calibrate.estimate_state`); :func:`forewarn.twin.whatif.what_if` runs futures from it.
It lives in a module of its own so that ``calibrate`` (which builds one) and ``whatif`` (which runs one and
calls ``calibrate`` for readings) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forewarn.twin.assets import AssetParams
from forewarn.twin.degradation import SlowState

__all__ = ["TwinState"]


@dataclass
class TwinState:
    """One asset's twin: parameters, condition, and its usual week (hourly schedule, load, ambient)."""

    asset_id: str
    asset_class: str
    params: AssetParams
    state: SlowState
    applicable: np.ndarray
    week_running: np.ndarray
    week_load: np.ndarray
    week_ambient: np.ndarray
    quality: float = 0.8
    source: str = "twin"
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def health(self) -> float:
        return float(1.0 - np.clip(self.state.damage.max(), 0.0, 1.0))
