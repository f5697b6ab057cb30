"""Issue 15: the window model (a 1-D CNN over the last 30 cycles) local / federated / personalised / pooled on the
C-MAPSS sites of ``forewarn bench federated --dataset cmapss``.

One process per seed (``--first-seed``) so two seeds can run side by side; ``--merge`` adds up the per-seed files
into the runner's summary and comparison. ``--validate`` replaces each site's test engines by a fifth of its
training engines (settings are chosen there, never on the official test engines); ``--set key=value`` overrides a
window setting (``forewarn.federated.benchmark.WINDOW_SETTINGS``).

Usage::

    python benchmarks/federated_window.py --data-dir ../shared/data --first-seed 0 --json w0.json
    python benchmarks/federated_window.py --merge w0.json w1.json w2.json --json window.json
"""

from __future__ import annotations

import argparse
import ast
import json
import resource
import time
from pathlib import Path
from typing import Any

from forewarn.federated import benchmark


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def merge(files: list[str]) -> dict[str, Any]:
    """The summary and comparison over the per-seed files' raw rows."""
    rows: list[dict[str, Any]] = []
    parts = [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]
    for part in parts:
        rows += part["rows"]
    return {
        "results": benchmark.summarise("cmapss", rows, "rmse"),
        "comparison_window": benchmark.comparison(rows, "rmse", "window-"),
        "window_settings": parts[0]["window_settings"],
        "federated_runs": [r for p in parts for r in p["federated_runs"]],
        "wall_s": [p["wall_s"] for p in parts],
        "cpu_s": [p.get("cpu_s") for p in parts],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--validate", action="store_true")
    parser.add_argument("--arms", default=",".join(benchmark.WINDOW_MODELS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--merge", nargs="+")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    if args.merge:
        out = merge(args.merge)
    else:
        window = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
        started, cpu = time.perf_counter(), time.process_time()
        out = benchmark.run(
            args.arms.split(","),
            args.seeds,
            args.data_dir,
            dataset="cmapss",
            window=window,
            sites_options={"validate": True} if args.validate else None,
            first_seed=args.first_seed,
            raw=True,
            progress=lambda m: print(f"{time.strftime('%H:%M:%S')} {m}", flush=True),
        )
        out["wall_s"] = round(time.perf_counter() - started, 1)
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        out["cpu_s"] = round(time.process_time() - cpu + children, 1)
        out["validate"] = bool(args.validate)
    Path(args.json).write_text(json.dumps(out, indent=1, default=float), encoding="utf-8")
    for entry in out["results"]:
        if entry["site"] == "mean" or entry["held_out"]:
            print(f"{entry['arm']:>20} {entry['site']:>8} rmse {entry['rmse']:.2f} ± {entry['rmse_std']:.2f}")
    comp = out.get("comparison_window", {})
    print(
        "gain over local",
        round(comp.get("gain_over_local", float("nan")), 4),
        "gap to pooled",
        round(comp.get("gap_to_pooled", float("nan")), 4),
        "wall",
        out["wall_s"],
    )


if __name__ == "__main__":
    main()
