"""What the record of rewrites (``reading_rewrites``, :mod:`forewarn.store.rewrites`) costs an ingest that only
appends, and what noticing a changed history costs a nightly ``detect --only-new``.

``--ingest``: appending batches in time order into a DuckDB store (and a PostgreSQL one where ``initdb`` is
installed): ``--nights`` nightly batches (``--assets`` assets x 4 channels, a day of 10-minute rows each) and
``--small`` stream-like batches (one row per asset each), seconds per batch (median). Run it with the code before
and after the record (``PYTHONPATH=old/src``) alternately: the record adds one query to a batch that
overlaps nothing stored (DuckDB: a reading after the batch?; PostgreSQL: each series' last stored time).

``--notice STORE``: on a copy of a store (e.g. the 12-night walk's of ``detect_cases.py --only-new``), the per-night
cost of noticing a changed history for every asset: the fingerprint of all its stored readings (the code before)
against the record's two queries (after), ``--repeats`` times, medians.

``--ingest`` also times the query the record adds (50 times, median) against a trivial query through the same
``Store.sql`` call.

``--prune``: the record's size over ``--nights`` overlapping nightly exports (``--assets`` assets x 4 channels, a
day of 10-minute rows each night, each export missing its last hour but 20 minutes, which the next night's
delivers: a row per series a night), on each backend, with no retention (the record as before pruning: the old
retention never touched it) and with ``store retain --keep KEEP`` after each night (``--keep``, default 7d): rows
each night, the retention call's seconds, and the reader's two queries (``LAST_SEQ`` and ``SINCE_SQL`` from the
number a week ago) on the last night's table of each arm.

    .venv/bin/python benchmarks/rewrites_ingest.py --ingest
    .venv/bin/python benchmarks/rewrites_ingest.py --notice /tmp/detect_only_new_XXXX/new.duckdb
``--overlap``: PostgreSQL's overlap check (:data:`forewarn.store.pg_ingest.OVERLAP_SQL`) against ``--old-rev``'s
``pg_ingest.py`` (loaded from git, swapped in as the store's ingest module), alternated batch by batch on one store
of ``--days`` days of history (odd assets one row ahead: their stored ends are staggered): a stream's batches (the
next row of every asset; the box of the old check covers the odd assets' last rows), nightly appends, and nightly
exports overlapping the stored end by 2 h (the same values); milliseconds per batch, medians.

    .venv/bin/python benchmarks/rewrites_ingest.py --prune --nights 30 --assets 50
    .venv/bin/python benchmarks/rewrites_ingest.py --overlap --days 30 --assets 50 --old-rev a9c6c99
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def batch(assets: int, start: int, rows: int) -> pd.DataFrame:
    """``rows`` 10-minute rows from row ``start`` of each asset, 4 channels."""
    ts = T0 + pd.to_timedelta(np.arange(start, start + rows) * 10, "min")
    rng = np.random.default_rng(start)
    parts = []
    for a in range(assets):
        frame = pd.DataFrame({"asset_id": f"A-{a:03d}", "ts": ts})
        for channel in ("temp", "vib", "current", "pressure"):
            frame[channel] = rng.normal(size=rows)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def time_ingest(location: str, args: argparse.Namespace) -> dict[str, Any]:
    from forewarn.store import Store

    nightly, small = [], []
    with Store(location) as db:
        for night in range(args.nights):
            frame = batch(args.assets, night * 144, 144)
            started = time.perf_counter()
            db.ingest_readings(frame)
            nightly.append(time.perf_counter() - started)
        for k in range(args.small):
            frame = batch(args.assets, args.nights * 144 + k, 1)
            started = time.perf_counter()
            db.ingest_readings(frame)
            small.append(time.perf_counter() - started)
        # the query the record adds to a batch that overlaps nothing stored, against a trivial one through the same
        # call: DuckDB, a reading after the batch in its series range? PostgreSQL, each series' last stored time
        last = T0 + pd.Timedelta(minutes=10 * (args.nights * 144 + args.small))
        series = list(range(1, args.assets * 4 + 1))
        added = (
            (
                "SELECT sid, (SELECT max(ts) FROM reading_values r WHERE r.series_id = sid) AS t FROM unnest(?::integer[]) AS sid",
                [series],
            )
            if location.startswith("postgres")
            else (
                "SELECT count(*) AS n FROM (SELECT 1 FROM reading_values WHERE series_id BETWEEN ? AND ? AND ts > ? LIMIT 1) x",
                [1, len(series), last],
            )
        )
        queried, trivial = [], []
        for _ in range(50):
            started = time.perf_counter()
            db.sql(*added)
            queried.append(time.perf_counter() - started)
            started = time.perf_counter()
            db.sql("SELECT 1 AS n")
            trivial.append(time.perf_counter() - started)
    return {
        "added_query_ms": round(1000 * statistics.median(queried), 3),
        "trivial_query_ms": round(1000 * statistics.median(trivial), 3),
        "nightly_batch_s": round(statistics.median(nightly), 4),
        "small_batch_ms": round(1000 * statistics.median(small), 2),
        "readings_per_night": args.assets * 4 * 144,
    }


def late_export(assets: int, night: int) -> pd.DataFrame:
    """Night ``night``'s export for :func:`prune`: its day of rows less its rows 6..2 before its end (late), and
    the previous night's late rows."""
    frame = batch(assets, max(night * 144 - 6, 0), 144 + min(night, 1) * 6)
    rows = ((frame["ts"] - T0) / pd.Timedelta(minutes=10)).astype("int64")
    end = (night + 1) * 144
    late_own = (rows >= end - 6) & (rows < end - 2)
    early = rows < night * 144
    return frame[~late_own | early].reset_index(drop=True)


