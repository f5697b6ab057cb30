"""Unit quality from the twin: a measured characteristic of the units a machine makes, which drifts as it wears.

A post-processing pass over a simulated fleet's hourly record (:class:`~forewarn.twin.degradation.Plan` and the
hourly regime), like :mod:`forewarn.twin.production`; the simulation is unchanged. Each hour an asset runs (at
least half the hour), ``units`` units are measured (a subgroup), each a deviation from nominal in micrometres:

``x = load_effect + shift + (1 + spread) * sigma0 * noise``, with

* ``load_effect = 4 (load - 0.7)`` (process parameter: a harder-driven machine cuts a little deeper);
* ``shift = 25 d_mech`` and ``spread = 3 d_mech``, where ``d_mech`` combines the damages (0 new, 1 failed) of
  the modes that make the machine shake or run off-centre (bearing outer and inner race, imbalance,
  misalignment) as the root of the sum of their squares, capped at 1: the quality the machine delivers follows
  its mechanical condition;
* ``sigma0 = 5`` um; overheating, seal leaks and winding insulation do not touch the units.

So a degrading machine raises the share out of specification (``|x| > 15`` um by default) before it fails, for the
mechanical failure modes only.

Why the root of the sum of squares (``combine="rss"``, the default since 2026-12-05; before it, ``"max"``): the
sources are independent vibrations at different frequencies (1x shaft for imbalance, 2x for misalignment, the
defect frequencies of a damaged race), and independent parts add their powers, so the overall level is the root
of the sum of the squares of the parts (Parseval; the rule :mod:`forewarn.twin.vibration` applies to the
accelerometer's RMS; R. B. Randall, *Vibration-based Condition Monitoring*, Wiley 2011: the overall RMS from the
spectrum's components). With the largest damage standing for all (``"max"``) a second source changes the units
not at all until it outgrows the first, which no vibration source does; the plain sum (``"sum"``, coherent
sources in phase) is the other bound. Both remain what-ifs (BENCHMARKS.md, issue 17: how much each moves the lead
of quality over vibration; with any of the three a bearing defect shows in the units later than in vibration).

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
from forewarn.twin.assets import CHANNEL_NAMES, IMBALANCE, INNER, MISALIGNMENT, MODES, OUTER
from forewarn.twin.production import IDEAL_RATE

QUALITY_MODES = (OUTER, INNER, IMBALANCE, MISALIGNMENT)
SIGMA0_UM = 5.0
SHIFT_UM = 25.0
SPREAD = 3.0
LOAD_UM = 4.0
SPEC_UM = 15.0
#: How the quality modes' damages combine into the one ``d_mech`` the units follow.
COMBINE = ("max", "sum", "rss")


@dataclass
class UnitQuality:
    """One row per measured asset-hour (``frame``: asset_id, hour, ts, load, d_mech, out_of_spec) and its
    subgroup of measurements (``measurements``: rows aligned with ``frame``)."""

    frame: pd.DataFrame
    measurements: np.ndarray


def _combined(fleet: Any, combine: str) -> np.ndarray:
    """``d_mech`` per asset and hour: the quality modes' damages combined by ``combine``, capped at 1."""
    if combine not in COMBINE:
        raise ParameterError(
            f"The 'combine' parameter of unit_quality must be one of {', '.join(map(repr, COMBINE))}. "
            f"Got {combine!r} instead.",
            param="combine",
        )
    plan = fleet.plan
    modes = plan.damage[:, list(QUALITY_MODES), : plan.run.shape[1]]
    if combine == "max":
        damage = modes.max(axis=1)
    elif combine == "sum":
        damage = modes.sum(axis=1)
    else:
        damage = np.sqrt((np.clip(modes, 0.0, None) ** 2).sum(axis=1))
    return np.asarray(np.clip(damage, 0.0, 1.0))


@dataclass
class _RunningHours:
    """The running asset-hours (``asset``, ``hour`` indices) with their load, ``d_mech`` and the units' normal
    distribution there: ``centre`` (um) and ``scale`` (the SD, um), as the module text gives them."""

    asset: np.ndarray
    hour: np.ndarray
    load: np.ndarray
    d: np.ndarray
    centre: np.ndarray
    scale: np.ndarray


def _running_hours(fleet: Any, combine: str) -> _RunningHours:
    """Every running asset-hour of ``fleet`` and its units' distribution (module text)."""
    damage = _combined(fleet, combine)
    plan = fleet.plan
    hours = plan.run.shape[1]
    load = np.clip(fleet.regime.load[:, :hours].astype(float), 0.0, 1.0)
    asset_idx, hour_idx = np.nonzero(plan.run[:, :hours] >= 0.5)
    d = damage[asset_idx, hour_idx]
    at = load[asset_idx, hour_idx]
    centre = LOAD_UM * (at - 0.7) + SHIFT_UM * d
    scale = (1.0 + SPREAD * d) * SIGMA0_UM
    return _RunningHours(asset_idx, hour_idx, at, d, centre, scale)


