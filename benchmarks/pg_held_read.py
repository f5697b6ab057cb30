"""Bucketed reads of PostgreSQL's held (recorded-on-change) channels and the service's last window: this checkout's
``store/pg_hold.py`` against an earlier revision's, alternated on one server.

The plant is ``benchmarks/store_pg.py``'s: ``--assets`` assets x 10 channels, a reading every minute for
``--days`` days (the dense case: a held 24 h read weighs 14,400 readings plus those of the hold before it); the
first half of the assets then get every channel held ``--hold`` (``Store.set_hold``), the others none. Each round
draws one held and one plain asset and reads each, with each code: its last 24 whole hours through
``Store.readings(resample="1h")`` (the plain asset's come from the hourly rollup either way) and its last window
through ``window_queries.last_buckets`` (24 x 1 h); old and new alternate within the round, and which goes first
alternates by round (since 2026-12-06 10:20: before, old always went first). The earlier code is
``git show REV:src/forewarn/store/pg_hold.py`` (``--old-rev``, default 61ff8b3) imported as a module of its own,
swapped in for the old reads (its ``last_buckets``; its held SQL, the shared text of ``hold.held_buckets_sql`` in
the ``postgres`` dialect, for ``readings``), with ``src/forewarn/store/hold.py`` of the same revision beside it
(the ``postgres`` dialect left the product on 2026-12-06). Every pair of answers is compared (1e-9).

``--compare held_buckets`` alternates ``pg_hold.held_buckets`` and ``pg_hold.last_buckets`` as a whole, each with
its own revision's SQL and round trips (``--old-rev``, e.g. eea2280: a ``max`` query, then ``BEGIN; SET LOCAL jit =
off; SELECT; COMMIT``), against this checkout's (one statement; the store's connections set ``jit = off`` once).

PostgreSQL: ``--url`` (an empty database) or a throwaway server started here (``LocalPostgres``, as the tests start
one, on 127.0.0.1; ``fsync`` off: reads only are timed). Prints medians and 95th percentiles and the load average;
``--json out.json``.

``--compare store`` alternates the store's own code instead: ``PgStore.readings`` and ``PgStore.sql`` of
``src/forewarn/store/postgres.py`` at ``--old-rev`` (imported as a module of its own) against this checkout's, the
same ``pg_hold`` under both; answers must be equal frame for frame (dtypes included).

Run: ``.venv/bin/python benchmarks/pg_held_read.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from store_pg import CHANNELS, batches

from forewarn.store import Store, hold, pg_hold, postgres
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.window_queries import last_buckets

HOUR = 3_600_000_000
END_US = 1_767_225_600_000_000 + 40 * 24 * HOUR  # 2026-02-10T00:00:00Z


def module_at(rev: str, source: str, name: str) -> ModuleType:
    """``source`` (a path in the repository) as it was at ``rev``, imported as a module of its own, ``name``."""
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(["git", "show", f"{rev}:{source}"], cwd=root, check=True, capture_output=True, text=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}_")) / f"{name}.py"
    path.write_text(text.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def store_reads(store: Any, rev: str) -> dict[str, Callable[[], None]]:
    """``old`` / ``new``: set the store's ``readings`` and ``sql`` to ``rev``'s or back to this checkout's."""
    earlier = module_at(rev, "src/forewarn/store/postgres.py", "earlier_postgres").PgStore  # bound to this store

    def old() -> None:
        store.readings = types.MethodType(earlier.readings, store)
        store.sql = types.MethodType(earlier.sql, store)

    def new() -> None:
        store.__dict__.pop("readings", None)
        store.__dict__.pop("sql", None)

    return {"old": old, "new": new}


def earlier_form(rev: str) -> Callable[[int, str], str]:
    """The held buckets as PostgreSQL read them at ``rev``: the shared text of that revision's ``hold.py`` in its
    ``postgres`` dialect."""
    earlier_hold = module_at(rev, "src/forewarn/store/hold.py", "earlier_hold")

    def form(width_us: int, series_sql: str) -> str:
        return str(earlier_hold.held_buckets_sql(width_us, series_sql, dialect="postgres"))

    return form


