"""Issue 12's targets for a plant's own data, measured through the use-case layer with its DEFAULT settings.

Every figure comes from the commands a plant would run (``forewarn simulate``, ``ingest``, ``train``,
``backtest``, ``score``), called as subprocesses with the options each target names and nothing else: no option
was tuned on these data. Parts (``python benchmarks/own_data.py PART ...``):

* ``fleet``: the twin fleet (``forewarn simulate --sites 4 --assets 100 --days 365 --seed S --interval 10min``;
  the simulator's default is 1 min), ``forewarn backtest --by site --horizon 7d``. Reports the honest event
  figures (thresholds fitted inside each fold on its calibration assets: ``events``) and, labelled as such, the
  cost-optimal point of the threshold sweep chosen in hindsight. Beside them the twin's *ceiling*: the share of
  failures whose true health (the fleet's ``truth`` table, hourly) 24 h before the failure was already below the
  healthy range, the healthy range being the health values of the rows with no failure within the horizon (7 d)
  and the asset not down; "below" = under their 1st percentile (also given at the 5th). The events are the
  same at every interval (the degradation engine fixes them before rendering), so the truth is read from an
  hourly simulation of the same seed.
* ``plant``: hourly plant data with a 24 h label column made from the twin: ``failure_24h`` = 1 when a failure of
  the asset follows within 24 h (0 < t_fail - ts <= 24 h); exported to CSV (readings and the label only, no
  events), ``forewarn ingest FILE --label-columns failure_24h``, then ``forewarn backtest --by asset --folds 5
  --label failure_24h --horizon 24h``; row F1 and FAR.
* ``cmapss``: C-MAPSS FD001 train engines as CSV (readings; one failure event per engine at its last cycle, as
  ``forewarn demo`` loads them), ``forewarn ingest``, ``forewarn train --task rul``; the card's held-out RMSE;
  then the official test engines ingested into a separate store and ranked by ``forewarn score`` with the trained
  bundle: RMSE of its RUL at each engine's last cycle against ``RUL_FD001`` (the bench's protocol). Each engine, in
  train and test alike, also gets a maintenance event ``action=install`` at its first cycle (a renewal): every
  C-MAPSS trajectory starts with the engine's life (healthy, with unknown initial wear), so the engine was in
  service from that cycle on, and ``forewarn train`` (``--age auto``) counts the age since that renewal as a feature;
  ``--no-installs`` leaves them out (the generic path without an age), ``--cm-seeds`` runs several training seeds.
* ``ai4i``: whether AI4I 2020 goes through the generic path (it tries, and reports the answer).
* ``fans``: can a fan's vibration against its own life's first weeks tell its last week? On a fleet store
  (``--store``, else simulated as in ``fleet``) at the interval ``backtest --horizon 7d`` reads (6 h), per fan
  life (from its latest renewal, else its first row): the ratio of ``vib_band_low`` (the band holding the 1x
  imbalance component), as a trailing 24-row mean, to its mean over the life's first 14 days; its quantiles by
  time to the life's failure, and the event figures of an alarm ``ratio >= r`` over the fans alone (one class
  seen whole, in hindsight: an upper bound on what this reading gives). Meant for validation seeds (not 7, 8, 9).

Data: ``$FOREWARN_DATA_DIR`` (default ``/work/shared/data``); nothing is copied into the repository. Work files
go to ``--work`` (default a temporary folder). Results print as JSON lines and go to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOREWARN = str(Path(sys.executable).parent / "forewarn")
DATA_DIR = Path(os.environ.get("FOREWARN_DATA_DIR", "/work/shared/data"))


def run(args: list[str], work: Path, name: str) -> dict[str, Any]:
    """Run a forewarn command; wall seconds and peak RSS (MiB, from /usr/bin/time when present)."""
    timing = work / f"{name}.time"
    cmd = ["/usr/bin/time", "-f", "%e %M", "-o", str(timing), *args] if Path("/usr/bin/time").exists() else args
    started = time.perf_counter()
    with open(work / f"{name}.log", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    wall = time.perf_counter() - started
    out: dict[str, Any] = {
        "command": " ".join(args).replace(FOREWARN, "forewarn"),
        "rc": proc.returncode,
        "seconds": round(wall, 1),
        "load1": round(os.getloadavg()[0], 2),
    }
    if timing.exists():
        parts = timing.read_text().split()
        if len(parts) >= 2 and parts[-1].isdigit():
            out["peak_rss_mib"] = round(int(parts[-1]) / 1024, 1)
    if proc.returncode:
        out["tail"] = (work / f"{name}.log").read_text()[-2000:]
    return out


def ceiling(
    sites: int,
    assets: int,
    days: int,
    seed: int,
    horizon_h: float = 168.0,
    lead_h: float = 24.0,
    fleet: Any = None,
) -> dict[str, Any]:
    """Share of failures whose true health ``lead_h`` before them was under the healthy range (see module text).
    ``fleet``: the hourly simulation of that seed when the caller already has it."""
    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    if fleet is None:
        fleet = simulate_fleet(FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval="1h"))
    truth = fleet.truth[["asset_id", "ts", "health", "rul_minutes"]]
    ttf_h = truth["rul_minutes"].to_numpy(dtype="float64") / 60.0
    health = truth["health"].to_numpy(dtype="float64")
    healthy_rows = (np.isnan(ttf_h) | (ttf_h > horizon_h)) & (health > 0)
    failures = fleet.events.query("kind == 'failure'")[["asset_id", "ts"]]
    look = failures.assign(ts=(failures["ts"] - pd.Timedelta(hours=lead_h)).dt.floor("h"))
    at = look.merge(truth, on=["asset_id", "ts"], how="left")["health"].to_numpy(dtype="float64")
    out: dict[str, Any] = {
        "failures": int(len(failures)),
        "definition": (
            f"health {lead_h:g} h before the failure < qX of health on rows with no failure within {horizon_h:g} h "
            "(asset not down)"
        ),
    }
    for q in (0.01, 0.05):
        floor = float(np.quantile(health[healthy_rows], q))
        out[f"q{int(q * 100):02d}_floor"] = round(floor, 4)
        out[f"ceiling_q{int(q * 100):02d}"] = float(np.mean(at < floor)) if len(at) else None
    return out


def fleet_per_failure(
    sim: Any,
    data: Any,
    p: np.ndarray,
    threshold: np.ndarray,
    horizon_h: float = 168.0,
    lead_h: float = 24.0,
) -> list[dict[str, Any]]:
    """Every failure of the fleet, scored as the backtest's event figures count it (an alarm ``p >= threshold`` of
    the failure's asset between ``horizon_h`` and ``lead_h`` before it catches it), beside the twin's true health
    ``lead_h`` before it against the healthy range of :func:`ceiling` (rows with no failure within ``horizon_h``,
    asset not down). ``verdict``: ``caught``; ``missed, observable`` (true health under the range's 1st
    percentile); ``missed, observable at q05`` (under the 5th only); ``missed, unobservable`` (inside the range a day
    ahead); ``not scored`` (the failure is outside the scored rows)."""
    truth = sim.truth[["asset_id", "ts", "health", "rul_minutes", "active_fault"]].assign(
        asset_id=lambda f: f["asset_id"].astype(str), ts=lambda f: f["ts"].astype("datetime64[us, UTC]")
    )
    ttf_h = truth["rul_minutes"].to_numpy(dtype="float64") / 60.0
    health = truth["health"].to_numpy(dtype="float64")
    healthy = health[(np.isnan(ttf_h) | (ttf_h > horizon_h)) & (health > 0)]
    floors = {q: float(np.quantile(healthy, q)) for q in (0.01, 0.05)}
    by_asset_truth = {a: g.set_index("ts") for a, g in truth.groupby("asset_id")}
    scored = pd.DataFrame(
        {
            "asset_id": data.frame["asset_id"].astype(str).to_numpy(),
            "ts": data.frame["ts"].astype("datetime64[us, UTC]").to_numpy(),
            "p": p,
            "threshold": threshold,
        }
    )
    scored = scored[scored["p"].notna()]
    spans = scored.groupby("asset_id")["ts"].agg(["min", "max"])
    by_asset = {a: g for a, g in scored.groupby("asset_id")}
    out = []
    for event in sim.events.query("kind == 'failure'").itertuples():
        asset, t = str(event.asset_id), pd.Timestamp(event.ts).tz_convert("UTC")
        mine = by_asset.get(asset)
        before_h = None if mine is None else ((t - mine["ts"]) / pd.Timedelta(hours=1)).to_numpy()
        inside = None if before_h is None else (before_h >= lead_h) & (before_h <= horizon_h)
        in_span = asset in spans.index and spans.loc[asset, "min"] < t <= spans.loc[asset, "max"] + pd.Timedelta(
            data.interval
        )
        window = None if mine is None or inside is None else mine[inside]
        alarms = None if window is None else window[window["p"] >= window["threshold"]]
        look = by_asset_truth[asset]["health"].asof((t - pd.Timedelta(hours=lead_h)).floor("h"))
        week = by_asset_truth[asset]["health"].asof((t - pd.Timedelta(hours=horizon_h)).floor("h"))
        if not in_span:
            verdict = "not scored"
        elif alarms is not None and len(alarms):
            verdict = "caught"
        elif look < floors[0.01]:
            verdict = "missed, observable"
        elif look < floors[0.05]:
            verdict = "missed, observable at q05"
        else:
            verdict = "missed, unobservable"
        out.append(
            {
                "asset_id": asset,
                "ts": str(t),
                "mode": event.failure_mode,
                "verdict": verdict,
                "lead_h": None
                if alarms is None or not len(alarms)
                else float(((t - alarms["ts"]) / pd.Timedelta(hours=1)).max()),
                "rows_in_window": 0 if window is None else int(len(window)),
                "p_max": None if window is None or window.empty else round(float(window["p"].max()), 4),
                "threshold": None if window is None or window.empty else round(float(window["threshold"].median()), 4),
                "health_at_lead": round(float(look), 3),
                "health_at_horizon": round(float(week), 3),
                "q01_floor": round(floors[0.01], 4),
                "q05_floor": round(floors[0.05], 4),
            }
        )
    return out


def by_mode(per_failure: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per failure mode: how many failures, and how many of them each verdict of :func:`fleet_per_failure` holds.

    >>> by_mode([{"mode": "seal_leak", "verdict": "caught"}, {"mode": "seal_leak", "verdict": "missed, observable"}])
    {'seal_leak': {'failures': 2, 'caught': 1, 'missed, observable': 1}}
    """
    out: dict[str, dict[str, int]] = {}
    for failure in per_failure:
        counts = out.setdefault(str(failure["mode"]), {"failures": 0})
        counts["failures"] += 1
        counts[failure["verdict"]] = counts.get(failure["verdict"], 0) + 1
    return dict(sorted(out.items()))