def unit_quality(
    fleet: Any, *, units: int = 5, seed: int = 0, spec_um: float = SPEC_UM, combine: str = "rss"
) -> UnitQuality:
    """Measure ``units`` units per running asset-hour of ``fleet`` (a built :class:`~forewarn.twin.fleet.Fleet`);
    ``combine``: how the quality modes' damages make ``d_mech``, ``"rss"`` (the default: root of the sum of
    squares), ``"max"`` or ``"sum"``."""
    h = _running_hours(fleet, combine)
    rng = np.random.default_rng([seed, 17])
    x = h.centre[:, None] + h.scale[:, None] * rng.standard_normal((len(h.d), units))
    ids = np.asarray(fleet.asset_ids)
    frame = pd.DataFrame(
        {
            "asset_id": ids[h.asset],
            "hour": h.hour,
            "ts": fleet.start + pd.to_timedelta(h.hour, unit="h"),
            "load": h.load,
            "d_mech": h.d,
            "out_of_spec": (np.abs(x) > spec_um).sum(axis=1),
        }
    )
    return UnitQuality(frame, x)


def production_units(fleet: Any) -> np.ndarray:
    """Units made per asset and hour (``(assets, hours)``, int): every unit a 100 % inspection would measure.

    :data:`forewarn.twin.production.IDEAL_RATE` of the asset's class times the hour's load and run fraction
    (rounded; at least 2 in an hour the machine runs, none otherwise), as :mod:`~forewarn.twin.production` counts
    output less its health factor (the units are measured whatever their quality).
    """
    plan = fleet.plan
    hours = plan.run.shape[1]
    rate = np.array([IDEAL_RATE[a.asset_class] for a in fleet.assets])[:, None]
    load = np.clip(fleet.regime.load[:, :hours].astype(float), 0.0, 1.0)
    run = np.clip(plan.run[:, :hours].astype(float), 0.0, 1.0)
    made = np.maximum(np.rint(rate * load * run), 2).astype(np.int64)
    return np.where(run >= 0.5, made, 0)


def unit_subgroups(fleet: Any, units: int | np.ndarray = 5, *, seed: int = 0, combine: str = "rss") -> pd.DataFrame:
    """Each running asset-hour's subgroup summarised: ``asset_id, hour, load, d_mech, n, mean, var``.

    ``units`` is a count per hour or an ``(assets, hours)`` array of counts (e.g. :func:`production_units`);
    ``mean`` and ``var`` (the sample variance, ``n - 1`` in the divisor) are drawn from their exact
    distributions for ``n`` independent normal units (the mean normal, ``(n - 1) var / scale^2`` chi-square with
    ``n - 1`` degrees of freedom, independent of each other), which equals measuring every unit and summarising
    it, without holding a hundred units per row.

    >>> from forewarn.twin.fleet import build_fleet
    >>> fleet = build_fleet(sites=1, assets=2, days=3, seed=4, interval="1h")
    >>> g = unit_subgroups(fleet, production_units(fleet), seed=0)
    >>> bool((g["n"] >= 2).all()), list(g.columns)[-3:]
    (True, ['n', 'mean', 'var'])
    """
    h = _running_hours(fleet, combine)
    counts = np.broadcast_to(np.asarray(units), fleet.plan.run.shape)
    n = counts[h.asset, h.hour].astype(np.int64)
    if int(np.min(n, initial=2)) < 2:
        raise ParameterError("unit_subgroups needs at least 2 units in every running hour", param="units")
    rng = np.random.default_rng([seed, 17, 2])
    mean = h.centre + h.scale / np.sqrt(n) * rng.standard_normal(len(h.d))
    var = h.scale**2 * rng.chisquare(n - 1) / (n - 1)
    ids = np.asarray(fleet.asset_ids)
    return pd.DataFrame(
        {"asset_id": ids[h.asset], "hour": h.hour, "load": h.load, "d_mech": h.d, "n": n, "mean": mean, "var": var}
    )


def sensor_readings(fleet: Any, channels: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The fleet's rendered readings of ``channels``, each ``(assets, hours)`` float, for a fleet simulated at an
    hourly interval: what the plant's sensors report beside the inspection (measurement noise, each site's
    calibration gain and offset, sensor faults, dropouts as NaN), not the twin's noiseless physical state
    (``plan.vib_rms``, ``plan.bearing_c``); the comparisons of quality against sensors take these.

    >>> from forewarn.twin.fleet import build_fleet
    >>> fleet = build_fleet(sites=1, assets=2, days=3, seed=4, interval="1h")
    >>> sensor_readings(fleet, ("vib_rms",))["vib_rms"].shape
    (2, 72)
    """
    if fleet.interval_minutes != 60:
        raise ParameterError(
            f"sensor_readings needs a fleet simulated at interval '1h', not {fleet.interval_minutes} min",
            param="fleet",
        )
    rows = [CHANNEL_NAMES.index(name) for name in channels]
    values = np.concatenate([chunk.arrays.values[rows] for chunk in fleet.iter_chunks()], axis=2)
    hours = fleet.plan.run.shape[1]
    return {name: values[i, :, :hours].astype(float) for i, name in enumerate(channels)}


def failure_modes() -> dict[str, bool]:
    """Each failure mode and whether it affects unit quality."""
    return {mode: i in QUALITY_MODES for i, mode in enumerate(MODES)}
