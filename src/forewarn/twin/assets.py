"""Asset twins: pumps, motors, compressors and fans assembled from the component models.

Every asset is an induction motor (:mod:`~forewarn.twin.motor`) with two thermal nodes (winding and bearing,
:mod:`~forewarn.twin.thermal`), rolling-element bearings (:mod:`~forewarn.twin.bearing`), lubricant
(:mod:`~forewarn.twin.lubrication`) and a vibration signature (:mod:`~forewarn.twin.vibration`). Pumps, fans and
compressors add a centrifugal stage on a variable-speed drive (:mod:`~forewarn.twin.pump`); a bare motor drives a
constant-speed mechanical load (conveyor, mixer) with a slip that grows with load.

:class:`AssetParams` holds one array per parameter (one element per asset), so the simulator evaluates the
whole fleet with vector operations. :func:`sample_params` draws a plausible fleet; :meth:`AssetParams.row` and
:meth:`AssetParams.from_rows` turn parameters into plain dictionaries (kept in ``Asset.metadata["twin"]``) so a
twin can be rebuilt for an asset read back from the store.

>>> import numpy as np
>>> p = sample_params(["pump", "fan"], np.random.default_rng(0))
>>> p.n, [CLASSES[int(c)] for c in p.class_code]
(2, ['pump', 'fan'])
>>> sorted(CLASS_CHANNELS["compressor"])[:3]
['ambient_temp', 'bearing_temp', 'current']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.schema import Channel
from forewarn.twin.bearing import BEARINGS
from forewarn.twin.motor import rated_current_a, rated_efficiency_for
from forewarn.twin.vibration import BANDS_HZ, band_fraction_of_resonance

__all__ = [
    "CHANNELS",
    "CHANNEL_NAMES",
    "CLASSES",
    "CLASS_CHANNELS",
    "CLASS_MODES",
    "MODES",
    "AssetParams",
    "channels_for",
    "sample_params",
]

CLASSES = ("pump", "motor", "compressor", "fan")
MODES = (
    "bearing_outer_race",
    "bearing_inner_race",
    "imbalance",
    "misalignment",
    "overheating",
    "seal_leak",
    "winding_insulation",
)
OUTER, INNER, IMBALANCE, MISALIGNMENT, OVERHEATING, SEAL, INSULATION = range(len(MODES))

CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("speed", "rpm", "shaft speed"),
        Channel("current", "A", "motor line current"),
        Channel("power", "kW", "electrical input power"),
        Channel("winding_temp", "degC", "stator winding temperature (embedded PT100)"),
        Channel("bearing_temp", "degC", "drive-end bearing housing temperature"),
        Channel("ambient_temp", "degC", "air temperature beside the machine"),
        Channel("vib_rms", "g", "bearing housing acceleration, RMS of a 1 s acquisition"),
        Channel("vib_peak", "g", "largest absolute acceleration of the acquisition"),
        Channel("vib_kurtosis", "1", "kurtosis of the acquisition (3 for Gaussian noise)"),
        Channel("vib_crest", "1", "crest factor, peak / RMS"),
        Channel("vib_band_low", "g2", "energy 0-1 kHz (shaft harmonics)"),
        Channel("vib_band_mid", "g2", "energy 1-4 kHz (structural resonance, bearing impacts)"),
        Channel("vib_band_high", "g2", "energy 4-10 kHz (cavitation, high-frequency noise)"),
        Channel("oil_quality", "1", "lubricant condition index, 1 = fresh, 0 = spent"),
        Channel("flow", "m3/h", "delivered flow (compressor: inlet volume flow)"),
        Channel("discharge_pressure", "kPa", "discharge pressure (gauge)"),
        Channel("seal_leak", "L/min", "shaft seal leakage"),
        Channel("discharge_temp", "degC", "compressor discharge temperature"),
    )
}
CHANNEL_NAMES = tuple(CHANNELS)
_COMMON = CHANNEL_NAMES[:14]
CLASS_CHANNELS: dict[str, tuple[str, ...]] = {
    "pump": _COMMON + ("flow", "discharge_pressure", "seal_leak"),
    "motor": _COMMON,
    "compressor": _COMMON + ("flow", "discharge_pressure", "seal_leak", "discharge_temp"),
    "fan": _COMMON + ("flow", "discharge_pressure"),
}
CLASS_MODES: dict[str, tuple[str, ...]] = {
    "pump": MODES,
    "compressor": MODES,
    "motor": tuple(m for m in MODES if m != "seal_leak"),
    "fan": tuple(m for m in MODES if m != "seal_leak"),
}
_BEARING_BY_CLASS = {
    "pump": ("6309", "6312"),
    "motor": ("6206", "6309", "6312"),
    "compressor": ("6312", "6316"),
    "fan": ("6309", "6312", "6316"),
}
_BEARING_NAMES = tuple(BEARINGS)


def channels_for(asset_class: str) -> tuple[Channel, ...]:
    """The channels (with units) an asset of this class reports."""
    return tuple(CHANNELS[name] for name in CLASS_CHANNELS[asset_class])


@dataclass
class AssetParams:
    """Parameters of a fleet of asset twins, one array element per asset (see the module docstring)."""

    class_code: np.ndarray
    rated_kw: np.ndarray
    rated_rpm: np.ndarray
    rated_eff: np.ndarray
    rated_current: np.ndarray
    variable_speed: np.ndarray  # 1 = VFD-driven centrifugal machine, 0 = fixed-speed motor
    slip: np.ndarray  # rated slip of a fixed-speed motor
    winding_r: np.ndarray  # K/W, winding node thermal resistance 1/(hA) with clean cooling
    winding_tau_s: np.ndarray  # s, m c / (h A) of the winding node
    bearing_r: np.ndarray  # K/W
    bearing_tau_s: np.ndarray  # s
    bearing_loss_w: np.ndarray  # W friction at rated speed with fresh oil
    winding_coupling: np.ndarray  # share of the winding rise that reaches the bearing housing
    stopped_cooling: np.ndarray  # conductance fraction left when the shaft-driven fan stops
    trip_c: np.ndarray  # winding over-temperature trip
    bearing_code: np.ndarray  # index into bearing.BEARINGS
    bpfo_order: np.ndarray
    bpfi_order: np.ndarray
    l10_h: np.ndarray  # bearing L10 life in operating hours at rated load
    spall_growth: np.ndarray  # Paris-law growth rate r in dD/dt = r D^1.5 (per hour)
    a1_base: np.ndarray  # g, 1x amplitude of a balanced rotor at rated speed
    imb_gain: np.ndarray  # g added to 1x at imbalance damage 1
    a2_base: np.ndarray
    mis_gain: np.ndarray  # g added to 2x at misalignment damage 1
    impact_gain: np.ndarray  # g, impact amplitude of a spall at damage 1 and rated speed
    resonance_hz: np.ndarray
    damping: np.ndarray
    noise_std: np.ndarray  # g, background vibration
    cav_gain: np.ndarray  # g RMS of cavitation noise at severity 1
    share_low: np.ndarray  # share of impact energy in each vibration band
    share_mid: np.ndarray
    share_high: np.ndarray
    h_bep: np.ndarray  # m
    q_bep: np.ndarray  # m3/h
    eta_bep: np.ndarray
    static_fraction: np.ndarray
    npshr_bep: np.ndarray  # m (0 where cavitation does not apply)
    density: np.ndarray  # kg/m3
    leak_max: np.ndarray  # L/min at seal wear 1
    suction_kpa: np.ndarray  # gauge suction pressure
    has_process: np.ndarray
    is_compressor: np.ndarray
    imb_rate: np.ndarray  # imbalance damage per operating hour at rated speed
    mis_rate: np.ndarray
    foul_rate: np.ndarray  # cooling fouling per operating hour
    seal_rate: np.ndarray
    wear_rate: np.ndarray  # impeller wear per operating hour
    insulation_life: np.ndarray  # multiplier of the class-F reference life (weak windings < 1)
    oil_life_h: np.ndarray  # oil life at 60 degC
    cooling_loss_hazard: np.ndarray  # sudden loss of cooling per hour (fan or water failure)
    indoor_coupling: np.ndarray  # how much of the outdoor swing reaches the machine
    heat_offset_c: np.ndarray  # local heat (ovens, sun) on top of the hall temperature
    site_index: np.ndarray

    @property
    def n(self) -> int:
        return int(self.class_code.shape[0])

    def take(self, index: np.ndarray | Sequence[int]) -> AssetParams:
        """A sub-fleet (or repeated copies, for Monte Carlo runs of one asset)."""
        idx = np.asarray(index)
        return AssetParams(**{f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)})

    def columns(self, dtype: type = np.float32) -> AssetParams:
        """Each parameter as an ``(n, 1)`` column of ``dtype``, ready to broadcast over ``(n, steps)`` arrays."""
        return AssetParams(**{f.name: getattr(self, f.name).astype(dtype)[:, None] for f in dataclasses.fields(self)})

    def row(self, i: int) -> dict[str, float]:
        """Parameters of asset ``i`` as plain floats (JSON-friendly)."""
        return {f.name: float(getattr(self, f.name)[i]) for f in dataclasses.fields(self)}

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> AssetParams:
        """Rebuild parameters from :meth:`row` dictionaries."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: np.array([float(r[name]) for r in rows]) for name in names})


