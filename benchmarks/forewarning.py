"""Event-level forewarning of the unsupervised alarms on the twin's fleet, through the stream path.

What a planner would count after a year of stream alarms, with no failure label used anywhere:

1. a fleet of the digital twin (``forewarn.twin``: pumps, hourly summaries, run-to-failure maintenance by default so
   that failures happen; sensor faults on);
2. a row-wise detector (``pca-t2q`` on window features: mean, std, last, slope over ``--window`` hours) fitted on
   the first ``--train-days`` days of every asset, labels unseen; the alarm level is set from the training scores
   alone: ``scale`` = their ``--quantile`` quantile times ``--margin``, so the alarm rule (``on = 0.5`` of
   ``score / (score + scale)``) opens where the score reaches ``scale``;
3. the rest of the year streamed through :class:`forewarn.stream.pipeline.OnlinePipeline` (store, online features,
   scores, the alarm rule per asset with ``clear_rows`` and a refractory period, one commit per micro-batch of one
   day, alarms filed into the case book), exactly what ``forewarn stream`` / ``serve --stream`` run;
4. the case book's alerts (``source = "stream"``) against the twin's failures with
   :func:`forewarn.evaluate.events.event_metrics`: a failure is *caught* when an alarm falls in
   ``[failure - horizon, failure - 24 h]``; its lead time is from the first such alarm; every other alarm is a false
   alarm, per asset-month of streamed time.

The figures: failures, caught (alarm >= 24 h ahead), catch rate, lead time (mean / median, hours), alarms, false
alarms per asset-month, and rows streamed per second. The issue's target: 60 % of failures warned >= 24 h ahead
with at most 1 false alarm per asset-month.

Run: ``.venv/bin/python benchmarks/forewarning.py`` (about a minute on 2 cores) or ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.base import save
from forewarn.decide.cases import CaseBook
from forewarn.evaluate.events import event_metrics
from forewarn.features.window import window_features
from forewarn.models.anomaly.pca import PCADetector
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline
from forewarn.twin.simulator import FleetConfig, build_fleet

STATS = ["mean", "std", "last", "slope"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="run_to_failure", help="the sites' maintenance policy")
    parser.add_argument("--degradation-scale", type=float, default=1.0)
    parser.add_argument("--train-days", type=int, default=30)
    parser.add_argument("--window", type=int, default=24, help="window of the features, in hourly rows")
    parser.add_argument("--quantile", type=float, default=0.999, help="of the training scores")
    parser.add_argument("--margin", type=float, default=2.0, help="alarm level = quantile of training scores x margin")
    parser.add_argument("--clear-rows", type=int, default=6)
    parser.add_argument("--refractory", default="24h")
    parser.add_argument("--horizon", default="14D", help="how long before a failure an alarm counts as a warning")
    parser.add_argument("--quick", action="store_true", help="12 assets, 180 days")
    args = parser.parse_args(argv)
    if args.quick:
        args.assets, args.days = 12, 180

    started = time.perf_counter()
    fleet = build_fleet(
        FleetConfig(
            sites=2,
            assets=args.assets,
            days=args.days,
            seed=args.seed,
            interval="1h",
            classes=("pump",),
            policies=(args.policy,),
            degradation_scale=args.degradation_scale,
        )
    )
    wide = fleet.readings
    channels = [c for c in wide.columns if c not in ("asset_id", "ts") and wide[c].notna().mean() > 0.5]
    failures = fleet.events.query("kind == 'failure'")[["asset_id", "ts"]].reset_index(drop=True)
    start = pd.Timestamp(wide["ts"].min())
    split = start + pd.Timedelta(days=args.train_days)
    simulated = time.perf_counter() - started

    # 2. the detector, fitted without labels on the first days of every asset
    train = wide[wide["ts"] < split]
    feats = window_features(train, group="asset_id", order="ts", columns=channels, window=args.window, stats=STATS)
    names = [f"{c}__{s}" for c in channels for s in STATS]
    X = feats[names][np.isfinite(feats[names].to_numpy()).all(axis=1)]
    model = PCADetector(quantile=0.999).fit(X)
    scale = float(np.quantile(model.score(X), args.quantile) * args.margin)

    with tempfile.TemporaryDirectory() as tmp:
        folder = save(model, Path(tmp) / "pump-pca")
        config = parse_config(
            {
                "mqtt": {"subscriptions": [{"topic": "p/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
                "assets": [
                    {"asset_id": a, "asset_class": "pump", "channels": dict.fromkeys(channels, "")}
                    for a in fleet.asset_ids
                ],
                "models": [
                    {
                        "path": str(folder),
                        "model_id": "pump-pca",
                        "window": args.window,
                        "alarm": {
                            "on": 0.5,
                            "off": 0.3,
                            "clear_rows": args.clear_rows,
                            "refractory": args.refractory,
                            "scale": scale,
                        },
                    }
                ],
            }
        )
        # 3. the whole year through the stream path, one micro-batch per day (the first days warm the windows)
        store = Store(Path(tmp) / "plant.duckdb")
        pipe = OnlinePipeline(store, config)
        long = wide.melt(id_vars=["asset_id", "ts"], value_vars=channels, var_name="channel").dropna()
        long["ts_us"] = pd.DatetimeIndex(long["ts"]).as_unit("us").asi8
        long = long.sort_values(["ts_us", "asset_id", "channel"], kind="stable")
        day = (long["ts_us"] - long["ts_us"].min()) // 86_400_000_000
        streamed = time.perf_counter()
        for _, part in long.groupby(day.to_numpy(), sort=True):
            pipe.process(
                ReadingColumns(
                    asset=part["asset_id"].astype(str).tolist(),
                    channel=part["channel"].astype(str).tolist(),
                    ts_us=part["ts_us"].tolist(),
                    value=part["value"].tolist(),
                ),
                [],
            )
        pipe.clock = lambda: time.time() + 3600  # every asset quiet: release and score what is held
        pipe.tick()
        stream_s = time.perf_counter() - streamed
        rows_scored = pipe.tables.count("stream_scores")
        monthly = pipe.tables.con.execute(
            "SELECT strftime(date_trunc('month', ts), '%Y-%m') AS month, quantile_cont(score, 0.99) AS q99 "
            "FROM stream_scores GROUP BY 1 ORDER BY 1"
        ).fetchall()
        pipe.close()
        book = CaseBook(str(Path(tmp) / "plant.cases.duckdb"))
        alerts = pd.DataFrame(book.alerts(limit=1_000_000), columns=["asset_id", "ts", "source"])
        cases = book.counts()
        book.close()
        store.close()

    # 4. event-level figures over the streamed (evaluated) period
    end = pd.Timestamp(wide["ts"].max())
    alarms_all = len(alerts)
    alerts = alerts[alerts["ts"] >= split]
    evaluated = failures[failures["ts"] >= split + pd.Timedelta(args.horizon)]
    alerts = alerts[alerts["source"] == "stream"]
    metrics = event_metrics(
        alerts[["asset_id", "ts"]],
        evaluated,
        horizon=pd.Timedelta(args.horizon),
        min_lead=pd.Timedelta("24h"),
        observed={a: (split, end) for a in fleet.asset_ids},
    )
    figures = metrics.as_dict()
    out = {
        "fleet": f"{args.assets} pumps x {args.days} days, hourly, seed {args.seed}, policy {args.policy}",
        "detector": f"pca-t2q on {len(names)} window features (window {args.window} h), fitted on days 0-{args.train_days}",
        "alarm_rule": f"scale {scale:.3g} (q{args.quantile} of training scores x {args.margin}), clear_rows "
        f"{args.clear_rows}, refractory {args.refractory}",
        "failures": int(figures["failures"] or 0),
        "caught_24h_ahead": int(figures["caught"] or 0),
        "catch_rate": round(float(figures["catch_rate"] or 0.0), 3),
        "lead_time_mean_h": None if figures["lead_time_mean"] is None else round(figures["lead_time_mean"], 1),
        "lead_time_median_h": None if figures["lead_time_median"] is None else round(figures["lead_time_median"], 1),
        "alarms": int(figures["alerts"] or 0),
        "false_alarms": int(figures["false_alarms"] or 0),
        "false_alarms_per_asset_month": round(float(figures["false_alarms_per_asset_month"] or 0.0), 3),
        "alarms_in_case_book": alarms_all,
        "case_book": cases,
        "score_q99_over_alarm_level_by_month": {str(m): round(float(q) / scale, 2) for m, q in monthly},
        "rows_scored": rows_scored,
        "stream_rows_per_s": round(rows_scored / stream_s),
        "seconds": {"simulate": round(simulated, 1), "stream": round(stream_s, 1)},
    }
    print(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    main()
