"""A data scientist's hand-built model on a ``plant_shapes.py`` export, on the folds ``forewarn backtest --by asset``
uses: the reference our defaults are measured against (issue 12, target 2). Not product code.

Features, one row per machine-hour, built from the three CSVs as a data scientist would (pandas, per machine):

* each analog channel's trailing mean and standard deviation over 3 h and over 24 h;
* each error column's count over the trailing 24 h;
* hours since each component's last replacement (the maintenance log's ``parts``), and the machine's age in years;
* the machine model as a category.

Model: LightGBM (300 trees, learning rate 0.05, 31 leaves, one thread). Folds: scikit-learn's ``GroupKFold(5)``
over the machines, on the rows in the same order as ``forewarn backtest`` reads them (sorted by machine and time),
which gives the same folds. The threshold is chosen inside each fold, on out-of-fold predictions of a by-machine
3-fold split of the training machines (the F1-best one), so the figure is honest; the F1 at 0.5 and the hindsight
F1-best threshold over all scored rows are given beside it.

    .venv/bin/python benchmarks/plant_reference.py --dir /tmp/shape31 --json ref31.json [--drop FEATURE_GROUP ...]

``--drop`` leaves out feature groups (``mean3``, ``std3``, ``mean24``, ``std24``, ``errors24``, ``component_age``,
``machine``) to see what each contributes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import GroupKFold

ANALOG = ("volt", "rotate", "pressure", "vibration")
GROUPS = ("mean3", "std3", "mean24", "std24", "errors24", "component_age", "machine")


def features(folder: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The hand-built feature frame, the label and the machine of every row (sorted by machine and time)."""
    plant = pd.read_csv(folder / "plant.csv", parse_dates=["ts"]).sort_values(["asset_id", "ts"], ignore_index=True)
    events = pd.read_csv(folder / "events.csv", parse_dates=["ts"])
    assets = pd.read_csv(folder / "assets.csv")
    errors = [c for c in plant.columns if c.startswith("error")]
    out: dict[str, Any] = {}
    indexed = plant.set_index("ts")
    by = indexed.groupby("asset_id", sort=False)
    for span in (3, 24):
        for channel in ANALOG:
            rolled = by[channel].rolling(f"{span}h", min_periods=1)
            out[f"{channel}_mean{span}"] = rolled.mean().to_numpy()
            out[f"{channel}_std{span}"] = rolled.std().to_numpy()
    for column in errors:
        out[f"{column}_count24"] = by[column].rolling("24h", min_periods=1).sum().to_numpy()
    maintenance = events[events["kind"] == "maintenance"].copy()
    maintenance["parts"] = maintenance["parts"].fillna("").str.split(";")
    replaced = maintenance.explode("parts")
    for part in sorted(p for p in replaced["parts"].unique() if p):
        marks = replaced.loc[replaced["parts"] == part, ["asset_id", "ts"]].rename(columns={"ts": "replaced"})
        marks = marks.sort_values("replaced")
        merged = pd.merge_asof(
            plant[["asset_id", "ts"]].reset_index().sort_values("ts"),
            marks,
            left_on="ts",
            right_on="replaced",
            by="asset_id",
            direction="backward",
        ).sort_values("index")
        out[f"{part}_age_h"] = ((merged["ts"] - merged["replaced"]) / pd.Timedelta(hours=1)).to_numpy()
    info = assets.set_index("asset_id")
    out["machine_model"] = pd.Categorical(plant["asset_id"].map(info["class"]))
    out["machine_age_y"] = 2024 - plant["asset_id"].map(info["install_year"]).to_numpy(dtype="float64")
    frame = pd.DataFrame(out)
    return frame, plant["failure_24h"].to_numpy(dtype=int), plant["asset_id"].to_numpy()


def group_of(name: str) -> str:
    """The feature group a column belongs to (``--drop``)."""
    for tag in ("mean3", "std3", "mean24", "std24"):
        if name.endswith(tag):
            return tag
    if name.endswith("count24"):
        return "errors24"
    if name.endswith("_age_h"):
        return "component_age"
    return "machine"


def model() -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, n_jobs=1, verbose=-1, random_state=0)


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold among the score quantiles that maximises F1."""
    grid = np.unique(np.quantile(p, np.linspace(0.80, 0.9999, 400)))
    scores = [f1_score(y, p >= t, zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])


def row_figures(y: np.ndarray, p: np.ndarray, threshold: float | np.ndarray) -> dict[str, float]:
    alarm = p >= threshold
    tp = int((alarm & (y == 1)).sum())
    fp = int((alarm & (y == 0)).sum())
    fn = int((~alarm & (y == 1)).sum())
    tn = int((~alarm & (y == 0)).sum())
    return {
        "f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "recall": round(tp / max(1, tp + fn), 4),
        "far": round(fp / max(1, fp + tn), 5),
    }


def run(folder: Path, drop: tuple[str, ...] = (), folds: int = 5) -> dict[str, Any]:
    started = time.perf_counter()
    X, y, groups = features(folder)
    X = X[[c for c in X.columns if group_of(c) not in drop]]
    p = np.zeros(len(y))
    thresholds = np.zeros(len(y))
    for fit, judge in GroupKFold(n_splits=folds).split(X, y, groups):
        inner = np.zeros(len(fit))
        for a, b in GroupKFold(n_splits=3).split(fit, y[fit], groups[fit]):
            inner[b] = model().fit(X.iloc[fit[a]], y[fit[a]]).predict_proba(X.iloc[fit[b]])[:, 1]
        thresholds[judge] = best_f1_threshold(y[fit], inner)
        p[judge] = model().fit(X.iloc[fit], y[fit]).predict_proba(X.iloc[judge])[:, 1]
    return {
        "folder": str(folder),
        "dropped": list(drop),
        "features": len(X.columns),
        "rows": len(y),
        "positives": int(y.sum()),
        "honest": row_figures(y, p, thresholds),
        "at_0.5": row_figures(y, p, 0.5),
        "hindsight_best": row_figures(y, p, best_f1_threshold(y, p)),
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--drop", nargs="*", default=[], choices=GROUPS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.dir, tuple(args.drop))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