def _choice(rng: np.random.Generator, options: Sequence[float], n: int) -> np.ndarray:
    return np.asarray(options, dtype=float)[rng.integers(0, len(options), n)]


def sample_params(
    classes: Sequence[str],
    rng: np.random.Generator,
    site_index: Sequence[int] | np.ndarray | None = None,
    rate_factors: Mapping[str, np.ndarray] | None = None,
) -> AssetParams:
    """Draw parameters for assets of the given classes (``rate_factors`` scale degradation rates per asset)."""
    n = len(classes)
    cls = np.array([CLASSES.index(c) for c in classes])
    pump, motor, comp, fan = (cls == i for i in range(4))
    u = rng.uniform
    rated_kw = np.select(
        [pump, motor, comp, fan],
        [
            _choice(rng, (7.5, 11, 15, 22, 30, 45, 55, 75), n),
            _choice(rng, (5.5, 11, 18.5, 30, 45, 75, 110), n),
            _choice(rng, (55, 75, 90, 110, 132, 160), n),
            _choice(rng, (7.5, 11, 18.5, 30, 45), n),
        ],
    )
    rated_rpm = np.select(
        [pump, motor, comp, fan],
        [
            _choice(rng, (2960, 2960, 1480), n),
            _choice(rng, (1480, 1480, 2960, 985), n),
            np.full(n, 2970.0),
            _choice(rng, (1480, 985), n),
        ],
    )
    eff = rated_efficiency_for(rated_kw)
    bearing_code = np.array([_BEARING_NAMES.index(rng.choice(_BEARING_BY_CLASS[c])) for c in classes])
    orders = np.array([BEARINGS[_BEARING_NAMES[b]].orders() for b in bearing_code]).reshape(n, 4)
    rated_loss_w = rated_kw * (1 / eff - 1) * 1000.0
    resonance = u(2400, 3600, n)
    damping = u(0.04, 0.07, n)
    shares = {name: band_fraction_of_resonance(resonance, damping, edges) for name, edges in BANDS_HZ.items()}
    # centrifugal stage: size the best efficiency point so that the motor has a 15 % margin
    liquid, gas = pump, comp
    density = np.select([liquid, fan, gas], [np.full(n, 1000.0), np.full(n, 1.2), np.full(n, 1.2)], 1.0)
    h_bep = np.select([liquid, fan, gas], [u(30, 80, n), u(1500, 3500, n) / (1.2 * 9.81), u(8000, 11000, n)], 1.0)
    eta_bep = np.select([liquid, fan, gas], [u(0.72, 0.84, n), u(0.65, 0.8, n), u(0.72, 0.82, n)], 1.0)
    q_bep = np.where(motor, 1.0, 0.87 * rated_kw * 3.6e6 * eta_bep / (density * 9.81 * h_bep))
    factors = {k: np.asarray(v, dtype=float) for k, v in (rate_factors or {}).items()}
    one = np.ones(n)
    dust = factors.get("dust", one)
    return AssetParams(
        class_code=cls.astype(float),
        rated_kw=rated_kw,
        rated_rpm=rated_rpm,
        rated_eff=eff,
        rated_current=rated_current_a(rated_kw, eff),
        variable_speed=(~motor).astype(float),
        slip=u(0.015, 0.03, n),
        winding_r=u(70, 90, n) / (rated_loss_w * (0.5 * 0.35 + 0.65)),
        winding_tau_s=60.0 * (15 + 10 * np.sqrt(rated_kw)) * u(0.8, 1.2, n),
        bearing_loss_w=3.0 * rated_kw**0.7 + 20.0,
        bearing_r=u(18, 28, n) / (3.0 * rated_kw**0.7 + 20.0),
        bearing_tau_s=60.0 * u(40, 90, n),
        winding_coupling=u(0.25, 0.4, n),
        stopped_cooling=u(0.35, 0.5, n),
        trip_c=np.full(n, 150.0),
        bearing_code=bearing_code.astype(float),
        bpfo_order=orders[:, 0],
        bpfi_order=orders[:, 1],
        l10_h=u(20_000, 60_000, n),
        spall_growth=9.5 / np.exp(rng.normal(np.log(700.0), 0.5, n)),
        a1_base=u(0.01, 0.04, n),
        imb_gain=u(0.2, 0.4, n) * np.sqrt(rated_rpm / 2960.0),
        a2_base=u(0.005, 0.015, n),
        mis_gain=u(0.15, 0.3, n),
        impact_gain=u(2.0, 4.0, n),
        resonance_hz=resonance,
        damping=damping,
        noise_std=u(0.04, 0.08, n),
        cav_gain=np.where(pump, u(0.2, 0.4, n), 0.0),
        share_low=shares["low"],
        share_mid=shares["mid"],
        share_high=shares["high"],
        h_bep=h_bep,
        q_bep=q_bep,
        eta_bep=eta_bep,
        static_fraction=np.select([liquid, fan, gas], [u(0.2, 0.6, n), u(0.0, 0.2, n), u(0.5, 0.75, n)], 0.0),
        npshr_bep=np.where(pump, u(2.5, 5.0, n), 0.0),
        density=density,
        leak_max=np.select([liquid, gas], [u(0.5, 2.0, n), u(50, 200, n)], 0.0),
        suction_kpa=np.where(pump, factors.get("suction_kpa", np.full(n, 60.0)) + rng.normal(0, 25, n), 0.0),
        has_process=(~motor).astype(float),
        is_compressor=comp.astype(float),
        imb_rate=np.select([pump, motor, comp, fan], [one / 30_000, one / 50_000, one / 30_000, one / 8_000])
        * dust
        * np.exp(rng.normal(0, 0.4, n)),
        mis_rate=one / 20_000 * np.exp(rng.normal(0, 0.5, n)),
        foul_rate=one / 25_000 * dust * np.exp(np.clip(rng.normal(0, 0.3, n), -0.9, 0.9)),
        seal_rate=np.select([pump, comp], [one / 15_000, one / 25_000], 0.0) * np.exp(rng.normal(0, 0.4, n)),
        wear_rate=np.where(pump, one / 40_000, 0.0) * np.exp(rng.normal(0, 0.3, n)),
        insulation_life=np.exp(rng.normal(0.0, 1.0, n)),
        oil_life_h=u(6000, 10000, n),
        cooling_loss_hazard=np.full(n, 1.0 / (20 * 8760.0)),
        indoor_coupling=u(0.3, 0.9, n),
        heat_offset_c=np.maximum(rng.normal(2.0, 3.0, n), 0.0),
        site_index=np.asarray(site_index if site_index is not None else np.zeros(n), dtype=float),
    )
