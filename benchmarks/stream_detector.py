"""The default detector's cost per asset and micro-batch in the stream, and whether its scores stay the same.

The stream scores a sequential detector (the default ``ensemble`` of ``forewarn detect``) per asset and batch after
the asset's last ``context`` rows (:class:`~forewarn.stream.sequential.SeriesContext`). Here a twin fleet (``--assets``
machines, ``--interval`` rows, degradation 3x faster than life so that faults show) is fitted per asset on its first
15 % of rows, as ``detect`` does (each fit wrapped as ``detect --save-models`` keeps it:
:class:`~forewarn.detect.saved.SavedFit`, the asset's channels, gaps filled as ``detect`` fills them). Each asset's
context is first filled with ``--warm`` rows (one batch, not timed); then ``--batches`` micro-batches of ``k`` new rows
per asset (each ``--rows`` value) go through ``SeriesContext.score``, each batch timed, as one ``[[models]]`` entry of saved
fits (``saved``) and as one entry per fit (``model``: the detector scored as it is). Printed per ``k``: the median
milliseconds per asset per batch over the batches of ``--runs`` runs (and the range of the runs' medians), the load
average, and the largest difference between the stream's scores and the fit's scores of each asset's whole series at
the same rows (they differ where the detector remembers more than the context holds).

Identity across code versions: ``--save FILE`` writes every score this run computed (the stream's at each ``k``, the
whole series', a few labelled corpus series through :func:`~forewarn.models.anomaly.ensemble.score_frame` with the
default and with each option on, and the twin fleet through :func:`~forewarn.detect.scoring.detect_frame` with its
alarms); ``--compare FILE`` computes them again and prints the largest difference to the saved ones and whether every
alarm is the same. Save with the code before a change, compare after.

    .venv/bin/python benchmarks/stream_detector.py --save /tmp/before.npz            # on the old code
    .venv/bin/python benchmarks/stream_detector.py --compare /tmp/before.npz         # on the new one

Numeric libraries run on one thread (the stream's scoring thread is one thread).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: the options each scored with on the corpus series besides the default (the paths a change could reach)
OPTIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "rebase": {"rebase_rows": 400},
    "expand": {"expand_references": True},
    "transition": {"transition_rows": 12},
    "contamination": {"contamination": 0.05},
    "adaptation": {"adaptation": 0.01},
    "small_sample": {"small_sample": True},
    "no_settle_recover": {"settle_hours": None, "recover": None},
}


def twin_fleet(seed: int, assets: int, days: int, interval: str) -> list[tuple[str, pd.DataFrame]]:
    """``(asset_id, frame)`` per machine of a failing twin fleet: ``timestamp`` then the asset's channels."""
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(sites=1, assets=assets, days=days, seed=seed, interval=interval, degradation_scale=3.0)
    )
    out = []
    for asset in fleet.assets:
        rows = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels if c.name in rows.columns]
        frame = pd.concat([rows["ts"].rename("timestamp"), rows[names].astype("float64")], axis=1)
        out.append((str(asset.asset_id), frame.dropna(axis=1, how="all").reset_index(drop=True)))
    return out


class Fits:
    """Each asset's own fit, as :class:`~forewarn.detect.saved.SavedFits` hands them to the stream."""

    def __init__(self, fits: dict[str, Any]):
        self.fits = fits

    def fit_for(self, asset: str) -> Any:
        return self.fits.get(asset)


def fit_fleet(machines: list[tuple[str, pd.DataFrame]]) -> tuple[Fits, list[str]]:
    """Each asset's ``ensemble`` fitted on its first 15 % of rows, wrapped as ``detect --save-models`` keeps it."""
    from forewarn.detect.saved import SavedFit
    from forewarn.models.anomaly.ensemble import EnsembleDetector

    fits, columns = {}, []
    for asset, frame in machines:
        channels = [c for c in frame.columns if c != "timestamp"]
        columns += [c for c in channels if c not in columns]
        n_train = max(10, int(0.15 * len(frame)))
        training = frame[channels].iloc[:n_train]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = EnsembleDetector().fit(training)
        fill = training.median().fillna(0.0).to_numpy(dtype="float64")
        fits[asset] = SavedFit(model, channels, fill)
    return Fits(fits), columns


