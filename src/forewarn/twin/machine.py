"""One operating point of a whole fleet: the asset twin's equations evaluated with vector operations.

:func:`operate` chains the component models for every asset (and every time step, when given ``(n, steps)``
arrays with parameters from :meth:`AssetParams.columns`): load -> speed -> centrifugal stage (flow, head,
cavitation, seal leak) or mechanical load -> bearing friction (oil, spalls, misalignment) -> shaft power ->
motor losses, input power and current -> heat into the winding and bearing nodes and the temperatures they
settle at. The hourly degradation engine and the per-minute renderer call the same function, so the slow and the
fast views of an asset agree.

>>> import numpy as np
>>> from forewarn.twin.assets import sample_params
>>> p = sample_params(["pump", "motor"], np.random.default_rng(0))
>>> op = operate(p, load=np.array([1.0, 0.8]), running=np.ones(2), damage=np.zeros((2, 7)),
...              oil=np.ones(2), wear=np.zeros(2), ambient=np.array([25.0, 25.0]))
>>> bool((op.input_kw > op.shaft_kw).all() and (op.winding_target > 25.0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.twin.assets import IMBALANCE, INNER, INSULATION, MISALIGNMENT, OUTER, OVERHEATING, SEAL, AssetParams
from forewarn.twin.lubrication import friction_factor
from forewarn.twin.motor import current_a, loss_split_kw
from forewarn.twin.pump import (
    cavitation_severity,
    compressor_discharge,
    npsh_available_m,
    operating_point,
    seal_leak_lpm,
    shaft_power_kw,
)
from forewarn.twin.vibration import VibrationComponents

__all__ = [
    "MAX_LOAD",
    "Operation",
    "bearing_friction_w",
    "components_at",
    "cooling_factor",
    "operate",
    "winding_heat_w",
]

#: Largest load command: VFD machines are not driven much past rated speed.
MAX_LOAD = 1.05
FOULING_COOLING_LOSS = 0.7


def cooling_factor(fouling: Any, running: Any, stopped_cooling: Any) -> Any:
    """Share of the clean conductance ``h*A`` left: fouled fins lose up to 70 %, a stopped fan more."""
    return (1.0 - FOULING_COOLING_LOSS * fouling) * (stopped_cooling + (1.0 - stopped_cooling) * running)


def winding_heat_w(fixed_kw: Any, copper_kw: Any, running: Any) -> Any:
    """Heat into the winding node (W): the copper losses and half the fixed (stator iron) losses, while running."""
    return (copper_kw + 0.5 * fixed_kw) * (1000.0 * running)


def bearing_friction_w(
    bearing_loss_w: Any, speed_ratio: Any, oil: Any, d_out: Any, d_in: Any, d_mis: Any, d_imb: Any
) -> Any:
    """Bearing friction (W) while running: grows with speed, spent oil, spalls, misalignment and imbalance."""
    spall = d_out * d_out + d_in * d_in
    return bearing_loss_w * speed_ratio * friction_factor(oil) * (1.0 + 3.0 * spall) * (1.0 + 0.5 * d_mis + 0.3 * d_imb)


@dataclass
class Operation:
    """Everything :func:`operate` computes (arrays shaped like the load)."""

    speed_ratio: np.ndarray  # while running
    rpm: np.ndarray
    flow: np.ndarray
    pressure: np.ndarray
    leak: np.ndarray
    cavitation: np.ndarray
    discharge_temp: np.ndarray
    shaft_kw: np.ndarray
    input_kw: np.ndarray
    current: np.ndarray
    friction_w: np.ndarray
    winding_target: np.ndarray
    bearing_target: np.ndarray
    cooling: np.ndarray


def operate(p: AssetParams, load: Any, running: Any, damage: Any, oil: Any, wear: Any, ambient: Any) -> Operation:
    """Evaluate the asset twins at a load command and state.

    ``running`` is 0/1 per step (or the fraction of an hour run); ``damage`` is ``(n, 7)`` (or a sequence of
    seven arrays shaped like ``load``) in :data:`~forewarn.twin.assets.MODES` order. Averaged quantities
    (power, current, heat, flow) scale with ``running``; the speed ratio is the one while running.
    """
    d = [damage[:, i] for i in range(damage.shape[1])] if isinstance(damage, np.ndarray) else list(damage)
    d_out, d_in, d_imb, d_mis, d_foul, d_seal, d_ins = (
        d[i] for i in (OUTER, INNER, IMBALANCE, MISALIGNMENT, OVERHEATING, SEAL, INSULATION)
    )
    vs = p.variable_speed
    s = vs * load + (1.0 - vs) * (1.0 - p.slip * load)
    flow, head, eta = operating_point(s, p.h_bep, p.q_bep, p.eta_bep, p.static_fraction, wear)
    leak = seal_leak_lpm(p.leak_max, d_seal, s)
    cav = cavitation_severity(npsh_available_m(p.suction_kpa), p.npshr_bep, flow, p.q_bep, wear)
    cav = cav * (p.npshr_bep > 0)
    process_kw = shaft_power_kw(p.density, flow, head, eta, 0.06 * leak) * p.has_process
    mech_kw = (1.0 - p.has_process) * p.rated_kw * load * s
    friction_w = bearing_friction_w(p.bearing_loss_w, s, oil, d_out, d_in, d_mis, d_imb)
    shaft_kw = process_kw + mech_kw + 0.001 * friction_w
    fixed, copper = loss_split_kw(shaft_kw, p.rated_kw, p.rated_eff, s, d_ins)
    input_kw = (shaft_kw + fixed + copper) * running
    current = current_a(input_kw / np.maximum(running, 1e-3), p.rated_kw, p.rated_eff, p.rated_current) * running
    cooling = cooling_factor(d_foul, running, p.stopped_cooling)
    winding_rise = winding_heat_w(fixed, copper, running) * p.winding_r / cooling
    winding_target = ambient + winding_rise
    bearing_target = ambient + p.winding_coupling * winding_rise + friction_w * running * p.bearing_r
    comp_p, comp_t = compressor_discharge(head * p.is_compressor, np.maximum(eta, 0.05), ambient)
    liquid_p = p.suction_kpa + p.density * 9.81e-3 * head
    pressure = (p.is_compressor * comp_p + (1.0 - p.is_compressor) * liquid_p) * p.has_process * running
    delivered = np.maximum(flow * (1.0 - 0.08 * cav) - 0.06 * leak * (1.0 - p.is_compressor), 0.0)
    return Operation(
        speed_ratio=s,
        rpm=p.rated_rpm * s * running,
        flow=delivered * p.has_process * running,
        pressure=pressure,
        leak=leak * running,
        cavitation=cav * running,
        discharge_temp=p.is_compressor * (running * (comp_t - ambient) + ambient),
        shaft_kw=shaft_kw * running,
        input_kw=input_kw,
        current=current,
        friction_w=friction_w * running,
        winding_target=winding_target,
        bearing_target=bearing_target,
        cooling=cooling,
    )


def _amplitudes(p: AssetParams, d: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Damage-dependent vibration amplitude coefficients (at rated speed)."""
    a1 = p.a1_base + p.imb_gain * d[IMBALANCE] + 0.3 * p.mis_gain * d[MISALIGNMENT]
    a2 = p.a2_base + p.mis_gain * d[MISALIGNMENT]
    return a1, a2, p.impact_gain * d[OUTER] ** 0.8, p.impact_gain * d[INNER] ** 0.8


def components_at(
    p: AssetParams, speed_ratio: Any, running: Any, damage: list[np.ndarray], cavitation: Any
) -> VibrationComponents:
    """Vibration components for states (arrays broadcast; ``damage`` is a list of seven arrays)."""
    a1, a2, out_k, in_k = _amplitudes(p, damage)
    s = speed_ratio * running
    shaft = p.rated_rpm * (s / 60.0)
    s15 = s * np.sqrt(s)
    return VibrationComponents(
        shaft_hz=shaft,
        a1=a1 * s * s,
        a2=a2 * s,
        outer_amp=out_k * s15,
        outer_hz=p.bpfo_order * shaft,
        inner_amp=in_k * s15,
        inner_hz=p.bpfi_order * shaft,
        resonance_hz=p.resonance_hz,
        damping=p.damping,
        cavitation_var=(p.cav_gain * cavitation) ** 2,
        noise_var=p.noise_std * p.noise_std * (0.1 + 0.9 * running),
    )
