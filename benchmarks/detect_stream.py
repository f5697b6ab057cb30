"""The default detector's forewarning on a failing twin fleet, through ``forewarn detect --store`` and the stream.

One twin fleet that fails (as ``benchmarks/detect.py --parts forewarning`` makes it: hourly rows, degradation 3x
faster than life) is written to a store; ``forewarn detect --store DB --save-models DIR`` scores it and keeps each
asset's fit; the same readings then go through the stream (:class:`~forewarn.stream.pipeline.OnlinePipeline`, one
``[[models]]`` entry: the entry ``detect`` printed, at each ``--contexts`` value), ``--batch`` of event time per
micro-batch. Both sets of alarms (episode starts) are counted the same way as ``benchmarks/detect.py`` counts
them (:func:`forewarn.evaluate.events.event_metrics`: a failure is forewarned by an episode start 7 days to 24 h
before it; a start that forewarns none is a false alarm; starts while the asset is down, from a failure to its next
renewing maintenance, are not counted). Printed: forewarned failures, median lead, false alarms per asset-month,
and how many alarms the two share, with the largest score difference and the stream's seconds per batch.

The stream alone also files its alarms into its own case book (the file beside its store, the case rule of
``[cases] close_quiet``: ``--close-quiet``, default the stream's own); ``case_book`` counts it as a planner reads it
(no failure or repair is recorded, nothing else closes a case): each case's opening as a start (forewarned failures,
median lead, false openings per asset-month, with :func:`event_figures`), and at each failure (a micro-batch ends at
every failure) the asset's open case then: failures that find one opened at least 24 h before, median lead; and
``episode_fold``: the backtest's fold (:func:`forewarn.evaluate.cases.cases`) of ``detect``'s episodes, each given by
its first and last alarming row, against the book's openings (the case rule counts quiet from an episode's end).

Run: ``.venv/bin/python benchmarks/detect_stream.py --seed 3`` (a validation fleet of issue 14; about 10 minutes on
2 cores with the defaults). Numeric libraries run on one thread.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


class Clock:
    """The stream's wall clock, moved by hand (each batch 50 ms later)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event_figures(starts: pd.DataFrame, events: pd.DataFrame, observed: dict[str, Any]) -> dict[str, Any]:
    """Forewarning figures of episode starts (``asset_id, ts``) against the fleet's events (module text)."""
    from forewarn.evaluate.events import event_metrics
    from forewarn.train.labels import renewals

    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]]
    renewed = renewals(events)
    keep = np.ones(len(starts), dtype=bool)
    for _, failure in failures.iterrows():
        later = renewed.loc[(renewed["asset_id"] == failure["asset_id"]) & (renewed["ts"] > failure["ts"]), "ts"]
        back = later.min() if len(later) else pd.Timestamp.max.tz_localize("UTC")
        keep &= ~((starts["asset_id"] == failure["asset_id"]) & (starts["ts"] >= failure["ts"]) & (starts["ts"] < back))
    figures = event_metrics(
        starts[keep].reset_index(drop=True),
        failures,
        horizon=pd.Timedelta(days=7),
        min_lead=pd.Timedelta(hours=24),
        observed=observed,
    )
    leads = [lead / pd.Timedelta(hours=1) for lead in figures.lead_times]
    return {
        "failures": figures.failures,
        "forewarned": figures.caught,
        "lead_hours_median": float(np.median(leads)) if leads else None,
        "false_alarms": figures.false_alarms,
        "false_alarms_per_asset_month": round(figures.false_alarms_per_asset_month, 3),
        "alarms_counted": int(keep.sum()),
    }


