"""Maintenance: the actions that restore health, which failure each repairs, and the site policies.

Actions (and what they restore):

==================  ==============================================================================
replace_bearing     both race spalls removed, bearing age 0, fresh grease; the coupling is refitted, so
                    misalignment returns to the crew's residual
balance             imbalance back to the residual of a field balance
align               misalignment back to the residual of a laser alignment
clean_cooling       fins and fan cleaned (fouling near 0)
replace_seal        seal wear 0
rewind_motor        insulation renewed, cooling cleaned in the shop
oil_change          oil quality 1
replace_impeller    impeller wear 0
==================  ==============================================================================

Residuals after work are ``U(0, 0.25) * (1.2 - quality)``: a careless crew leaves more imbalance and
misalignment behind (and so seeds the next failure).

Policies: ``run_to_failure`` (repair after failure, oil changed on a calendar), ``time_based`` (a visit every
``pm_interval_days``: oil change, cleaning, and inspection that repairs what it finds), ``condition_based``
(a daily look at monitored condition; a detected fault is repaired a few days later).

>>> ACTIONS.index("balance"), MODE_ACTION["seal_leak"]
(1, 'replace_seal')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forewarn.twin.assets import IMBALANCE, INNER, INSULATION, MISALIGNMENT, MODES, OUTER, OVERHEATING, SEAL

__all__ = ["ACTIONS", "DETECT_THRESHOLD", "INSPECT_THRESHOLD", "MODE_ACTION", "REPAIR_HOURS", "action_mask", "restore"]

ACTIONS = (
    "replace_bearing",
    "balance",
    "align",
    "clean_cooling",
    "replace_seal",
    "rewind_motor",
    "oil_change",
    "replace_impeller",
)
BIT = {name: 1 << i for i, name in enumerate(ACTIONS)}
MODE_ACTION = {
    "bearing_outer_race": "replace_bearing",
    "bearing_inner_race": "replace_bearing",
    "imbalance": "balance",
    "misalignment": "align",
    "overheating": "clean_cooling",
    "seal_leak": "replace_seal",
    "winding_insulation": "rewind_motor",
}
PARTS = {
    "replace_bearing": "bearing {bearing}",
    "replace_seal": "mechanical seal",
    "rewind_motor": "stator winding",
    "oil_change": "lubricant",
    "replace_impeller": "impeller",
}
#: Median hours to repair after a failure, per mode.
REPAIR_HOURS = np.array([36.0, 36.0, 12.0, 8.0, 24.0, 18.0, 120.0])
#: Damage a time-based inspection notices, per mode (spalls are found early by an inspection).
INSPECT_THRESHOLD = np.array([0.15, 0.15, 0.35, 0.35, 0.0, 0.5, 0.85])
#: Damage condition monitoring detects, per mode.
DETECT_THRESHOLD = np.array([0.25, 0.25, 0.55, 0.55, 0.5, 0.55, 0.85])
MODE_BITS = np.array([BIT[MODE_ACTION[m]] for m in MODES])


def action_mask(modes_found: np.ndarray) -> np.ndarray:
    """Action bit masks for boolean ``(n, 7)`` findings (mode -> repairing action), plus an oil change.

    >>> int(action_mask(np.array([[True, False, False, False, False, False, False]]))[0]) == BIT["replace_bearing"] | BIT["oil_change"]
    True
    """
    if modes_found.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.bitwise_or.reduce(np.where(modes_found, MODE_BITS, 0), axis=1) | BIT["oil_change"]


def actions_of(mask: int) -> list[str]:
    """Action names in a bit mask."""
    return [name for name in ACTIONS if mask & BIT[name]]


def restore(state: Any, rows: np.ndarray, masks: np.ndarray, quality: np.ndarray, rng: np.random.Generator) -> None:
    """Apply the actions in ``masks`` to assets ``rows`` of a :class:`~forewarn.twin.degradation.SlowState`."""
    if rows.size == 0:
        return
    residual = rng.uniform(0.0, 0.25, rows.size) * (1.2 - quality[rows])
    d = state.damage

    def doing(name: str) -> np.ndarray:
        return rows[(masks & BIT[name]) > 0]

    b = doing("replace_bearing")
    d[b, OUTER] = 0.0
    d[b, INNER] = 0.0
    state.bearing_age_h[b] = 0.0
    state.oil[b] = 1.0
    for name, mode in (("replace_bearing", MISALIGNMENT), ("align", MISALIGNMENT), ("balance", IMBALANCE)):
        sel = (masks & BIT[name]) > 0
        d[rows[sel], mode] = residual[sel]
    c = doing("clean_cooling")
    d[c, OVERHEATING] = rng.uniform(0.0, 0.05, c.size)
    d[doing("replace_seal"), SEAL] = 0.0
    w = doing("rewind_motor")
    d[w, INSULATION] = 0.02
    d[w, OVERHEATING] = 0.02
    state.oil[doing("oil_change")] = 1.0
    state.wear[doing("replace_impeller")] = 0.0
