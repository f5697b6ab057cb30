"""Fused forewarning model on the twin: process sensors + tabular + inspection features against each alone.

The question of the issue (the case study fuses sensor, image and tabular branches): does adding what the
inspection station sees to the machine's sensors forewarn failures better? Measured on the digital twin, which
renders no images: the "image-derived" modality is the per-unit measurement an inspection yields
(:func:`forewarn.twin.quality.unit_quality`, 5 units per running hour, a deviation from nominal that drifts with
mechanical damage), i.e. what a vision model's defect score would carry, not pixels.

Samples: every 6th running hour of every asset after its first 30 days (the per-asset baseline). Target: a
failure of the asset within the next 7 days (168 h). Features, each from the trailing 24 h (causal) and scaled by
the asset's own first 30 days (z-scores: median and spread of the baseline's 24 h means):

* ``sensors``: vibration RMS, bearing and winding temperature: 24 h mean (z), 24 h max (z), change against the
  24 h mean a week earlier (z units);
* ``tabular``: machine class, rated kW, variable speed drive or not, 24 h mean load and ambient temperature,
  running hours so far;
* ``inspection``: 24 h mean and standard deviation of the unit deviation (z), the share of units out of
  specification in 24 h, the week-on-week change of the mean (z units);
* ``fused``: all of the above; ``sensors+inspection``: the two without the tabular features (added after the
  first run showed the fused model below sensors alone, to see whether the inspection features or the tabular
  ones cost it).

Each modality trains one LightGBM classifier (the same settings) on fleets simulated with the training seeds and is
scored on fleets simulated with other seeds (other assets, other failures): ROC-AUC and average precision over all
test samples, and both again for the failures of modes that affect unit quality (bearing races, imbalance,
misalignment; the other failures' pre-failure samples dropped). Nothing is tuned on the test fleets.

``--sensors measured`` (the default since 2026-12-05) takes the sensors' rendered hourly readings
(:func:`forewarn.twin.quality.sensor_readings`: noise, calibration, sensor faults, dropouts), ``plan`` the twin's
noiseless state as before; ``--combine`` the twin's combination of the quality modes' damages (``rss``, its
default since 2026-12-05; ``max`` before); ``--units production``: every unit made
(:func:`forewarn.twin.quality.unit_subgroups`), the hour's out-of-spec share then estimated from its mean and
standard deviation under normality (the estimated fraction nonconforming), 5 units an hour by default.

Run: ``.venv/bin/python benchmarks/quality_fusion.py --assets 60 --train-seeds 0 1 2 --test-seeds 10 11 12``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.twin.fleet import build_fleet
from forewarn.twin.quality import (
    COMBINE,
    QUALITY_MODES,
    SPEC_UM,
    production_units,
    sensor_readings,
    unit_quality,
    unit_subgroups,
)

BASELINE_H = 30 * 24
HORIZON_H = 168
STEP_H = 6
DAY = 24
WEEK = 168
MODALITIES = ("sensors", "tabular", "inspection", "fused", "sensors+inspection")


def _trailing(values: np.ndarray, valid: np.ndarray, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, trailing ``hours`` mean and max of ``values`` over ``valid`` hours (NaN where none)."""
    v = np.where(valid, values, 0.0)
    c = np.cumsum(v, axis=1)
    k = np.cumsum(valid, axis=1).astype(float)
    shift = lambda a: np.concatenate([np.zeros((a.shape[0], hours)), a[:, :-hours]], axis=1)  # noqa: E731
    count = k - shift(k)
    mean = np.where(count > 0, (c - shift(c)) / np.maximum(count, 1), np.nan)
    frame = pd.DataFrame(np.where(valid, values, np.nan).T)
    peak = frame.rolling(hours, min_periods=1).max().to_numpy().T
    return mean, peak