def time_case_book(pipe: Any) -> list[float]:
    """Count the seconds the pipeline spends on its case book (filing with the alarm states, the case rule) in the
    returned one-element list."""
    spent = [0.0]
    for name in ("_file_pending", "_apply_case_rule"):
        inner = getattr(pipe, name, None)
        if inner is None:  # an earlier pipeline
            continue

        def timed(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(pipe, name, timed)
    return spent


def episode_fold(
    offline: pd.DataFrame, opened: pd.DataFrame, hours: float, closers: pd.DataFrame | None = None
) -> dict[str, Any]:
    """The backtest's case fold (:func:`forewarn.evaluate.cases.cases`) of ``detect``'s alarm episodes, each given by
    its first and its last alarming row (the case rule's "quiet" counted from an episode's end, as the stream tells
    the case book), against the case book's openings ``opened`` (``asset_id, ts``): how many it opens too."""
    from forewarn.decide.alarms import alarm_frame
    from forewarn.evaluate.cases import cases

    alarm, episodes = alarm_frame(offline, ts="ts")
    if not np.array_equal(alarm.to_numpy(), offline["alarm"].to_numpy()):
        return {"error": "the default alarm rule does not give detect's alarm column"}
    rows = pd.DataFrame(
        [(e.asset_id, t) for e in episodes for t in {e.start_ts, e.end_ts}], columns=["asset_id", "ts"]
    ).sort_values(["ts", "asset_id"], kind="stable")
    folded = cases(rows, hours, closers)
    mine = set(zip(opened["asset_id"].astype(str), pd.to_datetime(opened["ts"], utc=True), strict=True))
    theirs = set(zip(folded["asset_id"].astype(str), pd.to_datetime(folded["opened"], utc=True), strict=True))
    return {
        "cases": len(folded),
        "both": len(mine & theirs),
        "book_only": len(mine - theirs),
        "fold_only": len(theirs - mine),
    }


def case_book_figures(
    cases: pd.DataFrame, at_failure: list[dict[str, Any]], events: pd.DataFrame, observed: dict[str, Any]
) -> dict[str, Any]:
    """The stream's own case book (module text): openings counted as starts, and each failure's open case."""
    if not len(cases):
        return {"cases": 0}
    opened = pd.DataFrame(
        {"asset_id": cases["asset_id"].astype(str), "ts": pd.to_datetime(cases["opened_ts"], utc=True)}
    )
    leads = [(r["failure"] - r["opened"]) / pd.Timedelta(hours=1) for r in at_failure if r["opened"] is not None]
    early = [lead for lead in leads if lead >= 24]
    notes = cases["note"].fillna("").astype(str)
    return {
        "cases": len(cases),
        "openings": event_figures(opened, events, observed),
        "failures_with_case_open_24h": len(early),
        "lead_hours_median_open": float(np.median(early)) if early else None,
        "lead_over_7d": int(sum(lead > 7 * 24 for lead in early)),
        "failures_case_opened_under_24h": len(leads) - len(early),
        "failures_no_case_open": sum(r["opened"] is None for r in at_failure),
        "closed_quiet": int(notes.str.startswith("quiet").sum()),
        "open_at_end": int((cases["status"] != "closed").sum()),
        "alerts_per_case_median": float(cases["n_alerts"].median()),
    }


@dataclass
class FittedFleet:
    """A failing twin fleet in a store, scored by ``forewarn detect --store --save-models`` (:func:`fit_fleet`)."""

    fleet: Any
    events: pd.DataFrame  # the fleet's events, ``ts`` as UTC times
    work: Path  # the folder of the store, ``scores.csv`` and ``fits/``
    offline: pd.DataFrame  # detect's scores, ``ts`` as UTC times
    observed: dict[str, Any]  # each asset's first and last scored time
    entry: dict[str, Any]  # the ``[[models]]`` entry detect printed
    detect_seconds: float

    @property
    def declared(self) -> list[dict[str, Any]]:
        """The fleet's assets as a stream config's ``[[assets]]`` declares them."""
        return [
            {"asset_id": a.asset_id, "asset_class": a.asset_class, "channels": {c.name: c.unit for c in a.channels}}
            for a in self.fleet.assets
        ]


def fit_fleet(seed: int, sites: int, assets: int, days: int, *, prefix: str, store: str) -> FittedFleet:
    """Simulate the fleet (hourly, degradation 3x), write it to ``store`` in a new folder and run ``forewarn detect
    --store --save-models`` on it."""
    from forewarn.cli.main import run
    from forewarn.store import Store
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval="1h", degradation_scale=3.0)
    )
    events = fleet.events.assign(ts=pd.to_datetime(fleet.events["ts"], utc=True))
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with Store(work / store) as db:
        fleet.to_store(db)
    printed = io.StringIO()
    started = time.perf_counter()
    argv = ["detect", "--store", str(work / store), "--out", str(work / "scores.csv")]
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        run([*argv, "--save-models", str(work / "fits")])
    detect_seconds = time.perf_counter() - started
    offline = pd.read_csv(work / "scores.csv")
    offline["ts"] = pd.to_datetime(offline["timestamp"], utc=True)
    observed = {str(a): (part["ts"].min(), part["ts"].max()) for a, part in offline.groupby("asset_id")}
    entry = tomllib.loads(printed.getvalue()[printed.getvalue().index("[[models]]") :])["models"][0]
    return FittedFleet(fleet, events, work, offline, observed, entry, detect_seconds)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets", type=int, default=48)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--contexts", default="512", help="the stream's context rows per asset, comma-separated")
    parser.add_argument("--batch", default="7D", help="event time per micro-batch")
    parser.add_argument("--close-quiet", help="the stream's case rule ([cases] close_quiet: e.g. 7d, 0 = never)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    from forewarn.store import Store
    from forewarn.stream.config_file import parse_config
    from forewarn.stream.messages import ReadingColumns
    from forewarn.stream.pipeline import OnlinePipeline

    fitted = fit_fleet(args.seed, args.sites, args.assets, args.days, prefix="detect_stream_", store="plant.duckdb")
    fleet, events, work, offline, observed = fitted.fleet, fitted.events, fitted.work, fitted.offline, fitted.observed
    detect_seconds = fitted.detect_seconds
    report: dict[str, Any] = {
        "seed": args.seed,
        "assets": len(fleet.assets),
        "days": args.days,
        "rows": len(offline),
        "detect_seconds": round(detect_seconds, 1),
        "detect": event_figures(offline.loc[offline["alarm"] == 1, ["asset_id", "ts"]], events, observed),
        "stream": [],
    }
    print(json.dumps({k: v for k, v in report.items() if k != "stream"}), flush=True)
    entry, declared = fitted.entry, fitted.declared
    long = fleet.readings.melt(id_vars=["asset_id", "ts"], var_name="channel", value_name="value").dropna()
    long["ts_us"] = pd.DatetimeIndex(pd.to_datetime(long["ts"], utc=True)).as_unit("us").asi8
    long = long.sort_values(["ts_us", "asset_id", "channel"]).reset_index(drop=True)
    step = int(pd.Timedelta(args.batch) / pd.Timedelta(microseconds=1))
    offline["ts_us"] = pd.DatetimeIndex(offline["ts"]).as_unit("us").asi8
    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]]
    failure_us = pd.DatetimeIndex(failures["ts"]).as_unit("us").asi8
    for context in (int(c) for c in args.contexts.split(",")):
        settings: dict[str, Any] = {
            "pipeline": {"idle_release": "10s"},
            "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
            "assets": declared,
            "models": [dict(entry, context=context)],
        }
        if args.close_quiet is not None:
            settings["cases"] = {"close_quiet": args.close_quiet}
        cfg = parse_config(settings)
        at_failure: list[dict[str, Any]] = []
        clock = Clock()
        batches = 0
        started = time.perf_counter()
        with Store(work / f"stream-{context}.duckdb") as store:
            pipe = OnlinePipeline(store, cfg, clock=clock)
            book = pipe.casebook if hasattr(pipe, "casebook") else pipe._casebook  # its own case book
            case_seconds = time_case_book(pipe)
            first, last = int(long["ts_us"].min()), int(long["ts_us"].max())
            ends = np.union1d(np.arange(first, last + step + 1, step), failure_us[(failure_us > first)])
            bounds = np.searchsorted(long["ts_us"].to_numpy(), ends)
            for lo, hi, end in zip(bounds[:-1], bounds[1:], ends[1:], strict=True):
                part = long.iloc[lo:hi]
                cols = ReadingColumns(
                    list(part["asset_id"]), list(part["channel"]), part["ts_us"].tolist(), list(part["value"])
                )
                pipe.process(cols, [])
                batches += 1
                clock.now += 0.05
                for asset in failures.loc[failure_us == end, "asset_id"].astype(str):  # what a planner finds open
                    case = book.open_case_of(asset)
                    opened = None if case is None else pd.Timestamp(case["opened_ts"])
                    at_failure.append(
                        {"asset_id": asset, "failure": pd.Timestamp(int(end), unit="us", tz="UTC"), "opened": opened}
                    )
            clock.now += 60
            pipe.tick()
            cases = pd.DataFrame(book.cases(limit=1_000_000))
            pipe.close()
            seconds = time.perf_counter() - started
            scores = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us, score FROM stream_scores")
            alerts = store.sql("SELECT asset_id, epoch_us(ts) AS ts_us FROM stream_alerts")
        joined = offline.merge(scores, on=["asset_id", "ts_us"], how="left")
        alerts["ts"] = pd.to_datetime(alerts["ts_us"], unit="us", utc=True)
        want = set(map(tuple, offline.loc[offline["alarm"] == 1, ["asset_id", "ts_us"]].to_numpy().tolist()))
        got = set(map(tuple, alerts[["asset_id", "ts_us"]].to_numpy().tolist()))
        row = {
            "context": context,
            "rows_scored": len(scores),
            "rows_missing": int(joined["score"].isna().sum()),
            "max_abs_score_diff": float(np.nanmax(np.abs(joined["score"] - joined["anomaly_score"]))),
            "alarms_detect": len(want),
            "alarms_stream": len(got),
            "alarms_same": len(want & got),
            "batches": batches,
            "seconds_per_batch": round(seconds / batches, 2),
            "case_book_seconds_per_batch": round(case_seconds[0] / batches, 3),
            "figures": event_figures(alerts[["asset_id", "ts"]], events, observed),
            "case_book": case_book_figures(cases, at_failure, events, observed),
        }
        if len(cases) and book.quiet is not None:
            opened = pd.DataFrame({"asset_id": cases["asset_id"], "ts": cases["opened_ts"]})
            row["episode_fold"] = episode_fold(offline, opened, book.quiet / pd.Timedelta(hours=1))
        report["stream"].append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