def finer_sweep(data: Any, p: np.ndarray, horizon_h: float, min_lead_h: float) -> dict[str, Any]:
    """The hindsight cost optimum over a finer grid than the runner's (its grid is quantiles 0.5-0.999 of the
    probabilities, which on rare failures jumps from the calibrated plateau to 1.0): the 60 quantiles 1 - 10^-5 ...
    1 - 10^-0.3 of the scored probabilities, scored with the runner's own :func:`event_figures`."""
    try:
        from forewarn.evaluate.cases import event_figures
    except ImportError:  # before 832030d the case figures lived in backtest/
        from forewarn.backtest.events import event_figures  # type: ignore[no-redef]
    from forewarn.decide.thresholds import Costs
    from forewarn.train.labels import renewals

    scored = ~np.isnan(p)
    frame = data.frame.loc[scored, ["asset_id", "ts"]].assign(p=p[scored])
    spans = frame.groupby("asset_id")["ts"].agg(["min", "max"])
    failures = data.events[data.events["kind"] == "failure"][["asset_id", "ts"]]
    failures = failures[failures["asset_id"].isin(spans.index)]
    failures = failures[
        (failures["ts"] > failures["asset_id"].map(spans["min"]))
        & (failures["ts"] <= failures["asset_id"].map(spans["max"]) + pd.Timedelta(data.interval))
    ]
    renew = renewals(data.events) if len(data.events) else None
    grid = np.unique(np.quantile(p[scored], 1 - np.logspace(-5, -0.3, 60)))
    best = None
    for threshold in grid:
        f = event_figures(
            frame,
            failures,
            threshold=float(threshold),
            horizon_hours=horizon_h,
            min_lead_hours=min_lead_h,
            costs=Costs(),
            renewals=renew,
        )
        if best is None or f["cost"] < best["cost"]:
            best = {
                "threshold": float(threshold),
                **{k: f[k] for k in ("caught_share", "lead_time_hours_median", "false_cases_per_asset_year", "cost")},
            }
    return best or {}


