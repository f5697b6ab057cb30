"""Quality as forewarning on the twin: does SPC on unit quality warn earlier than the machine's own sensors?

A fleet is simulated (:func:`forewarn.twin.fleet.build_fleet`, hourly) and its units measured. Per asset, three
one-sided EWMA charts (lam 0.05; :func:`forewarn.quality.charts.ewma`) are scaled by the asset's first 30 days
(``baseline``: the mean and spread of the baseline's EWMA values, see :func:`zscores`) and then run over the year:

* ``quality`` (``--stat``): ``mean``, the EWMA of each hour's subgroup mean of the units' deviation; ``logvar``,
  the EWMA of the log of the subgroup's sample variance (Crowder and Hamilton's EWMA-ln S^2 chart for a rise in
  spread); ``both`` (the default), the sum of the two charts' baseline z-scores, since a worn machine moves both;
* ``vibration`` and ``bearing_temp``: the hourly vibration RMS and bearing temperature, sensor-only. With
  ``--sensors measured`` (the default) these are the fleet's rendered readings (:func:`forewarn.twin.quality.sensor_readings`:
  measurement noise, site calibration, sensor faults, dropouts); ``--sensors plan`` takes the twin's noiseless
  physical state instead, as the runs before 2026-12-05 05:30 UTC did.

Units (``--units``): ``production`` (the default) measures every unit the machine made that hour
(:func:`forewarn.twin.quality.production_units`: 60-150 an hour at full load, by class, times load and run
fraction; a 100 % vision inspection), summarised per hour (:func:`forewarn.twin.quality.unit_subgroups`); a number
N measures N units per running hour (:func:`forewarn.twin.quality.unit_quality`; 5 before 2026-12-05).
``--adjust-load`` (the default; ``--no-adjust-load``): the quality mean less its least-squares line on the load,
fitted on the asset's baseline days (the load is a known process parameter: a cause-selecting chart in Zhang's
sense). ``--combine``: the twin's combination of the quality modes' damages (``rss``, its default; ``max`` and
``sum`` what-ifs, see :mod:`forewarn.twin.quality`).

For each failure, the lead time is the failure hour minus the first hour of the 30 days before it at which the
chart is above its threshold (none: missed); failures in the baseline period are skipped. The thresholds are
matched: each chart's is the 99th percentile of its own values in healthy running hours (outside every 30-day
pre-failure window), so each alarms 1 % of healthy hours and the lead times compare like with like. False alarms:
signal onsets (an hour above the limit after one below) outside every 30-day pre-failure window, per asset-month.
Failures are split by whether their mode affects unit quality (:data:`forewarn.twin.quality.QUALITY_MODES`), and
the quality modes again by mode. ``masked_h`` (per failure): the hours before the failure from which the failing
mode's own damage is the largest of the quality modes' damages (from when ``combine max`` lets the units follow
the failing mode at all).

Run: ``.venv/bin/python benchmarks/quality_forewarning.py --assets 60 --seeds 0 1 2 3 4 5 6 7``

:func:`fleet_charts` (the charts and failures of one fleet) is what ``quality_combined.py`` builds its rules on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.quality.charts import ewma
from forewarn.twin.assets import MODES
from forewarn.twin.fleet import build_fleet
from forewarn.twin.quality import (
    COMBINE,
    QUALITY_MODES,
    production_units,
    sensor_readings,
    unit_quality,
    unit_subgroups,
)

WINDOW_H = 30 * 24
BASELINE_H = 30 * 24


def zscores(series: np.ndarray, valid: np.ndarray, lam: float = 0.05, lag: int = 0) -> np.ndarray:
    """The EWMA of ``series`` (over ``valid`` hours) in units of the baseline's own EWMA spread (NaN elsewhere).

    The textbook limit, target + L sigma sqrt(lam / (2 - lam)), assumes independent points; hourly sensor and
    quality series follow the load and the weather, and every chart alarmed all year with it (10-14 onsets per
    asset-month). So the charts are compared at a matched false-alarm level instead (see :func:`evaluate`).

    ``lag`` > 0: the EWMA's change over the last ``lag`` valid hours instead of its level (a moving reference:
    a fast-growing defect on top of a slow drift, which lifts every chart's healthy-hour threshold), scaled the
    same way by the baseline's own changes.
    """
    idx = np.flatnonzero(valid)
    out = np.full(len(series), np.nan)
    base = int((idx < BASELINE_H).sum())
    if base < 48 + lag:
        return out
    stat = ewma(series[idx], lam=lam, L=3.0, baseline=base).statistic
    if lag:
        stat = np.concatenate([np.full(lag, np.nan), stat[lag:] - stat[:-lag]])
    reference = stat[max(base // 4, lag) : base]  # skip the EWMA's start-up
    out[idx] = (stat - reference.mean()) / max(reference.std(), 1e-9)
    out[:BASELINE_H] = np.nan
    return out


def _onsets(z: np.ndarray, in_window: np.ndarray, threshold: float) -> int:
    """Signal onsets (an hour above ``threshold`` after one that was not) outside the pre-failure windows."""
    on = np.nan_to_num(z, nan=-np.inf) > threshold
    onset = on & ~np.concatenate([np.zeros((len(on), 1), bool), on[:, :-1]], axis=1)
    return int((onset & ~in_window).sum())


def onset_threshold(z: np.ndarray, in_window: np.ndarray, onsets: float, healthy: np.ndarray) -> float:
    """The lowest threshold (bisection over the healthy values' range) with at most ``onsets`` false-alarm onsets:
    each chart matched on false alarms as a plant counts them (alarm events), not on the share of hours alarmed."""
    low, high = float(np.quantile(healthy, 0.5)), float(healthy.max())
    for _ in range(40):
        mid = 0.5 * (low + high)
        low, high = (low, mid) if _onsets(z, in_window, mid) <= onsets else (mid, high)
    return high


def load_adjusted(means: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Each asset's quality means minus their least-squares line on the load, fitted on its baseline hours."""
    out = np.full_like(means, np.nan)
    for a in range(len(means)):
        ok = np.isfinite(means[a])
        base = ok.copy()
        base[BASELINE_H:] = False
        if base.sum() < 48:
            continue
        slope, intercept = np.polyfit(load[a, base], means[a, base], 1)
        out[a, ok] = means[a, ok] - (slope * load[a, ok] + intercept)
    return out


@dataclass
class Charts:
    """One simulated fleet's charts and failures: ``z`` (``quality``, ``vibration``, ``bearing_temp``: each
    ``(assets, hours)`` baseline z-scores, NaN where the chart has no value), ``in_window`` (the hours within
    ``WINDOW_H`` before a failure), ``events`` (asset, failure hour, window start, mode index; failures in the
    baseline skipped), ``months`` (asset-months simulated) and the twin's ``damage`` (assets, modes, hours)."""

    seed: int
    z: dict[str, np.ndarray]
    in_window: np.ndarray
    events: list[tuple[int, int, int, int]]
    months: float
    damage: np.ndarray


def fleet_series(
    seed: int,
    assets: int,
    days: int,
    units: int | str = "production",
    adjust_load: bool = True,
    combine: str = "rss",
    sensors: str = "measured",
) -> tuple[Any, dict[str, np.ndarray], np.ndarray]:
    """Simulate fleet ``seed`` and measure it: the fleet, its hourly series (``mean`` and ``logvar`` of the units'
    subgroups, ``vibration`` and ``bearing_temp``; ``(assets, hours)``) and its running hours (module text)."""
    fleet = build_fleet(sites=2, assets=assets, days=days, seed=seed, interval="1h")
    plan = fleet.plan
    n, hours = plan.run.shape
    if units == "production":
        g = unit_subgroups(fleet, production_units(fleet), seed=seed, combine=combine)
        sub_mean, sub_var = g["mean"].to_numpy(), g["var"].to_numpy()
    else:
        measured_units = unit_quality(fleet, units=int(units), seed=seed, combine=combine)
        g, q = measured_units.frame, measured_units.measurements
        sub_mean, sub_var = q.mean(axis=1), q.var(axis=1, ddof=1)
    row_of = {a: i for i, a in enumerate(fleet.asset_ids)}
    cells = ([row_of[a] for a in g["asset_id"]], g["hour"].to_numpy())
    means = np.full((n, hours), np.nan)
    means[cells] = sub_mean
    logvar = np.full((n, hours), np.nan)
    logvar[cells] = np.log(np.maximum(sub_var, 1e-12))
    if adjust_load:
        means = load_adjusted(means, fleet.regime.load[:, :hours].astype(float))
    running = plan.run[:, :hours] >= 0.5
    if sensors == "measured":
        readings = sensor_readings(fleet, ("vib_rms", "bearing_temp"))
        measured = {"vibration": readings["vib_rms"], "bearing_temp": readings["bearing_temp"]}
    else:
        measured = {
            "vibration": plan.vib_rms[:, :hours].astype(float),
            "bearing_temp": plan.bearing_c[:, :hours].astype(float),
        }
    return fleet, {"mean": means, "logvar": logvar, **measured}, running


def chart_z(
    series: dict[str, np.ndarray], running: np.ndarray, stat: str = "both", lam: float = 0.05, lag: int = 0
) -> dict[str, np.ndarray]:
    """The three charts' baseline z-scores from :func:`fleet_series`' series (``quality``: the ``stat`` charts
    summed; see :func:`zscores`)."""
    n, hours = running.shape
    charts = ("mean", "logvar") if stat == "both" else (stat,)

    def chart(x: np.ndarray) -> np.ndarray:
        return np.vstack([zscores(x[a], running[a] & np.isfinite(x[a]), lam, lag) for a in range(n)])

    z = {"quality": sum((chart(series[c]) for c in charts), np.zeros((n, hours)))}
    z.update({name: chart(series[name]) for name in ("vibration", "bearing_temp")})
    return z


def failure_windows(plan: Any, hours: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The pre-failure windows (``(assets, hours)`` bool) and the failures after the baseline: (asset, failure
    hour, window start, mode)."""
    in_window = np.zeros((plan.run.shape[0], hours), dtype=bool)
    events = []
    for asset, minute, mode in plan.failures:
        f = int(minute // 60)
        if f < BASELINE_H + WINDOW_H // 2:
            continue
        start = max(f - WINDOW_H, BASELINE_H)
        in_window[asset, start:f] = True
        events.append((int(asset), f, start, int(mode)))
    return in_window, events


def fleet_charts(
    seed: int,
    assets: int,
    days: int,
    units: int | str = "production",
    lam: float = 0.05,
    adjust_load: bool = True,
    combine: str = "rss",
    sensors: str = "measured",
    stat: str = "both",
    lag: int = 0,
) -> Charts:
    """:func:`fleet_series`, :func:`chart_z` and :func:`failure_windows` of one fleet."""
    fleet, series, running = fleet_series(seed, assets, days, units, adjust_load, combine, sensors)
    plan = fleet.plan
    n, hours = running.shape
    in_window, events = failure_windows(plan, hours)
    z = chart_z(series, running, stat, lam, lag)
    return Charts(seed, z, in_window, events, n * (hours / 24 / 30.44), plan.damage[:, :, :hours])


def evaluate(c: Charts, onsets_per_month: float | None = None) -> dict[str, object]:
    """Per failure of one fleet's charts (:func:`fleet_charts`): which chart warned, how early."""
    seed = c.seed
    z, in_window, events, months = c.z, c.in_window, c.events, c.months
    n, hours = in_window.shape
    damage = c.damage[:, list(QUALITY_MODES), :]
    sources = ("quality", "vibration", "bearing_temp")
    on = {}
    thresholds = {}
    for name in sources:
        healthy = z[name][~in_window & np.isfinite(z[name])]
        thresholds[name] = float(np.quantile(healthy, 0.99))
        if onsets_per_month is not None:
            thresholds[name] = onset_threshold(z[name], in_window, onsets_per_month * months, healthy)
        on[name] = np.nan_to_num(z[name], nan=-np.inf) > thresholds[name]
    rows = []
    for asset, f, start, mode in events:
        row = {"asset": int(asset), "hour": f, "mode": MODES[mode], "affects_quality": mode in QUALITY_MODES}
        if mode in QUALITY_MODES:  # from when the failing mode's damage is the largest one (what quality follows)
            own = damage[asset, QUALITY_MODES.index(mode), start:f]
            top = (own > 0) & (own >= damage[asset, :, start:f].max(axis=0))
            row["masked_h"] = float(f - (start + np.flatnonzero(top)[0])) if top.any() else 0.0
        for name in sources:
            hits = np.flatnonzero(on[name][asset, start:f])
            row[f"{name}_lead_h"] = float(f - (start + hits[0])) if len(hits) else None
            if (
                mode in QUALITY_MODES
            ):  # the failing mode's damage when the chart first alarmed (a point on its P-F curve)
                own_at = c.damage[asset, mode, start + hits[0]] if len(hits) else None
                row[f"{name}_damage"] = None if own_at is None else round(float(own_at), 4)
        rows.append(row)
    false_alarms = {}
    for name in sources:
        onset = on[name] & ~np.concatenate([np.zeros((n, 1), bool), on[name][:, :-1]], axis=1)
        false_alarms[name] = float((onset & ~in_window).sum() / months)
    return {"seed": seed, "failures": rows, "false_alarms_per_asset_month": false_alarms, "z_thresholds": thresholds}


def _paired(chosen: list[dict[str, object]]) -> float | None:
    """Median over the failures quality caught of its lead minus the better sensor's (0 when no sensor did)."""
    paired = [r["quality_lead_h"] - max(r["vibration_lead_h"] or 0.0, r["bearing_temp_lead_h"] or 0.0)  # type: ignore[operator]
              for r in chosen if r["quality_lead_h"] is not None]  # fmt: skip
    return float(np.median(paired)) if paired else None


def _first(chosen: list[dict[str, object]]) -> dict[str, int]:
    """Failures by which warned first: quality strictly before both sensors (or alone), a sensor strictly before
    quality (or alone), the same hour, or none of the three."""
    out = {"quality_first": 0, "sensor_first": 0, "same_hour": 0, "none": 0}
    for r in chosen:
        q = r["quality_lead_h"]
        leads = [r["vibration_lead_h"], r["bearing_temp_lead_h"]]
        s = max((lead for lead in leads if lead is not None), default=None)
        if q is None and s is None:
            out["none"] += 1
        elif s is None or (q is not None and q > s):  # type: ignore[operator]
            out["quality_first"] += 1
        elif q is None or s > q:  # type: ignore[operator]
            out["sensor_first"] += 1
        else:
            out["same_hour"] += 1
    return out


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    failures = [r for run in runs for r in run["failures"]]  # type: ignore[attr-defined]
    for group, keep in (("quality_modes", True), ("other_modes", False)):
        chosen = [r for r in failures if r["affects_quality"] == keep]
        block: dict[str, object] = {"failures": len(chosen)}
        for name in ("quality", "vibration", "bearing_temp"):
            leads = [r[f"{name}_lead_h"] for r in chosen if r[f"{name}_lead_h"] is not None]
            block[name] = {
                "caught": len(leads),
                "median_lead_h": float(np.median(leads)) if leads else None,
            }
        block["median_quality_minus_best_sensor_h"] = _paired(chosen)
        block["first_warning"] = _first(chosen)
        out[group] = block
    for mode in sorted({r["mode"] for r in failures if r["affects_quality"]}):
        chosen = [r for r in failures if r["mode"] == mode]
        out[f"mode {mode}"] = {
            "failures": len(chosen),
            "median_masked_h": float(np.median([r["masked_h"] for r in chosen])),
            "median_quality_minus_best_sensor_h": _paired(chosen),
            "first_warning": _first(chosen),
            **{f"{name}_median_damage": (float(np.median(at)) if at else None)
               for name in ("quality", "vibration", "bearing_temp")
               for at in [[r[f"{name}_damage"] for r in chosen if r.get(f"{name}_damage") is not None]]},
            **{f"{name}_caught": sum(r[f"{name}_lead_h"] is not None for r in chosen)
               for name in ("quality", "vibration", "bearing_temp")},
            **{f"{name}_median_lead_h": (float(np.median(leads)) if leads else None)
               for name in ("quality", "vibration", "bearing_temp")
               for leads in [[r[f"{name}_lead_h"] for r in chosen if r[f"{name}_lead_h"] is not None]]},
        }  # fmt: skip
    out["false_alarms_per_asset_month"] = {
        name: float(np.mean([run["false_alarms_per_asset_month"][name] for run in runs]))  # type: ignore[index]
        for name in ("quality", "vibration", "bearing_temp")
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--units", default="production", help="units measured per running hour, or 'production'")
    parser.add_argument("--lam", type=float, default=0.05, help="EWMA weight (all three charts)")
    parser.add_argument("--adjust-load", action=argparse.BooleanOptionalAction, default=True,
                        help="quality chart on the load-adjusted means")  # fmt: skip
    parser.add_argument("--combine", choices=COMBINE, default="rss", help="the twin's d_mech (see the text)")
    parser.add_argument("--sensors", choices=("measured", "plan"), default="measured", help="see the text")
    parser.add_argument("--stat", choices=("mean", "logvar", "both"), default="both", help="the quality chart")
    parser.add_argument("--lag", type=int, default=0, help="charts on the EWMA's change over LAG running hours")
    parser.add_argument("--onsets-per-month", type=float, default=None,
                        help="match the charts on this many false-alarm onsets per asset-month instead")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    units = args.units if args.units == "production" else int(args.units)
    runs = [evaluate(fleet_charts(seed, args.assets, args.days, units, args.lam, args.adjust_load, args.combine,
                                  args.sensors, args.stat, args.lag), args.onsets_per_month)
            for seed in args.seeds]  # fmt: skip
    settings = {"assets": args.assets, "days": args.days, "seeds": args.seeds, "units": units, "lam": args.lam,
                "adjust_load": args.adjust_load, "combine": args.combine, "sensors": args.sensors,
                "stat": args.stat, "lag": args.lag, "onsets_per_month": args.onsets_per_month}  # fmt: skip
    result = {"settings": settings, "runs": runs, "summary": summary(runs)}
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
