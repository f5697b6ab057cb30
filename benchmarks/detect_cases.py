"""A plant without failure labels that exports CSVs in batches: ``forewarn ingest`` each night, then ``forewarn detect
--store --cases`` (issue 14 item 4): do the nightly runs file the cases one run over the whole history files?

The walk (``--walk``, a plant engineer's): a twin fleet (``--sites``, ``--assets``, ``--days``, ``--interval``,
``--seed``, degradation ``--degradation`` times faster than life so that some machines fail) is exported as wide CSV
files (``asset_id, ts`` and the channels), one per night (``--nights`` equal spans of the history). The store knows
the plant's assets and classes beforehand (a plant imports its asset list once). Each night, through the CLI:

    forewarn ingest night-K.csv --store plant.duckdb
    forewarn detect --store plant.duckdb --out scores-K.csv --cases --save-models fits [--models fits]

(the first night fits each asset on its first 15 % and keeps the fits; the later ones score with them). After the
last night: the case book's cases against those of one run over the whole history with the same fits (``detect
--store whole.duckdb --cases --models fits`` on a store holding every export), the alarms (episode starts) of the
last night against that run's, and the forewarning figures of both, counted as ``benchmarks/detect_stream.py``
counts them (a failure of the twin's events is forewarned by an alarm start or a case opening 7 days to 24 h before
it; one that forewarns none is false; starts while the asset is down not counted) and, per failure, whether the
asset had a case open then that was opened at least 24 h before (a case's span is from its opening to its closing
time: the case rule writes it in event time). Beside it, the same nights with each night refitting (no ``--models``,
what ``detect --store`` did before): how many alarm starts of a night's rows the next night moves.

``--seed3``: the standing validation fleet of issue 14 (seed 3, 4 sites, 48 assets, 180 days hourly, degradation
3x) through ``detect --store --cases`` once, its cases folded by the backtest's rule from detect's episodes
(``detect_stream.episode_fold``), and counted as the stream's own book was (``detect_stream.case_book_figures``).

``--only-new`` (with ``--walk``'s fleet options): the same nights twice, each night's ``detect --store --cases
--models fits --save-models fits`` with and without ``--only-new`` (the first night ``--save-models`` alone, with
``--only-new`` on its side too), each timed ``--runs`` times (the store's case book and the fits folder put back as
they were before each run; the median reported), and after each night the rows so far against one run over the
history so far (``detect --store --models fits`` on a store holding every export up to that night): the largest
score difference of the new rows, the alarm rows that differ, the episodes, and at the end the case books.

Run: ``.venv/bin/python benchmarks/detect_cases.py --walk`` (about 2 minutes on 2 cores) and ``--seed3`` (about 1
minute); ``--only-new`` (about 5 minutes; ``--nights 12 --days 120`` for the longer walk). Numeric libraries run on
one thread.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402
from detect_stream import case_book_figures, episode_fold, event_figures  # noqa: E402 - the stream's counting


def cli(argv: list[str]) -> tuple[str, float]:
    """Run ``forewarn`` in this process; its stdout and seconds (a failure stops the walk)."""
    from forewarn.cli.main import run

    out = io.StringIO()
    started = time.perf_counter()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            run(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    if code:
        raise SystemExit(f"forewarn {' '.join(argv)} failed ({code}):\n{out.getvalue()}")
    return out.getvalue(), time.perf_counter() - started


def book_cases(store: Path) -> pd.DataFrame:
    """Every case of the store's case book."""
    from forewarn.decide.cases import CaseBook, casebook_path_for

    book = CaseBook(casebook_path_for(store), close_quiet=None)
    try:
        found = pd.DataFrame(book.cases(limit=1_000_000))
    finally:
        book.close()
    for name in ("opened_ts", "closed_ts", "last_alert_ts"):
        found[name] = pd.to_datetime(found[name], utc=True)
    return found


def at_failures(cases: pd.DataFrame, events: pd.DataFrame) -> list[dict[str, Any]]:
    """Per failure, the asset's case open at that time (opened at or before it, not closed before it), if any."""
    out = []
    for _, failure in events[events["kind"] == "failure"].iterrows():
        mine = cases[cases["asset_id"] == failure["asset_id"]]
        live = mine[
            (mine["opened_ts"] <= failure["ts"]) & (mine["closed_ts"].isna() | (mine["closed_ts"] >= failure["ts"]))
        ]
        opened = live["opened_ts"].max() if len(live) else None
        out.append({"failure": failure["ts"], "opened": opened})
    return out


