"""Historian exports recorded on change (deadband compression with a heartbeat), through every command.

Plant historians (PI, IP.21, Wonderware, Canary) keep a tag's value only when it moves past a deadband, with a
heartbeat at most every few hours (PI's CompMax is 8 h by default): an export of *recorded* values holds a row
per tag only when the value changed, and the value holds until the tag's next row. This script writes such an
export of a twin fleet, and the uncompressed export of the same fleet, and runs the commands a plant engineer
would run on each, with their defaults (issue 12 item 2, issue 14 item 2).

``write``: from ``forewarn simulate --parquet T`` (its ``readings.parquet``, ``events.parquet``, ``assets.json``)
one folder per variant under ``--out``: ``raw`` (every value), ``db<P>`` for each deadband ``P`` (percent of the
tag's span, the 0.5th to 99.5th percentile of its values). Each folder holds ``historian.csv`` (``tag, timestamp,
value, quality``), ``tag_map.csv`` (``tag, asset, channel, unit``; the compressed variants add ``hold``, the
heartbeat as a historian's tag configuration states it, e.g. ``8h``), ``events.csv`` (Forewarn's event
columns) and ``assets.csv`` (``asset_id, site, line, class, name, install_date``).

A value is recorded when it differs from the tag's last recorded value by more than the deadband, or when the
last recorded value is ``--heartbeat`` hours old or older (the exception test of a historian's deadband; its
"previous value" rule, which also keeps the last value before a jump, is not modelled).

``run``: per variant, a fresh store and models folder, then ``assets import``, ``ingest --tag-map``, ``ingest``
(events), ``train --horizon 7d``, ``backtest --by site --horizon 7d --json``, ``score --format csv``,
``detect --store`` (and with ``--interval`` when ``--detect-interval`` is given), and ``serve`` with ``GET
/api/v1/fleet/health`` (``--detect-only``: ingest and ``detect`` only). Counts: readings stored, score rows and
fleet-health assets with status ``insufficient data``, detect's episodes, backtest's events (failures caught,
false cases per asset-year) and row ROC-AUC. Extra ingest options (``--ingest-option``) apply to every variant.

    forewarn simulate --sites 3 --assets 36 --days 270 --interval 30min --degradation-scale 3 --seed 11 --parquet T
    python benchmarks/historian_exports.py write --twin T --out X --deadbands 0.5,2 --heartbeat 8
    python benchmarks/historian_exports.py run --exports X --work W --json W/result.json
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOREWARN = str(Path(sys.executable).parent / "forewarn")
INSUFFICIENT = "insufficient data"


def recorded_mask(ts_s: np.ndarray, values: np.ndarray, deadband: float, heartbeat_s: float) -> np.ndarray:
    """Which values of one tag (sorted by time, seconds) a historian keeps: the first, then each that differs
    from the last kept one by more than ``deadband`` or comes ``heartbeat_s`` or more after it.

    >>> recorded_mask(np.array([0, 1, 2, 3, 9.0]), np.array([1.0, 1.05, 1.2, 1.21, 1.21]), 0.1, 5).tolist()
    [True, False, True, False, True]
    """
    keep = np.zeros(len(values), dtype=bool)
    if not len(values):
        return keep
    last_v, last_t = values[0], ts_s[0]
    keep[0] = True
    for i in range(1, len(values)):
        v, t = values[i], ts_s[i]
        if abs(v - last_v) > deadband or t - last_t >= heartbeat_s:
            keep[i] = True
            last_v, last_t = v, t
    return keep


def long_readings(twin: Path) -> pd.DataFrame:
    """The twin's readings as ``asset_id, ts, channel, value`` sorted by tag then time (missing values left out)."""
    wide = pd.read_parquet(twin / "readings.parquet")
    long = wide.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    return long.sort_values(["asset_id", "channel", "ts"], ignore_index=True)


def compress(long: pd.DataFrame, share: float, heartbeat_h: float) -> pd.DataFrame:
    """The rows of ``long`` a historian records with a deadband of ``share`` of each tag's span."""
    keep = np.zeros(len(long), dtype=bool)
    seconds = long["ts"].astype("int64").to_numpy() / 1e6
    values = long["value"].to_numpy(dtype="float64")
    bounds = np.flatnonzero(
        np.r_[
            True,
            (long["asset_id"].to_numpy()[1:] != long["asset_id"].to_numpy()[:-1])
            | (long["channel"].to_numpy()[1:] != long["channel"].to_numpy()[:-1]),
            True,
        ]
    )
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        v = values[lo:hi]
        span = float(np.quantile(v, 0.995) - np.quantile(v, 0.005))
        keep[lo:hi] = recorded_mask(seconds[lo:hi], v, share * span, heartbeat_h * 3600.0)
    return long[keep]


def tag_of(asset_id: pd.Series, channel: pd.Series) -> pd.Series:
    """A historian's tag name of an asset's channel, e.g. ``PLANT1.S1_P001.BEARING_TEMP``."""
    return "PLANT1." + asset_id.str.replace("-", "_") + "." + channel.str.upper()