def _z(x: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``x`` scaled by each row's baseline part ``base`` (median and IQR/1.349)."""
    med = np.nanmedian(base, axis=1, keepdims=True)
    q75, q25 = np.nanpercentile(base, [75, 25], axis=1, keepdims=True)
    return (x - med) / np.maximum((q75 - q25) / 1.349, 1e-6)


def fleet_samples(
    seed: int, assets: int, days: int, sensors: str = "measured", combine: str = "rss", units: int | str = 5
) -> pd.DataFrame:
    fleet = build_fleet(sites=2, assets=assets, days=days, seed=seed, interval="1h")
    plan = fleet.plan
    n, hours = plan.run.shape
    running = plan.run[:, :hours] >= 0.5
    row_of = {a: i for i, a in enumerate(fleet.asset_ids)}
    qmean, qsd, qout = (np.full((n, hours), np.nan) for _ in range(3))
    if units == "production":  # every unit made: each hour's mean and sd, the out-of-spec share estimated from them
        from scipy.stats import norm

        g = unit_subgroups(fleet, production_units(fleet), seed=seed, combine=combine)
        rows, cols = [row_of[a] for a in g["asset_id"]], g["hour"].to_numpy()
        m, sd = g["mean"].to_numpy(), np.sqrt(g["var"].to_numpy())
        qmean[rows, cols], qsd[rows, cols] = m, sd
        qout[rows, cols] = norm.cdf((-SPEC_UM - m) / sd) + norm.sf((SPEC_UM - m) / sd)
    else:
        q = unit_quality(fleet, units=int(units), seed=seed, combine=combine)
        rows, cols = [row_of[a] for a in q.frame["asset_id"]], q.frame["hour"].to_numpy()
        qmean[rows, cols] = q.measurements.mean(axis=1)
        qsd[rows, cols] = q.measurements.std(axis=1, ddof=1)
        qout[rows, cols] = (np.abs(q.measurements) > SPEC_UM).mean(axis=1)
    feats: dict[str, np.ndarray] = {}
    groups: dict[str, list[str]] = {m: [] for m in MODALITIES[:3]}

    def add(group: str, name: str, values: np.ndarray) -> None:
        feats[name] = values
        groups[group].append(name)

    base = slice(0, BASELINE_H)
    if sensors == "measured":
        read = sensor_readings(fleet, ("vib_rms", "bearing_temp", "winding_temp"))
        raws = {"vib": read["vib_rms"], "bearing_c": read["bearing_temp"], "winding_c": read["winding_temp"]}
    else:
        raws = {"vib": plan.vib_rms, "bearing_c": plan.bearing_c, "winding_c": plan.winding_c}
    for name, raw in raws.items():
        ok = running & np.isfinite(raw[:, :hours])
        mean, peak = _trailing(np.nan_to_num(raw[:, :hours].astype(float)), ok, DAY)
        z = _z(mean, mean[:, base])
        add("sensors", f"{name}_mean_z", z)
        add("sensors", f"{name}_max_z", _z(peak, mean[:, base]))
        add("sensors", f"{name}_week_change_z", z - np.concatenate([np.full((n, WEEK), np.nan), z[:, :-WEEK]], 1))
    load, _ = _trailing(fleet.regime.load[:, :hours].astype(float), running, DAY)
    ambient, _ = _trailing(fleet.regime.ambient[:, :hours].astype(float), np.ones_like(running), DAY)
    add("tabular", "class_code", np.repeat(fleet.params.class_code[:, None].astype(float), hours, 1))
    add("tabular", "rated_kw", np.repeat(fleet.params.rated_kw[:, None].astype(float), hours, 1))
    add("tabular", "variable_speed", np.repeat(fleet.params.variable_speed[:, None].astype(float), hours, 1))
    add("tabular", "load_24h", load)
    add("tabular", "ambient_24h", ambient)
    add("tabular", "run_hours", np.cumsum(plan.run[:, :hours], axis=1))
    has_q = np.isfinite(qmean)
    for name, raw in (("unit_mean", qmean), ("unit_sd", qsd)):
        mean, _ = _trailing(np.nan_to_num(raw), has_q, DAY)
        z = _z(mean, mean[:, base])
        add("inspection", f"{name}_z", z)
        if name == "unit_mean":
            add("inspection", "unit_mean_week_change_z",
                z - np.concatenate([np.full((n, WEEK), np.nan), z[:, :-WEEK]], 1))  # fmt: skip
    out_share, _ = _trailing(np.nan_to_num(qout), has_q, DAY)
    add("inspection", "out_of_spec_24h", out_share)
    # target: a failure within the next HORIZON_H hours; which mode
    next_fail = np.full((n, hours), np.inf)
    next_mode = np.full((n, hours), -1)
    for asset, minute, mode in sorted(plan.failures, key=lambda f: -f[1]):
        f = int(minute // 60)
        span = slice(max(f - HORIZON_H, 0), min(f, hours))
        next_fail[asset, span] = np.minimum(next_fail[asset, span], f)
        next_mode[asset, span] = mode
    keep = running.copy()
    keep[:, :BASELINE_H] = False
    keep[:, np.arange(hours) % STEP_H != 0] = False
    a_idx, h_idx = np.nonzero(keep)
    frame = pd.DataFrame({name: values[a_idx, h_idx] for name, values in feats.items()})
    frame["asset"] = a_idx
    frame["fleet_seed"] = seed
    frame["target"] = np.isfinite(next_fail[a_idx, h_idx]).astype(int)
    frame["quality_mode"] = np.isin(next_mode[a_idx, h_idx], list(QUALITY_MODES))
    frame.attrs["groups"] = groups
    frame.attrs["failures"] = len(plan.failures)
    return frame


def main() -> None:
    from lightgbm import LGBMClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test-seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--sensors", choices=("measured", "plan"), default="measured")
    parser.add_argument("--combine", choices=COMBINE, default="rss", help="the twin's d_mech")
    parser.add_argument("--units", default="5", help="units measured per running hour, or 'production' (every unit)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    units = args.units if args.units == "production" else int(args.units)
    start, cpu = time.perf_counter(), time.process_time()
    train = [fleet_samples(s, args.assets, args.days, args.sensors, args.combine, units) for s in args.train_seeds]
    test = [fleet_samples(s, args.assets, args.days, args.sensors, args.combine, units) for s in args.test_seeds]
    groups = train[0].attrs["groups"]
    columns = {**groups, "fused": [c for g in groups.values() for c in g]}
    columns["sensors+inspection"] = groups["sensors"] + groups["inspection"]
    tr, te = pd.concat(train, ignore_index=True), pd.concat(test, ignore_index=True)
    result: dict[str, object] = {
        "train_samples": len(tr), "train_positive": int(tr["target"].sum()),
        "test_samples": len(te), "test_positive": int(te["target"].sum()),
        "train_failures": sum(f.attrs["failures"] for f in train),
        "test_failures": sum(f.attrs["failures"] for f in test),
    }  # fmt: skip
    quality_view = te[(te["target"] == 0) | te["quality_mode"]]
    scores = {}
    with threadpool_limits(1):
        for modality in MODALITIES:
            model = LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=50,
                                   subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1, verbose=-1,
                                   random_state=0)  # fmt: skip
            model.fit(tr[columns[modality]], tr["target"])
            p_all = model.predict_proba(te[columns[modality]])[:, 1]
            p_q = model.predict_proba(quality_view[columns[modality]])[:, 1]
            scores[modality] = {
                "roc_auc": round(float(roc_auc_score(te["target"], p_all)), 4),
                "average_precision": round(float(average_precision_score(te["target"], p_all)), 4),
                "quality_modes_roc_auc": round(float(roc_auc_score(quality_view["target"], p_q)), 4),
                "quality_modes_average_precision": round(
                    float(average_precision_score(quality_view["target"], p_q)), 4
                ),
            }
    result["base_rate"] = round(float(te["target"].mean()), 4)
    result["quality_modes_base_rate"] = round(float(quality_view["target"].mean()), 4)
    result["models"] = scores
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["cpu_s"] = round(time.process_time() - cpu, 1)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
