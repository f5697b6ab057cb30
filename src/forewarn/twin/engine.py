"""The slow engine: a fleet's condition, failures and maintenance over the whole period, a day per step.

Each day, for all assets at once:

1. oil changes that fall due are done; visits and scheduled repairs that fall due start (at an hour boundary);
   a sudden loss of cooling may strike;
2. the hours run follow from the schedule minus downtime; the machine equations (:func:`~forewarn.twin.machine.operate`)
   give the operating point of each hour with the condition held at the day's start, and the winding and bearing
   temperatures follow hour by hour (exact first-order lag);
3. hourly damage increments (:func:`~forewarn.twin.degradation.hourly_increments`) are accumulated; the first
   hour in which a damage reaches 1, or the winding passes its trip temperature, is a failure (the minute is
   interpolated inside the hour), and the asset stops until it is repaired;
4. work that finishes during the day restores the asset from that hour on;
5. condition monitoring takes its daily look and schedules repairs.

The Python loop is over days; per-asset loops touch only the few assets with a failure or finished work.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forewarn.twin.assets import INSULATION, MODES, OVERHEATING, AssetParams
from forewarn.twin.degradation import POLICY_CODES, Plan, Policy, SlowState, health_and_fault, hourly_increments
from forewarn.twin.machine import components_at, operate
from forewarn.twin.maintenance import (
    BIT,
    DETECT_THRESHOLD,
    INSPECT_THRESHOLD,
    MODE_BITS,
    REPAIR_HOURS,
    action_mask,
    actions_of,
    restore,
)
from forewarn.twin.sites import HourlyRegime
from forewarn.twin.thermal import first_order_lag
from forewarn.twin.vibration import summarise

__all__ = ["run_plan"]

_HEAVY = BIT["replace_bearing"] | BIT["rewind_motor"] | BIT["replace_seal"]


class _Log:
    def __init__(self) -> None:
        self.failures: list[tuple[int, int, int]] = []
        self.downtime: list[tuple[int, int, int, int]] = []
        self.maintenance: list[tuple[int, int, str, str, str]] = []


def _start_work(
    h0: int,
    st: SlowState,
    pol: Policy,
    down: dict[str, np.ndarray],
    failed: np.ndarray,
    rng: np.random.Generator,
    log: _Log,
) -> None:
    """Oil rounds, calendar visits and scheduled repairs that fall due today (assets that are up)."""
    up = (down["kind"] == 0) & ~failed
    oil_due = np.flatnonzero(up & (pol.next_oil_h < h0 + 24))
    if oil_due.size:
        st.oil[oil_due] = 1.0
        for a in oil_due:
            log.maintenance.append(
                (
                    int(a),
                    60 * int(np.clip(np.ceil(pol.next_oil_h[a]), h0, h0 + 23)),
                    "oil_change",
                    "planned",
                    "lubrication round",
                )
            )
        pol.next_oil_h[oil_due] = np.maximum(pol.next_oil_h[oil_due], h0) + pol.oil_interval_h[oil_due]
    due_h = np.minimum(pol.next_pm_h, pol.planned_h)
    rows = np.flatnonzero(up & (due_h < h0 + 24))
    if rows.size == 0:
        return
    planned = pol.planned_h[rows] <= pol.next_pm_h[rows]
    d = st.damage[rows]
    found = (d >= INSPECT_THRESHOLD) & (d > 0) & (rng.random(d.shape) < 0.85)
    masks = action_mask(found) | BIT["clean_cooling"] | np.where(st.wear[rows] > 0.4, BIT["replace_impeller"], 0)
    masks = np.where(planned & (pol.planned_mask[rows] > 0), pol.planned_mask[rows], masks)
    hours = rng.uniform(3.0, 6.0, rows.size) + 10.0 * ((masks & _HEAVY) > 0)
    begin = 60 * np.clip(np.ceil(due_h[rows]), h0, h0 + 23).astype(np.int64)
    down["start"][rows] = begin
    down["until"][rows] = begin + (hours * 60).astype(np.int64)
    down["kind"][rows] = 2
    down["mask"][rows] = masks
    down["note"][rows] = np.where(planned, "scheduled repair", "time-based visit")
    log.downtime.extend((int(a), int(down["start"][a]), int(down["until"][a]), 2) for a in rows)
    visit = rows[~planned]
    pol.next_pm_h[visit] = np.maximum(pol.next_pm_h[visit], h0) + pol.pm_interval_h[visit]
    pol.planned_h[rows[planned]] = np.inf


def _fail(
    a: int,
    k: int,
    h0: int,
    level: np.ndarray,
    inc: np.ndarray,
    down: dict[str, np.ndarray],
    rng: np.random.Generator,
    log: _Log,
    stop: bool,
) -> int:
    """Record asset ``a`` failing in hour ``k`` of the day; returns the failure minute."""
    crossed = level[a, :, k] >= 1.0
    if crossed.any():
        mode = int(np.argmax(level[a, :, k]))
        before = level[a, mode, k] - inc[a, mode, k]
        frac = (1.0 - before) / max(inc[a, mode, k], 1e-12)
    else:
        mode, frac = OVERHEATING, float(rng.random())
    minute = 60 * (h0 + k) + int(np.clip(frac, 0.0, 0.999) * 60)
    log.failures.append((a, minute, mode))
    if stop:
        return minute
    repair = REPAIR_HOURS[mode] * float(np.exp(rng.normal(0.0, 0.4)))
    down["start"][a], down["until"][a], down["kind"][a] = minute, minute + int(repair * 60), 1
    down["mask"][a] = int(MODE_BITS[mode]) | BIT["oil_change"]
    down["note"][a] = f"repair after {MODES[mode]} failure"
    log.downtime.append((a, minute, int(down["until"][a]), 1))
    return minute


def run_plan(
    p: AssetParams,
    state: SlowState,
    regime: HourlyRegime,
    policy: Policy,
    applicable: np.ndarray,
    rng: np.random.Generator,
    *,
    degradation: bool = True,
    scale: float = 1.0,
    stop_at_failure: bool = False,
    daily: Callable[..., None] | None = None,
) -> Plan:
    """Run the fleet day by day (see the module docstring); ``stop_at_failure`` ends each asset at its first failure.
    ``daily(hour, state, policy, down, failed, rec)`` is called at the end of each day (a maintenance policy's
    look: it may set ``policy.planned_h`` and ``policy.planned_mask``; ``rec`` holds the hourly record so far)."""
    n, total_hours = regime.load.shape
    st, pol = state.copy(), policy.copy()
    rec = {
        k: np.zeros((n, total_hours), np.float32)
        for k in ("oil", "wear", "run", "health", "winding_c", "bearing_c", "vib_rms")
    }
    rec_damage = np.zeros((n, len(MODES), total_hours), np.float32)
    rec_fault = np.zeros((n, total_hours), np.int8)
    down: dict[str, np.ndarray] = {
        "start": np.zeros(n, np.int64),
        "until": np.zeros(n, np.int64),
        "kind": np.zeros(n, np.int8),
        "mask": np.zeros(n, np.int64),
        "note": np.empty(n, dtype=object),
    }
    failed = np.zeros(n, bool)
    failed_at = np.full(n, np.inf)
    was_running = np.zeros(n, bool)
    log = _Log()
    tau_w, tau_b = p.winding_tau_s[:, None], p.bearing_tau_s[:, None]
    pc = p.columns(float)
    shares = {"low": pc.share_low, "mid": pc.share_mid, "high": pc.share_high}
    for h0 in range(0, total_hours, 24):
        hours = min(24, total_hours - h0)
        hs = slice(h0, h0 + hours)
        _start_work(h0, st, pol, down, failed, rng, log)
        if degradation:
            sudden = np.flatnonzero(rng.random(n) < p.cooling_loss_hazard * 24 * scale)
            st.damage[sudden, OVERHEATING] = np.maximum(
                st.damage[sudden, OVERHEATING], rng.uniform(0.8, 0.95, sudden.size)
            )
        # hours run: schedule minus downtime (failed runs stay down)
        h_start = 60 * (h0 + np.arange(hours, dtype=np.int64))[None, :]
        busy = np.clip(
            np.minimum(down["until"][:, None], h_start + 60) - np.maximum(down["start"][:, None], h_start), 0, 60
        )
        r = regime.scheduled[:, hs] * (1.0 - np.where(down["kind"][:, None] > 0, busy, 0) / 60.0) * ~failed[:, None]
        # work finishing today restores the asset at the end of the day (below); until then the engine keeps it idle
        finishing = (down["kind"] > 0) & (down["until"] < 60 * (h0 + hours))
        r[finishing] *= h_start[0] < (down["until"][finishing, None] // 60) * 60
        d0 = st.damage.copy()
        cols = [d0[:, m : m + 1] for m in range(len(MODES))]
        op = operate(pc, regime.load[:, hs], r, cols, st.oil[:, None], st.wear[:, None], regime.ambient[:, hs])
        decay_w = np.exp(-3600.0 * op.cooling / tau_w)
        winding = first_order_lag(op.winding_target.T, decay_w.T, st.winding_c).T
        bearing = first_order_lag(op.bearing_target.T, np.exp(-3600.0 / tau_b).T, st.bearing_c).T
        cav_run = op.cavitation / np.maximum(r, 1e-3)
        if degradation:
            inc, oil_inc, wear_inc = hourly_increments(
                p,
                d0,
                st.oil,
                st.bearing_age_h,
                r,
                op.speed_ratio,
                cav_run,
                winding,
                bearing,
                was_running,
                applicable,
                rng,
                scale,
            )
        else:
            inc, oil_inc, wear_inc = np.zeros((n, len(MODES), hours)), np.zeros((n, hours)), np.zeros((n, hours))
        level = d0[:, :, None] + np.cumsum(inc, axis=2)  # damage at the end of each hour
        oil = np.maximum(st.oil[:, None] + np.cumsum(oil_inc, axis=1), 0.0)
        wear = st.wear[:, None] + np.cumsum(wear_inc, axis=1)
        age = st.bearing_age_h[:, None] + np.cumsum(r, axis=1)
        at_start = level - inc  # damage during each hour
        unhealthy = ((down["kind"][:, None] == 1) & (busy > 0)) | failed[:, None]
        # failures: the first hour with a damage at 1 or a winding trip, while running
        trip = winding > p.trip_c[:, None]
        failing = ((level >= 1.0).any(axis=1) | trip) & (r > 0) & (down["kind"][:, None] != 1) & ~failed[:, None]
        for a in np.flatnonzero(failing.any(axis=1)):
            k = int(np.argmax(failing[a]))
            minute = _fail(int(a), k, h0, level, inc, down, rng, log, stop_at_failure)
            mode = log.failures[-1][2]
            level[a, :, k:] = level[a, :, k : k + 1]
            level[a, mode, k:] = 1.0
            at_start[a, :, k + 1 :] = level[a, :, k : k + 1]
            oil[a, k:], wear[a, k:], age[a, k:] = oil[a, k], wear[a, k], age[a, k]
            r[a, k + 1 :] = 0.0
            unhealthy[a, k:] = True
            if stop_at_failure:
                failed[a] = True
                failed_at[a] = minute / 60.0
            elif mode == OVERHEATING:
                level[a, INSULATION, k:] = np.minimum(level[a, INSULATION, k] + 0.05, 0.99)
        st.damage = level[:, :, -1].copy()
        st.oil, st.wear, st.bearing_age_h = oil[:, -1].copy(), wear[:, -1].copy(), age[:, -1].copy()
        st.winding_c, st.bearing_c = winding[:, -1].copy(), bearing[:, -1].copy()
        # work finishing today restores the asset from that hour on
        done = np.flatnonzero((down["kind"] > 0) & (down["until"] < 60 * (h0 + hours)))
        if done.size:
            restore(st, done, down["mask"][done], pol.quality, rng)
            for a in done:
                k = int(down["until"][a] // 60 - h0)
                at_start[a, :, k:] = st.damage[a, :, None]
                oil[a, k:], wear[a, k:] = st.oil[a], st.wear[a]
                unhealthy[a, k:] = False
                result = "corrective" if down["kind"][a] == 1 else "planned"
                log.maintenance.extend(
                    (int(a), int(down["until"][a]), action, result, down["note"][a])
                    for action in actions_of(int(down["mask"][a]))
                )
            down["kind"][done] = 0
        health, code = health_and_fault(at_start)
        rec["health"][:, hs] = np.where(unhealthy, 0.0, health)
        rec_fault[:, hs] = code
        rec_damage[:, :, hs] = at_start
        rec["oil"][:, hs], rec["wear"][:, hs], rec["run"][:, hs] = oil, wear, r
        rec["winding_c"][:, hs], rec["bearing_c"][:, hs] = winding, bearing
        vib = summarise(
            components_at(
                pc, op.speed_ratio, (r > 0).astype(float), [at_start[:, m] for m in range(len(MODES))], cav_run
            ),
            band_shares=shares,
        )
        rec["vib_rms"][:, hs] = vib["rms"]
        was_running = r[:, -1] > 0
        _condition_monitoring(h0 + hours, st, pol, down, failed, rng)
        if daily is not None:
            daily(h0 + hours, st, pol, down, failed, rec)
    return Plan(
        damage=rec_damage,
        oil=rec["oil"],
        wear=rec["wear"],
        run=rec["run"],
        health=rec["health"],
        fault=rec_fault,
        winding_c=rec["winding_c"],
        bearing_c=rec["bearing_c"],
        vib_rms=rec["vib_rms"],
        final=st,
        failures=log.failures,
        downtime=log.downtime,
        maintenance=log.maintenance,
        failed_at_h=failed_at if stop_at_failure else None,
    )


def _condition_monitoring(
    h: int, st: SlowState, pol: Policy, down: dict[str, np.ndarray], failed: np.ndarray, rng: np.random.Generator
) -> None:
    """A daily look: a detected fault (50 % chance a day once past the threshold) is repaired 1 to 5 days later."""
    watch = np.flatnonzero(
        (pol.code == POLICY_CODES["condition_based"]) & (down["kind"] == 0) & ~failed & ~np.isfinite(pol.planned_h)
    )
    if watch.size == 0:
        return
    seen = (st.damage[watch] >= DETECT_THRESHOLD) & (rng.random((watch.size, len(MODES))) < 0.5)
    hit = seen.any(axis=1)
    rows = watch[hit]
    pol.planned_h[rows] = h + rng.uniform(24.0, 120.0, rows.size)
    pol.planned_mask[rows] = action_mask(seen[hit])
