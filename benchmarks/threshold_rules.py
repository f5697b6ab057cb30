"""Threshold rules on a twin fleet's site-held-out backtest, compared without refitting a model (issue 12).

``forewarn backtest --by site --horizon 7d`` fits, in each fold, a model, its calibration and then the cost
thresholds on the fold's calibration assets (:func:`forewarn.train.holdout.choose_thresholds`). This script runs
that backtest once through the runner's own fold functions, keeps each fold's inputs to ``choose_thresholds``
and the scored probabilities, then re-chooses the thresholds under each rule below and recomputes the event
figures (:func:`forewarn.backtest.runner.summarise`): the models and probabilities are those of the one run, so
only the rule differs.

Rules, when the fold's calibration assets hold fewer than ``EVENT_MIN_FAILURES`` (10) failure events:

* ``row-fit``: each class's threshold minimises the cost of its rows (the rule before commit a0a30f2);
* ``bayes``: every class keeps the Bayes threshold of its costs (the rule since a0a30f2, ``choose_thresholds``);
* ``events-5``, ``events-3``: the cost-optimal threshold of the calibration assets' cases from 5 (3) failures.

With 10 or more failure events every rule is the same (the cases decide). Use validation fleets to choose.

    .venv/bin/python benchmarks/threshold_rules.py --store fleet11.duckdb --json rules11.json

With ``--label COLUMN`` the store's label column is the outcome (no failure events: issue 12's plant file,
``forewarn backtest --by asset --folds 5 --label failure_24h --horizon 24h``) and the rules are those of a label
column, compared on the row figures (F1, FAR) beside the event ones:

* ``row-fit``: each class with 5 positive rows gets the threshold minimising the cost of its rows (the rule before
  the label episodes were counted);
* ``episodes``: the same only with ``EVENT_MIN_FAILURES`` (10) label episodes among the calibration assets and
  ``CLASS_MIN_FAILURES`` (5) in the class, else the Bayes threshold (:func:`forewarn.train.holdout.label_thresholds`);
* ``bayes``: every class keeps the Bayes threshold of its costs.

    .venv/bin/python benchmarks/threshold_rules.py --store plant11.duckdb --label failure_24h --by asset --folds 5 \
        --horizon 24h --json plant-rules11.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from forewarn.backtest import runner
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.train import holdout as held
from forewarn.train import zoo
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.spec import TrainSpec

RULES = ("row-fit", "bayes", "events-5", "events-3")
LABEL_RULES = ("row-fit", "episodes", "bayes")


def choose(rule: str, args: tuple[Any, ...], kw: dict[str, Any]) -> ThresholdPolicy:
    """The policy ``rule`` gives for one fold's captured ``choose_thresholds`` call."""
    p, outcome, classes, costs = args
    failures = kw.get("failures")
    if failures is None or len(failures) == 0:  # a label column
        policy = ThresholdPolicy.from_mapping(costs) if costs else ThresholdPolicy()
        if rule == "row-fit":
            policy.fit(p, outcome, classes)
        elif rule == "episodes":
            held.label_thresholds(policy, p, outcome, classes, kw.get("groups"))
        return policy
    few = failures is not None and 0 < len(failures) < held.EVENT_MIN_FAILURES
    if not few or rule == "bayes":
        return held.choose_thresholds(*args, **kw)[0]
    if rule == "row-fit":
        policy = ThresholdPolicy.from_mapping(costs) if costs else ThresholdPolicy()
        policy.fit(p, outcome, classes)
        return policy
    policy = ThresholdPolicy.from_mapping(costs) if costs else ThresholdPolicy()
    if len(failures) >= int(rule.split("-")[1]):
        held.event_thresholds(
            policy,
            kw["cases"],
            failures,
            horizon_hours=kw["horizon_hours"],
            min_lead_hours=kw["min_lead_hours"],
            renewals=kw.get("renewals"),
        )
    return policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--label", default=None, help="a stored label column as the outcome (no failure events)")
    parser.add_argument("--by", default="site", choices=("site", "asset"))
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--horizon", default="7d")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    captured: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    original = held.choose_thresholds

    def capture(*a: Any, **kw: Any) -> Any:
        captured.append((a, kw))
        return original(*a, **kw)

    with threadpool_limits(limits=1):
        spec = TrainSpec().with_options(horizon=args.horizon, label=args.label)
        with opened(args.store) as db:
            data = load_dataset(db, spec)
        spec = spec.resolved(data.interval)
        X = data.features(spec)
        name = zoo.candidates(spec.task)[0]
        usable = data.labelled & ~data.down
        outcome = np.nan_to_num(data.y)
        p_all = np.full(len(X), np.nan)
        plan = runner._folds(data, args.by, args.folds)
        folds = []
        held.choose_thresholds = capture
        try:
            for k, fold in enumerate(plan):
                _, record, scored, p, _ = runner._run_fold(data, spec, name, X, args.by, usable, outcome, (k, fold))
                if scored is not None:
                    p_all[scored] = p
                    folds.append(scored)
        finally:
            held.choose_thresholds = original
        out: dict[str, Any] = {"store": str(args.store), "model": name, "interval": data.interval, "rules": {}}
        for rule in LABEL_RULES if args.label else RULES:
            cut_all = np.full(len(X), np.nan)
            chosen = []
            for scored, (a, kw) in zip(folds, captured, strict=True):
                policy = choose(rule, a, kw)
                classes = data.asset_class[scored]
                cut_all[scored] = [policy.threshold_for(c) for c in classes]
                chosen.append(
                    {
                        "failures": len(kw["failures"]) if kw.get("failures") is not None else 0,
                        "label_episodes": held.episodes(a[1], kw.get("groups", np.zeros(len(a[1])))),
                        "thresholds": {c: round(policy.threshold_for(c), 4) for c in sorted(set(classes))},
                    }
                )
            result = runner.summarise(
                data, spec, args.by, len(plan), spec.min_lead_hours, name, p_all, cut_all, outcome, usable
            )
            events = result["events"]
            keys = ("failures", "caught", "caught_share", "lead_time_hours_median", "false_cases_per_asset_year")
            out["rules"][rule] = {
                **{key: events[key] for key in (*keys, "cost", "cost_run_to_failure")},
                "row_figures": {key: result["rows"][key] for key in ("f1", "precision", "recall", "far")},
                "folds": chosen,
            }
            shown = {key: out["rules"][rule][key] for key in (*keys, "cost", "row_figures")}
            print(rule, json.dumps(shown), [f["thresholds"] for f in chosen], flush=True)
        out["rows"] = {key: result["rows"][key] for key in ("roc_auc", "pr_auc")}
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cpu_seconds"] = round(time.process_time() - cpu, 1)
    out["load1"] = round(os.getloadavg()[0], 2)
    print(json.dumps({k: out[k] for k in ("seconds", "cpu_seconds", "load1", "rows")}))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
