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

Variants, each judged on the same captured rows (one training per source; the captures are kept under
``WORK/captures`` and read back on the next run):

* ``--internal``: a failure model's own calibration of its margins (isotonic-platt, the default of every failure
  model, isotonic, platt, none), each fitted on the same out-of-fold margins its ``fit`` computed;
* ``--rul-tails``: a RUL model's failure probability beyond the held-out residuals (``none``: 0 and 1, as before;
  ``power``: the product's tails; ``mixture``: the bands pooled);
* ``--ai4i-model`` and ``--twin-model``: any model of the failure zoo (``--twin-task rul``: of the RUL zoo).

    .venv/bin/python benchmarks/calibration.py --sources twin ai4i cmapss --work /tmp/cal --json cal.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
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
        #: a failure model's out-of-fold training margins and targets (its own calibration's input), when the raw
        #: outputs above are margins squashed by :func:`squash` (:func:`own_margins`)
        self.oof: tuple[np.ndarray, np.ndarray] | None = None

    def save(self, folder: Path) -> None:
        """Keep the capture in ``folder`` (npz and parquet files) so other maps can be judged without training."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: _plain(v) for k, v in self.args.items() if k != "kind"}
        if self.oof is not None:
            arrays["oof_margin"], arrays["oof_y"] = self.oof
        if self.case_output is not None:
            arrays["case_output"] = self.case_output
        np.savez(folder / "arrays.npz", **arrays)
        meta = {"kind": self.args["kind"], "hours": list(self.hours)}
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for name in ("cases", "failures", "renewals"):
            frame = getattr(self, name)
            if frame is not None:
                frame.to_parquet(folder / f"{name}.parquet")

    @classmethod
    def load(cls, folder: Path) -> Capture:
        got = cls()
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
            values = {k: arrays[k] for k in arrays.files}
        got.hours = tuple(meta["hours"])  # type: ignore[assignment]
        got.case_output = values.pop("case_output", None)
        if "oof_margin" in values:
            got.oof = (values.pop("oof_margin"), values.pop("oof_y"))
        got.args = {"kind": meta["kind"], **values}
        for key in ("seed", "horizon"):
            if key in got.args:
                got.args[key] = got.args[key].item()
        for name in ("cases", "failures", "renewals"):
            file = folder / f"{name}.parquet"
            setattr(got, name, pd.read_parquet(file) if file.exists() else None)
        return got


def _plain(values: Any) -> np.ndarray:
    """An array npz keeps without pickling (asset ids as strings)."""
    array = np.asarray(values)
    return array.astype(str) if array.dtype == object else array


class _Captured(Exception):
    """Raised once the held-out rows are recorded: the refit on every asset is not needed here."""


def squash(margin: np.ndarray) -> np.ndarray:
    """A margin as a number in (0, 1), strictly increasing and well conditioned (:func:`unsquash` inverts it)."""
    return np.arctan(np.asarray(margin, dtype="float64")) / np.pi + 0.5


def unsquash(p: np.ndarray) -> np.ndarray:
    return np.tan(np.pi * (np.asarray(p, dtype="float64") - 0.5))


@contextmanager
def own_margins() -> Iterator[list[tuple[np.ndarray, np.ndarray]]]:
    """While open, the failure models answer their squashed raw margin (:func:`squash`) instead of their own
    calibrated probability, and every fit records its out-of-fold margins and targets: the model's own
    calibration can then be fitted afterwards with each method from one training (the training does not depend
    on the method)."""
    from forewarn.models.failure import _calibrated

    fitted: list[tuple[np.ndarray, np.ndarray]] = []
    fit, apply = _calibrated.fit_calibration, _calibrated.apply_calibration

    def on_fit(margin: np.ndarray, y: np.ndarray, method: str | None) -> tuple[np.ndarray, np.ndarray]:
        fitted.append((np.asarray(margin, dtype="float64").copy(), np.asarray(y, dtype="float64").copy()))
        return fit(margin, y, method)

    _calibrated.fit_calibration = on_fit  # type: ignore[assignment]
    _calibrated.apply_calibration = lambda margin, *_: squash(margin)  # type: ignore[assignment]
    try:
        yield fitted
    finally:
        _calibrated.fit_calibration, _calibrated.apply_calibration = fit, apply  # type: ignore[assignment]


def with_own_calibration(got: Capture, method: str | None) -> Capture:
    """``got`` with its squashed margins mapped by the model's own calibration fitted with ``method`` on the
    out-of-fold margins (as the model's ``fit`` fits it)."""
    from forewarn.models.failure._calibration import apply_calibration, fit_calibration

    assert got.oof is not None
    first, second = fit_calibration(got.oof[0], got.oof[1], method)
    out = Capture()
    out.__dict__.update(got.__dict__)
    out.args = {**got.args, "raw": apply_calibration(unsquash(got.args["raw"]), method, first, second)}
    if got.case_output is not None:
        out.case_output = apply_calibration(unsquash(got.case_output), method, first, second)
    return out


def captured_train(store: Path, models: Path, **options: Any) -> Capture:
    """Run ``forewarn.train`` with the held-out calibration inputs and scored cases recorded (stopped before the
    refit on every asset)."""
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
        raise _Captured

    holdout.calibrate_probabilities, holdout.rul_holdout, pipeline.held_out_cases = on_calibrate, on_rul, on_cases  # type: ignore[assignment]
    try:
        with own_margins() as fitted:
            pipeline.train(store, models, **options)
    except _Captured:
        got.oof = fitted[0] if fitted else None
    finally:
        holdout.calibrate_probabilities, holdout.rul_holdout, pipeline.held_out_cases = calibrate, rul, cases  # type: ignore[assignment]
    return got


def cached(folder: Path, make: Callable[[], Capture]) -> Capture:
    """The capture kept in ``folder`` (:meth:`Capture.save`), else ``make()``'s, kept there."""
    if (folder / "meta.json").exists():
        return Capture.load(folder)
    got = make()
    got.save(folder)
    return got


def mixture_probability(
    rul: np.ndarray, horizon: float, edges: np.ndarray, quantiles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A variant measured beside the product's rule (not in the product): the mean over the bands of each band's
    ``P(RUL + residual <= horizon)`` with the product's tails, i.e. the pooled residuals (the bands hold equal
    counts), so continuous and strictly decreasing in the predicted RUL across the bands' edges too, at the cost
    of the probability's conditioning on the prediction."""
    from forewarn.bundles.bundle import residual_cdf

    rul = np.atleast_1d(np.asarray(rul, dtype="float64"))
    band = np.searchsorted(np.asarray(edges, dtype="float64"), rul, side="right")
    raw = np.mean([residual_cdf(horizon - rul, q) for q in quantiles], axis=0)
    return raw, band


def rul_map(tails: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """The RUL failure-probability rule named ``tails``: ``none`` (0 and 1 beyond the residuals, before),
    ``power`` (the product's default now), ``mixture`` (:func:`mixture_probability`). An exponential tail, measured
    at 18:45-18:55 on 2026-12-05, is no longer in the product (BENCHMARKS.md)."""
    from forewarn.bundles.bundle import rul_failure_probability

    if tails == "mixture":
        return mixture_probability
    return partial(rul_failure_probability, tails="" if tails == "none" else tails)


def judge(got: Capture, method: str, tails: str = "power") -> dict[str, Any]:
    """Fit ``method`` on the captured held-out rows as ``forewarn train`` does and return its figures (a RUL
    model's failure probability by the rule ``tails``, :func:`rul_map`)."""
    from forewarn.decide import calibration
    from forewarn.decide.calibration import brier_score, expected_calibration_error
    from forewarn.decide.thresholds import Costs, empirical_threshold
    from forewarn.evaluate.classification import binary_metrics
    from forewarn.train import holdout

    a = got.args
    method, _, weight = method.partition(":")  # "isotonic-platt:0.05": that Platt weight
    calibration.PLATT_WEIGHT = float(weight) if weight else DEFAULT_WEIGHT
    probability_of = rul_map(tails)
    p_cases = None
    if a["kind"] == "rul":
        product = holdout.rul_failure_probability
        holdout.rul_failure_probability = probability_of  # type: ignore[assignment]
        try:
            h = holdout.rul_holdout(a["raw"], a["truth"], a["groups"], a["horizon"], a["seed"], method=method)
            p_cases = None if got.case_output is None else h.probabilities(got.case_output, a["horizon"])
        finally:
            holdout.rul_failure_probability = product  # type: ignore[assignment]
        outcome = (a["truth"] <= a["horizon"]).astype(float)
        assert h.residual_model is not None
        raw = probability_of(a["raw"], a["horizon"], *h.residual_model)[0]
    else:
        h = holdout.calibrate_probabilities(a["raw"], a["outcome"], a["groups"], a["seed"], method=method)
        outcome, raw = a["outcome"], a["raw"]
    shipped = h.probability
    assert h.judged is not None
    known = np.isfinite(h.judged)
    judged = np.clip(h.judged[known], 0.0, 1.0)
    out: dict[str, Any] = {
        "method": method + (f":{weight}" if weight else ""),
        **({"tails": tails} if a["kind"] == "rul" else {}),
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
        p = p_cases if a["kind"] == "rul" else h.probabilities(got.case_output, a.get("horizon", 0.0))
        out["fleet_ties"], out["fleet_times"] = fleet_ties(got.cases.assign(p=p))
        if a["kind"] == "rul":
            assert h.residual_model is not None
            case_raw = probability_of(got.case_output, a["horizon"], *h.residual_model)[0]
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
            label = f"twin{seed}_{horizon}_{args.twin_task}_{args.twin_model}"
            got = cached(
                work / "captures" / label,
                partial(
                    captured_train,
                    store,
                    work / f"models_{label}",
                    horizon=horizon,
                    model=args.twin_model,
                    task=args.twin_task,
                ),
            )
            out.append((f"twin seed {seed}, {horizon}, {args.twin_task}, {args.twin_model}", got))
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

        def fitted(seed: int = seed, held: np.ndarray = held) -> Capture:
            estimator = zoo.build(args.ai4i_model, task="failure", seed=seed)
            got = Capture()
            with own_margins() as oof:  # the model's own calibration is fitted afterwards, per --internal
                model = zoo.fit_model(estimator, X[~held], y[~held])
                raw = np.asarray(zoo.output(model, X[held].reset_index(drop=True)), dtype="float64")
            got.oof = oof[0]
            got.args = {"kind": "failure", "raw": raw, "outcome": y[held], "groups": groups[held], "seed": seed}
            return got

        got = cached(work / "captures" / f"ai4i{seed}_{args.ai4i_model}", fitted)
        out.append((f"ai4i train part, seed {seed}, {args.ai4i_model}", got))
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
    got = cached(
        work / "captures" / f"fd001_{args.cmapss_horizon}",
        partial(captured_train, store, work / "models_fd001", task="rul", horizon=args.cmapss_horizon),
    )
    return [(f"C-MAPSS FD001 train split, rul, failure within {args.cmapss_horizon}", got)]


SOURCES: dict[str, Callable[[argparse.Namespace, Path], list[tuple[str, Capture]]]] = {
    "twin": twin,
    "ai4i": ai4i,
    "cmapss": cmapss,
}


RUL_RULES = "none (0 and 1 beyond the residuals, before), power (the default), mixture (bands pooled)"


def variants(got: Capture, args: argparse.Namespace) -> Iterator[tuple[dict[str, str], str, Capture]]:
    """The capture once per model-own calibration (failure models) or per RUL probability rule."""
    if got.oof is not None:
        for own in args.internal:
            yield {"own": own}, "power", with_own_calibration(got, None if own == "none" else own)
    elif got.args["kind"] == "rul":
        for tails in args.rul_tails:
            yield {}, tails, got
    else:
        yield {}, "power", got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=["twin", "ai4i"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[11, 12])
    parser.add_argument("--horizons", nargs="+", default=["24h", "7d"])
    parser.add_argument("--twin-model", default="lightgbm-failure")
    parser.add_argument("--twin-task", default="failure", choices=["failure", "rul"])
    parser.add_argument("--cmapss-horizon", default="24h")
    parser.add_argument("--ai4i-model", default="lightgbm-failure", help="the failure model fitted on AI4I")
    parser.add_argument(
        "--internal",
        nargs="+",
        default=["isotonic-platt"],
        help="the failure model's own calibration(s) of its margins, each fitted on the same out-of-fold margins: "
        "isotonic-platt (the default of every failure model), isotonic, platt, none",
    )
    parser.add_argument(
        "--rul-tails", nargs="+", default=["power"], help="a RUL model's probability rule(s): " + RUL_RULES
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
            for variant, tails, judged in variants(got, args):
                for method in args.methods:
                    row = {"source": name, **variant, **judge(judged, method, tails)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        print(f"# {source}: {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    table = pd.DataFrame(rows)
    columns = [
        "source",
        "own",
        "tails",
        "method",
        "episodes",
        "raw_levels",
        "levels",
        "tied_rows",
        "fleet_ties",
        "sweep_max_jump",
    ]
    columns += ["ece", "brier", "roc_auc_raw", "roc_auc_shipped", "roc_auc", "grid_levels", "sweep_step_max"]
    columns += ["rows_at_row_threshold", "event_threshold", "rows_at_event_threshold", "caught", "event_cost"]
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 50):
        print(table[[c for c in columns if c in table]].round(4).to_string(index=False))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float), encoding="utf-8")


if __name__ == "__main__":
    main()
