"""Feature drift per asset class (issue 18 item 1) on the twin: the card's per-class references
(:func:`forewarn.train.references.class_references`) as ``forewarn monitor`` judges them
(:func:`forewarn.monitor.performance.class_feature_drift`), beside the fleet-pooled test on the same windows.

The fleets of ``benchmarks/monitor_drift.py`` (20 assets, 1-hour steps, no degradation or sensor faults), the
window features a model at 1 hour reads (``benchmarks/monitor_features.py``: 24 rows, the default statistics);
the first year is the reference (every row of it a training row), every window of the next ``--years`` years is
judged:

* healthy: features flagged per class and window (1-, 7- and 30-day windows), per class-window and in all; the
  pooled test's on the same windows; and, for comparison only, a class's rows judged against the *fleet's*
  deciles and lines (what a literal "fall back to the pooled reference" would do: the monitor does not);
* a change to one class, at midnight of a random day of the first monitored year: a 1-SD recalibration offset of
  one channel on every asset of one class (each channel once, on a class drawn among those that report it; SD of
  the class's reference rows), and a 1-SD ambient shift of every asset of one class (each class once; the heated
  temperatures follow, :class:`forewarn.twin.changes.AmbientShift`). Daily ``monitor --days N`` runs from the
  change on (N = 1, 7, 30; run 1 = the change's first day, up to run 30): the first run whose window flags a
  feature of the changed channel in the changed class's entry, and in the pooled result; and whether an unchanged
  class flags that channel in those runs.

``--class-margins`` compares margins of the per-class lines (``max(0.25, margin x highest)``, as the pooled ones;
the product's is :data:`forewarn.train.references.CLASS_LINE_MARGIN`, the pooled lines keep
:data:`~forewarn.train.references.LINE_MARGIN`). Tune on validation seeds (3, 4, 5), never on the standing ones
(0, 1, 2).

    .venv/bin/python benchmarks/monitor_classes.py --assets 20 --years 2 --seeds 3 4 5 --json classes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.monitor.performance import class_feature_drift, feature_drift
from forewarn.train.references import CLASS_LINE_MARGIN, LINE_MARGIN, class_references
from forewarn.twin.changes import AmbientShift, SensorOffset, apply_changes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monitor_drift import channels_of, fleet  # noqa: E402  (the standing protocol's fleets)
from monitor_features import WEEKS, between, card_of, features  # noqa: E402

RUNS = 30


def class_card(X: pd.DataFrame, classes: pd.Series, min_rows: int | None, margin: float = CLASS_LINE_MARGIN) -> dict:
    """The card's pooled and per-class references from the rows of ``X`` (all of them training rows); ``margin``
    the per-class lines' (the pooled lines keep the product's)."""
    card = card_of(X, LINE_MARGIN)
    names = [c for c in X.columns if c not in ("asset_id", "ts")]
    extra = {} if min_rows is None else {"min_rows": min_rows}
    card["reference_by_class"] = class_references(
        X[names], X["ts"].to_numpy(), classes.to_numpy(), train_rows=np.arange(len(X)), margin=margin, **extra
    )
    return card


def verdicts(cards: dict, window: pd.DataFrame, days: int, class_of: dict) -> tuple[list, dict]:
    """The pooled verdicts of one window and, per margin of ``cards``, the per-class result."""
    pooled = feature_drift(next(iter(cards.values())), window, days=days, top=None)
    scored = window.assign(asset_class=window["asset_id"].map(class_of))
    return pooled, {m: class_feature_drift(card, scored, pooled, days=days) for m, card in cards.items()}


def healthy(X: pd.DataFrame, cards: dict, class_of: dict, years: int) -> dict:
    start = X["ts"].min().floor("1D")
    cut = start + pd.Timedelta(days=365)
    first = next(iter(cards.values()))
    fleet_card = {"reference": first["reference"], "reference_lines": first["reference_lines"]}
    out: dict = {}
    for days in WEEKS:
        windows = (365 * years) // days
        step = max(1, windows // 120)  # at most ~120 windows per length, as monitor_features.py
        judged = pooled_flags = class_windows = naive_flags = 0
        flags = dict.fromkeys(cards, 0)
        per_class: dict = {m: {} for m in cards}
        details: dict = {m: [] for m in cards}
        for w in range(0, windows, step):
            at = cut + pd.Timedelta(days=w * days)
            window = between(X, at, days)
            pooled, by_margin = verdicts(cards, window, days, class_of)
            judged += 1
            pooled_flags += sum(r["drifted"] for r in pooled)
            for margin, by_class in by_margin.items():
                for entry in by_class["by_class"]:
                    class_windows += margin == next(iter(cards))
                    mine = entry["drifted"] if entry["basis"] == "class" else 0
                    flags[margin] += mine
                    per_class[margin][entry["asset_class"]] = per_class[margin].get(entry["asset_class"], 0) + mine
                    for f in entry["features"] if entry["basis"] == "class" else []:
                        details[margin].append(
                            (str(at.date()), entry["asset_class"], f["feature"], f["psi"], f["line"])
                        )
            if days >= 7 or w % (4 * step) == 0:  # the comparison: a class's rows against the fleet's deciles
                for _, rows in window.groupby(window["asset_id"].map(class_of)):
                    naive_flags += sum(r["drifted"] for r in feature_drift(fleet_card, rows, days=days, top=None))
        out[f"{days}d"] = {
            "windows": judged,
            "class_windows": class_windows,
            **{
                f"margin {m}": {
                    "class_flagged_total": flags[m],
                    "class_flagged_per_class_window": round(flags[m] / max(1, class_windows), 4),
                    "by_class": per_class[m],
                    "flagged": details[m][:20],
                }
                for m in cards
            },
            "pooled_flagged_per_window": round(pooled_flags / judged, 4),
            "naive_flagged_total": naive_flags,
        }
    return out


def cases_of(sim, seed: int, class_of: dict) -> list[tuple[str, str, str, pd.Timestamp, list]]:
    """The one-class changes: (kind, channel, class, day, changes)."""
    r = sim.readings
    start = pd.to_datetime(r["ts"], utc=True).min().floor("1D")
    cut = start + pd.Timedelta(days=365)
    ref = r[pd.to_datetime(r["ts"], utc=True) < cut]
    kinds = ref["asset_id"].map(class_of)
    rng = np.random.default_rng(seed + 500)
    members = {k: sorted(a for a, c in class_of.items() if c == k) for k in sorted(set(class_of.values()))}
    out = []
    for channel in channels_of(r):
        sd = {k: float(ref.loc[kinds == k, channel].std()) for k in members}
        able = [k for k, v in sd.items() if np.isfinite(v) and v > 0]
        if not able:
            continue
        kind = able[int(rng.integers(len(able)))]
        at = cut + pd.Timedelta(days=int(rng.integers(40, 300)))
        changes = [SensorOffset(a, channel, at, sd[kind]) for a in members[kind]]
        out.append(("class offset", channel, kind, at, changes))
    for kind, assets in members.items():
        at = cut + pd.Timedelta(days=int(rng.integers(40, 300)))
        delta = float(ref.loc[kinds == kind, "ambient_temp"].std())
        out.append(("class ambient", "ambient_temp", kind, at, [AmbientShift(tuple(assets), at, delta)]))
    return out


def detection(sim, cards: dict, seed: int, class_of: dict) -> dict:
    r = sim.readings
    names = channels_of(r)
    rows = []
    for kind, channel, cls, at, changes in cases_of(sim, seed, class_of):
        span = r[(r["ts"] >= at - pd.Timedelta(days=32)) & (r["ts"] < at + pd.Timedelta(days=RUNS + 1))]
        moved = features(apply_changes(span, changes), names)
        ours = [f for f in moved.columns if f.split("__")[0] == channel]
        moved = moved[["asset_id", "ts", *ours]]
        row = {"change": kind, "channel": channel, "class": cls, "day": str(at.date())}
        for days in WEEKS:
            first: dict = {"pooled": None, **dict.fromkeys(cards)}
            others: dict = {m: set() for m in cards}
            for k in range(1, RUNS + 1):
                window = between(moved, at + pd.Timedelta(days=k - days), days)
                pooled, by_margin = verdicts(cards, window, days, class_of)
                if first["pooled"] is None and any(v["drifted"] for v in pooled):
                    first["pooled"] = k
                for margin, by_class in by_margin.items():
                    entries = {e["asset_class"]: e for e in by_class["by_class"]}
                    if first[margin] is None and entries[cls]["basis"] == "class" and entries[cls]["drifted"]:
                        first[margin] = k
                    others[margin] |= {
                        n for n, e in entries.items() if n != cls and e["basis"] == "class" and e["drifted"]
                    }
            row[f"first_{days}d_run_pooled"] = first["pooled"]
            for m in cards:
                row[f"first_{days}d_run_class_{m}"] = first[m]
                row[f"other_classes_{days}d_{m}"] = sorted(others[m])
        rows.append(row)
    table = pd.DataFrame(rows)
    summary = {}
    for change, g in table.groupby("change"):
        entry: dict = {"cases": len(g)}
        for days in WEEKS:
            for name in ["pooled", *(f"class_{m}" for m in cards)]:
                hit = g[f"first_{days}d_run_{name}"]
                entry[f"{days}d runs, {name}"] = (
                    f"{int(hit.notna().sum())} flagged, {int((hit == 1).sum())} on day 1, median day {hit.median()}"
                )
            for m in cards:
                entry[f"{days}d runs, unchanged classes flagging the channel, margin {m}"] = int(
                    g[f"other_classes_{days}d_{m}"].map(len).gt(0).sum()
                )
        m0 = next(iter(cards))
        entry["missed_30d_class"] = g.loc[g[f"first_30d_run_class_{m0}"].isna(), ["channel", "class"]].values.tolist()
        summary[change] = entry
    return {"summary": summary, "cases": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--years", type=int, default=2, help="Monitored years after the reference year.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--min-rows", type=int, default=None, help="A class's least training rows (the product's).")
    parser.add_argument(
        "--class-margins", type=float, nargs="+", default=[CLASS_LINE_MARGIN], help="Margins of the per-class lines."
    )
    parser.add_argument("--no-healthy", action="store_true")
    parser.add_argument("--no-changes", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    threadpool_limits(1)
    out = []
    for seed in args.seeds:
        t, c = time.perf_counter(), time.process_time()
        sim = fleet(args.assets, args.years, seed, False)
        class_of = {a.asset_id: a.asset_class for a in sim.assets}
        X = features(sim.readings, channels_of(sim.readings))
        cut = X["ts"].min().floor("1D") + pd.Timedelta(days=365)
        ref = X[X["ts"] < cut].reset_index(drop=True)
        kinds = ref["asset_id"].map(class_of)
        cards = {m: class_card(ref, kinds, args.min_rows, m) for m in args.class_margins}
        counts = pd.Series(class_of).value_counts().to_dict()
        print(f"seed {seed}: {len(X):,} rows, classes {counts}, {time.perf_counter() - t:.0f} s", flush=True)
        result: dict = {"seed": seed, "classes": counts}
        if not args.no_healthy:
            result["healthy"] = healthy(X, cards, class_of, args.years)
            print(json.dumps({"healthy": result["healthy"]}, default=str), flush=True)
        if not args.no_changes:
            result["detection"] = detection(sim, cards, seed, class_of)
            print(json.dumps({"detection": result["detection"]["summary"]}, default=str), flush=True)
        print(f"seed {seed}: {time.perf_counter() - t:.0f} s wall, {time.process_time() - c:.0f} s CPU", flush=True)
        out.append(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
