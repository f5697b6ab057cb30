"""Hybrid physics-ML features: does the twin's physics help rank "failure within 7 days" on unseen sites?

Simulated fleets (``forewarn.twin``), hourly readings; three feature sets fed to the same LightGBM model
(``LightGBMFailure``, no probability calibration since only rankings are scored):

* ``ml``: trailing 24-row window statistics of every channel (``window_features``);
* ``physics``: ``physics_features`` (residuals against the twin's relations, wear estimates) and their 24-row
  window mean, std and slope;
* ``hybrid``: both.

Leave-one-site-out: train on the other sites, score the held-out site; predictions of all held-out sites are
pooled per seed and scored with ROC-AUC and PR-AUC (average precision); the ROC-AUC of each held-out site on its
own (the ranking a site's planner sees) is averaged too. Labels come from the failure events: a row is positive
when the asset's next failure is within 7 days. Rows from a failure to the asset's next maintenance (the repair),
rows of the physics calibration period (first 7 days) and rows with less than 7 days of data ahead and no failure
in them (censored) are dropped. Training rows are thinned to every 6th hour (speed).

    .venv/bin/python benchmarks/hybrid_features.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from forewarn.features.physics import physics_features
from forewarn.features.window import window_features
from forewarn.models.failure.lightgbm_failure import LightGBMFailure
from forewarn.twin import FleetConfig, simulate_fleet
from forewarn.twin.assets import CHANNEL_NAMES

HORIZON = pd.Timedelta(days=7)


def labels(fleet, readings: pd.DataFrame) -> pd.Series:  # type: ignore[no-untyped-def]
    """1/0 = failure within the horizon or not; NaN = drop (failed and not yet repaired, or censored)."""
    ev = fleet.events.assign(ts=lambda e: e["ts"].dt.tz_convert(None))
    naive = readings["ts"].dt.tz_convert(None)
    end = naive.max().to_datetime64()
    out = pd.Series(np.nan, index=readings.index)
    for asset, rows in readings.groupby("asset_id", observed=True):
        ts = naive.loc[rows.index].to_numpy()
        fails = np.sort(ev[(ev["asset_id"] == asset) & (ev["kind"] == "failure")]["ts"].to_numpy())
        maint = np.sort(ev[(ev["asset_id"] == asset) & (ev["kind"] == "maintenance")]["ts"].to_numpy())
        y = np.zeros(len(ts))
        keep = ts <= end - np.timedelta64(HORIZON)
        if fails.size:
            nxt = np.searchsorted(fails, ts, side="left")
            has = nxt < fails.size
            gap = np.full(len(ts), np.timedelta64(10**6, "h"))
            gap[has] = fails[np.minimum(nxt, fails.size - 1)][has] - ts[has]
            y = (gap <= np.timedelta64(HORIZON)).astype(float)
            keep |= has
            for f in fails:  # down from the failure until the repair is finished
                later = maint[maint >= f]
                stop = later[0] if later.size else f + np.timedelta64(1, "D")
                keep &= ~((ts >= f) & (ts <= stop))
        out.loc[rows.index] = np.where(keep, y, np.nan)
    return out


def feature_sets(fleet) -> tuple[pd.DataFrame, dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    r = fleet.readings.copy()
    r["asset_id"] = r["asset_id"].astype(str)
    classes = {a.asset_id: a.asset_class for a in fleet.assets}
    ml = window_features(r, group="asset_id", order="ts", columns=list(CHANNEL_NAMES), window=24)
    phys = physics_features(r, asset_class=classes)
    pw = window_features(
        pd.concat([r[["asset_id", "ts"]], phys], axis=1),
        group="asset_id",
        order="ts",
        columns=list(phys.columns),
        window=24,
        stats=("mean", "std", "slope"),
    )
    phys_all = pd.concat([phys, pw], axis=1)
    frame = pd.concat([r[["asset_id", "ts"]], ml, phys_all], axis=1)
    frame["site"] = frame["asset_id"].map({a.asset_id: a.site_id for a in fleet.assets})
    frame["y"] = labels(fleet, r)
    start = frame.groupby("asset_id")["ts"].transform("min")
    frame = frame[frame["y"].notna() & (frame["ts"] >= start + pd.Timedelta(days=7))]
    sets = {
        "ml": list(ml.columns),
        "physics": list(phys_all.columns),
        "hybrid": list(ml.columns) + list(phys_all.columns),
    }
    return frame, sets


def run(seed: int, args: argparse.Namespace) -> dict[str, tuple[float, float, float]]:
    fleet = simulate_fleet(
        FleetConfig(
            sites=args.sites,
            assets=args.assets,
            days=args.days,
            seed=seed,
            interval="1h",
            degradation_scale=args.degradation_scale,
        )
    )
    frame, sets = feature_sets(fleet)
    n_fail = int((fleet.events["kind"] == "failure").sum())
    print(f"seed {seed}: {len(frame):,} rows, {n_fail} failures, {frame['y'].mean():.3f} positive", flush=True)
    scores = {}
    for name, cols in sets.items():
        pred = pd.Series(np.nan, index=frame.index)
        per_site = []
        for site in sorted(frame["site"].unique()):
            test = frame["site"] == site
            train = frame[~test].iloc[::6]
            if train["y"].nunique() < 2:
                continue
            model = LightGBMFailure(n_estimators=150, max_bin=255, calibration=None, n_jobs=2, seed=seed)
            model.fit(train[cols], train["y"].astype(int))
            pred[test] = model.predict_proba(frame.loc[test, cols])
            if frame.loc[test, "y"].nunique() == 2:
                per_site.append(roc_auc_score(frame.loc[test, "y"].astype(int), pred[test]))
        ok = pred.notna()
        y = frame.loc[ok, "y"].astype(int)
        scores[name] = (roc_auc_score(y, pred[ok]), average_precision_score(y, pred[ok]), float(np.mean(per_site)))
        print(
            f"  {name:8s} ROC-AUC {scores[name][0]:.3f}  PR-AUC {scores[name][1]:.3f}  "
            f"per-site ROC-AUC {scores[name][2]:.3f}",
            flush=True,
        )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--degradation-scale", type=float, default=3.0)
    args = parser.parse_args()
    t0 = time.time()
    results = [run(seed, args) for seed in args.seeds]
    print(
        f"\n{len(args.seeds)} seeds, {args.sites} sites x {args.assets} assets x {args.days} days, hourly, "
        f"degradation x{args.degradation_scale}, leave-one-site-out ({time.time() - t0:.0f} s)"
    )
    print("| features | ROC-AUC (pooled) | PR-AUC (pooled) | ROC-AUC (mean per held-out site) |\n|---|---|---|---|")
    for name in ("ml", "physics", "hybrid"):
        roc, pr, site = (np.array([r[name][k] for r in results]) for k in range(3))
        print(
            f"| {name} | {roc.mean():.3f} ± {roc.std():.3f} | {pr.mean():.3f} ± {pr.std():.3f} "
            f"| {site.mean():.3f} ± {site.std():.3f} |"
        )


if __name__ == "__main__":
    main()
