"""Calibration on held-out assets: how many distinct probabilities, how many ties, ECE, Brier, ROC-AUC (issue 12.6).

Each source gives the held-out rows of a trained model: its raw outputs, the outcome (failure within the
horizon), the asset of each row, and (where the rows have times) each row's time, so that the held-out assets can
be ranked at each time as a fleet ranking would. Every calibration method in ``--methods`` is then fitted exactly
as ``forewarn train`` fits it (:func:`forewarn.train.holdout.calibrate_probabilities`, or
:func:`~forewarn.train.holdout.rul_holdout` for RUL: cross-fitted by asset halves, the shipped map fitted on all
held-out rows), and judged:

* ``levels``: distinct values of the shipped map over the held-out rows (``raw_levels``: of the raw output);
* ``tied_rows``: share of held-out rows whose shipped probability another row shares (raw: ``raw_tied_rows``);
* ``fleet_ties``: over the times at which two or more held-out assets are scored, the mean share of those
  assets that tie with another asset at that time (the fleet ranking cannot order them);
* ``ece``, ``brier``, ``roc_auc``: of the cross-fitted probabilities (each row from the map fitted on the other
  half of the assets); ``roc_auc_shipped`` of the shipped map on all held-out rows, beside ``roc_auc_raw``;
* ``sweep_max_jump``: the largest share of held-out rows at one shipped probability (a threshold sweep moves them
  across together);
* thresholds: ``row_threshold`` (the row-cost optimum, :func:`~forewarn.decide.thresholds.empirical_threshold`, at
  the default costs) and the rows sitting exactly on it; where the rows have times and failures, the case-cost
  threshold ``train`` fits (``event_threshold``, its ``caught`` failures and ``event_cost``), ``grid_levels`` (the
  distinct thresholds of its sweep grid, at most 30) and ``sweep_step_max`` (the largest share of rows one step of
  that sweep puts into alarm).

Sources (validation data only; none is a benchmark's test part):

* ``twin``: ``forewarn simulate --sites 2 --assets 48 --days 180 --interval 1h --degradation-scale 3 --seed S`` for
  the seeds given (11 and 12 are validation seeds), then ``forewarn.train`` (failure within ``--horizon``) with the
  held-out rows captured;
* ``ai4i``: AI4I 2020's training part (UDI <= 8000; the last 2,000 rows are never read), one product = one asset,
  LightGBM failure model fitted on 70 % of the products, held out on the others (``--ai4i-internal``: the
  model's own calibration of its margins, isotonic by default as in the zoo, or platt, or none);
* ``cmapss``: C-MAPSS FD001's train split (100 engines run to failure), ``forewarn.train --task rul`` with failure
  within ``--cmapss-horizon`` as the outcome.

    .venv/bin/python benchmarks/calibration.py --sources twin ai4i cmapss --work /tmp/cal --json cal.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.decide.calibration import PLATT_WEIGHT as DEFAULT_WEIGHT

DATA_DIR = Path(os.environ.get("FOREWARN_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
FOREWARN = str(Path(sys.executable).with_name("forewarn"))


class Capture:
    """The held-out rows of one ``forewarn.train`` run: raw outputs, outcome, assets, and the scored cases."""

    def __init__(self) -> None:
        self.args: dict[str, Any] = {}
        self.cases: pd.DataFrame | None = None
        self.case_output: np.ndarray | None = None
        self.failures: pd.DataFrame | None = None
        self.renewals: pd.DataFrame | None = None
        self.hours: tuple[float, float] = (24.0, 24.0)  # horizon, min lead


def captured_train(store: Path, models: Path, **options: Any) -> Capture:
    """Run ``forewarn.train`` with the held-out calibration inputs and scored cases recorded."""
    from forewarn.train import holdout, pipeline, zoo

    got = Capture()
    calibrate, rul, cases = holdout.calibrate_probabilities, holdout.rul_holdout, pipeline.held_out_cases

    def on_calibrate(raw: np.ndarray, outcome: np.ndarray, groups: np.ndarray, seed: int, **kw: Any) -> Any:
        got.args = {"kind": "failure", "raw": raw, "outcome": outcome, "groups": groups, "seed": seed}
        return calibrate(raw, outcome, groups, seed, **kw)

    def on_rul(
        predicted: np.ndarray, truth: np.ndarray, groups: np.ndarray, horizon: float, seed: int, **kw: Any
    ) -> Any:
        got.args = {"kind": "rul", "raw": predicted, "truth": truth, "groups": groups, "horizon": horizon, "seed": seed}
        return rul(predicted, truth, groups, horizon, seed, **kw)

    def on_cases(data: Any, spec: Any, X: pd.DataFrame, model: Any, judged: Any, assets: np.ndarray) -> Any:
        out = cases(data, spec, X, model, judged, assets)
        rows = np.isin(data.groups, assets) & ~data.down
        got.cases, got.failures, got.renewals = out
        got.hours = (spec.horizon_hours, spec.min_lead_hours)
        got.case_output = np.asarray(zoo.output(model, X[rows]), dtype="float64")
        return out

    holdout.calibrate_probabilities, holdout.rul_holdout, pipeline.held_out_cases = on_calibrate, on_rul, on_cases  # type: ignore[assignment]
    try:
        pipeline.train(store, models, **options)
    finally:
        holdout.calibrate_probabilities, holdout.rul_holdout, pipeline.held_out_cases = calibrate, rul, cases  # type: ignore[assignment]
    return got


def judge(got: Capture, method: str) -> dict[str, Any]:
    """Fit ``method`` on the captured held-out rows as ``forewarn train`` does and return its figures."""
    from forewarn.decide import calibration
    from forewarn.decide.calibration import brier_score, expected_calibration_error
    from forewarn.decide.thresholds import Costs, empirical_threshold
    from forewarn.evaluate.classification import binary_metrics
    from forewarn.train import holdout

    a = got.args
    method, _, weight = method.partition(":")  # "isotonic-platt:0.05": that Platt weight
    calibration.PLATT_WEIGHT = float(weight) if weight else DEFAULT_WEIGHT
    if a["kind"] == "rul":
        h = holdout.rul_holdout(a["raw"], a["truth"], a["groups"], a["horizon"], a["seed"], method=method)
        outcome = (a["truth"] <= a["horizon"]).astype(float)
        raw = _raw_rul(h, a["raw"], a["horizon"])
    else:
        h = holdout.calibrate_probabilities(a["raw"], a["outcome"], a["groups"], a["seed"], method=method)
        outcome, raw = a["outcome"], a["raw"]
    shipped = h.probability
    assert h.judged is not None
    known = np.isfinite(h.judged)
    judged = np.clip(h.judged[known], 0.0, 1.0)
    out: dict[str, Any] = {
        "method": method + (f":{weight}" if weight else ""),
        "rows": len(outcome),
        "positives": int(outcome.sum()),
        "episodes": holdout.episodes(outcome, a["groups"]),
        "raw_levels": int(len(np.unique(raw))),
        "levels": int(len(np.unique(shipped))),
        "raw_tied_rows": tied_share(raw),
        "tied_rows": tied_share(shipped),
        "ece": expected_calibration_error(judged, outcome[known]),
        "brier": brier_score(judged, outcome[known]),
        "roc_auc": binary_metrics(outcome[known].astype(int), judged)["roc_auc"],
        "roc_auc_shipped": binary_metrics(outcome.astype(int), shipped)["roc_auc"],
        "roc_auc_raw": binary_metrics(outcome.astype(int), raw)["roc_auc"],
        "sweep_max_jump": sweep_max_jump(shipped),
        "min_p": float(shipped.min()),
        "max_p": float(shipped.max()),
    }
    if got.cases is not None and got.case_output is not None:
        p = h.probabilities(got.case_output, a.get("horizon", 0.0))
        out["fleet_ties"], out["fleet_times"] = fleet_ties(got.cases.assign(p=p))
        if a["kind"] == "rul":
            from forewarn.bundles.bundle import rul_failure_probability

            assert h.residual_model is not None
            case_raw = rul_failure_probability(got.case_output, a["horizon"], *h.residual_model)[0]
        else:
            case_raw = got.case_output
        out["raw_fleet_ties"] = fleet_ties(got.cases.assign(p=case_raw))[0]
        out.update(thresholds(got, got.cases.assign(p=p)))
    row = empirical_threshold(shipped, outcome, Costs())
    out["row_threshold"], out["rows_at_row_threshold"] = row.threshold, int((shipped == row.threshold).sum())
    return out


def thresholds(got: Capture, scored: pd.DataFrame) -> dict[str, Any]:
    """The case-cost threshold train fits (:func:`~forewarn.evaluate.cases.cost_optimal_threshold`) on the held-out
    assets' scored rows, and the sweep behind it: how many distinct thresholds its grid has, and the largest share
    of rows one step of the sweep moves into alarm."""
    from forewarn.evaluate.cases import cost_optimal_threshold, threshold_grid

    p = scored["p"].to_numpy(dtype="float64")
    grid = threshold_grid(p)
    in_alarm = np.array([(p >= t).mean() for t in grid])
    out: dict[str, Any] = {"grid_levels": len(grid), "sweep_step_max": float(np.max(-np.diff(in_alarm), initial=0.0))}
    if got.failures is not None and len(got.failures):
        horizon, lead = got.hours
        threshold, figures = cost_optimal_threshold(
            scored, got.failures, horizon_hours=horizon, min_lead_hours=lead, renewals=got.renewals
        )
        out.update(
            event_threshold=threshold,
            rows_at_event_threshold=int((p == threshold).sum()),
            event_cost=figures["cost"],
            caught=figures.get("caught"),
            failures=figures.get("failures"),
        )
    return out


def _raw_rul(h: Any, predicted: np.ndarray, horizon: float) -> np.ndarray:
    from forewarn.bundles.bundle import rul_failure_probability

    return rul_failure_probability(predicted, horizon, *h.residual_model)[0]


def tied_share(values: np.ndarray) -> float:
    """Share of values that another value equals.

    >>> tied_share(np.array([0.1, 0.1, 0.2, 0.3]))
    0.5
    """
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean()) if len(values) else 0.0


def fleet_ties(cases: pd.DataFrame) -> tuple[float, int]:
    """Mean share of tied assets over the times with two or more assets scored, and how many such times."""
    shares = []
    for _, at in cases.groupby("ts"):
        if len(at) > 1:
            shares.append(tied_share(at["p"].to_numpy()))
    return (float(np.mean(shares)) if shares else 0.0), len(shares)


def sweep_max_jump(p: np.ndarray) -> float:
    """The largest share of rows at one probability value: a threshold sweep moves them across together.

    >>> sweep_max_jump(np.array([0.1, 0.1, 0.1, 0.5]))
    0.75
    """
    _, counts = np.unique(p, return_counts=True)
    return float(counts.max() / len(p)) if len(p) else 0.0


# -- sources --------------------------------------------------------------------------------------------------------
def twin(args: argparse.Namespace, work: Path) -> list[tuple[str, Capture]]:
    out = []
    for seed in args.seeds:
        store = work / f"twin{seed}.duckdb"
        if not store.exists():
            subprocess.run(
                [FOREWARN, "simulate", "--sites", "2", "--assets", "48", "--days", "180", "--interval", "1h"]
                + ["--degradation-scale", "3", "--seed", str(seed), "--store", str(store)],
                check=True,
                capture_output=True,
            )
        for horizon in args.horizons:
            models = work / f"models_twin{seed}_{horizon}"
            got = captured_train(store, models, horizon=horizon, model=args.twin_model)
            out.append((f"twin seed {seed}, {horizon}, {args.twin_model}", got))
    return out


def ai4i(args: argparse.Namespace, work: Path) -> list[tuple[str, Capture]]:
    """AI4I's training part (UDI <= 8000) as independent products; 30 % of them held out."""
    from forewarn.bench.ai4i import process_features
    from forewarn.datasets.ai4i import load_ai4i
    from forewarn.train import zoo

    data = load_ai4i(DATA_DIR)
    frame = data.frame[data.frame["udi"] <= 8000].reset_index(drop=True)
    X = process_features(frame)
    y = frame["machine_failure"].to_numpy(dtype="float64")
    groups = frame["product_id"].astype(str).to_numpy()
    out = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        held = np.zeros(len(y), dtype=bool)
        for label in (0.0, 1.0):  # stratified by outcome, as train's split spreads the assets with failures
            rows = np.flatnonzero(y == label)
            held[rng.choice(rows, size=int(round(0.3 * len(rows))), replace=False)] = True
        estimator = zoo.build("lightgbm-failure", task="failure", seed=seed)
        if args.ai4i_internal != "isotonic":  # the model's own calibration of its margins inside fit
            estimator.set_params(calibration=None if args.ai4i_internal == "none" else args.ai4i_internal)
        model = zoo.fit_model(estimator, X[~held], y[~held])
        got = Capture()
        raw = np.asarray(zoo.output(model, X[held].reset_index(drop=True)), dtype="float64")
        got.args = {"kind": "failure", "raw": raw, "outcome": y[held], "groups": groups[held], "seed": seed}
        inside = estimator.get_params()["calibration"]
        out.append((f"ai4i train part, seed {seed}, lightgbm-failure ({inside} inside)", got))
    return out


