"""How far a failure model's answer moves when some of an asset's channels send nothing (issue 12, coverage rule).

A filed model (``forewarn train``) scores held-out assets of a twin store at every ``--every``-th row, once with all
their channels and then with only a share of them: for each share and draw, each asset keeps a random subset of the
model's channels that it reports (``round(share x n)``, at least one) and the others are blank over its whole history
(so over every window), then the window statistics are computed with the bundle's own kernel. Printed per share:
median and 90th percentile of |p - p_all|, ROC-AUC of the rows' labels (failure within the horizon), and the share
of the rows that alarm with all channels (risk high or critical) that read *low* with fewer: the confident wrong
answer the coverage rule (:mod:`forewarn.features.coverage`) is there to prevent.

    forewarn simulate --sites 4 --assets 100 --days 365 --seed 11 --interval 1h --store v11.duckdb
    forewarn train --store v11.duckdb --models m11 --horizon 7d --site S1,S2,S3 --model lightgbm-failure --promote
    python benchmarks/channel_coverage.py --store v11.duckdb --models m11 --site S4 --json cov11.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from forewarn.decide.risk import risk_level
from forewarn.features.age import hours_since_renewal
from forewarn.store import Store
from forewarn.train.dataset import load_wide
from forewarn.train.labels import renewals
from forewarn.train.score import live_bundle

SHARES = (1.0, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.25, 0.1, 0.0)  # 0.0: one channel kept


def labels(frame: pd.DataFrame, failures: pd.DataFrame, horizon_h: float) -> np.ndarray:
    """1 where a failure of the row's asset follows within the horizon (0 < t_fail - ts <= horizon)."""
    y = np.zeros(len(frame), dtype=int)
    for asset_id, rows in frame.groupby("asset_id").groups.items():
        times = failures.loc[failures["asset_id"] == asset_id, "ts"].to_numpy(dtype="datetime64[ns]")
        ts = frame.loc[rows, "ts"].to_numpy(dtype="datetime64[ns]")
        for t in times:
            gap = (t - ts) / np.timedelta64(1, "h")
            y[np.asarray(rows)[(gap > 0) & (gap <= horizon_h)]] = 1
    return y


def masked(frame: pd.DataFrame, present: dict[str, list[str]], share: float, rng: np.random.Generator) -> pd.DataFrame:
    """``frame`` with each asset keeping ``round(share x n)`` (at least 1) of its ``n`` present channels."""
    out = frame.copy()
    for asset_id, channels in present.items():
        keep = max(1, int(round(share * len(channels))))
        drop = list(rng.permutation(channels)[keep:])
        if drop:
            out.loc[out["asset_id"] == asset_id, drop] = np.nan
    return out


def probabilities(bundle, frame: pd.DataFrame, rows: np.ndarray, renewed: pd.DataFrame) -> np.ndarray:  # noqa: ANN001
    spec = bundle.spec
    features = spec.window_frame(frame).iloc[rows].reset_index(drop=True)
    if spec.age_feature:
        at = frame.iloc[rows]
        features[spec.age_feature] = hours_since_renewal(at["asset_id"], at["ts"], renewed)
    return np.asarray(bundle.predict(features[bundle.feature_names]).probability, dtype="float64")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--site", required=True, help="the held-out site scored")
    parser.add_argument("--every", type=int, default=4, help="score every N-th row (at the bundle's interval)")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    started = time.time()
    bundle = live_bundle(args.models)
    spec = bundle.spec
    with Store(args.store) as db:
        assets = db.assets()
        chosen = assets[assets["site_id"] == args.site]
        ids = [str(a) for a in chosen["asset_id"]]
        classes = dict(zip(chosen["asset_id"].astype(str), chosen["asset_class"], strict=True))
        frame = load_wide(db, ids, spec.interval).reindex(columns=["asset_id", "ts", *spec.channels])
        events = db.events()
    failures = events[events["kind"] == "failure"]
    renewed = renewals(events)
    present = {a: [c for c in spec.channels if part[c].notna().any()] for a, part in frame.groupby("asset_id")}
    rows = np.flatnonzero(frame.groupby("asset_id").cumcount().to_numpy() % args.every == args.every - 1)
    y = labels(frame.iloc[rows].reset_index(drop=True), failures, float(spec.horizon))
    full = probabilities(bundle, frame, rows, renewed)
    row_class = frame["asset_id"].iloc[rows].map(classes).to_numpy()
    thresholds = np.array([bundle.thresholds.threshold_for(c) for c in row_class])
    levels = np.array([risk_level(p, t) for p, t in zip(full, thresholds, strict=True)])
    alarming = np.isin(levels, ["high", "critical"])
    results = []
    for share in SHARES:
        for draw in range(args.draws if share < 1.0 else 1):
            rng = np.random.default_rng(1000 * draw + int(share * 100))
            p = full if share == 1.0 else probabilities(bundle, masked(frame, present, share, rng), rows, renewed)
            moved = np.abs(p - full)
            low = np.array([risk_level(q, t) == "low" for q, t in zip(p, thresholds, strict=True)])
            results.append(
                {
                    "share": share,
                    "draw": draw,
                    "median_abs_shift": float(np.median(moved)),
                    "p90_abs_shift": float(np.quantile(moved, 0.9)),
                    "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
                    "alarms_read_low": float(low[alarming].mean()) if alarming.any() else None,
                    "mean_p_positive": float(p[y == 1].mean()) if y.any() else None,
                }
            )
            print(json.dumps(results[-1]), flush=True)
    summary = {
        "store": args.store,
        "site": args.site,
        "assets": len(ids),
        "rows_scored": len(rows),
        "positive_rows": int(y.sum()),
        "alarming_rows_all_channels": int(alarming.sum()),
        "channels_per_asset": sorted({len(c) for c in present.values()}),
        "load_average": os.getloadavg(),
        "seconds": round(time.time() - started, 1),
        "results": results,
    }
    frame_out = pd.DataFrame(results).groupby("share").median(numeric_only=True).drop(columns="draw")
    print(frame_out.sort_index(ascending=False).round(4).to_string())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=1)


if __name__ == "__main__":
    main()
