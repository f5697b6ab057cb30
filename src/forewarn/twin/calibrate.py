"""Estimate a twin's state from an asset's recent readings (for what-if runs on real or stored data).

The readings are averaged per hour. Then, each by least squares or by inverting a component model:

* **thermal resistance**: in steady running hours (running this hour and the two before, so the winding has
  settled), the winding rise over ambient is proportional to the heat into the winding,
  ``T_w - T_amb = R_eff * q``, where ``q`` follows from the measured input power through the motor loss model.
  ``R_eff`` is fitted through the origin by least squares; its ratio to the clean-cooling resistance gives the
  cooling fouling (``R_eff = R / (1 - 0.7 D)``);
* **bearing spall**: the 1-4 kHz band energy above the background is the impact power
  ``f_d A^2 <m^2> / (4 alpha)``, which gives the impact amplitude and so the spall size; an inner-race defect
  (strong shaft modulation) gives a higher kurtosis than an outer-race one of the same power, which decides the race;
* **imbalance**: the 0-1 kHz band energy, less background and impacts, is the 1x/2x power; misalignment is not
  separable from it in band energies, so it stays at a prior of 0.15 and the rest is read as imbalance;
* **oil quality**, **seal wear** (``leak = leak_max w^2 s``): read or inverted directly; insulation ageing is
  not observable from these channels and comes from the asset's age.

The asset's usual week (hourly running, load, ambient) is taken from the last 7 days of readings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.twin.assets import (
    CLASS_MODES,
    CLASSES,
    IMBALANCE,
    INNER,
    INSULATION,
    MISALIGNMENT,
    MODES,
    OUTER,
    OVERHEATING,
    SEAL,
    AssetParams,
    sample_params,
)
from forewarn.twin.degradation import SlowState
from forewarn.twin.machine import FOULING_COOLING_LOSS
from forewarn.twin.motor import loss_split_kw
from forewarn.twin.state import TwinState
from forewarn.twin.vibration import VibrationComponents, summarise

__all__ = ["estimate_state", "twin_params"]

WEEK_HOURS = 168
_NEEDED = ("speed", "power", "winding_temp", "ambient_temp")


def _field(asset: Any, name: str, default: Any = None) -> Any:
    if isinstance(asset, Mapping):
        return asset.get(name, default)
    return getattr(asset, name, default)


def twin_params(asset: Any) -> AssetParams:
    """The asset's twin parameters (``metadata["twin"]`` when the simulator made it, class defaults otherwise)."""
    cls = _field(asset, "asset_class")
    if cls not in CLASSES:
        raise ConfigError(
            f"asset {_field(asset, 'asset_id')!r} has class {cls!r}; the twin models {', '.join(CLASSES)}"
        )
    metadata = _field(asset, "metadata", {}) or {}
    if isinstance(metadata.get("twin"), Mapping):
        return AssetParams.from_rows([metadata["twin"]])
    return sample_params([cls], np.random.default_rng(0))


def _hourly(readings: pd.DataFrame, rated_rpm: float) -> pd.DataFrame:
    missing = [c for c in ("ts", *_NEEDED) if c not in readings.columns]
    if missing:
        raise SchemaError(
            f"readings lack column(s) {', '.join(missing)}",
            source="what-if readings",
            hint="give wide readings of one asset with speed, power, winding_temp and ambient_temp",
        )
    frame = readings.copy()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["running"] = (frame["speed"] > 0.1 * rated_rpm).astype(float).where(frame["speed"].notna())
    numeric = frame.drop(columns=[c for c in ("asset_id",) if c in frame.columns]).set_index("ts").sort_index()
    hourly = numeric.resample("1h").mean()
    if hourly["running"].notna().sum() < 24:
        raise SchemaError(
            "fewer than 24 hours of readings",
            source="what-if readings",
            hint="give at least a day (better a week) of recent readings",
        )
    return hourly


def _thermal(p: AssetParams, h: pd.DataFrame, insulation: float) -> tuple[float, int]:
    steady = (h["running"] > 0.99) & (h["running"].shift(1) > 0.99) & (h["running"].shift(2) > 0.99)
    rows = h[steady & h["power"].notna() & h["winding_temp"].notna() & h["ambient_temp"].notna()]
    if len(rows) < 3:
        return float(p.winding_r[0]), len(rows)
    shaft = rows["power"].to_numpy() * p.rated_eff[0]
    speed = (rows["speed"].to_numpy() / p.rated_rpm[0]).clip(0.05, 1.5)
    fixed, copper = loss_split_kw(shaft, p.rated_kw[0], p.rated_eff[0], speed, insulation)
    heat = 1000.0 * (copper + 0.5 * fixed)
    rise = rows["winding_temp"].to_numpy() - rows["ambient_temp"].to_numpy()
    return float(np.dot(rise, heat) / np.dot(heat, heat)), len(rows)


