"""The hourly degradation engine: how each asset's condition evolves, fails and is restored.

Slow processes run on an hourly grid for all assets at once. :func:`hourly_increments` gives the increments of
a block of hours with the condition held at the block's start; the engine (:mod:`~forewarn.twin.engine`) takes
one day per block and accumulates the increments hour by hour, so the hour a damage crosses its limit is found
exactly while the Python loop runs over days only. Each damage ``D`` is normalised so that the asset fails when
``D`` reaches 1; the health index is ``1 - max(D)``.

===================  ===========================================================================================
mode                 process (``r`` = hours run this hour, ``s`` = speed ratio, ``G`` = unit-mean gamma noise)
===================  ===========================================================================================
bearing_outer_race   Weibull initiation (``L10``, beta 1.5, load^3, oil), then Paris-law growth
bearing_inner_race   ``dD = rate * D^1.5 * load^2 * oil * r * G`` (inner races grow 1.3 times faster)
imbalance            build-up/erosion ``dD = imb_rate * s^2 * r * G``
misalignment         settling ``dD = mis_rate * r * G``
overheating          cooling fouling ``dD = foul_rate * r * G`` plus sudden loss of cooling (fan or water
                     failure at the start of a day, ``D`` jumps to 0.8-0.95); the failure is the winding
                     over-temperature trip (or D=1)
seal_leak            wear ``dD = seal_rate * s * (1 + 2 D_mis + 2 D_imb + 3 cavitation) * r * G``
winding_insulation   Arrhenius ageing ``dD = r / L(T_winding)`` plus a little per start
===================  ===========================================================================================

Oil quality and impeller wear evolve too (see :mod:`~forewarn.twin.lubrication`, :mod:`~forewarn.twin.pump`).
The winding and bearing temperatures are carried hourly with the exact first-order lag of
:mod:`~forewarn.twin.thermal`. ``degradation_scale`` multiplies every rate (an accelerated-life knob for demos);
with ``degradation=False`` nothing degrades, so nothing fails.

A failure stops the asset; after the repair time the failed part is restored (:mod:`~forewarn.twin.maintenance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forewarn.twin.assets import (
    IMBALANCE,
    INNER,
    INSULATION,
    MISALIGNMENT,
    MODES,
    OUTER,
    OVERHEATING,
    SEAL,
    AssetParams,
)
from forewarn.twin.bearing import weibull_eta, weibull_hazard
from forewarn.twin.lubrication import growth_factor, initiation_factor, oil_decay_per_hour
from forewarn.twin.motor import insulation_life_hours

__all__ = ["FAULT_ONSET", "Plan", "Policy", "SlowState", "health_and_fault", "hourly_increments", "initial_state"]

#: Damage from which a mode counts as the active fault (a bearing spall counts from the moment it exists).
FAULT_ONSET = np.array([1e-9, 1e-9, 0.5, 0.5, 0.5, 0.5, 0.7])
WEIBULL_BETA = 1.5
POLICY_CODES = {"run_to_failure": 0, "time_based": 1, "condition_based": 2, "none": 3}


@dataclass
class SlowState:
    """The condition of each asset: damage ``(n, 7)``, bearing age, oil, impeller wear, node temperatures."""

    damage: np.ndarray
    bearing_age_h: np.ndarray
    oil: np.ndarray
    wear: np.ndarray
    winding_c: np.ndarray
    bearing_c: np.ndarray

    def copy(self) -> SlowState:
        return SlowState(*(np.array(getattr(self, f), dtype=float) for f in self.__dataclass_fields__))

    def take(self, index: np.ndarray) -> SlowState:
        return SlowState(*(np.array(getattr(self, f)[index], dtype=float) for f in self.__dataclass_fields__))


def initial_state(
    p: AssetParams, applicable: np.ndarray, ambient: np.ndarray, age_years: np.ndarray, rng: np.random.Generator
) -> SlowState:
    """A fleet in mid-life: some wear, a few early spalls, insulation aged by ``age_years`` in service."""
    n = p.n
    damage = np.zeros((n, len(MODES)))
    spall = rng.random((n, 2)) < 0.05
    damage[:, [OUTER, INNER]] = np.where(spall, rng.uniform(0.03, 0.25, (n, 2)), 0.0)
    damage[:, IMBALANCE] = rng.uniform(0.02, 0.3, n)
    damage[:, MISALIGNMENT] = rng.uniform(0.02, 0.25, n)
    damage[:, OVERHEATING] = rng.uniform(0.0, 0.2, n)
    damage[:, SEAL] = rng.uniform(0.0, 0.35, n)
    damage[:, INSULATION] = np.clip(0.025 * age_years / np.sqrt(p.insulation_life), 0.0, 0.9)
    damage *= applicable
    return SlowState(
        damage=damage,
        bearing_age_h=rng.uniform(0.0, 40_000.0, n),
        oil=rng.uniform(0.5, 1.0, n),
        wear=np.where(p.npshr_bep > 0, rng.uniform(0.0, 0.2, n), 0.0),
        winding_c=np.array(ambient, dtype=float),
        bearing_c=np.array(ambient, dtype=float),
    )


@dataclass
class Policy:
    """Maintenance policy per asset (hours count from the start of the simulation)."""

    code: np.ndarray  # see POLICY_CODES
    pm_interval_h: np.ndarray
    oil_interval_h: np.ndarray
    quality: np.ndarray
    next_pm_h: np.ndarray
    next_oil_h: np.ndarray
    planned_h: np.ndarray  # a one-off job (a condition-based repair, a what-if maintenance date)
    planned_mask: np.ndarray  # its actions; 0 = inspect and repair what is found

    def copy(self) -> Policy:
        return Policy(*(np.array(getattr(self, f)) for f in self.__dataclass_fields__))


@dataclass
class Plan:
    """What the engine recorded: hourly condition arrays and the event log (minutes from the start)."""

    damage: np.ndarray  # (n, 7, hours) at the start of each hour
    oil: np.ndarray
    wear: np.ndarray
    run: np.ndarray  # fraction of each hour run
    health: np.ndarray
    fault: np.ndarray  # 0 = none, 1 + mode index
    winding_c: np.ndarray
    bearing_c: np.ndarray
    vib_rms: np.ndarray
    final: SlowState
    failures: list[tuple[int, int, int]] = field(default_factory=list)  # asset, minute, mode
    downtime: list[tuple[int, int, int, int]] = field(default_factory=list)  # asset, start, end, kind
    maintenance: list[tuple[int, int, str, str, str]] = field(
        default_factory=list
    )  # asset, minute, action, result, note
    failed_at_h: np.ndarray | None = None  # stop_at_failure runs


def health_and_fault(damage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Health ``1 - max(D)`` and the active-fault code for ``(n, 7, ...)`` damage (modes on axis 1)."""
    health = 1.0 - np.clip(damage.max(axis=1), 0.0, 1.0)
    onset = FAULT_ONSET.reshape((1, -1) + (1,) * (damage.ndim - 2))
    excess = (damage - onset) / (1.0 - onset)
    code = np.where(excess.max(axis=1) > 0, excess.argmax(axis=1) + 1, 0)
    return health, code


