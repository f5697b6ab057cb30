"""The default detector's forewarning as a plant engineer sees it: the case book of ``forewarn serve --stream``.

One failing twin fleet (as ``benchmarks/detect_stream.py`` makes it: hourly rows, degradation 3x) is written to a
history store; ``forewarn detect --store DB --save-models DIR`` scores it and keeps each asset's fit. A service is
then started on an empty store with ``--stream CONFIG`` (``create_app`` with ``ServeSettings(stream=...)``, the app
``forewarn serve --stream`` runs, driven in-process through its HTTP routes; mosquitto on 127.0.0.1 started here),
whose config has the entry ``detect`` printed as its only ``[[models]]``. The fleet's readings are published to the
broker as Sparkplug-style JSON in time order, step by step: a step ends at each failure and each renewing
maintenance (and at least every ``--batch``); after each step the script waits until the stream has stored and
scored it, then (``--events replay``, the default) records the step's events in the service's store and asks the
service to evaluate those assets (``POST /api/v1/alerts/evaluate``): a failure files its failure alert on the
asset's open case (or opens a case of kind ``failure``), and the renewing maintenance closes that case. No face of a
running DuckDB service records events (the service is the store's only writer and has no events route), so the
script writes them through the service's own store object, as a maintenance system's connector would have to.
``--events none``: nothing is recorded; nothing closes a case.

The service applies the case rule (``serve --close-quiet``, default 7 days for a service of stream models alone):
a case that had no alarm for that long and holds no failure is closed by ``forewarn`` and the next alarm opens a new
case, as the backtest counts cases (:func:`forewarn.evaluate.cases.cases`). ``--close-quiet 0``: never (the
service before the rule).

``--close-after 7D``: a planner also closes, at the end of each step, every open case of kind ``health`` opened at
least that long before and holding no failure (``POST /api/v1/cases/{id}/close``, "inspected, nothing found"); with
``--batch 1D`` the close comes within a day of that age.

Read back from the API at the end: ``GET /api/v1/alerts`` (the stream's alerts, ``source = "stream"``, against
``detect``'s alarm rows: lost, extra, duplicated) and ``GET /api/v1/cases``; at each failure, before it is recorded,
``GET /api/v1/cases?status=open&asset_id=...`` (what a planner finds open on the asset then). Counted with
``benchmarks/detect_stream.py``'s rule (:func:`detect_stream.event_figures`: a failure is forewarned by a start 7 days
to 24 h before it; a start that forewarns none is false; starts while the asset is down are not counted):

* ``detect``: its alarm rows; ``service_alarms``: the stream alarms the case book holds;
* ``cases_opened``: each case's opening as a start (later alarms of an open case open nothing);
* ``case_open_at_failure``: failures that found a case open on their asset, opened at least 24 h before, however long
  before (lead = failure - opening); false cases: cases of kind ``health`` open at no failure (those opened while
  the asset was down not counted), per asset-month of readings.

Run: ``.venv/bin/python benchmarks/detect_service.py --seed 3`` (a validation fleet of issue 14). Numeric libraries
run on one thread.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from detect_stream import event_figures, fit_fleet  # noqa: E402 - the same fit and counting rule as the stream's

TOKEN = "detect-service-benchmark-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PREFIX = "spBv1.0/twin/DDATA/edge"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 600.0) -> None:
    """Poll ``condition`` until it holds; a timeout names ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