def cmapss(args: argparse.Namespace, work: Path) -> list[tuple[str, Capture]]:
    """C-MAPSS FD001 train split (engines run to failure; cycle n at 2000-01-01 + n h), ``forewarn.train --task rul``."""
    from forewarn.datasets.cmapss import load_cmapss

    store = work / "fd001.duckdb"
    if not store.exists():
        train = load_cmapss("FD001", DATA_DIR).train
        ts = pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(train["cycle"], unit="h")
        sensors = [c for c in train.columns if c.startswith(("sensor_", "setting_"))]
        readings = train[sensors].assign(
            asset_id="E" + train["unit"].astype(str), ts=ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        last = readings.groupby("asset_id")["ts"].max().reset_index().assign(kind="failure")
        readings.to_csv(work / "fd001.csv", index=False)
        last.to_csv(work / "fd001_failures.csv", index=False)
        for cmd in (
            [FOREWARN, "ingest", str(work / "fd001.csv"), "--store", str(store)],
            [FOREWARN, "ingest", str(work / "fd001_failures.csv"), "--store", str(store), "--kind", "events"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
    got = captured_train(store, work / "models_fd001", task="rul", horizon=args.cmapss_horizon)
    return [(f"C-MAPSS FD001 train split, rul, failure within {args.cmapss_horizon}", got)]


SOURCES: dict[str, Callable[[argparse.Namespace, Path], list[tuple[str, Capture]]]] = {
    "twin": twin,
    "ai4i": ai4i,
    "cmapss": cmapss,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=["twin", "ai4i"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[11, 12])
    parser.add_argument("--horizons", nargs="+", default=["24h", "7d"])
    parser.add_argument("--twin-model", default="lightgbm-failure")
    parser.add_argument("--cmapss-horizon", default="24h")
    parser.add_argument(
        "--ai4i-internal", default="isotonic", help="the AI4I model's own calibration: isotonic (default), platt, none"
    )
    parser.add_argument("--methods", nargs="+", default=["isotonic", "platt"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/forewarn-calibration"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in args.sources:
        started = time.perf_counter()
        for name, got in SOURCES[source](args, args.work):
            for method in args.methods:
                row = {"source": name, **judge(got, method)}
                rows.append(row)
                print(json.dumps(row), flush=True)
        print(f"# {source}: {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    table = pd.DataFrame(rows)
    columns = ["source", "method", "episodes", "raw_levels", "levels", "tied_rows", "fleet_ties", "sweep_max_jump"]
    columns += ["ece", "brier", "roc_auc_raw", "roc_auc_shipped", "roc_auc", "grid_levels", "sweep_step_max"]
    columns += ["rows_at_row_threshold", "event_threshold", "rows_at_event_threshold", "caught", "event_cost"]
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 50):
        print(table[[c for c in columns if c in table]].round(4).to_string(index=False))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