def starts(scores: pd.DataFrame) -> pd.DataFrame:
    """The alarm starts (``asset_id, ts``) of a scores file."""
    rows = scores[scores["alarm"] == 1]
    return pd.DataFrame({"asset_id": rows["asset_id"].astype(str), "ts": pd.to_datetime(rows["timestamp"], utc=True)})


def case_key(cases: pd.DataFrame) -> list[tuple]:
    """What two case books must agree on: asset, opening, status, closing, alerts, top sensors."""
    return sorted(
        (
            r.asset_id,
            r.opened_ts,
            r.status,
            None if pd.isna(r.closed_ts) else r.closed_ts,
            r.n_alerts,
            tuple(r.top_sensors),
        )
        for r in cases.itertuples()
    )


def exports_of(args: argparse.Namespace, work: Path) -> tuple[Any, pd.DataFrame, list[Path], list[pd.Timestamp]]:
    """The twin fleet of ``args`` and its readings as one wide CSV per night (``work/night-K.csv``)."""
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=args.sites,
            assets=args.assets,
            days=args.days,
            seed=args.seed,
            interval=args.interval,
            degradation_scale=args.degradation,
        )
    )
    readings = fleet.readings
    readings = readings.assign(ts=pd.to_datetime(readings["ts"], utc=True))
    first, last = readings["ts"].min(), readings["ts"].max()
    bounds = [first + (last - first + pd.Timedelta(args.interval)) * k / args.nights for k in range(args.nights + 1)]
    exports = []
    for k in range(args.nights):
        part = readings[(readings["ts"] >= bounds[k]) & (readings["ts"] < bounds[k + 1])]
        path = work / f"night-{k + 1}.csv"
        part.assign(ts=part["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
        exports.append(path)
    return fleet, readings, exports, bounds


def timed_runs(argv: list[str], keep: Sequence[Path], runs: int) -> tuple[str, list[float]]:
    """Run ``forewarn argv`` ``runs`` times, the paths ``keep`` (the case book, the fits folder) put back as they
    were before each run; the last run's output and every run's seconds."""
    saved = []
    for path in keep:
        copy = path.with_name(path.name + ".before")
        if copy.is_dir():
            shutil.rmtree(copy)
        elif copy.exists():
            copy.unlink()
        if path.is_dir():
            shutil.copytree(path, copy)
        elif path.exists():
            shutil.copy2(path, copy)
        saved.append((path, copy))
    seconds, text = [], ""
    for run in range(runs):
        if run:
            for path, copy in saved:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                if copy.is_dir():
                    shutil.copytree(copy, path)
                elif copy.exists():
                    shutil.copy2(copy, path)
        text, spent = cli(argv)
        seconds.append(round(spent, 2))
    return text, seconds


def episode_keys(events: pd.DataFrame, since: pd.Timestamp | None = None) -> list[tuple]:
    """An events file's episodes as two runs must agree on them (asset, start, end, peak, closed, top channels);
    ``since``: only those with a row at or above the rule's ``off`` at or after it (their end)."""
    if since is not None:
        events = events[pd.to_datetime(events["end_ts"], utc=True) >= since]
    return sorted(
        (str(e.asset_id), str(e.start_ts), str(e.end_ts), str(e.peak_ts), bool(e.closed), str(e.top_channels))
        for e in events.itertuples()
    )


def only_new_walk(args: argparse.Namespace) -> dict[str, Any]:
    """The nights with and without ``--only-new`` (module text)."""
    from forewarn.decide.cases import casebook_path_for
    from forewarn.schema import Asset
    from forewarn.store import Store

    work = Path(tempfile.mkdtemp(prefix="detect_only_new_"))
    fleet, readings, exports, bounds = exports_of(args, work)
    plant = [Asset(a.asset_id, a.asset_class) for a in fleet.assets]
    for name in ("all", "new", "whole"):
        with Store(work / f"{name}.duckdb") as db:
            db.add_assets(plant)
    out: dict[str, Any] = {
        "fleet": {"seed": args.seed, "assets": len(plant), "days": args.days, "interval": args.interval}
        | {"nights": args.nights, "readings_rows": len(readings), "runs": args.runs},
        "nights": [],
    }
    quiet = ["--close-quiet", args.close_quiet]
    for k, path in enumerate(exports, start=1):
        row: dict[str, Any] = {"night": k, "load_average": [round(v, 2) for v in os.getloadavg()]}
        for name in ("all", "new", "whole"):
            cli(["ingest", str(path), "--store", str(work / f"{name}.duckdb")])
        for name, extra in (("all", []), ("new", ["--only-new"])):
            store, fits = work / f"{name}.duckdb", work / f"fits-{name}"
            argv = ["detect", "--store", str(store), "--out", str(work / f"{name}-{k}.csv"), "--cases", *quiet]
            argv += ["--save-models", str(fits), *([] if k == 1 else ["--models", str(fits)]), *extra]
            argv += ["--events", str(work / f"{name}-{k}-events.csv")]
            runs = args.runs if name == "new" or args.runs_all is None else args.runs_all
            text, seconds = timed_runs(argv, [Path(casebook_path_for(str(store))), fits], runs)
            scored = pd.read_csv(work / f"{name}-{k}.csv")
            row[name] = {"rows": len(scored), "seconds": seconds, "median_s": statistics.median(seconds)}
            if name == "new":
                row[name]["line"] = next((x for x in text.splitlines() if x.startswith(("only new", "nothing"))), "")
        if args.compare_last and k < len(exports):
            out["nights"].append(row)
            print(json.dumps(row, default=str), flush=True)
            continue
        # one run over the history so far with the same fits (the first night's), beside
        whole_out = work / f"whole-{k}.csv"
        cli(
            [
                "detect",
                "--store",
                str(work / "whole.duckdb"),
                "--out",
                str(whole_out),
                "--models",
                str(work / "fits-all"),
            ]
            + ["--events", str(work / f"whole-{k}-events.csv")]
        )
        whole, new = pd.read_csv(whole_out), pd.read_csv(work / f"new-{k}.csv")
        episodes_new = episode_keys(pd.read_csv(work / f"new-{k}-events.csv"))
        episodes_whole = episode_keys(pd.read_csv(work / f"whole-{k}-events.csv"), since=bounds[k - 1])
        joined = new.merge(whole, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
        row["against_whole"] = {
            "new_rows": len(new),
            "matched": len(joined),
            "max_score_difference": float((joined["anomaly_score_n"] - joined["anomaly_score_w"]).abs().max())
            if len(joined)
            else 0.0,
            "alarm_rows_differ": int((joined["alarm_n"] != joined["alarm_w"]).sum()),
            "alarms_new": int(new["alarm"].sum()),
            "episodes_new": len(episodes_new),
            "episodes_whole_since": len(episodes_whole),
            "episodes_equal": episodes_new == episodes_whole,
        }
        out["nights"].append(row)
        print(json.dumps(row, default=str), flush=True)
    # the case books after the last night, against one run over the whole history that files its own
    cli(
        ["detect", "--store", str(work / "whole.duckdb"), "--out", str(work / "whole-cases.csv"), "--cases", *quiet]
        + ["--models", str(work / "fits-all")]
    )
    books = {name: book_cases(work / f"{name}.duckdb") for name in ("all", "new", "whole")}
    out["cases"] = {name: len(book) for name, book in books.items()} | {
        "new_equals_whole": case_key(books["new"]) == case_key(books["whole"]),
        "all_equals_whole": case_key(books["all"]) == case_key(books["whole"]),
    }
    whole = pd.read_csv(work / "whole-cases.csv")
    nights = pd.concat([pd.read_csv(work / f"new-{k}.csv") for k in range(1, args.nights + 1)], ignore_index=True)
    joined = nights.merge(whole, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    difference = (joined["anomaly_score_n"] - joined["anomaly_score_w"]).abs()
    out["every_night_against_whole"] = {
        "rows_nights": len(nights),
        "rows_whole": len(whole),
        "matched": len(joined),
        "max_score_difference": float(difference.max()),
        "rows_differing_over_1e-6": int((difference > 1.5e-6).sum()),  # the CSV's 6 decimals: 1e-6 is one digit
        "alarms_nights": int(nights["alarm"].sum()),
        "alarms_whole": int(whole["alarm"].sum()),
        "alarm_rows_differ": int((joined["alarm_n"] != joined["alarm_w"]).sum()),
    }
    out["work"] = str(work)
    return out


def walk(args: argparse.Namespace) -> dict[str, Any]:
    from forewarn.schema import Asset
    from forewarn.store import Store
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=args.sites,
            assets=args.assets,
            days=args.days,
            seed=args.seed,
            interval=args.interval,
            degradation_scale=args.degradation,
        )
    )
    events = fleet.events.assign(ts=pd.to_datetime(fleet.events["ts"], utc=True))
    readings = fleet.readings
    readings = readings.assign(ts=pd.to_datetime(readings["ts"], utc=True))
    work = Path(tempfile.mkdtemp(prefix="detect_cases_"))
    first, last = readings["ts"].min(), readings["ts"].max()
    bounds = [first + (last - first + pd.Timedelta(args.interval)) * k / args.nights for k in range(args.nights + 1)]
    exports = []
    for k in range(args.nights):
        part = readings[(readings["ts"] >= bounds[k]) & (readings["ts"] < bounds[k + 1])]
        path = work / f"night-{k + 1}.csv"
        part.assign(ts=part["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
        exports.append(path)
    plant = [Asset(a.asset_id, a.asset_class) for a in fleet.assets]
    out: dict[str, Any] = {
        "fleet": {
            "seed": args.seed,
            "sites": args.sites,
            "assets": len(plant),
            "days": args.days,
            "interval": args.interval,
            "degradation": args.degradation,
            "readings_rows": len(readings),
            "failures": int((events["kind"] == "failure").sum()),
        },
        "nights": [],
    }
    for name in ("plant", "refit", "whole"):
        with Store(work / f"{name}.duckdb") as db:
            db.add_assets(plant)
    store, refit, fits = work / "plant.duckdb", work / "refit.duckdb", work / "fits"
    scores, refit_scores = [], []
    for k, path in enumerate(exports, start=1):
        _, ingest_s = cli(["ingest", str(path), "--store", str(store)])
        cli(["ingest", str(path), "--store", str(refit)])
        argv = ["detect", "--store", str(store), "--out", str(work / f"scores-{k}.csv"), "--cases"]
        argv += ["--close-quiet", args.close_quiet, "--save-models", str(fits)]
        text, detect_s = cli(argv + ([] if k == 1 else ["--models", str(fits)]))
        scores.append(pd.read_csv(work / f"scores-{k}.csv"))
        cli(["detect", "--store", str(refit), "--out", str(work / f"refit-{k}.csv")])
        refit_scores.append(pd.read_csv(work / f"refit-{k}.csv"))
        line = next(x for x in text.splitlines() if x.startswith("case book "))
        out["nights"].append(
            {"night": k, "rows": int(len(scores[-1])), "ingest_s": round(ingest_s, 2), "detect_s": round(detect_s, 2)}
            | {"case_book": line.split(": ", 1)[1]}
        )
    again, _ = cli(argv + ["--models", str(fits)])  # the last night once more: nothing new
    out["rerun_last_night"] = next(x for x in again.splitlines() if x.startswith("case book ")).split(": ", 1)[1]
    # one run over the whole history with the first night's fits
    cli(["ingest", *map(str, exports), "--store", str(work / "whole.duckdb")])
    _, whole_s = cli(
        ["detect", "--store", str(work / "whole.duckdb"), "--out", str(work / "whole.csv"), "--cases"]
        + ["--close-quiet", args.close_quiet, "--models", str(fits)]
    )
    whole = pd.read_csv(work / "whole.csv")
    nightly_cases, whole_cases = book_cases(store), book_cases(work / "whole.duckdb")
    observed = {
        str(a): (pd.to_datetime(p["timestamp"], utc=True).min(), pd.to_datetime(p["timestamp"], utc=True).max())
        for a, p in whole.groupby("asset_id")
    }
    joined = scores[-1].merge(whole, on=["asset_id", "timestamp"], suffixes=("_n", "_w"))
    out["whole_run_s"] = round(whole_s, 2)
    out["same"] = {
        "rows_both": int(len(joined)),
        "max_score_difference": float((joined["anomaly_score_n"] - joined["anomaly_score_w"]).abs().max()),
        "alarms_nightly": int(scores[-1]["alarm"].sum()),
        "alarms_whole": int(whole["alarm"].sum()),
        "alarm_rows_differ": int((joined["alarm_n"] != joined["alarm_w"]).sum()),
        "cases_nightly": len(nightly_cases),
        "cases_whole": len(whole_cases),
        "cases_equal": case_key(nightly_cases) == case_key(whole_cases),
    }
    figures = {}
    for name, cases, table in (("nightly", nightly_cases, scores[-1]), ("whole", whole_cases, whole)):
        figures[name] = {"alarms": event_figures(starts(table), events, observed)} | case_book_figures(
            cases, at_failures(cases, events), events, observed
        )
    out["figures"] = figures
    moved = []
    for k in range(1, len(refit_scores)):  # refitting each night: the earlier nights' alarm starts that moved
        before, after = starts(refit_scores[k - 1]), starts(refit_scores[k])
        late = after[after["ts"] < bounds[k]]
        old, new = set(map(tuple, before.to_numpy())), set(map(tuple, late.to_numpy()))
        moved.append({"night": k + 1, "earlier_starts": len(old), "gone": len(old - new), "new": len(new - old)})
    kept_moved = []
    for k in range(1, len(scores)):
        before, after = starts(scores[k - 1]), starts(scores[k])
        late = after[after["ts"] < bounds[k]]
        old, new = set(map(tuple, before.to_numpy())), set(map(tuple, late.to_numpy()))
        kept_moved.append({"night": k + 1, "earlier_starts": len(old), "gone": len(old - new), "new": len(new - old)})
    out["earlier_starts_moved"] = {"refit_each_night": moved, "kept_fits": kept_moved}
    # what refitting on the whole history gives instead (the last refit night: each asset's first 15 % of 120 days)
    out["figures"]["refit_last_night_alarms"] = event_figures(starts(refit_scores[-1]), events, observed)
    out["work"] = str(work)
    return out


def explanations_vs_stream(store: Path, fits_dir: Path) -> dict[str, Any]:
    """Each filed alert's channels (detect's: the alarm row's distance from the training median in robust scales)
    against those the stream names for the same alarm row (``stream.sequential.deviations``: the fit's own centre and
    spread), the row's readings carried forward and filled as both score them: how often the first channel and the
    first three agree."""
    from forewarn.decide.cases import CaseBook, casebook_path_for
    from forewarn.detect.saved import SavedFits
    from forewarn.store import Store
    from forewarn.stream.sequential import deviations

    fits = SavedFits(fits_dir)
    book = CaseBook(casebook_path_for(store), close_quiet=None)
    try:
        alerts = book.alerts(limit=1_000_000)
    finally:
        book.close()
    first = top3 = compared = 0
    with Store(store, read_only=True) as db:
        for asset in sorted({str(a["asset_id"]) for a in alerts}):
            fit = fits.fit_for(asset)
            assert fit is not None
            wide = db.readings(asset, wide=True)
            rows = wide.set_index(pd.to_datetime(wide["ts"], utc=True))[fit.channels].ffill()
            rows = rows.fillna(pd.Series(fit.fill, index=fit.channels))
            for alert in (a for a in alerts if str(a["asset_id"]) == asset):
                theirs = list(deviations(fit.model, rows.loc[[alert["ts"]]].to_numpy(), fit.channels)[0])
                mine = list(alert["explanation"])
                compared += 1
                first += bool(mine and theirs and mine[0] == theirs[0])
                top3 += set(mine[:3]) == set(theirs[:3])
    return {"alerts": compared, "first_channel_equal": first, "top3_equal": top3}


def seed3(args: argparse.Namespace) -> dict[str, Any]:
    from detect_stream import fit_fleet

    from forewarn.decide.quiet import close_quiet_setting

    fitted = fit_fleet(3, 4, 48, 180, prefix="detect_cases_seed3_", store="plant.duckdb")
    store = fitted.work / "plant.duckdb"
    text, seconds = cli(
        ["detect", "--store", str(store), "--out", str(fitted.work / "again.csv"), "--cases"]
        + ["--close-quiet", args.close_quiet, "--models", str(fitted.work / "fits")]
    )
    cases = book_cases(store)
    hours = close_quiet_setting(args.close_quiet) / pd.Timedelta(hours=1)
    opened = pd.DataFrame({"asset_id": cases["asset_id"], "ts": cases["opened_ts"]})
    return {
        "detect_cases_s": round(seconds, 2),
        "case_book": next(x for x in text.splitlines() if x.startswith("case book ")).split(": ", 1)[1],
        "figures": case_book_figures(cases, at_failures(cases, fitted.events), fitted.events, fitted.observed),
        "episode_fold": episode_fold(fitted.offline, opened, hours),
        "alarms": event_figures(starts(pd.read_csv(fitted.work / "again.csv")), fitted.events, fitted.observed),
        "explanations_vs_stream": explanations_vs_stream(store, fitted.work / "fits"),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walk", action="store_true")
    parser.add_argument("--seed3", action="store_true")
    parser.add_argument("--only-new", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runs-all", type=int, help="--only-new: runs of each night without it (default --runs)")
    parser.add_argument("--compare-last", action="store_true", help="--only-new: the whole run after the last night")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--assets", type=int, default=12)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--interval", default="10min")
    parser.add_argument("--degradation", type=float, default=3.0)
    parser.add_argument("--nights", type=int, default=4)
    parser.add_argument("--close-quiet", default="7d")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    if args.walk:
        result["walk"] = walk(args)
    if args.seed3:
        result["seed3"] = seed3(args)
    if args.only_new:
        result["only_new"] = only_new_walk(args)
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