def hourly_increments(
    p: AssetParams,
    d0: np.ndarray,
    oil0: np.ndarray,
    age0: np.ndarray,
    r: np.ndarray,
    s: np.ndarray,
    cavitation: np.ndarray,
    winding_c: np.ndarray,
    bearing_c: np.ndarray,
    was_running: np.ndarray,
    applicable: np.ndarray,
    rng: np.random.Generator,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damage, oil and wear increments for a block of hours with the condition held at its start.

    ``d0`` ``(n, 7)``, ``oil0`` and ``age0`` ``(n,)`` are the condition at the block start; ``r``, ``s``,
    ``cavitation`` (while running), ``winding_c`` and ``bearing_c`` are ``(n, hours)``. Returns
    ``(damage (n, 7, hours), oil (n, hours), wear (n, hours))`` increments; a spall that starts in the block
    appears as a jump in the hour it starts.
    """
    n, hours = r.shape
    inc = np.zeros((n, len(MODES), hours))
    noise = rng.standard_exponential((2, n, 7, hours)).sum(axis=0) * 0.5  # gamma(2, 1/2): unit mean
    rr = r * scale
    col = {m: d0[:, m : m + 1] for m in range(len(MODES))}
    bearing_load = (0.6 + 0.4 * s * s) * (1.0 + 0.5 * col[IMBALANCE] + 0.5 * col[MISALIGNMENT])
    age = age0[:, None] + np.cumsum(r, axis=1)
    eta = weibull_eta(p.l10_h, WEIBULL_BETA)[:, None]
    hazard = weibull_hazard(age, eta, WEIBULL_BETA) * bearing_load**3 * initiation_factor(oil0)[:, None] * rr
    for share, race in ((0.6, OUTER), (0.4, INNER)):
        starts = rng.random((n, hours)) < -np.expm1(-hazard * share)
        first = starts.argmax(axis=1)
        new = np.flatnonzero(starts.any(axis=1) & (d0[:, race] == 0) & applicable[:, race])
        inc[new, race, first[new]] = rng.uniform(0.02, 0.05, new.size)
    grow = (p.spall_growth * scale)[:, None] * bearing_load**2 * growth_factor(oil0)[:, None] * r
    inc[:, OUTER] += grow * col[OUTER] ** 1.5 * noise[:, 0]
    inc[:, INNER] += 1.3 * grow * col[INNER] ** 1.5 * noise[:, 1]
    inc[:, IMBALANCE] = p.imb_rate[:, None] * s * s * rr * noise[:, 2]
    inc[:, MISALIGNMENT] = p.mis_rate[:, None] * rr * noise[:, 3]
    inc[:, OVERHEATING] = p.foul_rate[:, None] * rr * noise[:, 4]
    inc[:, SEAL] = (
        p.seal_rate[:, None] * s * (1 + 2 * col[MISALIGNMENT] + 2 * col[IMBALANCE] + 3 * cavitation) * rr * noise[:, 5]
    )
    running = r > 0
    started = running & ~np.concatenate([was_running[:, None], running[:, :-1]], axis=1)
    inc[:, INSULATION] = (
        scale
        * (
            r / (insulation_life_hours(winding_c) * p.insulation_life[:, None])
            + started * (2e-5 / p.insulation_life[:, None])
        )
        * applicable[:, INSULATION, None]
    )
    oil = -scale * oil_decay_per_hour(bearing_c, p.oil_life_h[:, None])
    wear = p.wear_rate[:, None] * s**3 * (1 + 5 * cavitation) * rr * noise[:, 6]
    return inc, oil, wear
