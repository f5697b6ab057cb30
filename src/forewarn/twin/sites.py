"""Sites (factories) and their operating regimes: climate, shifts, load, maintenance and calibration.

Sites differ on purpose, so that a model trained at one factory meets something new at the next (the federated
work builds on this). Each :class:`SiteProfile` sets:

* climate: yearly mean, seasonal and daily swings of the outdoor temperature, plus day-to-day weather (AR(1));
* shifts: 1, 2 or 3 shifts of 8 h, with or without weekends, and an annual shutdown;
* load: the mean and spread of each machine's load, a night-shift factor, slow day-to-day variation (AR(1)),
  hourly noise and unplanned process trips (stops of 1 to 6 h);
* the equipment mix (shares of pumps, motors, compressors, fans), dust (fouling, imbalance build-up), suction
  conditions, the maintenance policy (``run_to_failure``, ``time_based`` or ``condition_based``) and its
  quality, and the calibration of its sensors.

:func:`hourly_regime` turns profiles into hourly ``running`` / ``load`` / ``ambient`` arrays for all assets.

>>> profiles = site_profiles(4, np.random.default_rng(1))
>>> [p.policy for p in profiles]
['condition_based', 'run_to_failure', 'time_based', 'time_based']
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from forewarn.twin.assets import CLASSES
from forewarn.twin.machine import MAX_LOAD

__all__ = ["POLICIES", "HourlyRegime", "SiteProfile", "hourly_regime", "site_profiles"]

POLICIES = ("run_to_failure", "time_based", "condition_based")


@dataclass(frozen=True)
class SiteProfile:
    """How one factory runs (see the module docstring)."""

    name: str
    climate_mean_c: float
    season_amp_c: float
    daily_amp_c: float
    hall_c: float  # indoor temperature the outdoor swing is centred on
    shifts: int  # 1, 2 or 3 shifts of 8 h (3 = continuous)
    weekends: bool  # runs on Saturday and Sunday
    shutdown_doy: int  # first day of the annual shutdown (day of year), -1 for none
    shutdown_days: int
    load_mean: float
    load_sd: float
    night_factor: float
    trip_rate_per_h: float
    mix: tuple[float, float, float, float]  # shares of pump, motor, compressor, fan
    dust: float
    suction_kpa: float
    policy: str
    pm_interval_days: float
    oil_interval_days: float
    maintenance_quality: float  # 1 = residual misalignment/imbalance after work is small
    temp_offset_c: float  # calibration bias of this site's temperature sensors
    gain_spread: float  # relative spread of current/power/flow sensor gains
    sensor_fault_factor: float

    def shares(self) -> np.ndarray:
        mix = np.asarray(self.mix, dtype=float)
        return mix / mix.sum()


_ARCHETYPES = (
    SiteProfile(
        "temperate continuous process",
        11.0,
        9.0,
        5.0,
        22.0,
        3,
        True,
        213,
        7,
        0.85,
        0.07,
        0.95,
        0.002,
        (0.5, 0.2, 0.15, 0.15),
        0.7,
        90.0,
        "condition_based",
        180.0,
        180.0,
        0.85,
        0.5,
        0.01,
        1.0,
    ),
    SiteProfile(
        "hot two-shift plant",
        26.0,
        6.0,
        8.0,
        28.0,
        2,
        False,
        -1,
        0,
        0.75,
        0.12,
        1.0,
        0.004,
        (0.3, 0.3, 0.2, 0.2),
        1.5,
        15.0,
        "run_to_failure",
        365.0,
        270.0,
        0.6,
        -1.2,
        0.03,
        1.5,
    ),
    SiteProfile(
        "cold one-shift workshop",
        3.0,
        13.0,
        4.0,
        17.0,
        1,
        False,
        355,
        14,
        0.65,
        0.15,
        1.0,
        0.003,
        (0.2, 0.45, 0.1, 0.25),
        0.5,
        60.0,
        "time_based",
        90.0,
        90.0,
        0.9,
        0.8,
        0.015,
        0.7,
    ),
    SiteProfile(
        "dusty continuous mill",
        18.0,
        10.0,
        9.0,
        24.0,
        3,
        True,
        180,
        10,
        0.9,
        0.06,
        0.97,
        0.002,
        (0.2, 0.3, 0.1, 0.4),
        3.0,
        40.0,
        "time_based",
        60.0,
        120.0,
        0.5,
        0.0,
        0.04,
        2.0,
    ),
)


def site_profiles(count: int, rng: np.random.Generator, policies: tuple[str, ...] | None = None) -> list[SiteProfile]:
    """``count`` site profiles: the four archetypes in turn, each perturbed a little (fifth site onwards more)."""
    out = []
    for i in range(count):
        base = _ARCHETYPES[i % len(_ARCHETYPES)]
        spread = 0.05 if i < len(_ARCHETYPES) else 0.2
        jitter = lambda x, s=spread: float(x * (1 + rng.normal(0, s)))  # noqa: E731
        profile = replace(
            base,
            climate_mean_c=base.climate_mean_c + float(rng.normal(0, 1 + 10 * spread)),
            load_mean=float(np.clip(jitter(base.load_mean), 0.4, 1.0)),
            dust=jitter(base.dust),
            suction_kpa=base.suction_kpa + float(rng.normal(0, 10)),
            temp_offset_c=base.temp_offset_c + float(rng.normal(0, 0.3)),
        )
        if policies:
            profile = replace(profile, policy=policies[i % len(policies)])
        out.append(profile)
    return out


@dataclass
class HourlyRegime:
    """Hourly operating conditions, ``(n_assets, n_hours)`` arrays (``outdoor`` is ``(n_sites, n_hours)``)."""

    scheduled: np.ndarray  # bool: the machine is meant to run this hour
    load: np.ndarray  # load command while running (VFD speed ratio, or torque fraction for a motor)
    ambient: np.ndarray  # degC beside the machine
    outdoor: np.ndarray


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float, sd: float) -> np.ndarray:
    shocks = rng.normal(0.0, sd * np.sqrt(1 - phi * phi), shape)
    shocks[:, 0] = rng.normal(0.0, sd, shape[0])
    return signal.lfilter([1.0], [1.0, -phi], shocks, axis=1)


def hourly_regime(
    profiles: list[SiteProfile],
    site_of: np.ndarray,
    indoor_coupling: np.ndarray,
    heat_offset: np.ndarray,
    start: np.datetime64,
    hours: int,
    rng: np.random.Generator,
) -> HourlyRegime:
    """Hourly schedule, load and ambient temperature of every asset (vectorised over assets and hours)."""
    n = site_of.size
    days = -(-hours // 24)
    t_hours = np.arange(hours)
    stamp = start + t_hours.astype("timedelta64[h]")
    hour_of_day = (stamp - stamp.astype("datetime64[D]")).astype("timedelta64[h]").astype(int)
    day_of_year = (stamp.astype("datetime64[D]") - stamp.astype("datetime64[Y]")).astype(int)
    weekday = (stamp.astype("datetime64[D]").astype(int) + 3) % 7  # 0 = Monday
    day_index = t_hours // 24
    n_sites = len(profiles)
    weather = _ar1(rng, (n_sites, days), 0.75, 3.0)[:, day_index]
    outdoor = np.empty((n_sites, hours))
    scheduled_site = np.empty((n_sites, hours), dtype=bool)
    night = np.empty((n_sites, hours))
    for s, p in enumerate(profiles):
        season = -np.cos(2 * np.pi * (day_of_year - 15) / 365.25)  # coldest mid-January
        diurnal = -np.cos(2 * np.pi * (hour_of_day - 3) / 24)  # coldest 03:00, warmest 15:00
        outdoor[s] = p.climate_mean_c + p.season_amp_c * season + p.daily_amp_c * diurnal + weather[s]
        on_shift = (hour_of_day >= 6) & (hour_of_day < 6 + 8 * p.shifts) if p.shifts < 3 else np.ones(hours, bool)
        working_day = np.ones(hours, bool) if p.weekends else weekday < 5
        shutdown = np.zeros(hours, bool)
        if p.shutdown_doy >= 0:
            shutdown = (day_of_year >= p.shutdown_doy) & (day_of_year < p.shutdown_doy + p.shutdown_days)
        scheduled_site[s] = on_shift & working_day & ~shutdown
        night[s] = np.where((hour_of_day >= 22) | (hour_of_day < 6), p.night_factor, 1.0)
    load_mean = np.array([profiles[s].load_mean for s in site_of])
    load_sd = np.array([profiles[s].load_sd for s in site_of])
    base = np.clip(load_mean + rng.normal(0, 1, n) * load_sd, 0.45, 1.05)
    daily = _ar1(rng, (n, days), 0.8, 1.0)[:, day_index] * (0.6 * load_sd)[:, None]
    load = base[:, None] * night[site_of] + daily + rng.normal(0.0, 0.02, (n, hours))
    load = np.clip(load, 0.3, MAX_LOAD).astype(np.float32)
    # unplanned process trips: a stop of 1 to 6 h starting with a small hazard per hour
    trips = rng.random((n, hours)) < np.array([profiles[s].trip_rate_per_h for s in site_of])[:, None]
    tripped = np.zeros((n, hours), dtype=bool)
    for a, h in zip(*np.nonzero(trips), strict=True):
        tripped[a, h : h + int(rng.integers(1, 7))] = True
    scheduled = scheduled_site[site_of] & ~tripped
    hall = np.array([profiles[s].hall_c for s in site_of])[:, None]
    ambient = hall + indoor_coupling[:, None] * (outdoor[site_of] - hall) + heat_offset[:, None]
    return HourlyRegime(scheduled=scheduled, load=load, ambient=ambient.astype(np.float32), outdoor=outdoor)


def assign_classes(
    profiles: list[SiteProfile], site_of: np.ndarray, rng: np.random.Generator, allowed: tuple[str, ...] | None = None
) -> list[str]:
    """Draw each asset's class from its site's equipment mix (optionally restricted to ``allowed``)."""
    out = []
    for s in site_of:
        shares = profiles[s].shares().copy()
        if allowed:
            shares *= np.array([c in allowed for c in CLASSES], dtype=float)
            shares /= shares.sum()
        out.append(CLASSES[int(rng.choice(len(CLASSES), p=shares))])
    return out
