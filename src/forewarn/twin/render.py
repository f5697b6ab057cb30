"""The fast path: per-interval readings and ground truth rendered from the hourly plan, chunk by chunk.

A chunk covers whole days; per-step arrays are shaped ``(assets, hours, steps_per_hour)`` so that hourly
quantities (damage, oil, schedule) broadcast as ``(assets, hours, 1)`` without copies, and everything is float32.
For each hour the renderer evaluates the machine equations (:func:`~forewarn.twin.machine.operate`, the same the
hourly engine uses) at the hour's load and at the load plus 1 %; each step's load differs from the hour's by ~1 %
of noise, and its power, current, flow, pressure, leak and heat follow from the hour's values by that first-order
(Taylor) slope, and drop to standstill values in steps the machine is stopped. The winding and bearing nodes are
integrated exactly with the vectorised closed form of :func:`~forewarn.twin.thermal.first_order_lag_blocked`
(cumulative sums over time, no loop over steps), with the winding's cooling switching per step between running and
standstill. Vibration summaries are computed per hour analytically (:func:`~forewarn.twin.vibration.summarise`),
running and standing, and chosen per step. Measurement noise, site calibration (gain, offset) and sensor faults
come last. Gaussian noise is taken as random slices of a pool of 4 million draws made once per fleet (a slice is a
view, so noise costs one multiply-add per value; pieces of the pool recur at random offsets, which no model can
exploit across channels and days).

Ground truth per step: ``health`` (``1 - max damage``, 0 from a failure until its repair ends),
``rul_minutes`` (minutes to the asset's next failure; 0 while failed; NaN when no failure follows within the
simulated period, i.e. right-censored) and ``active_fault`` (code into ``("none",) + MODES``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forewarn.twin.assets import CHANNEL_NAMES, MODES, AssetParams
from forewarn.twin.degradation import Plan
from forewarn.twin.machine import components_at, operate
from forewarn.twin.sensors import SensorFaults, apply_sensor_faults
from forewarn.twin.sites import HourlyRegime
from forewarn.twin.thermal import first_order_lag_blocked
from forewarn.twin.vibration import summarise

__all__ = ["FAULT_NAMES", "ChunkArrays", "Renderer"]

FAULT_NAMES = ("none", *MODES)
#: Measurement noise per channel: (relative sd, absolute sd).
NOISE: dict[str, tuple[float, float]] = {
    "speed": (0.001, 0.0),
    "current": (0.01, 0.0),
    "power": (0.01, 0.0),
    "winding_temp": (0.0, 0.2),
    "bearing_temp": (0.0, 0.2),
    "ambient_temp": (0.0, 0.2),
    "vib_rms": (0.02, 0.0),
    "vib_peak": (0.05, 0.0),
    "vib_kurtosis": (0.05, 0.0),
    "vib_band_low": (0.04, 0.0),
    "vib_band_mid": (0.04, 0.0),
    "vib_band_high": (0.04, 0.0),
    "oil_quality": (0.0, 0.01),
    "flow": (0.015, 0.0),
    "discharge_pressure": (0.007, 0.0),
    "seal_leak": (0.05, 0.01),
    "discharge_temp": (0.0, 0.5),
}
_INDEX = {name: i for i, name in enumerate(CHANNEL_NAMES)}
_EPS = np.float32(0.01)  # load step of the finite-difference slope


@dataclass
class ChunkArrays:
    """One rendered chunk: ``values`` ``(channels, assets, steps)`` and truth ``(assets, steps)`` arrays."""

    first_step: int
    minutes: np.ndarray
    values: np.ndarray
    health: np.ndarray
    rul: np.ndarray
    fault: np.ndarray


class Renderer:
    """Renders consecutive chunks of a simulated fleet (keeps the thermal state between chunks)."""

    def __init__(
        self,
        params: AssetParams,
        plan: Plan,
        regime: HourlyRegime,
        channel_mask: np.ndarray,
        gain: np.ndarray,
        offset: np.ndarray,
        faults: SensorFaults,
        interval_min: int,
        seed: int,
        pool_size: int,
    ) -> None:
        self.p = params
        self.p2 = params.columns(np.float32)
        self.plan, self.regime, self.faults = plan, regime, faults
        self.interval = interval_min
        self.sph = 60 // interval_min
        self.n = params.n
        self.gain = gain.T.astype(np.float32)[:, :, None]  # (channels, n, 1)
        self.offset = offset.T.astype(np.float32)[:, :, None]
        self.scaled = (self.gain != 1.0).any(axis=(1, 2))
        self.shifted = (self.offset != 0.0).any(axis=(1, 2))
        self.missing = ~channel_mask.T  # (channels, n)
        self.seed = seed
        self.ambient = np.concatenate([regime.ambient, regime.ambient[:, -1:]], axis=1).astype(np.float32)
        self.thermal = np.stack([regime.ambient[:, 0], regime.ambient[:, 0]]).astype(np.float32)  # (node, asset)
        self.pool = np.random.default_rng([seed, 99]).standard_normal(max(pool_size, 1 << 22), dtype=np.float32)
        self.held: dict[int, np.ndarray] = {}
        down = np.array(plan.downtime, dtype=np.int64).reshape(-1, 4)
        self.down = down[np.argsort(down[:, 1], kind="stable")] if down.size else down
        fails = np.array(plan.failures, dtype=np.int64).reshape(-1, 3)
        self.fail_minutes = [np.sort(fails[fails[:, 0] == a, 1]) for a in range(self.n)]
        self.fail_mode = {(int(a), int(m)): int(mode) for a, m, mode in fails}
        self.next_step = 0

    def _noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Standard normal noise: a random slice of the pool (a read-only view, no copy)."""
        size = math.prod(shape)
        first = int(rng.integers(0, self.pool.size - size + 1))
        return self.pool[first : first + size].reshape(shape)

    def render(self, first_step: int, steps: int) -> ChunkArrays:
        """Render ``steps`` steps starting at ``first_step`` (must follow the previous chunk; whole hours)."""
        if first_step != self.next_step:
            raise ValueError(f"chunks must be rendered in order: expected step {self.next_step}, got {first_step}")
        p, n, sph, iv = self.p2, self.n, self.sph, self.interval
        h0, nh = first_step // sph, steps // sph
        hours = slice(h0, h0 + nh)
        shape = (n, nh, sph)
        rng = np.random.default_rng([self.seed, first_step])
        first_min = first_step * iv
        minutes = first_min + np.arange(steps, dtype=np.int64) * iv
        running = np.empty(shape, np.float32)
        running[...] = self.regime.scheduled[:, hours, None]
        flat_run = running.reshape(n, steps)
        for a, start, end, _kind in self._overlapping(self.down, first_min, first_min + steps * iv):
            flat_run[a, self._step(start, first_min) : self._step(end, first_min)] = 0.0
        # the hour's operating point while running, and its slope in the load (per-step loads differ by ~1 %)
        load = self.regime.load[:, hours]
        amb = self.ambient[:, hours]
        damage = [self.plan.damage[:, i, hours] for i in range(len(MODES))]
        oil, wear = self.plan.oil[:, hours], self.plan.wear[:, hours]
        op = operate(p, load, 1.0, damage, oil, wear, amb)
        up = operate(p, load + _EPS, 1.0, damage, oil, wear, amb)
        delta = (0.01 * load)[:, :, None] * self._noise(rng, shape)

        def per_step(base: np.ndarray, bumped: np.ndarray, out: np.ndarray) -> np.ndarray:
            """Linearised in the load within the hour, zero while stopped (written into ``out``)."""
            np.multiply(((bumped - base) * (1.0 / _EPS))[:, :, None], delta, out=out)
            out += base[:, :, None]
            out *= running
            return out

        frac = (np.arange(sph, dtype=np.float32) / sph)[None, None, :]
        ambient = amb[:, :, None] + (self.ambient[:, h0 + 1 : h0 + nh + 1] - amb)[:, :, None] * frac
        # thermal nodes: exact first-order lag of winding and bearing nodes, all assets at once
        targets = np.empty((2, n, steps), np.float32)
        log_decay = np.empty((2, n, steps), np.float32)
        for node, (hot, bumped) in enumerate(
            ((op.winding_target, up.winding_target), (op.bearing_target, up.bearing_target))
        ):
            per_step(hot - amb, bumped - amb, targets[node].reshape(shape)).__iadd__(ambient)
        dt = np.float32(60.0 * iv)
        log_decay[0].reshape(shape)[...] = ((-dt / p.winding_tau_s) * op.cooling)[:, :, None] * (
            p.stopped_cooling[:, :, None] + (1.0 - p.stopped_cooling[:, :, None]) * running
        )
        log_decay[1] = -dt / p.bearing_tau_s
        temps = first_order_lag_blocked(targets, log_decay, self.thermal)
        self.thermal = temps[:, :, -1].copy()
        # vibration summaries of the hour (running and standing still), chosen per step
        shares = {"low": p.share_low, "mid": p.share_mid, "high": p.share_high}
        vib_run = summarise(components_at(p, op.speed_ratio, 1.0, damage, op.cavitation), band_shares=shares)
        vib_stop = summarise(components_at(p, op.speed_ratio, 0.0, damage, 0.0), band_shares=shares)
        values = np.empty((len(CHANNEL_NAMES), n, steps), np.float32)

        def view(name: str) -> np.ndarray:
            return values[_INDEX[name]].reshape(shape)

        for name, base, bumped in (
            ("speed", op.rpm, up.rpm),
            ("current", op.current, up.current),
            ("power", op.input_kw, up.input_kw),
            ("flow", op.flow, up.flow),
            ("discharge_pressure", op.pressure, up.pressure),
            ("seal_leak", op.leak, up.leak),
        ):
            per_step(base, bumped, view(name))
        per_step(op.discharge_temp - amb, up.discharge_temp - amb, view("discharge_temp")).__iadd__(ambient)
        view("ambient_temp")[...] = ambient
        view("oil_quality")[...] = oil[:, :, None]
        for stat in ("rms", "peak", "kurtosis", "band_low", "band_mid", "band_high"):
            out = view("vib_" + stat)
            np.multiply((vib_run[stat] - vib_stop[stat])[:, :, None], running, out=out)
            out += vib_stop[stat][:, :, None]
        values[_INDEX["winding_temp"]] = temps[0]
        values[_INDEX["bearing_temp"]] = temps[1]
        for name, (rel, absolute) in NOISE.items():  # measurement noise, sensor gain and offset
            i = _INDEX[name]
            v = values[i]
            if rel:
                v *= self.gain[i] + (self.gain[i] * np.float32(rel)) * self._noise(rng, (n, steps))
            elif self.scaled[i]:
                v *= self.gain[i]
            if absolute:
                v += np.float32(absolute) * self._noise(rng, (n, steps))
            if self.shifted[i]:
                v += self.offset[i]
        np.maximum(values[_INDEX["vib_kurtosis"]], 1.0, out=values[_INDEX["vib_kurtosis"]])
        np.divide(values[_INDEX["vib_peak"]], values[_INDEX["vib_rms"]], out=values[_INDEX["vib_crest"]])
        values[self.missing] = np.nan
        apply_sensor_faults(values, self.faults, first_step, self.held, step_min=iv)
        health, rul, fault = self._truth(first_min, minutes, hours, shape)
        self.next_step = first_step + steps
        return ChunkArrays(first_step=first_step, minutes=minutes, values=values, health=health, rul=rul, fault=fault)

    def _step(self, minute: int, first_min: int) -> int:
        """Index of the first step starting at or after ``minute`` (may be outside the chunk; slices clip)."""
        return max(0, -(-(minute - first_min) // self.interval))

    @staticmethod
    def _overlapping(rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
        if rows.size == 0:
            return rows
        return rows[(rows[:, 1] < hi) & (rows[:, 2] > lo)]

    def _truth(
        self,
        first_min: int,
        minutes: np.ndarray,
        hours: slice,
        shape: tuple[int, int, int],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, steps = shape[0], minutes.size
        health = np.empty((n, steps), np.float32)
        health.reshape(shape)[...] = self.plan.health[:, hours, None]
        fault = np.empty((n, steps), np.int8)
        fault.reshape(shape)[...] = self.plan.fault[:, hours, None]
        next_fail = np.array(
            [f[np.searchsorted(f, first_min)] if f.size and f[-1] >= first_min else np.inf for f in self.fail_minutes]
        )
        rul = (next_fail[:, None] - minutes[None, :]).astype(np.float32)
        last_min = int(minutes[-1])
        for a in np.flatnonzero(next_fail <= last_min):  # failures inside this chunk: piecewise
            f = self.fail_minutes[a]
            idx = np.searchsorted(f, minutes, side="left")
            nxt = np.where(idx < f.size, f[np.minimum(idx, f.size - 1)], np.inf)
            rul[a] = (nxt - minutes).astype(np.float32)
        rul[~np.isfinite(rul)] = np.nan
        end = first_min + steps * self.interval
        for a, start, stop, kind in self._overlapping(self.down, first_min, end):
            if kind != 1:
                continue
            sl = slice(self._step(start, first_min), self._step(stop, first_min))
            health[a, sl] = 0.0
            rul[a, sl] = 0.0
            fault[a, sl] = self.fail_mode[(int(a), int(start))] + 1
        return health, rul, fault
