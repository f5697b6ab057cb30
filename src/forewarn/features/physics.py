"""Physics features for the digital twin's asset classes: residuals against the twin's equations, and wear estimates.

Each feature compares what an asset's sensors read with what the twin's own relations expect at the same
operating point (speed, power, oil quality, running or not) and ambient temperature, using only the plant's
channels and only the past of each asset (causal):

``phys__winding_residual`` (K)
    winding temperature minus the expected one. The heat into the winding comes from the twin's motor loss model
    (:func:`~forewarn.twin.motor.loss_split_kw`, :func:`~forewarn.twin.machine.winding_heat_w`) at the measured
    power and speed; the node's first-order lag (:func:`~forewarn.twin.thermal.first_order_lag`, its cooling
    switching with :func:`~forewarn.twin.machine.cooling_factor` when the machine stops) turns heat and ambient into
    the expected temperature;
``phys__bearing_residual`` (K)
    bearing housing temperature minus the expected one: a share of the winding heat plus the friction of a healthy
    bearing (:func:`~forewarn.twin.machine.bearing_friction_w`, which follows the measured oil quality), lagged;
``phys__vib_rms_excess``, ``phys__vib_low_excess``, ``phys__vib_mid_excess`` (log ratio)
    vibration RMS and the 0-1 kHz and 1-4 kHz band energies over what a healthy machine of the class gives at the
    measured speed and running state (:func:`~forewarn.twin.machine.components_at` then
    :func:`~forewarn.twin.vibration.summarise`, zero damage);
``phys__kurtosis_excess``
    kurtosis minus its healthy value (impacts raise it);
``phys__cooling_loss``
    estimated cooling fouling in [0, 1]: the smoothed ratio of expected to observed winding rise (running hours)
    inverted through :func:`~forewarn.twin.machine.cooling_factor`;
``phys__spall_est``, ``phys__imbalance_est``
    estimated bearing spall and imbalance damage in [0, 1]: the smoothed band-energy ratios inverted through the
    twin's healthy-to-damaged vibration relation (``components_at`` + ``summarise`` tabulated over damage);
``phys__seal_wear`` (pump, compressor)
    seal wear inverted from the leak through :func:`~forewarn.twin.pump.seal_leak_lpm`;
``phys__thermal_wear``, ``phys__bearing_wear``, ``phys__vib_wear``
    cumulative excess (one-sided CUSUM, slack 0.5 sd, floored at zero) of the standardised winding residual,
    bearing residual and 1-4 kHz excess: drifts accumulate, noise does not.

**Parameters.** The twin's parameters vary per asset (rating, thermal resistances, sensor offsets, background
vibration) and a plant does not know them, so the relations are used with the *nominal* parameters of the class
(the median of the twin's own parameter distribution, :func:`nominal_params`), and each asset's unknown scales are
fitted on its first ``calibration_days`` (7) of readings, assumed healthy: the thermal resistance and an offset
(least squares on the twin's heat terms), the node time constants (best of a small grid), the log offsets of the
vibration channels and the residual spreads. Rows inside the calibration period get NaN; later rows use only
the calibration rows, so a row's features never depend on later rows (``tests/features/test_physics.py``).

>>> from forewarn.twin import FleetConfig, simulate_fleet
>>> fleet = simulate_fleet(FleetConfig(sites=1, assets=2, days=10, seed=4, interval="1h", classes=("pump",)))
>>> feats = physics_features(fleet.readings, asset_class="pump")
>>> feats.columns[:2].tolist(), len(feats) == len(fleet.readings)
(['phys__winding_residual', 'phys__bearing_residual'], True)
>>> bool(feats["phys__winding_residual"].iloc[:168].isna().all())     # the first 7 days calibrate
True
>>> bool(feats["phys__winding_residual"].iloc[168:240].abs().median() < 1.0)   # K, healthy pump
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from forewarn.exceptions import SchemaError
from forewarn.twin.assets import CLASS_CHANNELS, CLASSES, IMBALANCE, MODES, OUTER, AssetParams, sample_params
from forewarn.twin.machine import bearing_friction_w, components_at, cooling_factor, winding_heat_w
from forewarn.twin.motor import loss_split_kw
from forewarn.twin.pump import seal_leak_lpm
from forewarn.twin.thermal import first_order_lag, lag_coefficient
from forewarn.twin.vibration import summarise

__all__ = ["PHYSICS_CLASSES", "nominal_params", "physics_feature_names", "physics_features"]

PHYSICS_CLASSES: tuple[str, ...] = CLASSES
PREFIX = "phys__"
_COMMON = (
    "winding_residual",
    "bearing_residual",
    "vib_rms_excess",
    "vib_low_excess",
    "vib_mid_excess",
    "kurtosis_excess",
    "cooling_loss",
    "spall_est",
    "imbalance_est",
    "thermal_wear",
    "bearing_wear",
    "vib_wear",
)
_SEAL = ("seal_wear",)
_TAUS_MIN = np.array([10.0, 20.0, 40.0, 60.0, 90.0, 120.0, 180.0, 240.0])
_DAMAGE_GRID = np.linspace(0.0, 1.0, 101)
_SPEED_GRID = np.linspace(0.1, 1.1, 21)
_SLACK = 0.5


def physics_feature_names(asset_classes: Iterable[str]) -> list[str]:
    """Feature columns for assets of these classes (unsupported classes add none), in a fixed order.

    >>> physics_feature_names(["motor"])[:3]
    ['phys__winding_residual', 'phys__bearing_residual', 'phys__vib_rms_excess']
    >>> "phys__seal_wear" in physics_feature_names(["motor", "pump"]), physics_feature_names(["turbofan"])
    (True, [])
    """
    classes = {c for c in asset_classes if c in PHYSICS_CLASSES}
    if not classes:
        return []
    names = list(_COMMON)
    if any("seal_leak" in CLASS_CHANNELS[c] for c in classes):
        names += _SEAL
    return [PREFIX + n for n in names]


@cache
def nominal_params(asset_class: str) -> AssetParams:
    """The class's nominal twin parameters: the median of 512 draws of :func:`~forewarn.twin.assets.sample_params`.

    >>> round(float(nominal_params("pump").rated_kw[0]), 1) > 0
    True
    """
    draws = sample_params([asset_class] * 512, np.random.default_rng(0))
    return AssetParams(**{name: np.median(value, keepdims=True) for name, value in vars(draws).items()})


def _healthy_vibration(
    p: AssetParams, speed_ratio: np.ndarray, running: np.ndarray, damage: dict[int, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Vibration summaries of the class's nominal twin (damage zero unless given), arrays broadcast."""
    shape = np.broadcast(speed_ratio, running, *(damage or {}).values()).shape
    d = [np.zeros(shape) for _ in MODES]
    for mode, value in (damage or {}).items():
        d[mode] = np.broadcast_to(value, shape)
    comp = components_at(p, speed_ratio, running, d, 0.0)
    shares = {"low": p.share_low, "mid": p.share_mid, "high": p.share_high}
    return summarise(comp, band_shares=shares)


