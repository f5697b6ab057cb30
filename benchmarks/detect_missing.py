"""Label-free detection on values missing at random and on rounded values (issue 14, item 2: gaps).

A failing twin fleet (``--sites`` x ``--assets`` assets, ``--days`` days of hourly rows, degradation 3x faster
than life, as ``forewarn simulate --sites 2 --assets 16 --days 180 --interval 1h --degradation-scale 3`` writes
it) is scored through :func:`forewarn.detect.detect_frame` (``forewarn detect``'s path: each asset on its own,
its gaps filled as detect fills them) in several variants, and the episodes (rows with ``alarm`` 1) are counted:

* ``kN``: N % of each channel's values blanked at random (a historian's bad-quality values skipped);
* ``kNr``: the same, then every value rounded to four decimals (as the historian export of
  ``benchmarks/walk_exports.py`` writes it); ``k0r``: rounded only.

``--params`` passes the detector's parameters as JSON (e.g. ``'{"rounding": true}'``). Torch and BLAS run on one
thread. Run::

    .venv/bin/python benchmarks/detect_missing.py --seed 11 --variants k0,k1,k3,k10,k0r,k3r

A fifth or more of a channel's values missing, carried forward, is a staircase like a historian's on-change export;
``k20,k30,k50`` measure that it is not read as a deadband (``robust.floored``; ``--blank-seed`` 7, 8, 9 for other
draws of the blanked cells)::

    .venv/bin/python benchmarks/detect_missing.py --seed 11 --variants k0,k10,k20,k30,k50 --blank-seed 8
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: decimals a historian export writes (``benchmarks/walk_exports.py``)
DECIMALS = 4


def variant(readings: pd.DataFrame, name: str, rng: np.random.Generator) -> pd.DataFrame:
    """The readings as variant ``name`` has them (module text)."""
    if not name.startswith("k"):
        raise SystemExit(f"unknown variant {name!r}: expected kN or kNr, e.g. k3 or k3r")
    rounded = name.endswith("r")
    share = float(name[1:-1] if rounded else name[1:]) / 100.0
    out = readings.copy()
    channels = [c for c in out.columns if c not in ("asset_id", "ts")]
    if share > 0:
        for channel in channels:
            out.loc[rng.random(len(out)) < share, channel] = np.nan
    if rounded:
        out[channels] = out[channels].round(DECIMALS)
    return out


def main(argv: Sequence[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=11, help="the twin fleet's seed (11, 12: validation)")
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--assets", type=int, default=16)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--variants", default="k0,k1,k3,k10,k0r,k3r")
    parser.add_argument("--params", default="{}", help="the detector's parameters, JSON")
    parser.add_argument("--blank-seed", type=int, default=7)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from forewarn.detect import detect_frame
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=args.sites, assets=args.assets, days=args.days, seed=args.seed, interval="1h", degradation_scale=3.0
        )
    )
    params = json.loads(args.params)
    rng = np.random.default_rng(args.blank_seed)
    rows = []
    for name in args.variants.split(","):
        frame = variant(fleet.readings, name, rng)
        start = time.perf_counter()
        result = detect_frame(frame, timestamp_column="ts", asset_column="asset_id", params=params)
        episodes = int(result.scores["alarm"].sum())
        months = len(frame) / (24 * 30.44)
        row = {"variant": name, "episodes": episodes, "per_asset_month": episodes / months, "params": params}
        rows.append(row)
        print(
            f"{name:>5}: {episodes} episodes ({episodes / months:.2f} per asset-month, {len(frame)} rows) "
            f"params {params} [{time.perf_counter() - start:.1f} s]",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
