"""``forewarn detect --store --only-new`` nights on series where the ensemble's ``recurrence`` cap acts: the cost of
each night and whether the nights give one whole run's scores (issue 14 items 1 and 4).

Three assets, each a queue that fills over 60-400 rows and empties at once (about 60 times in 14,000 5-minute rows)
and a noise channel, are loaded into a DuckDB store: a first night of ``--first`` rows (fitted and kept, as
``detect --store --save-models --only-new``), then ``--nights`` nights of ``--night-rows`` rows each, each scored
with the kept fits after the marks. Printed: each night's seconds (``detect_store``, the store read included), the
median over the nights after the first two (the second night follows the fitting night, whose marks hold no cap
state: it reads each asset whole once), how each night scored, and the largest difference of the nights' scores
to one run over the whole history with the same fits (and the alarm rows that differ). Run it with the code before
a change (``PYTHONPATH=OLD/src``) and after, alternated.

    .venv/bin/python benchmarks/only_new_recurrence.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.detect import detect_store
from forewarn.detect.saved import SavedFits, save_fits
from forewarn.detect.since import read_marks, write_marks
from forewarn.schema import Asset
from forewarn.store import Store


def queue_fleet(rows: int, assets: int) -> pd.DataFrame:
    """``assets`` queues (module text), 5-minute rows from 2024-01-01."""
    ts = pd.date_range("2024-01-01", periods=rows, freq="5min", tz="UTC")
    parts = []
    for i in range(assets):
        rng = np.random.default_rng(i)
        ramp, at = np.zeros(rows), 0
        while at < rows:
            length = int(rng.integers(60, 400))
            ramp[at : at + length] = 20.0 * np.arange(min(length, rows - at)) / length
            at += length
        queue = ramp + rng.normal(0, 0.5, rows)
        parts.append(pd.DataFrame({"asset_id": f"Q-{i}", "ts": ts, "queue": queue, "noise": rng.normal(0, 1, rows)}))
    return pd.concat(parts, ignore_index=True)


def _load(path: Path, rows: pd.DataFrame, assets: list[str]) -> None:
    with Store(path) as db:
        if not db.assets().shape[0]:
            db.add_assets([Asset(a, "queue") for a in assets])
        if len(rows):
            db.ingest_readings(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=3)
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--nights", type=int, default=11)
    parser.add_argument("--night-rows", type=int, default=288)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    total = args.first + args.nights * args.night_rows
    fleet = queue_fleet(total, args.assets)
    assets = sorted(fleet["asset_id"].unique())
    ts = pd.DatetimeIndex(fleet["ts"])
    ends = [args.first + k * args.night_rows for k in range(args.nights + 1)]
    stamps = pd.date_range("2024-01-01", periods=total + 1, freq="5min", tz="UTC")
    root = Path(tempfile.mkdtemp(prefix="only_new_recurrence."))
    store, fits = root / "plant.duckdb", root / "fits"
    load_before = os.getloadavg()
    seconds, hows, results, done = [], [], [], 0
    for night, end in enumerate(ends):
        _load(store, fleet[(ts >= stamps[done]) & (ts < stamps[end])], assets)
        done = end
        started = time.perf_counter()
        if night == 0:
            result = detect_store(store, keep_models=True, since={})
            save_fits(result, fits)
        else:
            result = detect_store(store, kept=SavedFits(fits), since=read_marks(fits))
        seconds.append(time.perf_counter() - started)
        hows.append(sorted(set(result.scored_how.values())))
        write_marks(fits, {**result.previous, **result.marks})
        results.append(result)
    whole_store = root / "whole.duckdb"
    _load(whole_store, fleet, assets)
    whole = detect_store(whole_store, kept=SavedFits(fits))
    nightly = pd.concat([r.scores for r in results], ignore_index=True)
    joined = nightly.merge(whole.scores, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    report = {
        "assets": args.assets,
        "rows": total,
        "seconds": [round(s, 3) for s in seconds],
        "night_after_fitting_s": round(seconds[1], 3),
        "later_nights_median_s": round(statistics.median(seconds[2:]), 3),
        "scored_how": hows[1:],
        "rows_compared": len(joined),
        "largest_difference_to_whole_run": float(np.abs(joined["anomaly_score_n"] - joined["anomaly_score_w"]).max()),
        "alarm_rows_differing": int((joined["alarm_n"] != joined["alarm_w"]).sum()),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