def _bearing_and_imbalance(p: AssetParams, h: pd.DataFrame, damage: np.ndarray) -> dict[str, Any]:
    cols = ("vib_band_low", "vib_band_mid", "vib_kurtosis", "speed")
    if any(c not in h.columns for c in cols):
        return {}
    run = h[(h["running"] > 0.99) & h["vib_band_mid"].notna()].tail(24)
    if run.empty:
        return {}
    s = float(run["speed"].median() / p.rated_rpm[0])
    shaft_hz = p.rated_rpm[0] * s / 60.0
    noise = float(p.noise_std[0] ** 2)
    nyquist = 12_800.0
    alpha = 2 * math.pi * p.damping[0] * p.resonance_hz[0]
    impact = max(float(run["vib_band_mid"].median()) - noise * 3000.0 / nyquist, 0.0) / p.share_mid[0]
    fit: dict[str, Any] = {"speed_ratio": s, "impact_power_g2": impact}
    if impact > 0.05 * noise:
        best = None
        for race, order, mod in ((OUTER, p.bpfo_order[0], 0.1), (INNER, p.bpfi_order[0], 0.8)):
            rate = order * shaft_hz
            amp = math.sqrt(impact * 4 * alpha / (rate * (1 + 0.5 * mod * mod)))
            comp = VibrationComponents(
                shaft_hz=shaft_hz,
                outer_amp=amp if race == OUTER else 0.0,
                outer_hz=rate,
                inner_amp=amp if race == INNER else 0.0,
                inner_hz=rate,
                resonance_hz=p.resonance_hz[0],
                damping=p.damping[0],
                noise_var=noise,
            )
            gap = abs(float(summarise(comp)["kurtosis"]) - float(run["vib_kurtosis"].median()))
            if best is None or gap < best[0]:
                best = (gap, race, amp)
        assert best is not None
        _gap, race, amp = best
        damage[race] = min((amp / (p.impact_gain[0] * s**1.5)) ** 1.25, 0.99)
        fit["bearing_race"] = MODES[race]
    low = float(run["vib_band_low"].median()) - noise * 1000.0 / nyquist - impact * p.share_low[0]
    a2 = (p.a2_base[0] + p.mis_gain[0] * damage[MISALIGNMENT]) * s
    a1 = math.sqrt(max(2.0 * low - a2 * a2, 0.0)) / max(s * s, 1e-3)
    damage[IMBALANCE] = float(
        np.clip((a1 - p.a1_base[0] - 0.3 * p.mis_gain[0] * damage[MISALIGNMENT]) / p.imb_gain[0], 0.0, 0.99)
    )
    return fit


def estimate_state(readings: pd.DataFrame, asset: Any, now: pd.Timestamp | None = None) -> TwinState:
    """Calibrate a twin to one asset's recent wide readings (see the module docstring)."""
    p = twin_params(asset)
    cls = str(_field(asset, "asset_class"))
    h = _hourly(readings, float(p.rated_rpm[0]))
    damage = np.zeros(len(MODES))
    damage[MISALIGNMENT] = 0.15
    installed = _field(asset, "install_date")
    end = now or h.index[-1]
    if installed is not None and pd.notna(installed):
        age_years = (pd.Timestamp(end).tz_localize(None) - pd.Timestamp(installed)).days / 365.25
    else:
        age_years = 10.0
    damage[INSULATION] = float(np.clip(0.025 * age_years, 0.0, 0.9))
    r_eff, used = _thermal(p, h, damage[INSULATION])
    cooling = float(p.winding_r[0] / r_eff) if r_eff > 0 else 1.0
    damage[OVERHEATING] = float(np.clip((1.0 - cooling) / FOULING_COOLING_LOSS, 0.0, 0.99))
    fit = {
        "thermal_resistance_k_per_w": r_eff,
        "nominal_k_per_w": float(p.winding_r[0]),
        "cooling_factor": cooling,
        "steady_hours": used,
    }
    fit.update(_bearing_and_imbalance(p, h, damage))
    oil = h["oil_quality"].dropna() if "oil_quality" in h.columns else pd.Series(dtype=float)
    if "seal_leak" in h.columns and p.leak_max[0] > 0:
        leak = h.loc[h["running"] > 0.99, "seal_leak"].dropna().tail(24)
        if not leak.empty:
            ratio = float(leak.median()) / (p.leak_max[0] * max(fit.get("speed_ratio", 1.0), 0.05))
            damage[SEAL] = float(np.clip(math.sqrt(max(ratio, 0.0)), 0.0, 0.99))
    applicable = np.array([m in CLASS_MODES[cls] for m in MODES])
    damage *= applicable
    week = h.tail(WEEK_HOURS)
    running = week["running"].fillna(0.0).to_numpy()
    if p.variable_speed[0] > 0:
        load = (week["speed"] / p.rated_rpm[0]).to_numpy()
    else:
        load = (week["power"] * p.rated_eff[0] / p.rated_kw[0]).to_numpy()
    typical = float(np.nanmedian(load[running > 0.5])) if (running > 0.5).any() else 0.8
    load = np.where((running > 0.5) & np.isfinite(load), load / np.maximum(running, 1e-3), typical)
    ambient = week["ambient_temp"].interpolate(limit_direction="both").to_numpy()
    last_temp = h["winding_temp"].dropna()
    last_bearing = h["bearing_temp"].dropna() if "bearing_temp" in h.columns else pd.Series(dtype=float)
    state = SlowState(
        damage=damage[None, :],
        bearing_age_h=np.array([20_000.0]),
        oil=np.array([float(oil.iloc[-1]) if not oil.empty else 0.8]),
        wear=np.array([0.1]),
        winding_c=np.array([float(last_temp.iloc[-1]) if not last_temp.empty else ambient[-1]]),
        bearing_c=np.array([float(last_bearing.iloc[-1]) if not last_bearing.empty else ambient[-1]]),
    )
    return TwinState(
        asset_id=str(_field(asset, "asset_id")),
        asset_class=cls,
        params=p,
        state=state,
        applicable=applicable,
        week_running=running,
        week_load=np.clip(load, 0.05, 1.5),
        week_ambient=ambient,
        source="estimated from readings",
        fit=fit,
    )