def prune_arm(location: str, args: argparse.Namespace, keep: str | None) -> dict[str, Any]:
    from forewarn.store import Store
    from forewarn.store.retention import retention_cutoff
    from forewarn.store.rewrites import LAST_SEQ, SINCE_SQL

    sizes, retain_s = [], []
    count = "SELECT count(*) AS n FROM reading_rewrites"
    with Store(location) as db:
        for night in range(args.nights):
            db.ingest_readings(late_export(args.assets, night))
            if keep is not None:
                newest = T0 + pd.Timedelta(minutes=10 * ((night + 1) * 144 - 1))
                started = time.perf_counter()
                db.drop_readings_before(retention_cutoff(None, keep=keep, newest=newest))
                retain_s.append(time.perf_counter() - started)
            sizes.append(int(db.sql(count).iloc[0, 0]))
        last = int(db.sql(LAST_SEQ).iloc[0, 0])
        reads = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            db.sql(LAST_SEQ)
            db.sql(SINCE_SQL, [max(last - 7, 0)])
            reads.append(time.perf_counter() - started)
    out: dict[str, Any] = {
        "rows_each_night": " ".join(map(str, sizes)),
        "last_seq": last,
        "reader_ms": round(1000 * statistics.median(reads), 2),
    }
    if retain_s:
        out["retain_s_median"] = round(statistics.median(retain_s), 4)
        out["retain_s_max"] = round(max(retain_s), 4)
    return out


def prune(args: argparse.Namespace) -> dict[str, Any]:
    from forewarn.store.pg_local import LocalPostgres, binaries

    work = Path(tempfile.mkdtemp(prefix="rewrites_prune_"))
    out: dict[str, Any] = {"series": args.assets * 4, "nights": args.nights, "keep": args.keep}
    out["duckdb"] = {
        "no retention": prune_arm(str(work / "none.duckdb"), args, None),
        "retain each night": prune_arm(str(work / "kept.duckdb"), args, args.keep),
    }
    if binaries() is not None:
        server = LocalPostgres(work / "pg", durable=False)
        server.start()
        try:
            out["postgres"] = {
                "no retention": prune_arm(server.create_database("prune_none"), args, None),
                "retain each night": prune_arm(server.create_database("prune_kept"), args, args.keep),
            }
        finally:
            server.stop()
    shutil.rmtree(work, ignore_errors=True)
    return out


