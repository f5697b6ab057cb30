"""Does a retrained challenger recover the pre-change figures after a plant change? (issue 18 target: within 5 %)

A failing twin fleet (``--assets`` assets run to failure, degradation 5x, 1-hour summaries, ``--days`` days) gets a
plant change at mid-history: every asset's bearing-temperature and vibration-RMS transmitters are recalibrated by
+1 standard deviation of their own reference (a site's new sensors). Then, with ``forewarn.monitor``'s own
functions:

* pre-change figure: the champion, trained on the first 40 % of the days, judged on the 10 % before the change;
* the champion judged on the last 20 % of the days (after the change);
* ``retrain``: a challenger trained on the days after the change (up to the judging window) and judged on the
  same last 20 % as the champion; recovery = challenger's figure / pre-change figure;
* the counterfactual: the champion judged on the same last 20 % of the same fleet *without* the change (what the
  plant's own model would score there had nothing changed); ``recovery_same_window_roc_auc`` = challenger /
  that (the same failures, the same wear: the pre-change window holds other failures, so its figure differs
  from the judging window's for reasons that are not the change).

Figures are row-level ROC AUC of failure within 72 h (and failures caught at each model's threshold).

    .venv/bin/python benchmarks/monitor_recovery.py --assets 30 --days 150 --seed 0
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

import forewarn.train
from forewarn.bundles.registry import ModelRegistry
from forewarn.monitor.drift import running
from forewarn.monitor.retrain import judge, retrain
from forewarn.monitor.runner import model_card
from forewarn.store import Store
from forewarn.twin import FleetConfig, simulate_fleet
from forewarn.twin.changes import SensorOffset, apply_changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=30)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-share", type=float, default=0.3, help="Share of the days the challenger learns from.")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp())
    config = FleetConfig(
        sites=1,
        assets=args.assets,
        days=args.days,
        interval="1h",
        seed=args.seed,
        degradation_scale=5.0,
        policies=("run_to_failure",),
        sensor_faults=False,
    )
    fleet = simulate_fleet(config)
    r, events = fleet.readings, fleet.events
    t0 = r["ts"].min()
    day = lambda share: t0 + pd.Timedelta(days=int(round(share * args.days)))  # noqa: E731
    trained_end, change, judge_start = day(0.4), day(0.5), day(0.8)
    changes = []
    for asset, rows in r[r["ts"] < trained_end].groupby("asset_id"):
        live = rows[running(rows, rows)]
        for channel in ("bearing_temp", "vib_rms"):
            if live[channel].notna().mean() > 0.5:
                changes.append(SensorOffset(str(asset), channel, change, float(live[channel].std())))
    changed = apply_changes(r, changes)

    def store_until(path: Path, end: pd.Timestamp, readings: pd.DataFrame = changed) -> Path:
        with Store(path) as db:
            db.add_sites(fleet.sites)
            db.add_lines(fleet.lines)
            db.add_assets(fleet.assets)
            db.ingest_readings(readings[readings["ts"] < end])
            db.ingest_events(events[events["ts"] < end])
        return path

    early = store_until(folder / "early.duckdb", trained_end)
    full = store_until(folder / "full.duckdb", r["ts"].max() + pd.Timedelta("1h"))
    models = folder / "models"
    forewarn.train(early, models, task="failure", horizon="72h", interval="3h", model="logistic-failure")
    registry = ModelRegistry(models)
    champion = registry.bundle("failure", "v1")
    card = model_card(registry, "failure", "v1")
    unchanged = store_until(folder / "unchanged.duckdb", r["ts"].max() + pd.Timedelta("1h"), r)
    with Store(full, read_only=True) as db:
        pre = judge(champion, card, db, trained_end, change)
        post = judge(champion, card, db, judge_start, r["ts"].max() + pd.Timedelta("1h"))
    with Store(unchanged, read_only=True) as db:  # the same window, had the plant not changed
        same_window = judge(champion, card, db, judge_start, r["ts"].max() + pd.Timedelta("1h"))
    decision = retrain(
        full,
        models,
        "failure",
        judge_days=int(round(0.2 * args.days)),
        train_days=int(round(args.train_share * args.days)),
        margin=0.0,
    )
    out = {
        "config": {"assets": args.assets, "days": args.days, "seed": args.seed, "offsets": len(changes)},
        "pre_change_champion": pre,
        "post_change_champion": post,
        "decision": decision["figures"],
        "promoted": decision["promoted"],
        "trained_on": decision["trained_on"],
        "recovery_roc_auc": None
        if not pre.get("roc_auc") or decision["figures"]["challenger"].get("roc_auc") is None
        else round(decision["figures"]["challenger"]["roc_auc"] / pre["roc_auc"], 4),
        "unchanged_champion_same_window": same_window,
        "recovery_same_window_roc_auc": None
        if not same_window.get("roc_auc") or decision["figures"]["challenger"].get("roc_auc") is None
        else round(decision["figures"]["challenger"]["roc_auc"] / same_window["roc_auc"], 4),
        "seconds": round(time.perf_counter() - started),
    }
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
