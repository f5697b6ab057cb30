"""The stream's open buckets (``forewarn.stream.buckets.OpenBuckets``) on channels recorded on change: microseconds
per row and readings per second of the fold, this checkout's code against an earlier revision's, alternated.

A synthetic fleet: ``--assets`` assets x ``--rows`` rows at 1-minute steps (a few seconds of jitter) x
``--channels`` channels, each a slow random walk recorded on change (a reading only where it moved past
``--deadband`` since the last one kept, plus a heartbeat every 8 h), so about half the cells of a row are empty.
The rows go through ``OpenBuckets(channels, --interval).fold`` in micro-batches of ``--batch`` rows per asset
(each batch: every asset's next rows, sorted by asset and time, as the stream's reorder buffer releases them):

* ``held``: every channel held ``--hold`` (``set_holds``): the time-weighted account (module text of
  ``stream/buckets.py``);
* ``plain``: no hold (the plain vectorised fold, for reference).

Each run folds the whole fleet into fresh buckets; the two codes alternate ``--repeats`` times (old, new, old,
new...) and the median is given. The earlier code is read with ``git show REV:src/forewarn/stream/buckets.py``
into a temporary module (``--old-rev``, default 61ff8b3: the row-by-row held fold of 0ce419a). Before timing, the
two codes' outputs on the held fleet are compared: every row's value and every closed bucket (starts exact, values
to 1e-12 relative: the plain sums are pandas' grouped cumsum in one and a running sum in the other).

``--pipeline``: the same fleet also goes through the stream's ``OnlinePipeline`` (a DuckDB store in a temporary
folder with every channel held ``--hold``, one servable bundle at ``--interval``: a small LightGBM RUL model on
window 3 of mean, max and ewm, as ``tests/stream/test_held_buckets.py`` builds it), one ``process`` call per
micro-batch and ``close``: readings/s from the first call to the end of ``close`` (store write, buckets, window
features, scoring, checkpoint; no MQTT), the ``OpenBuckets`` of ``forewarn.stream.scoring`` swapped for the earlier
revision's in the old runs, alternated likewise; ``plain new``: the same without holds (the plain fold).

Run: ``.venv/bin/python benchmarks/held_stream_fold.py`` (about a minute) or ``--quick``; ``--json out.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from forewarn.stream import buckets as current

MINUTE = 60_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
SOURCE = "src/forewarn/stream/buckets.py"


def earlier_module(rev: str) -> ModuleType:
    """``stream/buckets.py`` as it was at ``rev``, imported as a module of its own."""
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(["git", "show", f"{rev}:{SOURCE}"], cwd=root, check=True, capture_output=True, text=True)
    folder = Path(tempfile.mkdtemp(prefix="held_fold_"))
    path = folder / "earlier_buckets.py"
    path.write_text(text.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("earlier_buckets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["earlier_buckets"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def fleet(assets: int, rows: int, channels: int, deadband: float, seed: int) -> tuple[np.ndarray, ...]:
    """Rows sorted by (asset, time): names, times (epoch us), values with NaN where nothing was recorded."""
    rng = np.random.default_rng(seed)
    steps = np.full((assets, rows), MINUTE) + rng.integers(-5, 6, (assets, rows)) * 1_000_000
    ts = T0 + np.cumsum(steps, axis=1)
    walk = 20.0 + np.cumsum(rng.normal(0, 0.3, (assets, rows, channels)), axis=1)
    values = np.full_like(walk, np.nan)
    for a in range(assets):
        for c in range(channels):
            kept, since = np.inf, -np.inf
            for i in range(rows):
                if abs(walk[a, i, c] - kept) > deadband or ts[a, i] - since >= 480 * MINUTE:
                    values[a, i, c] = kept = walk[a, i, c]
                    since = ts[a, i]
    names = np.repeat(np.asarray([f"P-{a:03d}" for a in range(assets)], dtype=object), rows)
    return names, ts.reshape(-1), values.reshape(assets * rows, channels)


def batches(names: np.ndarray, ts: np.ndarray, values: np.ndarray, assets: int, rows: int, batch: int) -> list:
    """Micro-batches of ``batch`` rows per asset, each sorted by (asset, time)."""
    out = []
    for lo in range(0, rows, batch):
        take = (np.arange(assets)[:, None] * rows + np.arange(lo, min(lo + batch, rows))[None, :]).reshape(-1)
        out.append((names[take], ts[take], values[take]))
    return out


def fold_all(cls: Any, parts: list, channels: int, width: int, holds: dict[str, np.ndarray]) -> list:
    """Every batch folded into fresh buckets; the :class:`Folded` of each."""
    buckets = cls(channels, width)
    buckets.set_holds(holds)
    return [buckets.fold(*part) for part in parts]


def compare(old: list, new: list) -> int:
    """Assert the two codes agree (module text); returns the number of closed buckets."""
    closed = 0
    for a, b in zip(old, new, strict=True):
        np.testing.assert_allclose(b.means, a.means, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(b.rank, a.rank)
        assert len(a.closed) == len(b.closed)
        for (na, sa, ma), (nb, sb, mb) in zip(a.closed, b.closed, strict=True):
            np.testing.assert_array_equal(nb.astype(str), na.astype(str))
            np.testing.assert_array_equal(sb, sa)
            np.testing.assert_allclose(mb, ma, rtol=1e-12, atol=1e-12)
            closed += len(na)
    return closed


def pipeline_seconds(cls: Any, parts: list, channels: int, interval_min: int, hold_min: int, folder: Path) -> float:
    """Seconds for the whole fleet through ``OnlinePipeline.process`` (module text), ``cls`` as its open buckets."""
    import pandas as pd

    from forewarn.bundles.bundle import make_bundle
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL
    from forewarn.store import Store
    from forewarn.stream import scoring
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    names = [f"c{j:02d}" for j in range(channels)]
    model_folder = folder / "model"
    if not model_folder.exists():
        rng = np.random.default_rng(0)
        stats = ("mean", "max", "ewm")
        X = pd.DataFrame(rng.normal(20, 3, (60, 3 * channels)), columns=[f"{c}__{s}" for c in names for s in stats])
        y = X["c00__mean"] - 10
        model = LightGBMRUL(n_estimators=5, num_leaves=3, max_rul=None, seed=0).fit(X, y)
        make_bundle(
            model, model_folder, channels=tuple(names), window=3, interval=f"{interval_min}min", stats=stats,
            horizon=5.0, X_holdout=X, y_holdout=y, calibration=None,
        )  # fmt: skip
    assets = sorted({str(a) for part in parts for a in part[0]})
    config = parse_config(
        {
            "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": [{"asset_id": a, "channels": {c: "u" for c in names}} for a in assets],
            "models": [{"path": str(model_folder)}],
        }
    )
    columns = []
    for asset, ts, values in parts:
        cols = ReadingColumns()
        rows, cells = np.nonzero(np.isfinite(values))
        for i, k in zip(rows.tolist(), cells.tolist(), strict=True):
            cols.add(str(asset[i]), names[k], int(ts[i]), float(values[i, k]))
        columns.append(cols)
    path = folder / f"stream-{time.monotonic_ns()}.duckdb"
    saved = scoring.OpenBuckets
    scoring.OpenBuckets = cls
    try:
        with Store(path) as store:
            pipe = OnlinePipeline(store, config)
            for asset in assets if hold_min else ():
                store.set_hold(asset, names, f"{hold_min}min")
            started = time.perf_counter()
            for cols in columns:
                pipe.process(cols, [])
            pipe.close()
            return time.perf_counter() - started
    finally:
        scoring.OpenBuckets = saved
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1000, help="rows per asset")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--batch", type=int, default=50, help="rows per asset in a micro-batch")
    parser.add_argument("--interval", type=int, default=60, help="bucket width, minutes")
    parser.add_argument("--hold", type=int, default=480, help="each channel's hold, minutes")
    parser.add_argument("--deadband", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-rev", default="61ff8b3")
    parser.add_argument("--pipeline", action="store_true", help="also time the stream's OnlinePipeline")
    parser.add_argument("--quick", action="store_true", help="5 assets x 400 rows, 3 repeats")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.assets, args.rows, args.repeats = 5, 400, 3
    earlier = earlier_module(args.old_rev)
    names, ts, values = fleet(args.assets, args.rows, args.channels, args.deadband, args.seed)
    parts = batches(names, ts, values, args.assets, args.rows, args.batch)
    width = args.interval * MINUTE
    modes = {
        "held": {f"P-{a:03d}": np.full(args.channels, args.hold * MINUTE) for a in range(args.assets)},
        "plain": {},
    }
    codes = {"old": earlier.OpenBuckets, "new": current.OpenBuckets}
    closed = compare(*(fold_all(cls, parts, args.channels, width, modes["held"]) for cls in codes.values()))
    n, readings = len(ts), int(np.isfinite(values).sum())
    loads = [os.getloadavg()[0]]
    seconds: dict[str, dict[str, list[float]]] = {m: {c: [] for c in codes} for m in modes}
    for _ in range(args.repeats):
        for mode, holds in modes.items():
            for code, cls in codes.items():
                started = time.perf_counter()
                fold_all(cls, parts, args.channels, width, holds)
                seconds[mode][code].append(time.perf_counter() - started)
        loads.append(os.getloadavg()[0])
    if args.pipeline:
        folder = Path(tempfile.mkdtemp(prefix="held_pipeline_"))
        runs = {
            "held old": (codes["old"], args.hold),
            "held new": (codes["new"], args.hold),
            "plain new": (codes["new"], 0),
        }
        pipeline: dict[str, list[float]] = {c: [] for c in runs}
        for _ in range(args.repeats):
            for name, (cls, hold) in runs.items():
                pipeline[name].append(pipeline_seconds(cls, parts, args.channels, args.interval, hold, folder))
            loads.append(os.getloadavg()[0])
    result: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "quick")},
        "rows": n,
        "readings": readings,
        "closed_buckets_held": closed,
        "load_1min": loads,
        "modes": {},
    }
    print(
        f"{args.assets} assets x {args.rows} rows x {args.channels} channels ({readings:,} readings, "
        f"{readings / n / args.channels:.0%} of cells), batches of {args.batch} rows per asset, "
        f"{args.interval} min buckets, hold {args.hold} min; old = {args.old_rev}; the two agree "
        f"({closed} closed held buckets); load {min(loads):.1f}-{max(loads):.1f}"
    )
    for mode in modes:
        row = {}
        for code in codes:
            median = statistics.median(seconds[mode][code])
            row[code] = {
                "seconds": seconds[mode][code],
                "us_per_row": median / n * 1e6,
                "readings_per_s": readings / median,
            }
            runs = ", ".join(f"{s / n * 1e6:.2f}" for s in seconds[mode][code])
            print(
                f"  {mode:5s} {code}: {row[code]['us_per_row']:8.2f} us/row ({runs}), "
                f"{row[code]['readings_per_s']:12,.0f} readings/s"
            )
        result["modes"][mode] = row
    if args.pipeline:
        result["pipeline"] = {}
        for name, times in pipeline.items():
            median = statistics.median(times)
            result["pipeline"][name] = {"seconds": times, "readings_per_s": readings / median}
            each = ", ".join(f"{readings / s:,.0f}" for s in times)
            print(f"  pipeline {name}: {readings / median:10,.0f} readings/s ({each}), median {median:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