def whole_series(fits: Fits, machines: list[tuple[str, pd.DataFrame]]) -> dict[str, np.ndarray]:
    """Each asset's fit on its whole series."""
    out = {}
    for asset, frame in machines:
        X = frame.drop(columns=["timestamp"]).set_axis(pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)))
        out[asset] = fits.fit_for(asset).score(X)
    return out


def _batch(machines: list[tuple[str, pd.DataFrame]], columns: list[str], lo: int, hi: int) -> tuple[Any, ...]:
    """Rows ``lo:hi`` of every asset, sorted by (asset, ts), in the stream's arrays (all ``columns``, NaN where an
    asset has no such channel)."""
    assets, ts, values = [], [], []
    for asset, frame in machines:
        part = frame.iloc[lo:hi]
        assets.append(np.full(len(part), asset, dtype=object))
        ts.append(pd.DatetimeIndex(pd.to_datetime(part["timestamp"], utc=True)).as_unit("us").asi8)
        values.append(part.reindex(columns=columns).to_numpy(dtype="float64"))
    return np.concatenate(assets), np.concatenate(ts), np.vstack(values)


def stream_run(
    fits: Fits,
    machines: list[tuple[str, pd.DataFrame]],
    columns: list[str],
    k: int,
    warm: int,
    batches: int,
    context: int,
    saved: bool = True,
) -> tuple[list[float], dict[str, np.ndarray]]:
    """Seconds of each timed batch of ``k`` rows per asset, and each asset's stream scores of rows ``warm`` on.

    ``saved``: one ``[[models]]`` entry of saved fits (``detect --save-models``: each asset's fit picked by the
    folder, its channels read and gaps filled by :class:`~forewarn.detect.saved.SavedFit`); else one entry per
    asset's fit (saved with ``forewarn.base.save``, its own channels, the model scored as it is)."""
    from forewarn.stream.sequential import SeriesContext

    if saved:
        entries = [(SeriesContext(columns, context), fits, machines, columns)]
    else:
        entries = []
        for asset, frame in machines:
            fit = fits.fit_for(asset)
            entries.append((SeriesContext(fit.channels, context), fit.model, [(asset, frame)], fit.channels))
    for series, model, rows, names in entries:
        series.score(model, *_batch(rows, names, 0, warm))
    seconds, scores = [], {asset: [] for asset, _ in machines}
    for b in range(batches):
        batch = [_batch(rows, names, warm + b * k, warm + (b + 1) * k) for _, _, rows, names in entries]
        start = time.perf_counter()
        outs = [series.score(model, *part) for (series, model, _, _), part in zip(entries, batch, strict=True)]
        seconds.append(time.perf_counter() - start)
        for (assets, _, _), out in zip(batch, outs, strict=True):
            for asset in np.unique(assets).tolist():
                scores[asset].append(out[assets == asset])
    return seconds, {asset: np.concatenate(parts) for asset, parts in scores.items()}


def corpus_scores(seed: int, series: int) -> dict[str, np.ndarray]:
    """``score_frame`` of the first ``series`` series of the labelled corpus (seed ``seed``) with each option."""
    from forewarn.models.anomaly.ensemble import score_frame
    from forewarn.twin.anomalies import make_corpus

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = make_corpus(seed, n_synthetic=series, n_twin=1, n_rows=3000)
        for item in corpus:
            for name, params in OPTIONS.items():
                out[f"corpus/{item.name}/{name}"] = score_frame(item.frame, **params)
    return out


