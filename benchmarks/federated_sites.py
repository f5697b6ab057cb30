"""Issue 15, sensitivity study (not the standing protocol): federated / local / pooled on C-MAPSS as the engines
per site shrink.

The standing (b) benchmark deals each of FD001, FD002 and FD004 to 3 sites (``forewarn bench federated --dataset
cmapss``); this script deals each subset to ``--parts`` sites instead (6, 12, ...: the same deal by engine and by
operating-regime mix, :func:`forewarn.bench.federated.cmapss_sites`), everything else as the standing benchmark
(the official test engines dealt the same way, the last part of FD004 held out, the same settings). It answers
one question: at what site size does federation start to pay on this data? The standing figure stays the
3-site deal's.

``--family window`` runs the window model's arms (``cnn-rul``'s 1-D CNN, :data:`WINDOW_SETTINGS`),
``--family hist`` the histogram boosting's (deterministic: one seed is every seed). One (parts, family, seed) a
process; ``--merge`` adds per-seed files of one (parts, family) into the summary.

Usage::

    python benchmarks/federated_sites.py --data-dir ../shared/data --parts 6 --family window --seed 0 --json s.json
    python benchmarks/federated_sites.py --merge s0.json s1.json s2.json --json merged.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from forewarn.federated import benchmark

ARMS = {
    "window": ("window-local", "window-federated", "window-pooled"),
    "hist": ("hist-local", "hist-federated", "hist-pooled"),
}


def merge(files: list[str]) -> dict[str, Any]:
    """The summary and comparison over per-seed files of one (parts, family)."""
    parts = [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]
    if len({(p["parts"], p["family"]) for p in parts}) != 1:
        raise SystemExit("merge files of one --parts and --family only")
    rows = [r for p in parts for r in p["rows"]]
    family = parts[0]["family"]
    return {
        "parts": parts[0]["parts"],
        "family": family,
        "sites": parts[0]["sites"],
        "results": benchmark.summarise("cmapss", rows, "rmse"),
        "comparison": benchmark.comparison(rows, "rmse", family + "-"),
        "wall_s": [p["wall_s"] for p in parts],
        "cpu_s": [p["cpu_s"] for p in parts],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--parts", type=int, default=6, help="sites per C-MAPSS subset (the standing deal: 3)")
    parser.add_argument("--family", choices=sorted(ARMS), default="window")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--merge", nargs="+")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    if args.merge:
        out = merge(args.merge)
    else:
        started, cpu = time.perf_counter(), time.process_time()
        result = benchmark.run(
            list(ARMS[args.family]),
            1,
            args.data_dir,
            dataset="cmapss",
            sites_options={"parts": args.parts},
            first_seed=args.seed,
            raw=True,
            progress=lambda m: print(f"{time.strftime('%H:%M:%S')} {m}", flush=True),
        )
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = {
            "parts": args.parts,
            "family": args.family,
            "seed": args.seed,
            "sites": sorted({r["site"] for r in result["rows"]}),
            "results": result["results"],
            "comparison": result["comparison_" + args.family],
            "rows": result["rows"],
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(time.process_time() - cpu + usage.ru_utime + usage.ru_stime, 1),
        }
    Path(args.json).write_text(json.dumps(out, indent=1, default=float), encoding="utf-8")
    for entry in out["results"]:
        if entry["site"] == "mean" or entry["held_out"]:
            print(f"{entry['arm']:>16} {entry['site']:>8} rmse {entry['rmse']:.2f} ± {entry['rmse_std']:.2f}")
    comp = out["comparison"]
    print(
        f"parts {out['parts']} {out['family']}: gain over local {comp.get('gain_over_local', float('nan')):.4f}, "
        f"gap to pooled {comp.get('gap_to_pooled', float('nan')):.4f}, wall {out['wall_s']} s, cpu {out['cpu_s']} s"
    )


if __name__ == "__main__":
    main()
