"""Fleet simulator: sites, lines and assets with readings, events and ground truth, reproducible from a seed.

:func:`simulate_fleet` (assembled by :func:`build_fleet`) draws the sites
(:mod:`~forewarn.twin.sites`), the assets and their parameters (:mod:`~forewarn.twin.assets`), the hourly regime,
and runs the degradation engine (:mod:`~forewarn.twin.engine`) for the whole period: that fixes every failure
and maintenance action (so the ground-truth remaining life is known in advance). Readings are then rendered on demand, chunk by chunk
(:mod:`~forewarn.twin.render`): :meth:`Fleet.iter_chunks` streams them with bounded memory, :meth:`Fleet.to_parquet`
and :meth:`Fleet.to_store` write them, and :attr:`Fleet.readings` / :attr:`Fleet.truth` hold them in memory
(fine for small fleets; a year of 100 assets at 1-minute steps is 52.6 million rows, so stream that one).

Layouts: ``readings`` is wide (``asset_id, ts`` then one float32 column per channel of
:data:`~forewarn.twin.assets.CHANNEL_NAMES`; NaN where a reading dropped out or the asset's class lacks the
channel, see each ``Asset.channels``). ``truth`` is ``asset_id, ts, health, rul_minutes, active_fault`` (see
:mod:`~forewarn.twin.render` for their meaning; ``rul_minutes`` is NaN when no failure follows within the
simulated period). ``events`` is in :func:`forewarn.schema.to_events` layout; maintenance events are stamped
when the work is finished. Rows come ordered by asset, then time.

>>> fleet = simulate_fleet(FleetConfig(sites=2, assets=4, days=2, seed=1, interval="10min"))
>>> fleet.readings.shape, sorted(fleet.truth.columns)
((1152, 20), ['active_fault', 'asset_id', 'health', 'rul_minutes', 'ts'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.exceptions import ConfigError
from forewarn.schema import Asset, Line, Site, to_events
from forewarn.twin.assets import (
    CHANNEL_NAMES,
    CLASS_CHANNELS,
    CLASS_MODES,
    CLASSES,
    MODES,
    AssetParams,
    channels_for,
    sample_params,
)
from forewarn.twin.bearing import BEARINGS
from forewarn.twin.degradation import POLICY_CODES, Plan, Policy, initial_state
from forewarn.twin.engine import run_plan
from forewarn.twin.machine import components_at, operate
from forewarn.twin.maintenance import PARTS
from forewarn.twin.render import FAULT_NAMES, ChunkArrays, Renderer
from forewarn.twin.sensors import SENSOR_NAMES, SensorFaults, sample_sensor_faults
from forewarn.twin.sites import POLICIES, HourlyRegime, SiteProfile, assign_classes, hourly_regime, site_profiles
from forewarn.twin.vibration import VibrationComponents, snapshot

__all__ = ["Fleet", "FleetChunk", "FleetConfig", "build_fleet", "simulate_fleet"]

_VALID_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
#: Largest number of readings rows :attr:`Fleet.readings` builds in memory (about 3 GB with the truth).
MAX_IN_MEMORY_ROWS = 30_000_000


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate.

    ``interval`` is the summary step (a divisor of one hour: ``"1min"``, ``"10min"``, ``"1h"``...).
    ``degradation=False`` freezes every degradation process (nothing fails); ``degradation_scale`` multiplies every
    degradation rate (accelerated life for demos). ``sensor_faults=False`` turns sensor faults off and
    ``sensor_fault_scale`` multiplies their rates (neither changes the machines or the ground truth).
    ``policies`` overrides the sites' maintenance policies in turn (``run_to_failure``, ``time_based``,
    ``condition_based``); ``classes`` restricts the equipment mix; ``chunk_days`` sets how many days each rendered
    chunk holds. The same configuration (seed included) always gives the same fleet.
    """

    sites: int = 4
    assets: int = 100
    days: int = 365
    seed: int = 0
    start: str = "2024-01-01"
    interval: str = "1min"
    degradation: bool = True
    degradation_scale: float = 1.0
    sensor_faults: bool = True
    sensor_fault_scale: float = 1.0
    policies: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    chunk_days: int = 1

    def interval_minutes(self) -> int:
        try:
            minutes = pd.Timedelta(self.interval).total_seconds() / 60.0
        except ValueError:
            minutes = -1.0
        if minutes not in _VALID_INTERVALS:
            raise ConfigError(
                f"interval {self.interval!r} is not supported; use a divisor of one hour such as "
                "'1min', '5min', '10min', '15min' or '1h'"
            )
        return int(minutes)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad setting."""
        for name in ("sites", "assets", "days", "chunk_days"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"FleetConfig.{name}={getattr(self, name)!r}: must be at least 1")
        if self.assets < self.sites:
            raise ConfigError(
                f"FleetConfig: {self.assets} assets cannot fill {self.sites} sites; give at least one asset per site"
            )
        if self.degradation_scale < 0 or self.sensor_fault_scale < 0:
            raise ConfigError("FleetConfig: degradation_scale and sensor_fault_scale must be >= 0")
        for policy in self.policies or ():
            if policy not in POLICIES:
                raise ConfigError(f"FleetConfig.policies: unknown policy {policy!r}; use {', '.join(POLICIES)}")
        for cls in self.classes or ():
            if cls not in CLASSES:
                raise ConfigError(f"FleetConfig.classes: unknown asset class {cls!r}; use {', '.join(CLASSES)}")
        try:
            pd.Timestamp(self.start)
        except ValueError:
            raise ConfigError(f"FleetConfig.start={self.start!r} is not a date; use e.g. '2024-01-01'") from None
        self.interval_minutes()


@dataclass
class FleetChunk:
    """One rendered chunk of a fleet (whole days, all assets)."""

    asset_ids: list[str]
    start: pd.Timestamp
    arrays: ChunkArrays
    interval_min: int

    @property
    def asset_minutes(self) -> int:
        n, steps = self.arrays.health.shape
        return n * steps * self.interval_min

    def _keys(self) -> tuple[np.ndarray, np.ndarray]:
        n, steps = self.arrays.health.shape
        codes = np.repeat(np.arange(n, dtype=np.int32), steps)
        start_us = self.start.value // 1000
        ts = np.tile(start_us + self.arrays.minutes * 60_000_000, n)
        return codes, ts

    def _table(self, columns: dict[str, np.ndarray]) -> pa.Table:
        codes, ts = self._keys()
        asset = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(self.asset_ids, pa.string()))
        data = {"asset_id": asset, "ts": pa.array(ts, pa.timestamp("us", tz="UTC"))}
        data.update({k: pa.array(v) for k, v in columns.items()})
        return pa.table(data)

    def readings_table(self) -> pa.Table:
        """Wide readings as an Arrow table (``asset_id`` dictionary-encoded, channels float32)."""
        return self._table({name: self.arrays.values[i].ravel() for i, name in enumerate(CHANNEL_NAMES)})

    def truth_table(self) -> pa.Table:
        """Ground truth as an Arrow table (``active_fault`` dictionary-encoded)."""
        fault = pa.DictionaryArray.from_arrays(pa.array(self.arrays.fault.ravel()), pa.array(FAULT_NAMES, pa.string()))
        table = self._table({"health": self.arrays.health.ravel(), "rul_minutes": self.arrays.rul.ravel()})
        return table.append_column("active_fault", fault)


@dataclass(repr=False)
class Fleet:
    """A simulated fleet (see the module docstring). Build it with :func:`simulate_fleet`."""

    config: FleetConfig
    sites: list[Site]
    lines: list[Line]
    assets: list[Asset]
    profiles: list[SiteProfile]
    params: AssetParams
    regime: HourlyRegime
    plan: Plan
    faults: SensorFaults
    gain: np.ndarray
    offset: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def asset_ids(self) -> list[str]:
        return [a.asset_id for a in self.assets]

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.config.start, tz="UTC")

    @cached_property
    def interval_minutes(self) -> int:
        return self.config.interval_minutes()

    @property
    def steps(self) -> int:
        return self.config.days * 1440 // self.interval_minutes

    @property
    def asset_minutes(self) -> int:
        return len(self.assets) * self.config.days * 1440

    def _ts(self, minutes: np.ndarray) -> pd.Series:
        return pd.Series(self.start + pd.to_timedelta(np.asarray(minutes, dtype=np.int64), unit="min")).astype(
            "datetime64[us, UTC]"
        )

    def iter_chunks(self) -> Iterator[FleetChunk]:
        """Render the readings and truth chunk by chunk (``chunk_days`` days each), in time order."""
        iv = self.interval_minutes
        mask = np.array([[c in CLASS_CHANNELS[a.asset_class] for c in CHANNEL_NAMES] for a in self.assets])
        per_chunk = self.config.chunk_days * 1440 // iv
        renderer = Renderer(
            self.params,
            self.plan,
            self.regime,
            mask,
            self.gain,
            self.offset,
            self.faults,
            iv,
            self.config.seed,
            pool_size=max(1 << 20, 4 * len(self.assets) * per_chunk),
        )
        for first in range(0, self.steps, per_chunk):
            steps = min(per_chunk, self.steps - first)
            yield FleetChunk(self.asset_ids, self.start, renderer.render(first, steps), iv)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Fleet({len(self.sites)} sites, {len(self.assets)} assets, {c.days} days at {c.interval}, "
            f"seed={c.seed}, {len(self.plan.failures)} failures)"
        )

    def _materialise(self) -> None:
        if "readings" in self._cache:
            return
        rows = len(self.assets) * self.steps
        if rows > MAX_IN_MEMORY_ROWS:
            raise ConfigError(
                f"{rows:,} rows of readings are too many to hold in memory (limit "
                f"{MAX_IN_MEMORY_ROWS:,}); stream them with Fleet.iter_chunks(), Fleet.to_parquet() or "
                "Fleet.to_store(), or simulate a coarser interval"
            )
        chunks = [c.arrays for c in self.iter_chunks()]
        n = len(self.assets)
        steps = sum(c.health.shape[1] for c in chunks)
        codes = np.repeat(np.arange(n), steps)
        asset = pd.Categorical.from_codes(codes, categories=pd.Index(self.asset_ids, dtype=object))
        minutes = np.concatenate([c.minutes for c in chunks])
        ts = self._ts(np.tile(minutes, n)).to_numpy()
        readings = {"asset_id": asset, "ts": ts}
        for i, name in enumerate(CHANNEL_NAMES):
            readings[name] = np.concatenate([c.values[i] for c in chunks], axis=1).ravel()
        self._cache["readings"] = pd.DataFrame(readings)
        fault = np.concatenate([c.fault for c in chunks], axis=1).ravel()
        self._cache["truth"] = pd.DataFrame(
            {
                "asset_id": asset,
                "ts": ts,
                "health": np.concatenate([c.health for c in chunks], axis=1).ravel(),
                "rul_minutes": np.concatenate([c.rul for c in chunks], axis=1).ravel(),
                "active_fault": pd.Categorical.from_codes(fault, categories=pd.Index(FAULT_NAMES, dtype=object)),
            }
        )

    @property
    def readings(self) -> pd.DataFrame:
        """All readings in memory, wide layout (see the module docstring)."""
        self._materialise()
        return self._cache["readings"]

    @property
    def truth(self) -> pd.DataFrame:
        """Ground truth per asset and step: ``health``, ``rul_minutes``, ``active_fault``."""
        self._materialise()
        return self._cache["truth"]

    @cached_property
    def events(self) -> pd.DataFrame:
        """Failures (with ``failure_mode``) and maintenance (with ``action``, ``parts``, ``result``, ``note``)."""
        ids = self.asset_ids
        rows = [
            {
                "asset_id": ids[a],
                "minute": m,
                "kind": "failure",
                "failure_mode": MODES[mode],
                "action": None,
                "parts": None,
                "result": None,
                "note": None,
            }
            for a, m, mode in self.plan.failures
        ]
        for a, m, action, result, note in self.plan.maintenance:
            bearing = self.assets[a].metadata["bearing"]
            parts = PARTS.get(action, "").format(bearing=bearing) or None
            rows.append(
                {
                    "asset_id": ids[a],
                    "minute": m,
                    "kind": "maintenance",
                    "failure_mode": None,
                    "action": action,
                    "parts": parts,
                    "result": result,
                    "note": note,
                }
            )
        frame = pd.DataFrame(
            rows, columns=["asset_id", "minute", "kind", "failure_mode", "action", "parts", "result", "note"]
        )
        frame = frame[frame["minute"] < self.config.days * 1440].sort_values(["minute", "asset_id"], kind="stable")
        frame.insert(1, "ts", self._ts(frame.pop("minute").to_numpy()).to_numpy())
        return to_events(frame.reset_index(drop=True), source="twin")

    @cached_property
    def sensor_faults(self) -> pd.DataFrame:
        """The injected sensor faults: ``asset_id, sensor, kind, start, end, magnitude`` (sensor ``*`` = all)."""
        iv = self.interval_minutes
        f = self.faults
        return pd.DataFrame(
            {
                "asset_id": [self.asset_ids[a] for a in f.asset],
                "sensor": ["*" if s < 0 else SENSOR_NAMES[s] for s in f.sensor],
                "kind": f.kind.astype(str),
                "start": self._ts(f.start * iv).to_numpy(),
                "end": self._ts(f.end * iv).to_numpy(),
                "magnitude": f.mag,
            }
        )

    def write(
        self,
        *,
        store: Any = None,
        parquet_dir: str | Path | None = None,
        chunks_per_batch: int = 7,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Render once and write to a store and/or a Parquet folder; see :func:`forewarn.twin.output.write_fleet`."""
        from forewarn.twin.output import write_fleet

        return write_fleet(
            self, store=store, parquet_dir=parquet_dir, chunks_per_batch=chunks_per_batch, progress=progress
        )

    def to_parquet(self, directory: str | Path) -> dict[str, Path]:
        """Write ``readings``, ``truth``, ``events``, ``sensor_faults`` (Parquet) and ``assets.json``; streams."""
        return self.write(parquet_dir=directory)["paths"]

    def to_store(self, store: Any, *, chunks_per_batch: int = 7) -> list[Any]:
        """Write the plant, readings and events into a :class:`forewarn.store.Store`; returns the ingest reports."""
        return self.write(store=store, chunks_per_batch=chunks_per_batch)["reports"]

    def catalog(self) -> dict[str, Any]:
        """Sites, lines and assets (with channels and metadata) as plain data."""
        return {
            "config": asdict(self.config),
            "sites": [asdict(s) for s in self.sites],
            "lines": [asdict(x) for x in self.lines],
            "assets": [asdict(a) for a in self.assets],
        }

    def twin_state(self, asset_id: str) -> Any:
        """The asset's twin at the end of the simulation (a :class:`~forewarn.twin.whatif.TwinState`)."""
        from forewarn.twin.state import TwinState

        i = self.index_of(asset_id)
        week = slice(max(0, self.regime.load.shape[1] - 168), None)
        asset = self.assets[i]
        profile = self.profiles[int(self.params.site_index[i])]
        return TwinState(
            asset_id=asset_id,
            asset_class=asset.asset_class,
            params=self.params.take([i]),
            state=self.plan.final.take(np.array([i])),
            applicable=np.array([m in CLASS_MODES[asset.asset_class] for m in MODES]),
            week_running=self.regime.scheduled[i, week].astype(float),
            week_load=self.regime.load[i, week].astype(float),
            week_ambient=self.regime.ambient[i, week].astype(float),
            quality=profile.maintenance_quality,
            source="twin",
        )

    def snapshot(self, asset_id: str, ts: Any, duration_s: float = 1.0, seed: int | None = None) -> np.ndarray:
        """A raw 25.6 kHz acceleration waveform (g) of an asset at a time, from its twin's state then."""
        i = self.index_of(asset_id)
        when = pd.Timestamp(ts)
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        hour = int((when - self.start) // pd.Timedelta(hours=1))
        if not 0 <= hour < self.regime.load.shape[1]:
            raise ConfigError(f"snapshot time {ts} is outside the simulated period starting {self.start}")
        p = self.params.take([i])
        damage = [self.plan.damage[i, m, hour : hour + 1].astype(float) for m in range(len(MODES))]
        running = float(self.plan.run[i, hour] > 0.5)
        op = operate(
            p,
            self.regime.load[i, hour : hour + 1].astype(float),
            1.0,
            damage,
            self.plan.oil[i, hour : hour + 1],
            self.plan.wear[i, hour : hour + 1],
            self.regime.ambient[i, hour : hour + 1],
        )
        comp = components_at(p, op.speed_ratio, running, damage, op.cavitation)
        scalar = VibrationComponents(**{k: float(np.asarray(v).reshape(-1)[0]) for k, v in vars(comp).items()})
        return snapshot(
            scalar, duration_s=duration_s, seed=seed if seed is not None else self.config.seed * 7919 + hour
        )

    def index_of(self, asset_id: str) -> int:
        try:
            return self.asset_ids.index(asset_id)
        except ValueError:
            from forewarn.exceptions import UnknownAssetError

            raise UnknownAssetError(
                f"asset {asset_id!r} is not in this fleet",
                column="asset_id",
                hint=f"use one of {', '.join(self.asset_ids[:5])}...",
            ) from None


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
    return Policy(
        code=code,
        pm_interval_h=pm,
        oil_interval_h=oil,
        quality=np.array([profiles[s].maintenance_quality for s in site_of]),
        next_pm_h=next_pm,
        next_oil_h=rng.uniform(0.0, 1.0, n) * oil,
        planned_h=np.full(n, np.inf),
        planned_mask=np.zeros(n, np.int64),
    )


def _calibration(
    profiles: list[SiteProfile], site_of: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n, c = site_of.size, len(CHANNEL_NAMES)
    gain, offset = np.ones((n, c)), np.zeros((n, c))
    for j, name in enumerate(CHANNEL_NAMES):
        if name.endswith("_temp"):
            offset[:, j] = [profiles[s].temp_offset_c for s in site_of] + rng.normal(0, 0.3, n)
        elif name in ("current", "power", "flow", "discharge_pressure", "seal_leak"):
            gain[:, j] = 1.0 + np.array([profiles[s].gain_spread for s in site_of]) * rng.normal(0, 1, n)
    sensitivity = 1.0 + rng.normal(0, 0.03, n)  # accelerometer: amplitudes scale by it, energies by its square
    for j, name in enumerate(CHANNEL_NAMES):
        if name in ("vib_rms", "vib_peak"):
            gain[:, j] = sensitivity
        elif name.startswith("vib_band"):
            gain[:, j] = sensitivity**2
    return gain, offset


@dataclass
class FleetDraws:
    """A fleet's random draws before the engine runs (:func:`draw_fleet`): sites, asset classes and parameters,
    the hourly regime, the initial state, and the generators the later stages draw from."""

    profiles: list[SiteProfile]
    site_of: np.ndarray
    classes: Any
    params: Any
    applicable: np.ndarray
    regime: HourlyRegime
    age_years: np.ndarray
    state: Any
    r_plan: np.random.Generator
    r_sensors: np.random.Generator
    r_policy: np.random.Generator
    r_calibration: np.random.Generator


def draw_fleet(config: FleetConfig) -> FleetDraws:
    """Everything :func:`build_fleet` draws before the engine runs, in its order (one seed, seven streams): the
    one place that order lives, so a caller that runs the engine itself (a closed-loop policy bench) draws the
    very same fleet.

    >>> a, b = draw_fleet(FleetConfig(assets=4, days=2, seed=3)), draw_fleet(FleetConfig(assets=4, days=2, seed=3))
    >>> bool((a.params.rated_kw == b.params.rated_kw).all()), len(a.site_of)
    (True, 4)
    """
    r_sites, r_assets, r_regime, r_plan, r_sensors, r_policy, r_calibration = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(7)
    )
    profiles = site_profiles(config.sites, r_sites, config.policies)
    site_of = np.sort(np.arange(config.assets) % config.sites)
    classes = assign_classes(profiles, site_of, r_assets, config.classes)
    factors = {
        "dust": np.array([profiles[s].dust for s in site_of]),
        "suction_kpa": np.array([profiles[s].suction_kpa for s in site_of]),
    }
    params = sample_params(classes, r_assets, site_of, factors)
    applicable = np.array([[m in CLASS_MODES[c] for m in MODES] for c in classes])
    start = np.datetime64(pd.Timestamp(config.start).tz_localize(None), "m")
    regime = hourly_regime(
        profiles, site_of, params.indoor_coupling, params.heat_offset_c, start, config.days * 24, r_regime
    )
    age_years = r_assets.uniform(0.5, 20.0, config.assets)
    state = initial_state(params, applicable, regime.ambient[:, 0], age_years, r_assets)
    return FleetDraws(
        profiles,
        site_of,
        classes,
        params,
        applicable,
        regime,
        age_years,
        state,
        r_plan,
        r_sensors,
        r_policy,
        r_calibration,
    )


def build_fleet(config: FleetConfig | None = None, **overrides: Any) -> Fleet:
    """Simulate a fleet: everything but the readings, which :class:`Fleet` renders on demand."""
    config = FleetConfig(**{**asdict(config or FleetConfig()), **overrides})
    config.validate()
    d = draw_fleet(config)
    profiles, site_of, classes, params, applicable = d.profiles, d.site_of, d.classes, d.params, d.applicable
    regime, age_years, state = d.regime, d.age_years, d.state
    r_plan, r_sensors, r_policy, r_calibration = d.r_plan, d.r_sensors, d.r_policy, d.r_calibration
    plan = run_plan(
        params,
        state,
        regime,
        _policy(profiles, site_of, r_policy),
        applicable,
        r_plan,
        degradation=config.degradation,
        scale=config.degradation_scale,
    )
    iv = config.interval_minutes()
    steps = config.days * 1440 // iv
    recal: list[list[int]] = [[] for _ in classes]
    for index, minute, action, result, _note in plan.maintenance:
        if result == "planned" and action != "oil_change":
            recal[index].append(minute // iv)
    mask = np.array([[ch in CLASS_CHANNELS[c] for ch in CHANNEL_NAMES] for c in classes])
    site_factor = np.array([profiles[s].sensor_fault_factor for s in site_of])
    faults = sample_sensor_faults(
        mask, site_factor, steps, iv, recal, r_sensors, scale=config.sensor_fault_scale if config.sensor_faults else 0.0
    )
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
            assets.append(
                Asset(
                    f"S{s + 1}-{_PREFIX[cls]}{counters[(s, cls)]:03d}",
                    asset_class=cls,
                    line_id=f"S{s + 1}-L{k % n_lines + 1}",
                    site_id=f"S{s + 1}",
                    name=f"{cls} {counters[(s, cls)]} of {sites[s].name}",
                    install_date=install,
                    channels=channels_for(cls),
                    metadata={
                        "rated_kw": float(params.rated_kw[a]),
                        "rated_rpm": float(params.rated_rpm[a]),
                        "bearing": list(BEARINGS)[int(params.bearing_code[a])],
                        "maintenance_policy": profiles[s].policy,
                        "simulated": True,
                        "twin": params.row(int(a)),
                    },
                )
            )
    return Fleet(
        config=config,
        sites=sites,
        lines=lines,
        assets=assets,
        profiles=profiles,
        params=params,
        regime=regime,
        plan=plan,
        faults=faults,
        gain=gain,
        offset=offset,
    )


def simulate_fleet(config: FleetConfig | None = None, **overrides: Any) -> Fleet:
    """Simulate a fleet (``simulate_fleet(FleetConfig(...))`` or ``simulate_fleet(assets=10, days=30)``).

    See :func:`build_fleet` for how it is assembled.
    """
    return build_fleet(config, **overrides)