def write_variant(long: pd.DataFrame, twin: Path, out: Path, hold: str | None) -> dict[str, Any]:
    """One export folder: the historian's rows, its tag map (``hold`` column when given), events and assets."""
    out.mkdir(parents=True, exist_ok=True)
    rows = long.sort_values(["ts", "asset_id", "channel"], ignore_index=True)
    pd.DataFrame(
        {
            "tag": tag_of(rows["asset_id"], rows["channel"]),
            "timestamp": pd.to_datetime(rows["ts"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": rows["value"].map("{:.6g}".format),
            "quality": "Good",
        }
    ).to_csv(out / "historian.csv", index=False)
    plant = json.loads((twin / "assets.json").read_text())["assets"]
    units = {(a["asset_id"], c["name"]): c.get("unit", "") for a in plant for c in a["channels"]}
    pairs = long[["asset_id", "channel"]].drop_duplicates().reset_index(drop=True)
    tag_map = pd.DataFrame(
        {
            "tag": tag_of(pairs["asset_id"], pairs["channel"]),
            "asset": pairs["asset_id"],
            "channel": pairs["channel"],
            "unit": [units.get((a, c), "") for a, c in pairs.itertuples(index=False)],
        }
    )
    if hold is not None:
        tag_map["hold"] = hold
    tag_map.to_csv(out / "tag_map.csv", index=False)
    events = pd.read_parquet(twin / "events.parquet")
    events.assign(ts=pd.to_datetime(events["ts"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        out / "events.csv", index=False
    )
    pd.DataFrame(
        {
            "asset_id": [a["asset_id"] for a in plant],
            "site": [a["site_id"] for a in plant],
            "line": [a["line_id"] for a in plant],
            "class": [a["asset_class"] for a in plant],
            "name": [a["name"] for a in plant],
            "install_date": [a.get("install_date") for a in plant],
        }
    ).to_csv(out / "assets.csv", index=False)
    return {"rows": len(long), "tags": len(pairs)}


def write(args: argparse.Namespace) -> dict[str, Any]:
    """Write the uncompressed export and one per deadband."""
    long = long_readings(args.twin)
    hold = f"{args.heartbeat:g}h"
    summary = {"raw": write_variant(long, args.twin, args.out / "raw", None)}
    for share in args.deadbands:
        kept = compress(long, share / 100.0, args.heartbeat)
        per_channel = (kept.groupby("channel").size() / long.groupby("channel").size()).round(3)
        name = f"db{share:g}"
        summary[name] = {
            **write_variant(kept, args.twin, args.out / name, hold),
            "share_kept": round(len(kept) / len(long), 4),
            "kept_by_channel": per_channel.to_dict(),
        }
    return summary


def cli(args: list[str], log: Path) -> tuple[str, float]:
    """Run ``forewarn ARGS``; stop with its output when it fails. Returns its output and wall seconds."""
    began = time.perf_counter()
    done = subprocess.run([FOREWARN, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    with log.open("a") as f:
        f.write(f"$ forewarn {' '.join(args)}\n{done.stdout}\n{done.stderr}\n[{seconds:.1f} s, rc {done.returncode}]\n")
    if done.returncode:
        raise SystemExit(f"forewarn {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr, seconds


def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_health(store: Path, models: Path, log: Path) -> dict[str, Any]:
    """Start ``forewarn serve`` read-only, ask ``/api/v1/fleet/health``, stop it; statuses counted."""
    port = free_port()
    cmd = [FOREWARN, "serve", "--store", str(store), "--models", str(models), "--port", str(port), "--read-only"]
    with log.open("a") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    try:
        body: Any = None
        for _ in range(600):
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/fleet/health", timeout=60) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(f"forewarn serve stopped ({proc.returncode}); see {log}") from None
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    items = body if isinstance(body, list) else body.get("assets", body.get("items", []))
    statuses = pd.Series([str(i.get("status")) for i in items]).value_counts().to_dict()
    risks = pd.Series([str(i.get("risk_level")) for i in items]).value_counts().to_dict()
    return {"assets": len(items), "status": statuses, "risk": risks}


def run_variant(
    folder: Path,
    work: Path,
    ingest_options: list[str],
    detect_interval: str | None,
    train_options: list[str],
    detect_only: bool = False,
) -> dict[str, Any]:
    """Every command on one export folder, with their defaults; the counts of the module docstring. With
    ``detect_only``: the store's ingest and ``detect --store`` only (no train, backtest, score or serve)."""
    work.mkdir(parents=True, exist_ok=True)
    store, models, log = work / "store.duckdb", work / "models", work / "commands.log"
    for stale in (store, log):
        stale.unlink(missing_ok=True)
    out: dict[str, Any] = {"seconds": {}}
    sec = out["seconds"]
    _, sec["assets"] = cli(["assets", "import", str(folder / "assets.csv"), "--store", str(store)], log)
    text, sec["ingest"] = cli(
        [
            "ingest",
            str(folder / "historian.csv"),
            "--store",
            str(store),
            "--tag-map",
            str(folder / "tag_map.csv"),
            "--time-column",
            "timestamp",
            *ingest_options,
        ],
        log,
    )
    out["ingest_notes"] = [line for line in text.splitlines() if "note" in line.lower() or "hold" in line.lower()]
    _, sec["events"] = cli(["ingest", str(folder / "events.csv"), "--store", str(store), "--kind", "events"], log)
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        out["readings"] = int(con.execute("SELECT count(*) FROM reading_values").fetchone()[0])  # type: ignore[index]
    if not detect_only:
        supervised(store, models, work, log, train_options, out)
    detected(store, work, log, detect_interval, out)
    if not detect_only:
        began = time.perf_counter()
        out["fleet_health"] = fleet_health(store, models, log)
        sec["serve"] = time.perf_counter() - began
    out["seconds"] = {k: round(v, 1) for k, v in sec.items()}
    return out


def supervised(store: Path, models: Path, work: Path, log: Path, train_options: list[str], out: dict[str, Any]) -> None:
    """``train``, ``backtest`` and ``score`` on the store: their figures into ``out``."""
    sec = out["seconds"]
    _, sec["train"] = cli(
        ["train", "--store", str(store), "--models", str(models), "--horizon", "7d", "--promote", *train_options], log
    )
    card = sorted(models.glob("*/*/card.json")) or sorted(models.glob("**/card.json"))
    if card:
        out["card"] = {k: v for k, v in json.loads(card[-1].read_text()).items() if k in ("interval", "metrics")}
    back = work / "backtest.json"
    _, sec["backtest"] = cli(
        ["backtest", "--store", str(store), "--by", "site", "--horizon", "7d", "--json", str(back)], log
    )
    result = json.loads(back.read_text())
    out["events"] = {
        k: result["events"].get(k)
        for k in ("failures", "caught", "caught_share", "lead_time_hours_median", "false_cases_per_asset_year")
    }
    out["rows"] = {k: result["rows"].get(k) for k in ("roc_auc", "pr_auc", "f1", "far")}
    score = work / "score.csv"
    _, sec["score"] = cli(
        ["score", "--store", str(store), "--models", str(models), "--format", "csv", "--out", str(score)], log
    )
    ranked = pd.read_csv(score)
    out["score"] = {
        "assets": len(ranked),
        "status": ranked.get("status", pd.Series(dtype=str)).value_counts().to_dict(),
        "risk": ranked.get("risk", pd.Series(dtype=str)).value_counts(dropna=False).astype(int).to_dict(),
    }


def detected(store: Path, work: Path, log: Path, detect_interval: str | None, out: dict[str, Any]) -> None:
    """``detect --store`` (and with ``--interval``): episodes and rows into ``out``."""
    sec = out["seconds"]
    episodes = work / "episodes.csv"
    _, sec["detect"] = cli(
        ["detect", "--store", str(store), "--out", str(work / "detect.csv"), "--events", str(episodes)], log
    )
    out["detect"] = {"episodes": len(pd.read_csv(episodes)), "rows": len(pd.read_csv(work / "detect.csv"))}
    if detect_interval:
        _, sec["detect_interval"] = cli(
            [
                "detect",
                "--store",
                str(store),
                "--out",
                str(work / "detect_i.csv"),
                "--events",
                str(work / "episodes_i.csv"),
                "--interval",
                detect_interval,
            ],
            log,
        )
        out["detect_interval"] = {
            "interval": detect_interval,
            "episodes": len(pd.read_csv(work / "episodes_i.csv")),
            "rows": len(pd.read_csv(work / "detect_i.csv")),
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`run_variant` on each export folder under ``--exports`` (or those named)."""
    names = args.variants or sorted(p.name for p in args.exports.iterdir() if (p / "historian.csv").is_file())
    results = {}
    for name in names:
        results[name] = run_variant(
            args.exports / name,
            args.work / name,
            args.ingest_option,
            args.detect_interval,
            args.train_option,
            args.detect_only,
        )
        print(json.dumps({name: results[name]}, default=str), flush=True)
    return results


def main() -> None:
    """``write`` or ``run``, as the module docstring says."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    w = sub.add_parser("write")
    w.add_argument("--twin", type=Path, required=True)
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--deadbands", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 2.0])
    w.add_argument("--heartbeat", type=float, default=8.0, help="hours")
    r = sub.add_parser("run")
    r.add_argument("--exports", type=Path, required=True)
    r.add_argument("--work", type=Path, required=True)
    r.add_argument("--variants", type=lambda s: s.split(","), default=None)
    r.add_argument("--ingest-option", action="append", default=[], help="extra ingest argument (repeatable)")
    r.add_argument("--train-option", action="append", default=[], help="extra train argument (repeatable)")
    r.add_argument("--detect-interval", help="also run detect --store --interval this (e.g. 30min)")
    r.add_argument("--detect-only", action="store_true", help="ingest and detect --store only")
    r.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = write(args) if args.part == "write" else run(args)
    text = json.dumps(result, indent=1, default=str)
    if args.part == "write":
        print(text)
    if getattr(args, "json", None):
        args.json.write_text(text)


if __name__ == "__main__":
    main()
