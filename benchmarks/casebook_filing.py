"""Filing many alerts at once into the case book (``CaseBook.file_alerts``): the first start of the service on a
store with hundreds of down assets not yet filed (issue 12, BENCHMARKS.md "Own data").

Each run opens a fresh case-book file that already holds ``--open`` health cases (assets ``A0000..``), then files
one failure alert for each of ``--down`` assets in one call (half of them assets with an open case, which the
failure joins; the rest open failure cases), then files the same alerts again (all known: idempotent filing).
Prints the median and range of ``--runs`` runs, in milliseconds, as JSON.

    .venv/bin/python benchmarks/casebook_filing.py --down 201 --open 100 --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from forewarn.decide.alerts import Alert, failure_alert
from forewarn.decide.cases import CaseBook


def one_run(folder: Path, down: int, n_open: int) -> dict[str, float]:
    """Milliseconds to file ``down`` failure alerts at once, and to file them again."""
    book = CaseBook(folder / "plant.cases.duckdb")
    t0 = pd.Timestamp("2024-05-01 08:00", tz="UTC")
    book.file_alerts([Alert(f"A{i:04d}", t0, "m1", 0.8, "high", {"temp": 1.0}) for i in range(n_open)])
    start = n_open // 2  # half of the failures fall on assets with an open health case
    alerts = [failure_alert(f"A{start + i:04d}", t0 + pd.Timedelta(hours=1)) for i in range(down)]
    began = time.perf_counter()
    first = book.file_alerts(alerts)
    filed = time.perf_counter()
    again = book.file_alerts(alerts)
    done = time.perf_counter()
    assert first == again and len(set(first)) == down
    book.close()
    return {"first_ms": 1000 * (filed - began), "again_ms": 1000 * (done - filed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=int, default=201)
    parser.add_argument("--open", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(one_run(Path(folder), args.down, args.open))
    out = {
        key: {
            "median": round(statistics.median(r[key] for r in runs), 1),
            "min": round(min(r[key] for r in runs), 1),
            "max": round(max(r[key] for r in runs), 1),
        }
        for key in ("first_ms", "again_ms")
    }
    print(json.dumps({"down": args.down, "open": args.open, "runs": args.runs, **out}))


if __name__ == "__main__":
    main()