def stream_config(path: Path, port: int, declared: list[dict[str, Any]], entry: dict[str, Any]) -> Path:
    """A ``forewarn stream`` config: Sparkplug-style JSON per asset, the fleet's assets, ``detect``'s entry."""
    lines = [
        "[pipeline]",
        'batch_max_wait = "200ms"',
        'idle_release = "300ms"',
        'allowed_lateness = "0s"',
        "",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'client_id = "detect-service"',
        "",
        "[[mqtt.subscriptions]]",
        f'topic = "{PREFIX}/+"',
        'layout = "sparkplug"',
        'asset = "{4}"',
        "",
    ]
    for asset in declared:
        channels = ", ".join(f'{name} = "{unit}"' for name, unit in asset["channels"].items())
        lines += [
            "[[assets]]",
            f'asset_id = "{asset["asset_id"]}"',
            f'asset_class = "{asset["asset_class"]}"',
            f"channels = {{ {channels} }}",
            "",
        ]
    lines += [
        "[[models]]",
        f"path = {json.dumps(entry['path'])}",
        f'model_id = "{entry["model_id"]}"',
        "alarm = {}",
        f"context = {int(entry['context'])}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def step_bounds(first: pd.Timestamp, last: pd.Timestamp, events: pd.DataFrame, batch: pd.Timedelta) -> list:
    """Where a step ends: each failure and renewing maintenance, and at least every ``batch``; the last bound is past
    every reading."""
    from forewarn.train.labels import renewals

    marks = set(events.loc[events["kind"] == "failure", "ts"]) | set(renewals(events)["ts"])
    grid = set(pd.date_range(first, last, freq=batch))
    bounds = sorted(t for t in marks | grid if first < t <= last)
    return [*bounds, last + pd.Timedelta(microseconds=1)]


def down_spans(events: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Each asset's spans from a failure to its next renewing maintenance (the asset is down: no forewarning)."""
    from forewarn.train.labels import renewals

    renewed = renewals(events)
    spans: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for failure in events.loc[events["kind"] == "failure"].itertuples():
        later = renewed.loc[(renewed["asset_id"] == failure.asset_id) & (renewed["ts"] >= failure.ts), "ts"]
        back = later.min() if len(later) else pd.Timestamp.max.tz_localize("UTC")
        spans.setdefault(str(failure.asset_id), []).append((failure.ts, back))
    return spans


def case_figures(
    cases: list[dict], at_failure: list[dict], down: dict[str, list], asset_months: float
) -> dict[str, Any]:
    """What the case book showed when each failure came (``at_failure``: the failure, the asset's open case then),
    and the cases no failure followed while they were open (false cases; those opened while the asset was down are
    not counted)."""
    leads = [(r["failure"] - r["opened"]) / pd.Timedelta(hours=1) for r in at_failure if r["opened"] is not None]
    early = [lead for lead in leads if lead >= 24]
    true_ids = {r["case_id"] for r in at_failure if r["case_id"] is not None}
    health = [c for c in cases if c.get("kind", "health") == "health"]

    def while_down(case: dict) -> bool:
        opened = pd.Timestamp(case["opened_ts"])
        return any(a <= opened < b for a, b in down.get(str(case["asset_id"]), []))

    false_cases = [c for c in health if int(c["case_id"]) not in true_ids and not while_down(c)]
    return {
        "failures": len(at_failure),
        "failures_with_case_open_24h": len(early),
        "lead_hours_median": float(np.median(early)) if early else None,
        "lead_hours_over_7d": int(sum(lead > 7 * 24 for lead in early)),
        "failures_case_opened_under_24h": len(leads) - len(early),
        "failures_no_case_open": sum(r["opened"] is None for r in at_failure),
        "health_cases": len(health),
        "failure_cases": sum(c.get("kind") == "failure" for c in cases),
        "false_cases": len(false_cases),
        "false_cases_per_asset_month": round(len(false_cases) / asset_months, 3),
        "alerts_per_case_median": float(np.median([c["n_alerts"] for c in health])) if health else None,
        "cases_open_at_end": sum(c["status"] != "closed" for c in cases),
    }


class Replay:
    """The service under test, driven step by step (see the module text)."""

    def __init__(self, client: Any, publisher: Any, rows_per_message: int, close_after: pd.Timedelta | None):
        self.client = client
        self.svc = client.app.state.service
        self.publisher = publisher
        self.rows_per_message = rows_per_message
        self.close_after = close_after
        self.written = self.rows = 0
        self.at_failure: list[dict] = []
        self.failed_cases: set[int] = set()
        self.closed_by_planner = 0

    def counters(self) -> dict[str, Any]:
        return self.svc.stream.consumer.metrics.snapshot()

    def readings(self, part: pd.DataFrame) -> None:
        """Publish one step's readings; return once the stream has stored and scored every row."""
        from forewarn.stream.replay import sparkplug_messages

        if not len(part):
            return
        messages = list(sparkplug_messages(part, prefix=PREFIX, rows_per_message=self.rows_per_message))
        self.publisher.send(messages)
        self.written += sum(n for _, n, _, _ in messages)
        self.rows += len(part)
        wait_for(lambda: self.counters()["readings_written"] >= self.written, f"{self.written} readings stored")
        wait_for(
            lambda: (m := self.counters())["rows_scored"] + m["rows_unscored"] + m["rows_late"] >= self.rows,
            f"{self.rows} rows scored",
        )

    def open_case(self, asset_id: str) -> dict | None:
        found = self.client.get("/api/v1/cases", params={"status": "open", "asset_id": asset_id}).json()
        health = [c for c in found if c.get("kind", "health") in ("health", "failure")]
        return health[0] if health else None

    def planner(self, now: pd.Timestamp) -> None:
        """Close each open health case older than ``close_after`` that holds no failure ("inspected, nothing found")."""
        if self.close_after is None:
            return
        for case in self.client.get("/api/v1/cases", params={"status": "open", "limit": 5000}).json():
            if case.get("kind", "health") != "health" or int(case["case_id"]) in self.failed_cases:
                continue
            if pd.Timestamp(case["opened_ts"]) <= now - self.close_after:
                answer = self.client.post(
                    f"/api/v1/cases/{case['case_id']}/close",
                    json={"note": "inspected, nothing found", "by": "planner"},
                    headers=AUTH,
                )
                answer.raise_for_status()
                self.closed_by_planner += 1

    def events(self, todo: pd.DataFrame, record: bool) -> None:
        """Note each failure's open case, then (``record``) store the events and evaluate their assets."""
        for failure in todo.loc[todo["kind"] == "failure"].itertuples():
            case = self.open_case(str(failure.asset_id))
            self.at_failure.append(
                {
                    "asset_id": str(failure.asset_id),
                    "failure": failure.ts,
                    "case_id": None if case is None else int(case["case_id"]),
                    "opened": None if case is None else pd.Timestamp(case["opened_ts"]),
                }
            )
            if case is not None:
                self.failed_cases.add(int(case["case_id"]))
        if not record or not len(todo):
            return
        self.svc.store.ingest_events(todo, source="cmms")
        touched = sorted(set(todo["asset_id"].astype(str)))
        self.svc.events_changed(touched)
        answer = self.client.post("/api/v1/alerts/evaluate", json={"asset_ids": touched}, headers=AUTH)
        answer.raise_for_status()
        for filed in answer.json():
            self.failed_cases.add(int(filed["case_id"]))


def backtest_rule(
    streamed: pd.DataFrame, offline: pd.DataFrame, events: pd.DataFrame, opened: pd.DataFrame, quiet: Any
) -> dict[str, Any]:
    """The backtest's case rule (:mod:`forewarn.evaluate.cases`) on the same alarms, beside the service's cases: its
    figures (a failure caught by an alarm 7 d-24 h before; a case no failure follows within the gap of its last alarm
    is false) and how many of the service's case openings (kind ``health``) it opens too."""
    from forewarn.evaluate.cases import cases, event_figures, failures_in
    from forewarn.train.labels import renewals

    if quiet is None:
        return {}
    hours = quiet / pd.Timedelta(hours=1)
    scored = offline[["asset_id", "ts"]].assign(p=offline["alarm"].astype(float))
    failures = failures_in(scored, events)
    renewed = renewals(events)
    figures = event_figures(scored, failures, threshold=0.5, horizon_hours=hours, min_lead_hours=24, renewals=renewed)
    closers = pd.concat([failures[["asset_id", "ts"]], renewed[["asset_id", "ts"]]])
    folded = cases(streamed[["asset_id", "ts"]], hours, closers)
    mine = set(zip(opened["asset_id"].astype(str), opened["ts"], strict=True))
    theirs = set(zip(folded["asset_id"].astype(str), folded["opened"], strict=True))
    months = figures["asset_years"] * 12
    return {
        "gap_hours": hours,
        "caught": figures["caught"],
        "caught_share": round(figures["caught_share"], 3),
        "lead_time_hours_median": figures["lead_time_hours_median"],
        "cases": figures["cases"],
        "false_cases": figures["false_cases"],
        "false_cases_per_asset_month": round(figures["false_cases"] / months, 3) if months else None,
        "service_openings_also_backtest": len(mine & theirs),
        "service_only": len(mine - theirs),
        "backtest_only": len(theirs - mine),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets", type=int, default=48)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--batch", default="7D", help="the longest step of event time between two waits")
    parser.add_argument("--rows-per-message", type=int, default=24)
    parser.add_argument("--events", choices=("replay", "none"), default="replay")
    parser.add_argument("--close-after", help="a planner closes a case that old holding no failure (e.g. 7D)")
    parser.add_argument(
        "--close-quiet", help="the service's case rule (serve --close-quiet: e.g. 7d, 0 = never; default: its own)"
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from forewarn.decide.alerts import FAILURE_SOURCE
    from forewarn.evaluate.events import MONTH
    from forewarn.serve import ServeSettings, create_app
    from forewarn.stream.broker import LocalBroker
    from forewarn.stream.replay import Publisher

    fitted = fit_fleet(args.seed, args.sites, args.assets, args.days, prefix="detect_service_", store="history.duckdb")
    fleet, events, work, offline, observed = fitted.fleet, fitted.events, fitted.work, fitted.offline, fitted.observed
    detect_seconds = fitted.detect_seconds
    want = offline.loc[offline["alarm"] == 1, ["asset_id", "ts"]]
    report: dict[str, Any] = {
        "seed": args.seed,
        "assets": len(fleet.assets),
        "days": args.days,
        "events": args.events,
        "rows": len(offline),
        "detect_seconds": round(detect_seconds, 1),
        "detect": event_figures(want, events, observed),
    }
    print(json.dumps(report), flush=True)
    entry, declared = fitted.entry, fitted.declared
    wide = fleet.readings.copy()
    wide["ts"] = pd.to_datetime(wide["ts"], utc=True)
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    wide = wide[wide[channels].notna().any(axis=1)].sort_values(["ts", "asset_id"]).reset_index(drop=True)
    bounds = step_bounds(wide["ts"].min(), wide["ts"].max(), events, pd.Timedelta(args.batch))
    (work / "broker").mkdir()
    steps: list[float] = []
    close_after = pd.Timedelta(args.close_after) if args.close_after else None
    with LocalBroker(work / "broker") as broker:
        config = stream_config(work / "stream.toml", broker.port, declared, entry)
        settings = ServeSettings(
            store=str(work / "serve.duckdb"), token=TOKEN, stream=str(config), close_quiet=args.close_quiet
        )
        with TestClient(create_app(settings)) as client:
            publisher = Publisher("127.0.0.1", broker.port, client_id="detect-service-publisher")
            replay = Replay(client, publisher, args.rows_per_message, close_after)
            try:
                lo, done = wide["ts"].min(), pd.Timestamp.min.tz_localize("UTC")
                replay_started = time.perf_counter()
                for hi in bounds:
                    t0 = time.perf_counter()
                    replay.readings(wide[(wide["ts"] >= lo) & (wide["ts"] < hi)])
                    steps.append(time.perf_counter() - t0)
                    replay.planner(hi)
                    replay.events(events[(events["ts"] > done) & (events["ts"] <= hi)], args.events == "replay")
                    lo = done = hi
                replay_seconds = time.perf_counter() - replay_started
            finally:
                publisher.close()
            metrics = replay.counters()
            alerts = client.get("/api/v1/alerts", params={"limit": 5000}).json()
            cases = client.get("/api/v1/cases", params={"limit": 5000}).json()
            outbox = client.get("/api/v1/stream/alerts", params={"limit": 5000}).json()
    streamed = pd.DataFrame([a for a in alerts if a["source"] == "stream"], columns=["asset_id", "ts", "model_id"])
    streamed["ts"] = pd.to_datetime(streamed["ts"], utc=True)
    want_set = set(zip(want["asset_id"], want["ts"], strict=True))
    got = list(zip(streamed["asset_id"], streamed["ts"], strict=True))
    health = [c for c in cases if c.get("kind", "health") == "health"]
    opened = pd.DataFrame(
        [{"asset_id": c["asset_id"], "ts": pd.Timestamp(c["opened_ts"])} for c in health], columns=["asset_id", "ts"]
    )
    first_case = opened.groupby("asset_id")["ts"].min() if len(opened) else pd.Series(dtype=object)
    since_first = [(t - observed[a][0]) / pd.Timedelta(days=1) for a, t in first_case.items()]
    asset_months = sum((b - a) / MONTH for a, b in observed.values())
    index = json.loads((work / "fits" / "detect-fits.json").read_text(encoding="utf-8"))
    trained = {a: pd.Timestamp(f["train_to"]) for f in index["fits"] for a in f["assets"]}
    in_training = sum(
        bool(t <= trained.get(str(a), t - pd.Timedelta(1)))
        for a, t in zip(opened["asset_id"], opened["ts"], strict=True)
    )
    from forewarn.decide.quiet import DEFAULT_CLOSE_QUIET, close_quiet_setting

    quiet = DEFAULT_CLOSE_QUIET if args.close_quiet is None else close_quiet_setting(args.close_quiet)
    report.update(
        {
            "backtest_rule": backtest_rule(streamed, offline, events, opened, quiet),
            "close_after": args.close_after,
            "close_quiet": args.close_quiet,
            "closed_quiet": sum(
                c["status"] == "closed"
                and c.get("closed_by") == "forewarn"
                and str(c.get("note", "")).startswith("quiet")
                for c in cases
            ),
            "steps": len(steps),
            "replay_seconds": round(replay_seconds, 1),
            "seconds_per_step_median": round(float(np.median(steps)), 2),
            "stream_metrics": {k: v for k, v in metrics.items() if isinstance(v, int)},
            "alarms": {
                "detect": len(want_set),
                "service": len(got),
                "same": len(want_set & set(got)),
                "lost": len(want_set - set(got)),
                "extra": len(set(got) - want_set),
                "duplicated": len(got) - len(set(got)),
                "model_ids": sorted(set(streamed["model_id"])),
                "outbox": len(outbox),
                "failure_alerts": sum(a["source"] == FAILURE_SOURCE for a in alerts),
            },
            "service_alarms": event_figures(streamed[["asset_id", "ts"]], events, observed),
            "cases_opened": event_figures(opened, events, observed),
            "case_open_at_failure": case_figures(cases, replay.at_failure, down_spans(events), asset_months),
            "closed_by_planner": replay.closed_by_planner,
            "at_failure": replay.at_failure,
            "assets_with_a_case": int(len(first_case)),
            "cases_opened_in_training_part": int(in_training),
            "days_to_first_case_median": round(float(np.median(since_first)), 1) if since_first else None,
        }
    )
    print(json.dumps({k: v for k, v in report.items() if k not in ("detect", "at_failure")}, default=str), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
