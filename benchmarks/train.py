"""Cost of ``forewarn train`` and ``forewarn backtest --by time --folds 12`` on a year of 1-minute data.

Issue 12's cost targets: train on 100 assets x 365 days at 1 minute (about 50 M readings) in at most 5 minutes and
4 GiB on 2 cores; a 12-step walk-forward backtest in at most 20 minutes. Ingest is measured on its own.

The data: the digital twin at 1-minute steps (``FleetConfig(interval="1min")``, 4 sites, the given seed),
rendered chunk by chunk to wide Parquet files that keep ``--channels`` (default ``vib_rms``, one channel, which
every asset class has: 100 x 525,600 = 52.6 M readings, the issue's count; ``--channels all`` keeps the 14-18
channels of each class, about 840 M readings), with the twin's events and asset list. Making the files is not
timed. Then, each a subprocess timed with ``/usr/bin/time`` (wall seconds and peak RSS):

1. ``forewarn assets import assets.csv`` and ``forewarn ingest readings/*.parquet`` (and the events file);
2. ``forewarn train --store DB --models DIR`` with its defaults (failure within 24 h, interval chosen from the
   data: 1 h, the zoo compared on by-asset folds);
3. ``forewarn backtest --store DB --by time --folds 12`` with its defaults.

``--profile STEP`` (train or backtest) runs that step in this process under cProfile instead and prints where the
time goes (the 25 functions of largest cumulative and own time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FOREWARN = str(Path(sys.executable).parent / "forewarn")


def make_files(work: Path, assets: int, days: int, seed: int, channels: list[str]) -> dict[str, Any]:
    """Render the twin at 1 minute into ``work/readings/*.parquet``, ``events.parquet`` and ``assets.csv``."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from forewarn.twin.assets import CHANNEL_NAMES
    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    keep = list(CHANNEL_NAMES) if channels == ["all"] else channels
    started = time.perf_counter()
    fleet = simulate_fleet(FleetConfig(sites=4, assets=assets, days=days, seed=seed, interval="1min"))
    folder = work / "readings"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    values = 0
    for k, chunk in enumerate(fleet.iter_chunks()):
        table = chunk.readings_table()
        table = table.set_column(0, "asset_id", table.column("asset_id").cast(pa.string()))
        table = table.select(["asset_id", "ts", *keep])
        values += sum(
            table.column(c).length()
            - table.column(c).null_count
            - int(pa.compute.sum(pa.compute.is_nan(table.column(c))).as_py() or 0)
            for c in keep
        )
        pq.write_table(table, folder / f"chunk{k:03d}.parquet")
    events = fleet.events
    events.to_parquet(work / "events.parquet", index=False)
    pd.DataFrame(
        [{"asset_id": a.asset_id, "site": a.site_id, "line": a.line_id, "class": a.asset_class} for a in fleet.assets]
    ).to_csv(work / "assets.csv", index=False)
    return {
        "assets": assets,
        "days": days,
        "seed": seed,
        "channels": keep,
        "readings": int(values),
        "failures": int((events["kind"] == "failure").sum()),
        "files": k + 1,
        "make_seconds": round(time.perf_counter() - started, 1),
    }


def run(args: list[str], work: Path, name: str, timeout: float | None = None) -> dict[str, Any]:
    """A forewarn command in a subprocess: wall seconds, peak RSS (MiB), load average at the end."""
    timing = work / f"{name}.time"
    started = time.perf_counter()
    with open(work / f"{name}.log", "w") as log:
        try:
            rc = subprocess.run(
                ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=work,
                timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    shown = [a for a in args if not a.endswith(".parquet") or "chunk000" in a or "events" in a]
    out: dict[str, Any] = {
        "command": " ".join(shown).replace(FOREWARN, "forewarn").replace("chunk000", "chunk*"),
        "rc": rc,
        "seconds": round(time.perf_counter() - started, 1),
        "load1": round(os.getloadavg()[0], 2),
    }
    if timing.exists() and (parts := timing.read_text().split()) and parts[-1].isdigit():
        out["peak_rss_mib"] = round(int(parts[-1]) / 1024, 1)
    if rc:
        out["tail"] = (work / f"{name}.log").read_text()[-1500:]
    print(json.dumps({name: out}), flush=True)
    return out


def profile(step: str, store: Path, models: Path, top: int = 25) -> None:
    """Run ``step`` in this process under cProfile and print the heaviest functions."""
    import forewarn

    prof = cProfile.Profile()
    prof.enable()
    if step == "train":
        forewarn.train(store, models)
    else:
        forewarn.backtest(store, by="time", folds=12)
    prof.disable()
    stats = pstats.Stats(prof).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--channels", default="vib_rms", help="Comma-separated channels to keep, or all.")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="Reuse the files and the store already in --work.")
    parser.add_argument("--reuse-files", action="store_true", help="Reuse the Parquet files in --work (data.json).")
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--backtest-timeout", type=float, default=2400.0)
    parser.add_argument("--profile", choices=("train", "backtest"), default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="forewarn-cost-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    store, models = work / "cost.duckdb", work / "models"
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load1_start": round(os.getloadavg()[0], 2)}
    if args.profile:
        profile(args.profile, store, work / "models_profile")
        return
    if not args.reuse:
        if args.reuse_files and (work / "data.json").exists():
            made = json.loads((work / "data.json").read_text())
        else:
            made = make_files(work, args.assets, args.days, args.seed, args.channels.split(","))
            (work / "data.json").write_text(json.dumps(made))
        result["data"] = made
        print(json.dumps({"data": made}), flush=True)
        store.unlink(missing_ok=True)
        result["assets_import"] = run(
            [FOREWARN, "assets", "--store", str(store), "import", str(work / "assets.csv")], work, "assets_import"
        )
        files = sorted(str(p) for p in (work / "readings").glob("*.parquet"))
        result["ingest"] = run(
            [FOREWARN, "ingest", *files, "--store", str(store), "--kind", "readings"], work, "ingest"
        )
        if result["ingest"]["rc"] == 0:
            result["ingest"]["readings_per_s"] = round(made["readings"] / result["ingest"]["seconds"])
        result["ingest_events"] = run(
            [FOREWARN, "ingest", str(work / "events.parquet"), "--store", str(store), "--kind", "events"],
            work,
            "ingest_events",
        )
        result["store_mib"] = round(store.stat().st_size / 2**20, 1)
    shutil.rmtree(models, ignore_errors=True)
    result["train"] = run([FOREWARN, "train", "--store", str(store), "--models", str(models)], work, "train")
    cards = sorted(models.glob("*/v*/card.json"))
    if cards:
        card = json.loads(cards[-1].read_text())
        result["train_card"] = {
            "model": card["model"],
            "interval": card["recipe"]["interval"],
            "training_rows": card["recipe"]["training_rows"],
            "rows": card["data"]["rows"],
            "train_seconds": card["train_seconds"],
        }
    if not args.skip_backtest:
        result["backtest"] = run(
            [
                FOREWARN,
                "backtest",
                "--store",
                str(store),
                "--by",
                "time",
                "--folds",
                "12",
                "--json",
                str(work / "backtest.json"),
            ],
            work,
            "backtest",
            timeout=args.backtest_timeout,
        )
    print(json.dumps(result, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
