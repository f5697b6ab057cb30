"""Assembling a fleet: sites, assets, regimes, the degradation plan, sensor faults and calibration.

Every random part draws from its own stream of one :class:`numpy.random.SeedSequence`, so a seed fixes the
whole fleet, and switching one part off (sensor faults, say) leaves the others unchanged.

>>> fleet = build_fleet(FleetConfig(sites=2, assets=4, days=1, seed=9, interval="1h"))
>>> [s.site_id for s in fleet.sites], len(fleet.lines)
(['S1', 'S2'], 2)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from forewarn.schema import Asset, Line, Site
from forewarn.twin.assets import CHANNEL_NAMES, CLASS_CHANNELS, CLASS_MODES, MODES, channels_for, sample_params
from forewarn.twin.bearing import BEARINGS
from forewarn.twin.degradation import POLICY_CODES, Policy, initial_state
from forewarn.twin.engine import run_plan
from forewarn.twin.fleet import Fleet, FleetConfig
from forewarn.twin.sensors import sample_sensor_faults
from forewarn.twin.sites import SiteProfile, assign_classes, hourly_regime, site_profiles

__all__ = ["build_fleet"]

_PREFIX = {"pump": "P", "motor": "M", "compressor": "C", "fan": "F"}


def _policy(profiles: list[SiteProfile], site_of: np.ndarray, rng: np.random.Generator) -> Policy:
    n = site_of.size
    code = np.array([POLICY_CODES[profiles[s].policy] for s in site_of])
    pm = np.array([profiles[s].pm_interval_days * 24.0 for s in site_of])
    pm = np.where(code == POLICY_CODES["time_based"], pm, np.inf)
    oil = np.array([profiles[s].oil_interval_days * 24.0 for s in site_of])
    phase = rng.uniform(0.0, 1.0, n)
    next_pm = np.full(n, np.inf)
    periodic = np.isfinite(pm)
    next_pm[periodic] = phase[periodic] * pm[periodic]
    return Policy(code=code, pm_interval_h=pm, oil_interval_h=oil,
                  quality=np.array([profiles[s].maintenance_quality for s in site_of]),
                  next_pm_h=next_pm, next_oil_h=rng.uniform(0.0, 1.0, n) * oil, planned_h=np.full(n, np.inf),
                  planned_mask=np.zeros(n, np.int64))


def _calibration(profiles: list[SiteProfile], site_of: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, c = site_of.size, len(CHANNEL_NAMES)
    gain, offset = np.ones((n, c)), np.zeros((n, c))
    for j, name in enumerate(CHANNEL_NAMES):
        if name.endswith("_temp"):
            offset[:, j] = [profiles[s].temp_offset_c for s in site_of] + rng.normal(0, 0.3, n)
        elif name in ("current", "power", "flow", "discharge_pressure", "seal_leak"):
            gain[:, j] = 1.0 + np.array([profiles[s].gain_spread for s in site_of]) * rng.normal(0, 1, n)
    sensitivity = 1.0 + rng.normal(0, 0.03, n)   # accelerometer: amplitudes scale by it, energies by its square
    for j, name in enumerate(CHANNEL_NAMES):
        if name in ("vib_rms", "vib_peak"):
            gain[:, j] = sensitivity
        elif name.startswith("vib_band"):
            gain[:, j] = sensitivity**2
    return gain, offset


def build_fleet(config: FleetConfig | None = None, **overrides: Any) -> Fleet:
    """Simulate a fleet: everything but the readings, which :class:`Fleet` renders on demand."""
    config = FleetConfig(**{**asdict(config or FleetConfig()), **overrides})
    config.validate()
    r_sites, r_assets, r_regime, r_plan, r_sensors, r_policy, r_calibration = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(7))
    profiles = site_profiles(config.sites, r_sites, config.policies)
    site_of = np.sort(np.arange(config.assets) % config.sites)
    classes = assign_classes(profiles, site_of, r_assets, config.classes)
    factors = {"dust": np.array([profiles[s].dust for s in site_of]),
               "suction_kpa": np.array([profiles[s].suction_kpa for s in site_of])}
    params = sample_params(classes, r_assets, site_of, factors)
    applicable = np.array([[m in CLASS_MODES[c] for m in MODES] for c in classes])
    start = np.datetime64(pd.Timestamp(config.start).tz_localize(None), "m")
    regime = hourly_regime(profiles, site_of, params.indoor_coupling, params.heat_offset_c, start,
                           config.days * 24, r_regime)
    age_years = r_assets.uniform(0.5, 20.0, config.assets)
    state = initial_state(params, applicable, regime.ambient[:, 0], age_years, r_assets)
    plan = run_plan(params, state, regime, _policy(profiles, site_of, r_policy), applicable, r_plan,
                    degradation=config.degradation, scale=config.degradation_scale)
    iv = config.interval_minutes()
    steps = config.days * 1440 // iv
    recal: list[list[int]] = [[] for _ in classes]
    for a, minute, action, result, _note in plan.maintenance:
        if result == "planned" and action != "oil_change":
            recal[a].append(minute // iv)
    mask = np.array([[ch in CLASS_CHANNELS[c] for ch in CHANNEL_NAMES] for c in classes])
    site_factor = np.array([profiles[s].sensor_fault_factor for s in site_of])
    faults = sample_sensor_faults(mask, site_factor, steps, iv, recal, r_sensors,
                                  scale=config.sensor_fault_scale if config.sensor_faults else 0.0)
    gain, offset = _calibration(profiles, site_of, r_calibration)
    sites = [Site(f"S{i + 1}", name=p.name) for i, p in enumerate(profiles)]
    counters: dict[tuple[int, str], int] = {}
    assets, lines = [], []
    for s in range(config.sites):
        members = np.flatnonzero(site_of == s)
        n_lines = max(1, -(-members.size // 8))
        lines += [Line(f"S{s + 1}-L{k + 1}", f"S{s + 1}", name=f"line {k + 1}") for k in range(n_lines)]
        for k, a in enumerate(members):
            cls = classes[a]
            counters[(s, cls)] = counters.get((s, cls), 0) + 1
            install = (pd.Timestamp(config.start) - pd.Timedelta(days=float(age_years[a]) * 365.25)).date()
            assets.append(Asset(
                f"S{s + 1}-{_PREFIX[cls]}{counters[(s, cls)]:03d}", asset_class=cls, line_id=f"S{s + 1}-L{k % n_lines + 1}",
                site_id=f"S{s + 1}", name=f"{cls} {counters[(s, cls)]} of {sites[s].name}", install_date=install,
                channels=channels_for(cls),
                metadata={"rated_kw": float(params.rated_kw[a]), "rated_rpm": float(params.rated_rpm[a]),
                          "bearing": list(BEARINGS)[int(params.bearing_code[a])],
                          "maintenance_policy": profiles[s].policy, "simulated": True, "twin": params.row(int(a))}))
    return Fleet(config=config, sites=sites, lines=lines, assets=assets, profiles=profiles, params=params,
                 regime=regime, plan=plan, faults=faults, gain=gain, offset=offset)
