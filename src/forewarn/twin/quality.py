"""Unit quality from the twin: a measured characteristic of the units a machine makes, which drifts as it wears.

A post-processing pass over a simulated fleet's hourly record (:class:`~forewarn.twin.degradation.Plan` and the
hourly regime), like :mod:`forewarn.twin.production`; the simulation is unchanged. Each hour an asset runs (at
least half the hour), ``units`` units are measured (a subgroup), each a deviation from nominal in micrometres:

``x = load_effect + shift + (1 + spread) * sigma0 * noise``, with

* ``load_effect = 4 (load - 0.7)`` (process parameter: a harder-driven machine cuts a little deeper);
* ``shift = 25 d_mech`` and ``spread = 3 d_mech``, where ``d_mech`` is the largest damage (0 new, 1 failed) of the
  modes that make the machine shake or run off-centre (bearing outer and inner race, imbalance, misalignment):
  the quality the machine delivers follows its mechanical condition;
* ``sigma0 = 5`` um; overheating, seal leaks and winding insulation do not touch the units.

So a degrading machine raises the share out of specification (``|x| > 15`` um by default) before it fails, for the
mechanical failure modes only. ``combine="sum"`` (a what-if, not the default) lets every mode's damage add up
(``d_mech`` the sum, capped at 1) instead of the largest one standing for all: with the largest, a bearing
defect growing on a machine with some imbalance or misalignment leaves the units unchanged until it outgrows
them (BENCHMARKS.md, issue 17: that is why quality warns late of bearing failures on this twin).

>>> from forewarn.twin.fleet import build_fleet
>>> fleet = build_fleet(sites=1, assets=2, days=3, seed=4, interval="1h")
>>> q = unit_quality(fleet, units=4, seed=0)
>>> q.measurements.shape[1], sorted(q.frame.columns)[:3]
(4, ['asset_id', 'd_mech', 'hour'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ParameterError
from forewarn.twin.assets import IMBALANCE, INNER, MISALIGNMENT, MODES, OUTER

QUALITY_MODES = (OUTER, INNER, IMBALANCE, MISALIGNMENT)
SIGMA0_UM = 5.0
SHIFT_UM = 25.0
SPREAD = 3.0
LOAD_UM = 4.0
SPEC_UM = 15.0


@dataclass
class UnitQuality:
    """One row per measured asset-hour (``frame``: asset_id, hour, ts, load, d_mech, out_of_spec) and its
    subgroup of measurements (``measurements``: rows aligned with ``frame``)."""

    frame: pd.DataFrame
    measurements: np.ndarray


def unit_quality(
    fleet: Any, *, units: int = 5, seed: int = 0, spec_um: float = SPEC_UM, combine: str = "max"
) -> UnitQuality:
    """Measure ``units`` units per running asset-hour of ``fleet`` (a built :class:`~forewarn.twin.fleet.Fleet`);
    ``combine``: how the quality modes' damages make ``d_mech``, ``"max"`` (the default) or ``"sum"``."""
    if combine not in ("max", "sum"):
        raise ParameterError(
            f"The 'combine' parameter of unit_quality must be 'max' or 'sum'. Got {combine!r} instead.",
            param="combine",
        )
    plan = fleet.plan
    n, hours = plan.run.shape
    modes = plan.damage[:, list(QUALITY_MODES), :hours]
    damage = np.clip(modes.max(axis=1) if combine == "max" else modes.sum(axis=1), 0.0, 1.0)
    load = np.clip(fleet.regime.load[:, :hours].astype(float), 0.0, 1.0)
    running = plan.run[:, :hours] >= 0.5
    rng = np.random.default_rng([seed, 17])
    asset_idx, hour_idx = np.nonzero(running)
    d = damage[asset_idx, hour_idx]
    mean = LOAD_UM * (load[asset_idx, hour_idx] - 0.7) + SHIFT_UM * d
    scale = (1.0 + SPREAD * d) * SIGMA0_UM
    x = mean[:, None] + scale[:, None] * rng.standard_normal((len(d), units))
    ids = np.asarray(fleet.asset_ids)
    frame = pd.DataFrame(
        {
            "asset_id": ids[asset_idx],
            "hour": hour_idx,
            "ts": fleet.start + pd.to_timedelta(hour_idx, unit="h"),
            "load": load[asset_idx, hour_idx],
            "d_mech": d,
            "out_of_spec": (np.abs(x) > spec_um).sum(axis=1),
        }
    )
    return UnitQuality(frame, x)


def failure_modes() -> dict[str, bool]:
    """Each failure mode and whether it affects unit quality."""
    return {mode: i in QUALITY_MODES for i, mode in enumerate(MODES)}