def fleet(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Simulate with the CLI; backtest with :func:`forewarn.backtest` (what the CLI calls), keeping the scored
    probabilities for the finer hindsight sweep."""
    import resource

    import forewarn
    from forewarn.backtest import output
    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    rows = []
    for seed in args.seeds:
        store = work / f"fleet{seed}.duckdb"
        store.unlink(missing_ok=True)
        sim = run(
            [
                FOREWARN,
                "simulate",
                "--sites",
                "4",
                "--assets",
                str(args.assets),
                "--days",
                str(args.days),
                "--seed",
                str(seed),
                "--interval",
                "10min",
                "--store",
                str(store),
            ],
            work,
            f"simulate{seed}",
        )
        kept: dict[str, Any] = {}
        original = output.write_outputs

        def capture(
            result: Any,
            data: Any,
            p: Any,
            threshold: Any,
            _kept: dict[str, Any] = kept,
            _original: Any = original,
            **kw: Any,
        ) -> Any:
            _kept.update(data=data, p=p, threshold=threshold)
            return _original(result, data, p, threshold, **kw)

        output.write_outputs = capture
        try:
            started, cpu = time.perf_counter(), time.process_time()
            result = forewarn.backtest(
                store, by="site", horizon="7d", **({"baseline": args.baseline} if args.baseline else {})
            )
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            output.write_outputs = original
        ev, best = result["events"], result["cost_optimal_threshold_in_hindsight"]
        row: dict[str, Any] = {
            "part": "fleet",
            "seed": seed,
            "assets": args.assets,
            "days": args.days,
            "simulate": sim,
            "backtest": {
                "call": "forewarn.backtest(store, by='site', horizon='7d') "
                "(= forewarn backtest --store DB --by site --horizon 7d)",
                "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "load1": round(os.getloadavg()[0], 2),
                "peak_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            "interval": result["interval"],
            "rows": result["rows"],
            "honest": {
                k: ev.get(k)
                for k in (
                    "failures",
                    "caught",
                    "caught_share",
                    "lead_time_hours_median",
                    "false_cases_per_asset_year",
                    "cost",
                    "cost_run_to_failure",
                    "cost_time_based",
                )
            },
            "hindsight_runner_sweep": best,
        }
        row["honest"]["threshold_median"] = result["threshold"]
        row["hindsight_finer_sweep"] = finer_sweep(kept["data"], kept["p"], 168.0, 24.0)
        hourly = simulate_fleet(FleetConfig(sites=4, assets=args.assets, days=args.days, seed=seed, interval="1h"))
        row["ceiling"] = ceiling(4, args.assets, args.days, seed, fleet=hourly)
        row["per_failure"] = fleet_per_failure(hourly, kept["data"], kept["p"], np.asarray(kept["threshold"]))
        row["verdicts"] = pd.Series([f["verdict"] for f in row["per_failure"]]).value_counts().to_dict()
        row["by_mode"] = by_mode(row["per_failure"])
        kept.clear()
        print(json.dumps(row, default=str), flush=True)
        rows.append(row)
        if not args.keep:
            store.unlink(missing_ok=True)
    return rows


def plant_csv(path: Path, assets: int, days: int, seed: int) -> tuple[dict[str, Any], Any]:
    """Hourly twin readings with ``failure_24h`` (1 when a failure follows within 24 h) as one CSV; returns what
    was written and the simulation (its ``truth`` and ``events`` for the per-failure analysis)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    sim = simulate_fleet(FleetConfig(sites=4, assets=assets, days=days, seed=seed, interval="1h"))
    frame = (
        sim.readings.assign(
            asset_id=lambda f: f["asset_id"].astype(str), ts=lambda f: f["ts"].astype("datetime64[ns, UTC]")
        )
        .sort_values(["ts", "asset_id"])
        .reset_index(drop=True)
    )
    frame["failure_24h"] = label_within(frame[["asset_id", "ts"]], sim.events, 24.0)
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), path)
    made = {
        "rows": len(frame),
        "assets": int(frame["asset_id"].nunique()),
        "failures": int((sim.events["kind"] == "failure").sum()),
        "positive_share": float(frame["failure_24h"].mean()),
        "mb": round(path.stat().st_size / 2**20, 1),
    }
    return made, sim