@cache
def _damage_tables(asset_class: str) -> dict[str, np.ndarray]:
    """Band-energy ratio damaged/healthy of the nominal twin, per speed (rows) and damage (columns)."""
    p = nominal_params(asset_class)
    s = _SPEED_GRID[:, None]
    healthy = _healthy_vibration(p, s, np.ones(1))
    spall = _healthy_vibration(p, s, np.ones(1), {OUTER: _DAMAGE_GRID[None, :]})
    imbalance = _healthy_vibration(p, s, np.ones(1), {IMBALANCE: _DAMAGE_GRID[None, :]})
    return {
        "mid": np.log(spall["band_mid"] / healthy["band_mid"]),
        "low": np.log(imbalance["band_low"] / healthy["band_low"]),
    }


def _invert_table(log_ratio: np.ndarray, speed_ratio: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Damage whose tabulated log ratio (at the nearest tabulated speed) matches ``log_ratio``."""
    out = np.full(log_ratio.shape, np.nan)
    row = np.abs(speed_ratio[:, None] - _SPEED_GRID[None, :]).argmin(axis=1)
    ok = np.isfinite(log_ratio) & np.isfinite(speed_ratio)
    for r in np.unique(row[ok]):
        sel = ok & (row == r)
        out[sel] = np.interp(log_ratio[sel], table[r], _DAMAGE_GRID)
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values: np.ndarray = frame[name].to_numpy(dtype="float64", na_value=np.nan)
    return values


def _ffill(values: np.ndarray) -> np.ndarray:
    """Carry the last valid value forward (the first valid one backwards over a leading gap)."""
    filled: np.ndarray = pd.Series(values).ffill().bfill().to_numpy()
    return filled


def _ewm(values: np.ndarray, span: float) -> np.ndarray:
    smoothed: np.ndarray = pd.Series(values).ewm(span=span, ignore_na=True).mean().to_numpy()
    return smoothed


def _cusum(z: np.ndarray) -> np.ndarray:
    out = np.full(z.shape, np.nan)
    total = 0.0
    for i, value in enumerate(z.tolist()):
        if value == value:  # not NaN
            total = max(0.0, total + value - _SLACK)
            out[i] = total
        elif i:
            out[i] = out[i - 1]
    return out


def _fit(target: np.ndarray, bases: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least squares ``target ~ c0 + bases @ k`` on ``rows`` with ``k >= 0`` (resistances, couplings cannot be
    negative; a free offset ``c0``): coefficients ``[c0, *k]``, residual sd, sum of squares."""
    ones = np.ones((rows.sum(), 1))
    design = np.column_stack([ones, -ones, bases[rows]])
    solution, _ = nnls(design, target[rows])
    coef = np.concatenate([[solution[0] - solution[1]], solution[2:]])
    resid = target[rows] - coef[0] - bases[rows] @ coef[1:]
    return coef, float(resid.std()), float(resid @ resid)


def _lagged(targets: np.ndarray, dt_s: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each column of ``targets`` (steps, k) lagged with every candidate time constant: (steps, k, taus)."""
    taus = _TAUS_MIN * 60.0
    decay = lag_coefficient(dt_s[:, None, None], taus[None, None, :] / scale[:, None, None])
    decay = np.broadcast_to(decay, (targets.shape[0], targets.shape[1], taus.size)).reshape(targets.shape[0], -1)
    stacked = np.repeat(targets, taus.size, axis=1)
    return first_order_lag(stacked, decay, stacked[0]).reshape(targets.shape[0], targets.shape[1], taus.size)


def _thermal(
    temp: np.ndarray,
    lagged: np.ndarray,
    calib: np.ndarray,
    n_bases: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pick the time constant that fits the calibration rows best; residual and expected rise for every row.

    ``lagged`` is (steps, 1 + n_bases, taus): the lagged ambient, then the lagged heat terms.
    """
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None
    for t in range(lagged.shape[2]):
        rise = temp - lagged[:, 0, t]
        bases = lagged[:, 1 : 1 + n_bases, t]
        rows = calib & np.isfinite(rise) & np.isfinite(bases).all(axis=1)
        if rows.sum() < 12:
            continue
        coef, sd, sse = _fit(rise, bases, rows)
        if best is None or sse < best[0]:
            best = (sse, rise - coef[0] - bases @ coef[1:], bases @ coef[1:], sd)
    if best is None:
        nan = np.full(temp.shape, np.nan)
        return nan, nan, np.nan
    return best[1], best[2], best[3]


def _asset_features(
    f: pd.DataFrame, seconds: np.ndarray, asset_class: str, calibration_s: float, smooth: float
) -> dict[str, np.ndarray]:
    p = nominal_params(asset_class)
    n = len(f)
    calib = seconds - seconds[0] < calibration_s
    out: dict[str, np.ndarray] = {}
    speed, power = _column(f, "speed"), _column(f, "power")
    ambient, winding, bearing = _column(f, "ambient_temp"), _column(f, "winding_temp"), _column(f, "bearing_temp")
    # nameplate proxies from the calibration period: the usual top speed and power while running
    rpm_ref = np.nanquantile(speed[calib], 0.95) if np.isfinite(speed[calib]).any() else np.nan
    running = np.where(np.isfinite(speed), (speed > 0.1 * rpm_ref).astype(float), np.nan)
    run_calib = calib & (running > 0.5)
    kw_ref = np.nanquantile(power[run_calib], 0.95) if np.isfinite(power[run_calib]).any() else np.nan
    s = np.clip(speed / rpm_ref, 0.0, 1.5)
    # heat terms of the twin (nominal efficiency, rating from the calibration period), inputs carried over gaps
    eff = float(p.rated_eff[0])
    fixed, copper = loss_split_kw(_ffill(power) * eff, kw_ref * eff, eff, _ffill(s))
    run_f = _ffill(running)
    heat = winding_heat_w(fixed * run_f, copper, 1.0)
    oil = _ffill(_column(f, "oil_quality"))
    friction = bearing_friction_w(1.0, _ffill(s), np.where(np.isfinite(oil), oil, 1.0), 0.0, 0.0, 0.0, 0.0) * run_f
    dt = np.diff(seconds, prepend=seconds[0])
    amb = _ffill(ambient)
    cool = cooling_factor(0.0, run_f, p.stopped_cooling[0])
    nan = np.full(n, np.nan)
    if np.isfinite(amb).any() and np.isfinite(heat).any():
        lag_w = _lagged(np.column_stack([amb, heat]), dt, cool)
        lag_b = _lagged(np.column_stack([amb, heat, friction]), dt, np.ones(n))
        w_res, w_exp, w_sd = _thermal(winding, lag_w, calib, 1)
        b_res, _b_exp, b_sd = _thermal(bearing, lag_b, calib, 2)
    else:
        w_res = w_exp = b_res = nan
        w_sd = b_sd = np.nan
    out["winding_residual"] = w_res
    out["bearing_residual"] = b_res
    # vibration against the class's healthy twin at the measured speed and running state
    healthy = _healthy_vibration(p, np.nan_to_num(s), np.nan_to_num(running))
    excess = {}
    for name, channel, stat in (
        ("vib_rms_excess", "vib_rms", "rms"),
        ("vib_low_excess", "vib_band_low", "band_low"),
        ("vib_mid_excess", "vib_band_mid", "band_mid"),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(_column(f, channel) / healthy[stat])
        ratio[~np.isfinite(ratio) | ~np.isfinite(running)] = np.nan
        offset = np.nanmedian(ratio[calib]) if np.isfinite(ratio[calib]).any() else np.nan
        excess[name] = ratio - offset
        out[name] = excess[name]
    kurt = _column(f, "vib_kurtosis") - healthy["kurtosis"]
    out["kurtosis_excess"] = kurt - (np.nanmedian(kurt[calib]) if np.isfinite(kurt[calib]).any() else np.nan)
    # wear estimates: smoothed ratios inverted through the twin's relations (running rows only)
    run_now = running > 0.5
    observed_rise = w_res + w_exp
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(run_now & (w_exp > 5.0), w_exp / observed_rise, np.nan)
    factor = _ewm(np.clip(ratio, 0.0, 2.0), smooth)
    grid = cooling_factor(_DAMAGE_GRID, 1.0, p.stopped_cooling[0])  # decreasing in the damage
    out["cooling_loss"] = np.where(np.isfinite(factor), np.interp(-factor, -grid, _DAMAGE_GRID), np.nan)
    tables = _damage_tables(asset_class)
    for name, key, vib in (("spall_est", "mid", "vib_mid_excess"), ("imbalance_est", "low", "vib_low_excess")):
        smoothed = _ewm(np.where(run_now, excess[vib], np.nan), smooth)
        out[name] = _invert_table(smoothed, np.where(run_now, s, np.nan), tables[key])
    if "seal_leak" in CLASS_CHANNELS[asset_class]:
        with np.errstate(divide="ignore", invalid="ignore"):
            wear2 = _column(f, "seal_leak") / seal_leak_lpm(p.leak_max[0], 1.0, s)
        out["seal_wear"] = np.where(run_now, np.sqrt(np.clip(wear2, 0.0, None)), np.nan)
    for name, resid, sd in (("thermal_wear", w_res, w_sd), ("bearing_wear", b_res, b_sd)):
        out[name] = _cusum(resid / sd) if np.isfinite(sd) and sd > 0 else nan
    mid = excess["vib_mid_excess"]
    mid_sd = np.nanstd(mid[calib]) if np.isfinite(mid[calib]).any() else np.nan
    out["vib_wear"] = _cusum(mid / mid_sd) if np.isfinite(mid_sd) and mid_sd > 0 else nan
    for name in out:
        out[name] = np.where(calib, np.nan, out[name])
    return out


def physics_features(
    frame: pd.DataFrame,
    *,
    asset_class: Mapping[str, str] | str,
    group: str = "asset_id",
    order: str = "ts",
    calibration_days: float = 7.0,
    smooth: float = 24.0,
) -> pd.DataFrame:
    """Physics residuals and wear estimates per row (see the module docstring); same index as ``frame``.

    ``frame`` holds wide readings of one or more assets (one row per asset and time, one column per channel, at
    any regular or irregular interval). ``asset_class`` is one class for every asset or a mapping from asset id to
    class. Columns are :func:`physics_feature_names` of the classes ``asset_class`` names (a mapping's values),
    so a model trained and served with the same mapping sees the same columns. NaN for rows of unsupported classes,
    in the calibration period, or where the needed channels are missing. ``smooth`` is the span (rows) of the
    exponential smoothing behind the wear estimates.
    """
    for col in (group, order):
        if col not in frame.columns:
            raise SchemaError(
                f"physics_features: frame has no column {col!r}",
                column=col,
                hint="give wide readings with the asset id and time columns (group=, order=)",
            )
    classes = [asset_class] if isinstance(asset_class, str) else list(asset_class.values())
    names = physics_feature_names(classes)
    result = pd.DataFrame(np.nan, index=frame.index, columns=names)
    if frame.empty or not names:
        return result
    times = frame[order]
    if pd.api.types.is_datetime64_any_dtype(times):
        seconds_all = (pd.to_datetime(times, utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    else:
        seconds_all = times.to_numpy(dtype="float64") * 3600.0  # numeric order: taken as hours
    positions = np.arange(len(frame))
    block = np.full((len(frame), len(names)), np.nan)
    keys = frame[group].to_numpy()
    for asset in pd.unique(keys):
        cls = asset_class if isinstance(asset_class, str) else asset_class.get(asset)
        if cls not in PHYSICS_CLASSES:
            continue
        idx = positions[keys == asset]
        idx = idx[np.argsort(seconds_all[idx], kind="stable")]
        feats = _asset_features(frame.iloc[idx], seconds_all[idx], str(cls), calibration_days * 86400.0, smooth)
        for j, name in enumerate(names):
            key = name[len(PREFIX) :]
            if key in feats:
                block[idx, j] = feats[key]
    result.loc[:, :] = block
    return result