def detect_scores(machines: list[tuple[str, pd.DataFrame]]) -> dict[str, np.ndarray]:
    """The fleet through ``detect_frame`` (long form with an asset column): scores and alarms."""
    from forewarn.detect.scoring import detect_frame

    frame = pd.concat([f.assign(asset_id=a) for a, f in machines], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = detect_frame(frame, asset_column="asset_id", timestamp_column="timestamp")
    return {
        "detect/anomaly_score": result.scores["anomaly_score"].to_numpy(dtype="float64"),
        "detect/alarm": result.scores["alarm"].to_numpy(dtype="float64"),
    }


def compare(now: dict[str, np.ndarray], saved: dict[str, np.ndarray]) -> dict[str, Any]:
    """The largest difference to the saved scores, per family of keys, and whether every alarm is the same."""
    largest: dict[str, float] = {}
    missing = sorted(set(saved) ^ set(now))
    alarms_same = True
    for key in sorted(set(saved) & set(now)):
        a, b = now[key], saved[key]
        family = key.split("/")[0]
        if a.shape != b.shape:
            largest[family] = float("inf")
            continue
        both = np.isfinite(a) & np.isfinite(b)
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            largest[family] = float("inf")
        diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
        largest[family] = max(largest.get(family, 0.0), diff)
        if key.endswith("alarm"):
            alarms_same &= bool(np.array_equal(a, b))
        else:  # the alarm rule on the scores (each series' episode starts)
            from forewarn.decide.alarms import AlarmRule, find_alarms

            alarms_same &= bool(np.array_equal(find_alarms(a, AlarmRule())[0], find_alarms(b, AlarmRule())[0]))
    return {"largest_difference": largest, "alarms_same": alarms_same, "keys": len(saved), "unmatched": missing}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=10, help="the twin fleet's seed (a validation seed)")
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--interval", default="10min")
    parser.add_argument("--rows", default="1,6,60", help="new rows per asset and batch, comma-separated")
    parser.add_argument("--warm", type=int, default=600, help="rows per asset in the context before timing")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--corpus-series", type=int, default=4, help="labelled corpus series for --save/--compare")
    parser.add_argument("--save", help="write every score computed here (npz)")
    parser.add_argument("--compare", help="compare every score computed here with a --save file")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {"load_before": os.getloadavg()}
    machines = twin_fleet(args.seed, args.assets, args.days, args.interval)
    fits, columns = fit_fleet(machines)
    whole = whole_series(fits, machines)
    keep: dict[str, np.ndarray] = {f"whole/{a}": s for a, s in whole.items()}
    per_k = {}
    for k in [int(v) for v in args.rows.split(",")]:
        need = args.warm + args.batches * k
        short = [a for a, f in machines if len(f) < need]
        if short:
            raise SystemExit(f"{len(short)} assets have fewer than {need} rows: raise --days or lower --warm/--batches")
        per_k[k] = {}
        for entry in ("saved", "model"):
            medians, largest = [], 0.0
            for run in range(args.runs):
                seconds, scores = stream_run(
                    fits, machines, columns, k, args.warm, args.batches, args.context, entry == "saved"
                )
                medians.append(1000 * statistics.median(seconds) / len(machines))
                for asset, s in scores.items():
                    largest = max(largest, float(np.max(np.abs(s - whole[asset][args.warm : args.warm + len(s)]))))
                    if run == 0:
                        keep[f"stream{k}{entry}/{asset}"] = s
            per_k[k][entry] = {
                "ms_per_asset_batch": statistics.median(medians),
                "runs": [round(m, 2) for m in medians],
                "largest_difference_to_whole_series": largest,
            }
            print(json.dumps({"rows_per_batch": k, "entry": entry, **per_k[k][entry]}), flush=True)
    report.update(
        {
            "per_batch_rows": per_k,
            "assets": len(machines),
            "rows_per_asset": int(np.median([len(f) for _, f in machines])),
            "channels": int(np.median([f.shape[1] - 1 for _, f in machines])),
            "interval": args.interval,
            "context": args.context,
            "load_after": os.getloadavg(),
        }
    )
    if args.save or args.compare:
        keep.update(corpus_scores(args.seed, args.corpus_series))
        keep.update(detect_scores(machines))
        if args.save:
            np.savez_compressed(args.save, **keep)
        if args.compare:
            with np.load(args.compare) as saved:
                report["identity"] = compare(keep, {key: saved[key] for key in saved.files})
            print(json.dumps(report["identity"]), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1, default=str)
    print(json.dumps({k: v for k, v in report.items() if k != "per_batch_rows"}, default=str))
    return report


if __name__ == "__main__":
    main()
