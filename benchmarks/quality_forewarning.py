"""Quality as forewarning on the twin: does SPC on unit quality warn earlier than the machine's own sensors?

A fleet is simulated (:func:`forewarn.twin.fleet.build_fleet`, hourly), its units measured
(:func:`forewarn.twin.quality.unit_quality`, 5 units per running hour). Per asset, three one-sided EWMA charts
(lam 0.05; :func:`forewarn.quality.charts.ewma`) are scaled by the asset's first 30 days (``baseline``: the mean
and spread of the baseline's EWMA values, see :func:`zscores`) and then run over the year:

* ``quality``: the hourly subgroup mean of the units' deviation;
* ``vibration`` and ``bearing_temp``: the twin's hourly vibration RMS and bearing temperature (sensor-only).

For each failure, the lead time is the failure hour minus the first hour of the 30 days before it at which the
chart is above its threshold (none: missed); failures in the baseline period are skipped. The thresholds are
matched: each chart's is the 99th percentile of its own values in healthy running hours (outside every 30-day
pre-failure window), so each alarms 1 % of healthy hours and the lead times compare like with like. False alarms: signal
onsets (an hour above the limit after one below) outside every 30-day pre-failure window, per asset-month.
Failures are split by whether their mode affects unit quality (:data:`forewarn.twin.quality.QUALITY_MODES`), and
the quality modes again by mode. ``masked_h`` (per failure): the hours before the failure from which the failing
mode's own damage is the largest of the quality modes' damages, i.e. from when the twin's unit quality
(which follows that largest damage) starts to follow the failing mode at all.

``--combine sum`` is a what-if on the twin (:func:`~forewarn.twin.quality.unit_quality`): every quality mode's
damage adds to the units' deviation, instead of the largest one standing for all.

SPC settings to try (``--units``, ``--lam``, ``--adjust-load``): units measured per running hour, the EWMA's
weight, and a regression-adjusted chart (the quality mean minus its least-squares fit on the load over the
asset's baseline days: the load is a known process parameter, a cause-selecting chart in Zhang's sense).

Run: ``.venv/bin/python benchmarks/quality_forewarning.py --assets 40 --seeds 0 1 2``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from forewarn.quality.charts import ewma
from forewarn.twin.assets import MODES
from forewarn.twin.fleet import build_fleet
from forewarn.twin.quality import QUALITY_MODES, unit_quality

WINDOW_H = 30 * 24
BASELINE_H = 30 * 24


def zscores(series: np.ndarray, valid: np.ndarray, lam: float = 0.05) -> np.ndarray:
    """The EWMA of ``series`` (over ``valid`` hours) in units of the baseline's own EWMA spread (NaN elsewhere).

    The textbook limit, target + L sigma sqrt(lam / (2 - lam)), assumes independent points; hourly sensor and
    quality series follow the load and the weather, and every chart alarmed all year with it (10-14 onsets per
    asset-month). So the charts are compared at a matched false-alarm level instead (see :func:`evaluate`).
    """
    idx = np.flatnonzero(valid)
    out = np.full(len(series), np.nan)
    base = int((idx < BASELINE_H).sum())
    if base < 48:
        return out
    chart = ewma(series[idx], lam=lam, L=3.0, baseline=base)
    reference = chart.statistic[base // 4 : base]  # skip the EWMA's start-up
    out[idx] = (chart.statistic - reference.mean()) / max(reference.std(), 1e-9)
    out[:BASELINE_H] = np.nan
    return out


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


def evaluate(
    seed: int,
    assets: int,
    days: int,
    units: int = 5,
    lam: float = 0.05,
    adjust_load: bool = False,
    combine: str = "max",
) -> dict[str, object]:
    fleet = build_fleet(sites=2, assets=assets, days=days, seed=seed, interval="1h")
    plan = fleet.plan
    n, hours = plan.run.shape
    q = unit_quality(fleet, units=units, seed=seed, combine=combine)
    means = np.full((n, hours), np.nan)
    row_of = {a: i for i, a in enumerate(fleet.asset_ids)}
    means[[row_of[a] for a in q.frame["asset_id"]], q.frame["hour"].to_numpy()] = q.measurements.mean(axis=1)
    if adjust_load:
        means = load_adjusted(means, fleet.regime.load[:, :hours].astype(float))
    running = plan.run[:, :hours] >= 0.5
    damage = plan.damage[:, list(QUALITY_MODES), :hours]
    sources = {
        "quality": means,
        "vibration": plan.vib_rms[:, :hours].astype(float),
        "bearing_temp": plan.bearing_c[:, :hours].astype(float),
    }
    z = {name: np.vstack([zscores(sources[name][a], running[a] & np.isfinite(sources[name][a]), lam) for a in range(n)])
         for name in sources}  # fmt: skip
    in_window = np.zeros((n, hours), dtype=bool)
    events = []
    for asset, minute, mode in plan.failures:
        f = int(minute // 60)
        if f < BASELINE_H + WINDOW_H // 2:
            continue
        start = max(f - WINDOW_H, BASELINE_H)
        in_window[asset, start:f] = True
        events.append((asset, f, start, mode))
    # matched false-alarm level: each chart's threshold is the 99th percentile of its z outside the pre-failure
    # windows, so every chart is above it in 1 % of the healthy running hours
    on = {}
    thresholds = {}
    for name in sources:
        healthy = z[name][~in_window & np.isfinite(z[name])]
        thresholds[name] = float(np.quantile(healthy, 0.99))
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
        rows.append(row)
    months = n * (hours / 24 / 30.44)
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
        out[group] = block
    for mode in sorted({r["mode"] for r in failures if r["affects_quality"]}):
        chosen = [r for r in failures if r["mode"] == mode]
        out[f"mode {mode}"] = {
            "failures": len(chosen),
            "median_masked_h": float(np.median([r["masked_h"] for r in chosen])),
            "median_quality_minus_best_sensor_h": _paired(chosen),
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
    parser.add_argument("--units", type=int, default=5, help="units measured per running hour")
    parser.add_argument("--lam", type=float, default=0.05, help="EWMA weight (all three charts)")
    parser.add_argument("--adjust-load", action="store_true", help="quality chart on the load-adjusted means")
    parser.add_argument("--combine", choices=("max", "sum"), default="max", help="twin what-if (see the text)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs = [evaluate(seed, args.assets, args.days, args.units, args.lam, args.adjust_load, args.combine)
            for seed in args.seeds]  # fmt: skip
    settings = {"assets": args.assets, "days": args.days, "seeds": args.seeds, "units": args.units, "lam": args.lam,
                "adjust_load": args.adjust_load, "combine": args.combine}  # fmt: skip
    result = {"settings": settings, "runs": runs, "summary": summary(runs)}
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