def timed(run: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    out = run()
    return (time.perf_counter() - started) * 1000, out


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Two answers equal: the same rows (asset, time, channel), values to 1e-9."""
    keys = [c for c in ("asset_id", "ts", "channel") if c in a.columns]
    a, b = a.sort_values(keys, ignore_index=True), b.sort_values(keys, ignore_index=True)
    assert a[keys].equals(b[keys]), "the two forms give other rows"
    np.testing.assert_allclose(b["value"].to_numpy(float), a["value"].to_numpy(float), rtol=1e-9, atol=1e-12)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--hold", default="8h")
    parser.add_argument("--repeats", type=int, default=40, help="rounds: a held and a plain asset, both codes")
    parser.add_argument("--old-rev", default="61ff8b3")
    parser.add_argument("--url", default=None)
    parser.add_argument(
        "--compare", choices=["pg_hold", "held_buckets", "store"], default="pg_hold", help="which code alternates"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = args.assets * len(CHANNELS) * args.days * 1440
    server = None
    url = args.url
    if url is None:
        server = LocalPostgres(Path(tempfile.mkdtemp(prefix="pg-held-")), durable=False).start()
        url = server.create_database("held")
    try:
        with Store(url) as store:
            started = time.perf_counter()
            for table in batches(rows, args.assets, 500_000, END_US):
                store.ingest_readings(table)
            names = [f"asset-{a:05d}" for a in range(args.assets)]
            held_names, plain_names = names[: args.assets // 2], names[args.assets // 2 :]
            for name in held_names:
                store.set_hold(name, None, args.hold)
            loaded = time.perf_counter() - started
            end = pd.Timestamp(END_US // HOUR * HOUR, unit="us", tz="UTC")
            start = end - pd.Timedelta("24h")
            earlier = module_at(args.old_rev, "src/forewarn/store/pg_hold.py", "earlier_pg_hold")
            current = (pg_hold.held_buckets_sql, pg_hold.last_buckets, postgres.held_buckets)
            if args.compare == "held_buckets":  # each revision's functions whole, with their own SQL
                codes = {"old": (current[0], earlier.last_buckets, earlier.held_buckets), "new": current}
            else:  # the old SQL in this checkout's held_buckets; the old last window with its revision's hold.py
                earlier.hold = module_at(args.old_rev, "src/forewarn/store/hold.py", "earlier_hold")
                codes = {"old": (earlier_form(args.old_rev), earlier.last_buckets, current[2]), "new": current}
            swaps = store_reads(store, args.old_rev) if args.compare == "store" else None
            if swaps is not None:  # this checkout's pg_hold under both; the store's own code alternates
                codes = {"old": current, "new": current}
            times: dict[str, list[float]] = {}
            rng = random.Random(3)
            loads = [os.getloadavg()[0]]
            try:
                for k in range(args.repeats + 1):  # the first round warms the caches and is not counted
                    for kind, pool in (("held", held_names), ("plain", plain_names)):
                        name = pool[rng.randrange(len(pool))]
                        got: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
                        turns = list(codes.items())  # who goes first alternates, round by round
                        for code, (sql, window_of, buckets_of) in turns if k % 2 else turns[::-1]:
                            pg_hold.held_buckets_sql = sql  # type: ignore[assignment]
                            pg_hold.last_buckets = window_of  # type: ignore[assignment]
                            postgres.held_buckets = buckets_of  # type: ignore[assignment]
                            if swaps is not None:
                                swaps[code]()
                            ms_read, read = timed(lambda n=name: store.readings(n, start, end, resample="1h"))
                            ms_window, window = timed(
                                lambda n=name: last_buckets(store, [n], list(CHANNELS), 24, HOUR, [hold.NO_START])
                            )
                            got[code] = (read, window)
                            if k:
                                times.setdefault(f"{kind} readings_1h_24h {code}", []).append(ms_read)
                                times.setdefault(f"{kind} last_window_24x1h {code}", []).append(ms_window)
                        same(got["old"][0], got["new"][0])
                        same(got["old"][1], got["new"][1])
                        if swaps is not None:
                            pd.testing.assert_frame_equal(got["old"][0], got["new"][0])
                            pd.testing.assert_frame_equal(got["old"][1], got["new"][1])
                        assert len(got["new"][0]) == 24 * len(CHANNELS), len(got["new"][0])
            finally:
                pg_hold.held_buckets_sql, pg_hold.last_buckets, postgres.held_buckets = current  # type: ignore[assignment]
                if swaps is not None:
                    swaps["new"]()
            loads.append(os.getloadavg()[0])
    finally:
        if server is not None:
            server.stop()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        }

    result = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "url")},
        "readings": rows,
        "load_seconds": round(loaded, 1),
        "load_1min": loads,
        "reads": {label: summary(values) for label, values in times.items()},
    }
    print(
        f"{rows:,} readings ({args.assets} assets x 10 channels x {args.days} days at 1 min), half the assets held "
        f"{args.hold}; {args.repeats} rounds, {args.compare} old ({args.old_rev}) and new alternated, answers equal; load "
        f"{min(loads):.1f}-{max(loads):.1f}"
    )
    for label, s in result["reads"].items():
        print(f"  {label:32s}: median {s['median_ms']:7.1f} ms, p95 {s['p95_ms']:7.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
