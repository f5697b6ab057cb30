"""Does a nightly run's context give one whole run's scores back, to the last digits? (issue 14, `--only-new`)

``forewarn detect --store --only-new`` scores a night's rows after a context of the rows before them
(:func:`forewarn.detect.since.context_start`: at least 512 rows, and the detector's reach) and checks the context's
last 32 rows against the scores the previous night kept, within :data:`forewarn.detect.since.TOLERANCE`. Here the
nightly walk's fleet (`benchmarks/detect_cases.py --only-new`: twin seed 11, 2 sites, 12 assets, 120 days at 10 min,
degradation 3x) is fitted per asset on the first 15 % of its first night (30 days) and each asset's series is scored
whole and from the context of each night's first row (days 30, 60, 90) on; printed: the largest difference at full
precision of the rows from 32 before the night's first row on (the rows the check compares, and the night's own).

    .venv/bin/python benchmarks/started_later.py [--json FILE]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--assets", type=int, default=12)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--nights", default="30,60,90", help="days at which a night's new rows begin")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)

    from forewarn.detect.since import CONTEXT_ROWS, TAIL_ROWS, context_start, reach
    from forewarn.models.anomaly.ensemble import EnsembleDetector
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=args.sites,
            assets=args.assets,
            days=args.days,
            seed=args.seed,
            interval="10min",
            degradation_scale=3.0,
        )
    )
    nights = [int(d) for d in args.nights.split(",")]
    largest: dict[int, float] = {d: 0.0 for d in nights}
    rows_over: dict[str, int] = {"1e-12": 0, "1e-9": 0, "1e-6": 0}
    compared = 0
    for asset in fleet.assets:
        part = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels if c.name in part.columns]
        stamps = pd.DatetimeIndex(pd.to_datetime(part["ts"], utc=True))
        X = part[names].astype("float64").set_axis(stamps).dropna(axis=1, how="all").ffill().bfill()
        first_night = int(np.searchsorted(stamps, stamps[0] + pd.Timedelta(days=nights[0])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model: Any = EnsembleDetector().fit(X.iloc[: max(10, int(0.15 * first_night))])
            whole = np.asarray(model.score(X), dtype="float64")
            memory, span = reach(model)
            ns = stamps.asi8
            for day in nights:
                cut = int(np.searchsorted(stamps, stamps[0] + pd.Timedelta(days=day)))
                start = context_start(ns, cut, max(CONTEXT_ROWS, 2 * memory, TAIL_ROWS), span)
                later = np.asarray(model.score(X.iloc[start:]), dtype="float64")
                difference = np.abs(later[cut - TAIL_ROWS - start :] - whole[cut - TAIL_ROWS :])
                largest[day] = max(largest[day], float(np.nanmax(difference)))
                for bound in rows_over:
                    rows_over[bound] += int((difference > float(bound)).sum())
                compared += len(difference)
    report = {
        "largest_difference_by_night_day": largest,
        "rows_over": rows_over,
        "rows_compared": compared,
        "load": list(os.getloadavg()),
    }
    print(json.dumps(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=1)
    return report


if __name__ == "__main__":
    main()