def label_within(rows: pd.DataFrame, events: pd.DataFrame, hours_ahead: float) -> np.ndarray:
    """1 where a failure of the row's asset follows within ``hours_ahead`` (0 < t_fail - ts <= hours_ahead)."""
    failures = events.query("kind == 'failure'")[["asset_id", "ts"]].rename(columns={"ts": "failure_ts"})
    failures = failures.assign(
        asset_id=failures["asset_id"].astype(str), failure_ts=failures["failure_ts"].astype("datetime64[ns, UTC]")
    ).sort_values("failure_ts")
    left = rows.assign(
        asset_id=rows["asset_id"].astype(str), ts=rows["ts"].astype("datetime64[ns, UTC]"), _row=np.arange(len(rows))
    ).sort_values("ts")
    merged = pd.merge_asof(
        left,
        failures,
        left_on="ts",
        right_on="failure_ts",
        by="asset_id",
        direction="forward",
        allow_exact_matches=False,
    ).sort_values("_row")
    ahead = (merged["failure_ts"] - merged["ts"]) / pd.Timedelta(hours=1)
    return ((ahead > 0) & (ahead <= hours_ahead)).astype("int8").to_numpy()


def health_oracle(sim: Any, hours_ahead: float = 24.0) -> dict[str, Any]:
    """The row F1 of a detector that reads the twin's TRUE health (alarm when health < h), at its best h and at
    the h whose false-alarm rate is 3 % (the target's FAR): what a perfect health estimate would score on the
    plant file's label. Rows of a down asset are left out (the backtest does not score them either); the hour a
    failure happens in (labelled 1, true health already 0) is kept."""
    truth = sim.truth[["asset_id", "ts", "health"]].copy()
    truth["asset_id"] = truth["asset_id"].astype(str)
    y = label_within(truth[["asset_id", "ts"]], sim.events, hours_ahead).astype(bool)
    health = truth["health"].to_numpy(dtype="float64")
    keep = (health > 0) | y  # a down asset's rows are not scored; the failure's own hour (health 0) is
    y, health = y[keep], health[keep]
    order = np.argsort(health, kind="stable")
    tp = np.cumsum(y[order])
    fp = np.cumsum(~y[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / max(int(y.sum()), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    far = fp / max(int((~y).sum()), 1)
    best = int(np.argmax(f1))
    at3 = int(np.searchsorted(far, 0.03, side="right")) - 1
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "best_f1": round(float(f1[best]), 4),
        "best": {
            "health_below": float(health[order][best]),
            "precision": float(precision[best]),
            "recall": float(recall[best]),
            "far": float(far[best]),
        },
        "at_far_3pct": {"f1": float(f1[at3]), "precision": float(precision[at3]), "recall": float(recall[at3])},
    }


def per_failure(
    sim: Any, data: Any, p: np.ndarray, threshold: np.ndarray, hours_ahead: float = 24.0
) -> list[dict[str, Any]]:
    """For every failure: how many of its labelled rows (the 24 h before it) the backtest scored and alarmed,
    the highest probability among them against the fold's threshold, and the twin's true health then: whether
    it was below the healthy range's 1st / 5th percentile (rows with no failure within 24 h, asset not down)."""
    truth = sim.truth[["asset_id", "ts", "health"]].assign(asset_id=lambda f: f["asset_id"].astype(str))
    truth["ts"] = truth["ts"].astype("datetime64[us, UTC]")
    label = label_within(truth[["asset_id", "ts"]], sim.events, hours_ahead).astype(bool)
    health = truth["health"].to_numpy(dtype="float64")
    healthy = health[~label & (health > 0)]
    floors = {q: float(np.quantile(healthy, q)) for q in (0.01, 0.05)}
    scored = pd.DataFrame(
        {
            "asset_id": data.frame["asset_id"].astype(str).to_numpy(),
            "ts": data.frame["ts"].astype("datetime64[us, UTC]").to_numpy(),
            "p": p,
            "threshold": threshold,
        }
    ).merge(truth, on=["asset_id", "ts"], how="left")
    out = []
    failures = sim.events.query("kind == 'failure'")
    for event in failures.itertuples():
        t = pd.Timestamp(event.ts).tz_convert("UTC")
        mine = scored[
            (scored["asset_id"] == str(event.asset_id))
            & (scored["ts"] < t)
            & (scored["ts"] >= t - pd.Timedelta(hours=hours_ahead))
        ]
        rows = mine[mine["p"].notna()]
        out.append(
            {
                "asset_id": str(event.asset_id),
                "ts": str(t),
                "mode": getattr(event, "failure_mode", None),
                "label_rows_scored": int(len(rows)),
                "alarmed": int((rows["p"] >= rows["threshold"]).sum()),
                "p_max": None if rows.empty else round(float(rows["p"].max()), 4),
                "threshold": None if rows.empty else round(float(rows["threshold"].median()), 4),
                "health_24h_before": None if mine.empty else round(float(mine["health"].iloc[0]), 3),
                "health_last": None if mine.empty else round(float(mine["health"].iloc[-1]), 3),
                "rows_below_q01": int((mine["health"] < floors[0.01]).sum()),
                "rows_below_q05": int((mine["health"] < floors[0.05]).sum()),
            }
        )
    return out


def plant(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Export, ingest (CLI), then :func:`forewarn.backtest` in this process (what ``forewarn backtest --by asset
    --folds 5 --label failure_24h --horizon 24h`` calls), keeping the scored rows for the per-failure analysis."""
    import forewarn
    from forewarn.backtest import output

    rows = []
    for seed in args.seeds:
        csv, store = work / f"plant{seed}.csv", work / f"plant{seed}.duckdb"
        store.unlink(missing_ok=True)
        made, sim = plant_csv(csv, args.assets, args.days, seed)
        ingest = run(
            [FOREWARN, "ingest", str(csv), "--store", str(store), "--label-columns", "failure_24h"],
            work,
            f"plant_ingest{seed}",
        )
        kept: dict[str, Any] = {}
        original = output.write_outputs

        def capture(
            result: Any,
            data: Any,
            p: Any,
            threshold: Any,
            _kept: dict[str, Any] = kept,
            _original: Any = original,
            **kw: Any,
        ) -> Any:
            _kept.update(data=data, p=p, threshold=threshold)
            return _original(result, data, p, threshold, **kw)

        output.write_outputs = capture
        options = {"baseline": args.baseline} if args.baseline else {}
        try:
            started, cpu = time.perf_counter(), time.process_time()
            result = forewarn.backtest(store, by="asset", folds=5, label="failure_24h", horizon="24h", **options)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            output.write_outputs = original
        row: dict[str, Any] = {
            "part": "plant",
            "seed": seed,
            "csv": made,
            "ingest": ingest,
            "backtest": {
                "call": "forewarn.backtest(store, by='asset', folds=5, label='failure_24h', horizon='24h'"
                + (f", baseline={args.baseline!r}" if args.baseline else "")
                + ") (= forewarn backtest --store DB --by asset --folds 5 --label failure_24h --horizon 24h)",
                "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "load1": round(os.getloadavg()[0], 2),
            },
            "rows": result["rows"],
            "interval": result["interval"],
            "oracle_true_health": health_oracle(sim),
            "per_failure": per_failure(sim, kept["data"], kept["p"], kept["threshold"]),
        }
        print(json.dumps(row, default=str), flush=True)
        rows.append(row)
        if not args.keep:
            csv.unlink(missing_ok=True)
            store.unlink(missing_ok=True)
    return rows


def cmapss(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from forewarn.datasets.cmapss import load_cmapss, to_readings

    data = load_cmapss("FD001", DATA_DIR)
    train = to_readings(data.train, "FD001-train")
    test = to_readings(data.test, "FD001-test")
    train.assign(ts=train["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(work / "cm_train.csv", index=False)
    test.assign(ts=test["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(work / "cm_test.csv", index=False)
    last = train.groupby("asset_id")["ts"].max()
    for name, frame in (("cm_installs.csv", train), ("cm_test_installs.csv", test)):
        first = frame.groupby("asset_id")["ts"].min()
        pd.DataFrame(
            {
                "asset_id": first.index,
                "ts": first.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                "kind": "maintenance",
                "action": "install",
            }
        ).to_csv(work / name, index=False)
    pd.DataFrame(
        {
            "asset_id": last.index,
            "ts": last.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "kind": "failure",
            "failure_mode": "hpc_degradation",
        }
    ).to_csv(work / "cm_failures.csv", index=False)
    for name in ("cm.duckdb", "cm_test.duckdb", "cm_models"):
        path = work / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    out: dict[str, Any] = {"part": "cmapss"}
    out["ingest"] = run(
        [FOREWARN, "ingest", str(work / "cm_train.csv"), "--store", str(work / "cm.duckdb")], work, "cm_ingest"
    )
    out["ingest_events"] = run(
        [FOREWARN, "ingest", str(work / "cm_failures.csv"), "--store", str(work / "cm.duckdb"), "--kind", "events"],
        work,
        "cm_ingest_events",
    )
    if not args.no_installs:
        out["ingest_installs"] = run(
            [FOREWARN, "ingest", str(work / "cm_installs.csv"), "--store", str(work / "cm.duckdb"), "--kind", "events"],
            work,
            "cm_ingest_installs",
        )
    spec = []
    if args.max_rul:  # the C-MAPSS protocol's training cap (125 cycles = 125 h here), through a spec file
        (work / "cm_spec.toml").write_text(f'[train]\nmax_rul = "{args.max_rul}"\n')
        spec = ["--spec", str(work / "cm_spec.toml")]
    out["test_ingest"] = run(
        [FOREWARN, "ingest", str(work / "cm_test.csv"), "--store", str(work / "cm_test.duckdb")], work, "cm_test_ingest"
    )
    if not args.no_installs:
        out["test_ingest_installs"] = run(
            [
                FOREWARN,
                "ingest",
                str(work / "cm_test_installs.csv"),
                "--store",
                str(work / "cm_test.duckdb"),
                "--kind",
                "events",
            ],
            work,
            "cm_test_ingest_installs",
        )
    out["seeds"] = [cmapss_seed(args, work, data, spec, seed) for seed in args.cm_seeds]
    rmse = [r["official_test"]["rmse"] for r in out["seeds"] if "official_test" in r]
    if rmse:
        out["official_test_rmse"] = {"per_seed": rmse, "mean": float(np.mean(rmse)), "median": float(np.median(rmse))}
    print(json.dumps(out, default=str), flush=True)
    return [out]


def cmapss_seed(args: argparse.Namespace, work: Path, data: Any, spec: list[str], seed: int) -> dict[str, Any]:
    """One training seed of the cmapss part: train into ``cm_models/s<seed>``, score the test store with it."""
    models = work / "cm_models" / f"s{seed}"
    out: dict[str, Any] = {"seed": seed}
    out["train"] = run(
        [
            FOREWARN,
            "train",
            "--store",
            str(work / "cm.duckdb"),
            "--models",
            str(models),
            "--task",
            "rul",
            "--seed",
            str(seed),
            *spec,
        ],
        work,
        f"cm_train_s{seed}",
    )
    cards = sorted(models.glob("*/v*/card.json"))
    if cards:
        card = json.loads(cards[-1].read_text())
        out["card"] = {
            **{k: v for k, v in card["metrics"].items() if isinstance(v, (int, float, str))},
            "model": card["model"],
            "train_interval": card["recipe"]["interval"],
            "max_rul_hours": card["recipe"]["max_rul_hours"],
            "age": card["recipe"].get("age"),
            "train_seconds": card["train_seconds"],
        }
    out["score"] = run(
        [
            FOREWARN,
            "score",
            "--store",
            str(work / "cm_test.duckdb"),
            "--models",
            str(models),
            "--format",
            "csv",
            "--out",
            str(work / f"cm_scores_s{seed}.csv"),
        ],
        work,
        f"cm_score_s{seed}",
    )
    if out["score"]["rc"] == 0:
        scores = pd.read_csv(work / f"cm_scores_s{seed}.csv")
        unit = scores["asset_id"].str.rsplit("-", n=1).str[1].astype(int)
        truth = data.test_rul.set_index("unit")["rul"].reindex(unit).to_numpy(dtype="float64")
        predicted = scores["rul"].to_numpy(dtype="float64")
        d = predicted - truth
        out["official_test"] = {
            "engines": int(len(d)),
            "unit": str(scores["unit"].iloc[0]),
            "rmse": float(np.sqrt(np.nanmean(d**2))),
            "phm08": float(np.nansum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1))),
            "missing": int(np.isnan(predicted).sum()),
        }
    print(json.dumps(out, default=str), flush=True)
    return out


def ai4i(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """AI4I rows as a plant file: one row per product (``Product ID`` as the asset), the UDI as minutes."""
    from forewarn.datasets.ai4i import load_ai4i

    data = load_ai4i(DATA_DIR)
    frame = data.frame
    out: dict[str, Any] = {"part": "ai4i", "rows": len(frame)}
    ts = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(frame["udi"], unit="min")
    sensors = [c for c in data.features if c != "type"]
    plant_file = frame[sensors].assign(
        asset_id=frame["product_id"], ts=ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), machine_failure=frame["machine_failure"]
    )
    plant_file.to_csv(work / "ai4i.csv", index=False)
    (work / "ai4i.duckdb").unlink(missing_ok=True)
    out["assets"] = int(plant_file["asset_id"].nunique())
    out["ingest"] = run(
        [
            FOREWARN,
            "ingest",
            str(work / "ai4i.csv"),
            "--store",
            str(work / "ai4i.duckdb"),
            "--label-columns",
            "machine_failure",
        ],
        work,
        "ai4i_ingest",
    )
    out["backtest"] = run(
        [
            FOREWARN,
            "backtest",
            "--store",
            str(work / "ai4i.duckdb"),
            "--by",
            "asset",
            "--label",
            "machine_failure",
            "--horizon",
            "1min",
            "--json",
            str(work / "ai4i_bt.json"),
        ],
        work,
        "ai4i_backtest",
    )
    out["backtest_log"] = (work / "ai4i_backtest.log").read_text()[-1500:]
    print(json.dumps(out, default=str), flush=True)
    return [out]


def fans(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """The fan diagnostic (see the module text), one row per seed."""
    from forewarn.evaluate.cases import event_figures, failures_in
    from forewarn.features.baseline import life_starts
    from forewarn.train.dataset import load_dataset, opened
    from forewarn.train.labels import renewals
    from forewarn.train.spec import TrainSpec

    rows = []
    for seed in args.seeds:
        store = args.store or work / f"fleet{seed}.duckdb"
        if not Path(store).exists():
            simulate = [FOREWARN, "simulate", "--sites", "4", "--assets", str(args.assets), "--days", str(args.days)]
            run([*simulate, "--seed", str(seed), "--interval", "10min", "--store", str(store)], work, f"simulate{seed}")
        with opened(store) as db:
            data = load_dataset(db, TrainSpec().with_options(horizon="7d"))
        frame = data.frame[["asset_id", "ts", "vib_band_low"]].copy()
        frame["cls"] = frame["asset_id"].map(data.assets.set_index("asset_id")["asset_class"].astype(str))
        frame["life"] = life_starts(frame["asset_id"].to_numpy(), frame["ts"], data.renewed)
        frame = frame[frame["cls"] == "fan"].copy()
        since = (frame["ts"].dt.tz_convert(None) - pd.to_datetime(frame["life"])) / pd.Timedelta(hours=1)
        base = frame[since < 336].groupby(["asset_id", "life"])["vib_band_low"].mean().rename("base")
        frame = frame.join(base, on=["asset_id", "life"])
        trailing = frame.groupby(["asset_id", "life"])["vib_band_low"].transform(
            lambda x: x.rolling(24, min_periods=8).mean()
        )
        frame["ratio"] = np.where(since >= 336, trailing / frame["base"], np.nan)
        failures = data.events[data.events["kind"] == "failure"]
        failures = failures[failures["asset_id"].isin(set(frame["asset_id"]))]
        frame["ttf_h"] = np.inf
        for failure in failures.itertuples():
            mine = (frame["asset_id"] == failure.asset_id) & (frame["ts"] < failure.ts)
            if mine.any():
                mine &= frame["life"] == frame.loc[mine, "life"].max()
                frame.loc[mine, "ttf_h"] = (failure.ts - frame.loc[mine, "ts"]) / pd.Timedelta(hours=1)
        bands = [(0, 24), (24, 168), (168, 720), (720, 2160), (2160, np.inf)]
        quantiles = {}
        for low, high in bands:
            values = frame.loc[(frame["ttf_h"] > low) & (frame["ttf_h"] <= high), "ratio"].dropna()
            quantiles[f"{low:g}-{high:g} h"] = {
                "rows": len(values),
                "q10_q50_q90": values.quantile([0.1, 0.5, 0.9]).round(2).tolist(),
            }
        censored = frame.loc[np.isinf(frame["ttf_h"]), "ratio"].dropna()
        quantiles["no failure ends the life"] = {
            "rows": len(censored),
            "q10_q50_q90": censored.quantile([0.1, 0.5, 0.9]).round(2).tolist(),
        }
        scored = frame[["asset_id", "ts"]].assign(p=frame["ratio"].fillna(0.0).to_numpy())
        inside = failures_in(scored, failures, slack_hours=6.0)
        renew = renewals(data.events) if len(data.events) else None
        sweep = []
        for ratio in (3, 4, 5, 6, 7, 8):
            f = event_figures(
                scored, inside, threshold=float(ratio), horizon_hours=168, min_lead_hours=24, renewals=renew
            )
            sweep.append(
                {
                    "ratio": ratio,
                    **{
                        k: f[k]
                        for k in (
                            "caught",
                            "failures",
                            "cases",
                            "false_cases",
                            "false_cases_per_asset_year",
                            "cost",
                            "cost_run_to_failure",
                        )
                    },
                }
            )
        row = {
            "part": "fans",
            "seed": seed,
            "fan_failures_by_mode": failures["failure_mode"].value_counts().to_dict(),
            "ratio_by_time_to_failure": quantiles,
            "alarm_ratio_sweep_fans_only_hindsight": sweep,
        }
        print(json.dumps(row, default=str), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("fleet", "plant", "cmapss", "ai4i", "fans"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the stores and files in --work.")
    parser.add_argument("--max-rul", default=None, help="cmapss: a training cap for a second, labelled run (125h).")
    parser.add_argument("--cm-seeds", type=int, nargs="+", default=[0], help="cmapss: training seeds (default 0).")
    parser.add_argument(
        "--no-installs", action="store_true", help="cmapss: no install (renewal) event at each engine's first cycle."
    )
    parser.add_argument("--baseline", default=None, help="fleet, plant: TrainSpec.baseline (e.g. 14d); default off.")
    parser.add_argument("--store", type=Path, default=None, help="fans: an existing fleet store (one seed).")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="forewarn-own-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = {"fleet": fleet, "plant": plant, "cmapss": cmapss, "ai4i": ai4i, "fans": fans}[args.part](
        args, work.resolve()
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