def overlap(args: argparse.Namespace) -> dict[str, Any]:
    from pg_held_read import module_at

    from forewarn.store import Store, postgres
    from forewarn.store.pg_local import LocalPostgres

    work = Path(tempfile.mkdtemp(prefix="rewrites_overlap_"))
    server = LocalPostgres(work / "pg", durable=False).start()
    codes = {
        "old": module_at(args.old_rev, "src/forewarn/store/pg_ingest.py", "earlier_pg_ingest"),
        "new": postgres.ingest,
    }
    times: dict[str, list[float]] = {}
    try:
        with Store(server.create_database("overlap")) as db:
            for day in range(0, args.days, 10):
                db.ingest_readings(batch(args.assets, day * 144, min(10, args.days - day) * 144))
            odd = [f"A-{a:03d}" for a in range(1, args.assets, 2)]
            ahead = batch(args.assets, args.days * 144, 1)
            db.ingest_readings(ahead[ahead["asset_id"].isin(odd)])
            row = args.days * 144
            readings = int(db.sql("SELECT count(*) AS n FROM reading_values").iloc[0, 0])
            for k in range(2 * args.repeats):
                code = ("old", "new")[(k + k // 2) % 2]  # old new new old old new ...
                postgres.ingest = codes[code]
                try:
                    step = batch(args.assets, row, 2)  # rows R and R + 1: even assets' R, odd assets' R + 1
                    rows = ((step["ts"] - T0) / pd.Timedelta(minutes=10)).astype("int64")
                    frames = {"stream batch": step[step["asset_id"].isin(odd) == (rows == row + 1)]}
                    for name, frame in frames.items():
                        started = time.perf_counter()
                        db.ingest_readings(frame)
                        times.setdefault(f"{name} {code}", []).append(1000 * (time.perf_counter() - started))
                    row += 1
                finally:
                    postgres.ingest = codes["new"]
            for k in range(2 * args.repeats):  # nightly loads from the stream's end: an append, then an overlap
                code = ("old", "new")[(k + k // 2) % 2]
                postgres.ingest = codes[code]
                try:
                    night = batch(args.assets, row + 1, 144)
                    started = time.perf_counter()
                    db.ingest_readings(night)
                    times.setdefault(f"nightly append {code}", []).append(1000 * (time.perf_counter() - started))
                    again = batch(args.assets, row + 1 + 144 - 12, 156)
                    again = pd.concat([night[night["ts"] >= again["ts"].min()], again[again["ts"] > night["ts"].max()]])
                    started = time.perf_counter()
                    db.ingest_readings(again)
                    times.setdefault(f"nightly overlapping 2 h {code}", []).append(
                        1000 * (time.perf_counter() - started)
                    )
                    row += 1 + 144 + 144
                finally:
                    postgres.ingest = codes["new"]
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "readings_before": readings,
        "old_rev": args.old_rev,
        "ms_median": {k: round(statistics.median(v), 2) for k, v in sorted(times.items())},
    }


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    from forewarn.store.pg_local import LocalPostgres, binaries

    work = Path(tempfile.mkdtemp(prefix="rewrites_ingest_"))
    out: dict[str, Any] = {"duckdb": time_ingest(str(work / "plant.duckdb"), args)}
    if binaries() is not None:
        server = LocalPostgres(work / "pg", durable=False)
        server.start()
        try:
            out["postgres"] = time_ingest(server.create_database("rewrites_ingest"), args)
        finally:
            server.stop()
    shutil.rmtree(work, ignore_errors=True)
    return out


def notice(args: argparse.Namespace) -> dict[str, Any]:
    from forewarn.detect.since import history_prints, rewrites_after, rewrites_seen
    from forewarn.store import Store

    copy = Path(tempfile.mkdtemp(prefix="rewrites_notice_")) / "store.duckdb"
    shutil.copy(args.notice, copy)
    Store(str(copy)).close()  # a store written before the record gets its (empty) table
    old, new = [], []
    with Store(str(copy), read_only=True) as db:
        ids = db.assets()["asset_id"].astype(str).tolist()
        readings = int(db.sql("SELECT count(*) AS n FROM readings").iloc[0, 0])
        for _ in range(args.repeats):
            started = time.perf_counter()
            for asset in ids:
                history_prints(db, asset, 2**62)
            old.append(time.perf_counter() - started)
            started = time.perf_counter()
            rewrites_after(db, int(rewrites_seen(db) or 0))
            new.append(time.perf_counter() - started)
    shutil.rmtree(copy.parent, ignore_errors=True)
    return {
        "assets": len(ids),
        "readings": readings,
        "fingerprints_ms": [round(1000 * x, 1) for x in old],
        "fingerprints_median_ms": round(1000 * statistics.median(old), 1),
        "record_ms": [round(1000 * x, 2) for x in new],
        "record_median_ms": round(1000 * statistics.median(new), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", action="store_true")
    parser.add_argument("--notice", type=Path)
    parser.add_argument("--prune", action="store_true")
    parser.add_argument("--keep", default="7d")
    parser.add_argument("--overlap", action="store_true")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--old-rev", default="a9c6c99")
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--nights", type=int, default=20)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    result: dict[str, Any] = {"load_average": [round(v, 2) for v in os.getloadavg()]}
    if args.ingest:
        result["ingest"] = ingest(args)
    if args.notice:
        result["notice"] = notice(args)
    if args.prune:
        result["prune"] = prune(args)
    if args.overlap:
        result["overlap"] = overlap(args)
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
