"""What a sequence model gains when absent channels read their class's training mean instead of 0 (issue 12).

Motors and fans of the twin never report ``seal_leak``, ``flow`` or ``discharge_pressure``; until class means, a
sequence model's input read every absent channel as 0. This script trains the LSTM of ``forewarn train --model
lstm-attention-failure`` on one store, split by asset exactly as ``forewarn train`` splits (same held-out assets,
same training rows, same network seed), under three rules for absent channels:

* ``zero``: 0 everywhere (``absent=None``, what every bundle written before class means reads);
* ``overall``: the class's training mean where the class reports the channel, the overall mean where it never
  does (the first design; measured, not adopted);
* ``now``: the class's training mean where the class reports the channel, 0 where it never does (what ``forewarn
  train`` files, :func:`forewarn.features.kernel.class_means`).

A rule whose input equals an earlier one's bit for bit is not trained again (its figures are that rule's).
``--drop CHANNEL:CLASS`` removes a channel from half of a class's assets (chosen by the seed; in memory, the store
is not changed): sensors a class has but some assets lack, where ``now`` differs from ``zero``. Reported: the
held-out assets' ROC-AUC, PR-AUC and ECE, overall and per asset class, of the model's own calibrated probability,
and ECE after the held-out calibration ``forewarn train`` ships (cross-fitted on the held-out assets,
:func:`forewarn.train.holdout.calibrate_probabilities`, what the model card reports).

Use validation seeds only (the twin's 11 or 12), e.g.::

    forewarn simulate --sites 2 --assets 48 --days 180 --interval 1h --seed 11 --out /tmp/twin11.duckdb
    python benchmarks/sequence_absent.py --store /tmp/twin11.duckdb --interval 3h --window 8 --horizon 72h

torch runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from forewarn.decide.calibration import expected_calibration_error
from forewarn.evaluate.classification import binary_metrics
from forewarn.features.kernel import ClassMeans
from forewarn.train import holdout as held
from forewarn.train import zoo
from forewarn.train.dataset import load_dataset, opened
from forewarn.train.pipeline import _subsample, positive_rows, split_assets
from forewarn.train.spec import TrainSpec

MODEL = "lstm-attention-failure"


def figures(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, ECE and counts of one set of held-out rows (NaN AUCs without both outcomes)."""
    both = len(np.unique(y)) == 2
    metrics = binary_metrics(y, p) if both else {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": float(metrics["roc_auc"]),
        "pr_auc": float(metrics["pr_auc"]),
        "ece": float(expected_calibration_error(p, y)),
    }


def overall_rule(data: Any, training: np.ndarray, means: ClassMeans) -> ClassMeans:
    """The first design: a class's channels it never reported read the overall training mean (not 0)."""
    by_class, overall = means
    values = data.frame.loc[training, data.channels]
    classes = data.raw_class[training]
    rule = {}
    for name, row in by_class.items():
        reported = values[classes == name].notna().any().to_numpy()
        rule[name] = [m if r else o for m, r, o in zip(row, reported, overall, strict=True)]
    return rule, overall


def drop_sensors(data: Any, drops: list[str], seed: int) -> list[str]:
    """Remove CHANNEL from half the assets of CLASS (``data.frame`` in memory); returns the assets changed."""
    rng = np.random.default_rng(seed)
    changed = []
    for item in drops:
        channel, _, asset_class = item.partition(":")
        ids = sorted(set(data.frame["asset_id"][data.asset_class == asset_class]))
        chosen = [str(a) for a in rng.permutation(ids)[: len(ids) // 2]]
        data.frame.loc[data.frame["asset_id"].isin(chosen), channel] = np.nan
        changed += [f"{a}:{channel}" for a in chosen]
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--interval", default="3h")
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--horizon", default="72h")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="network (and split) seeds")
    parser.add_argument("--epochs", type=int, default=None, help="the model's default when not given")
    parser.add_argument("--drop", nargs="*", default=[], help="CHANNEL:CLASS, removed from half the class's assets")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    options = {"task": "failure", "horizon": args.horizon, "interval": args.interval, "window": args.window}
    out: list[dict[str, Any]] = []
    with threadpool_limits(limits=1):
        for seed in args.seeds:
            spec = TrainSpec().with_options(model=MODEL, seed=seed, **options)
            with opened(args.store) as db:
                data = load_dataset(db, spec)
            spec = spec.resolved(data.interval)
            dropped = drop_sensors(data, args.drop, seed)
            usable = data.labelled & ~data.down
            y = data.y
            held_rows = split_assets(data.groups, positive_rows(y, spec) & usable, spec.holdout, spec.seed) & usable
            train_rows = _subsample(np.flatnonzero(usable & ~held_rows), y, spec.max_rows, spec.seed)
            training = np.isin(data.groups, np.unique(data.groups[train_rows]))
            means = data.class_means(training)
            classes = data.asset_class[held_rows]
            truth = y[held_rows].astype(int)
            seen: list[tuple[str, np.ndarray]] = []
            for variant, absent in (("zero", None), ("overall", overall_rule(data, training, means)), ("now", means)):
                started = time.perf_counter()
                X = data.features(spec, sequence=True, absent=absent)
                same = next((name for name, earlier in seen if np.array_equal(earlier, X.to_numpy())), None)
                seen.append((variant, X.to_numpy()))
                if same is not None:
                    out.extend(
                        {**r, "variant": variant, "same_input_as": same}
                        for r in list(out)
                        if r["seed"] == seed and r["variant"] == same
                    )
                    print(json.dumps({"seed": seed, "variant": variant, "same_input_as": same}), flush=True)
                    continue
                model = zoo.build(MODEL, task="failure", seed=seed)
                if args.epochs:
                    model.set_params(epochs=args.epochs)
                model = zoo.fit_model(model, X.iloc[train_rows], y[train_rows])
                own = zoo.output(model, X[held_rows])
                shipped = held.calibrate_probabilities(own, truth.astype(float), data.groups[held_rows], spec.seed)
                for name in ["all", *sorted(set(classes))]:
                    rows = np.ones(len(truth), bool) if name == "all" else classes == name
                    row = {"seed": seed, "variant": variant, "class": name, "dropped": dropped}
                    row.update({f"own_{k}": v for k, v in figures(truth[rows], own[rows]).items()})
                    shipped_figures = figures(truth[rows], shipped.probability[rows])
                    row.update({f"shipped_{k}": shipped_figures[k] for k in ("roc_auc", "pr_auc", "ece")})
                    row["assets"] = int(len(np.unique(data.groups[held_rows][rows])))
                    row["fit_s"] = round(time.perf_counter() - started, 1)
                    out.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
