"""``forewarn backtest``: replay a plant's history honestly, as the service would have seen it.

Folds:

* ``by="time"`` (walk-forward): the history is cut at ``folds`` times; at each cut the model is trained on the rows
  whose outcome was known by then (a row's failure-within-horizon label needs ``horizon`` of future), calibrated
  and thresholded on a share of those assets, then scores every row up to the next cut, as a service retrained
  every period would have;
* ``by="asset"`` / ``by="site"`` (leave a group out): each fold trains on the other assets (sites) and scores
  the held-out ones over their whole history.

Each fold fits exactly what ``forewarn train`` fits (:mod:`forewarn.train`: the same labels, features,
calibration on held-out assets and cost thresholds per class). ``model="auto"`` uses the task's first zoo model
(LightGBM) in every fold; comparing the zoo in every fold would multiply the cost by its size: name a model to
backtest another. Scored rows of all folds are pooled for the row figures (``rows``), the events figures
(:mod:`forewarn.backtest.events`), a threshold sweep and a reliability diagram.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from forewarn.base.executor import Executor, resolve
from forewarn.bundles.bundle import fill_missing, training_means
from forewarn.decide.calibration import expected_calibration_error
from forewarn.decide.thresholds import Costs, ThresholdPolicy
from forewarn.evaluate.cases import event_figures, failures_in, threshold_grid, time_based_cost
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.store import Store
from forewarn.train import holdout as held
from forewarn.train import zoo
from forewarn.train.dataset import Dataset, load_dataset, opened
from forewarn.train.labels import renewals
from forewarn.train.pipeline import _subsample, held_out_cases, positive_rows, refit, split_assets
from forewarn.train.spec import TrainSpec, hours

BY = ("time", "asset", "site")
#: above this share of scored rows in alarm, the backtest notes that its case figures say little
ALARM_SHARE_NOTE = 0.5
Progress = Callable[[int, int, str], None]


def _folds(data: Dataset, by: str, folds: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, training-candidate rows mask, scored rows mask) per fold."""
    if by == "time":
        ts = data.frame["ts"]
        cuts = pd.date_range(ts.min(), ts.max(), periods=folds + 2)[1:]
        out = []
        for k in range(folds):
            start, end = cuts[k], cuts[k + 1]
            scored = ((ts >= start) & ((ts < end) | (k == folds - 1))).to_numpy()
            out.append((f"{start:%Y-%m-%d} to {end:%Y-%m-%d}", (ts < start).to_numpy(), scored))
        return out
    groups = data.groups if by == "asset" else data.site
    n = len(np.unique(groups))
    if n < 2:
        raise DataNotFoundError(f"backtest --by {by} needs at least 2 {by}s; the selection has {n}")
    splitter = GroupKFold(n_splits=min(int(folds), n))
    out = []
    for fit, judge in splitter.split(np.zeros(len(groups)), groups=groups):
        left_out = np.unique(groups[judge])
        mask_fit = np.zeros(len(groups), bool)
        mask_fit[fit] = True
        mask_judge = np.zeros(len(groups), bool)
        mask_judge[judge] = True
        out.append((", ".join(map(str, left_out[:4])) + (" ..." if len(left_out) > 4 else ""), mask_fit, mask_judge))
    return out


def _known_by(data: Dataset, spec: TrainSpec, cut: pd.Timestamp | None) -> np.ndarray:
    """Rows whose label was known at ``cut`` (all of them when there is no cut): a failure label needs the
    horizon's future; a RUL label the time to the failure (or to the cap)."""
    if cut is None:
        return np.ones(len(data.frame), bool)
    if spec.task == "rul":
        ahead = np.nan_to_num(data.y.astype("float64"), nan=spec.max_rul_hours)
    else:
        ahead = np.full(len(data.frame), spec.horizon_hours)
    return (data.frame["ts"] + pd.to_timedelta(ahead, unit="h") <= cut).to_numpy()


def fold_inputs(
    data: Dataset, spec: TrainSpec, X: pd.DataFrame | None, trained: np.ndarray, cut: pd.Timestamp | None
) -> pd.DataFrame:
    """The feature frame a fold's model reads: ``X`` (window statistics, the same in every fold), or, for a sequence
    model (``X`` None), its input with the absent channels read as the class means of the fold's ``trained`` assets
    over their rows before ``cut`` (all of them without one): what ``forewarn train`` would file from that fold's
    data (:meth:`~forewarn.train.dataset.Dataset.class_means`), so each row reads what the fold's bundle would serve.
    """
    if X is not None:
        return X
    seen = np.isin(data.groups, trained)
    if cut is not None:
        seen &= (data.frame["ts"] < cut).to_numpy()
    return data.features(spec, sequence=True, absent=data.class_means(seen))


def _fit_fold(
    data: Dataset,
    spec: TrainSpec,
    name: str,
    X: pd.DataFrame | None,
    rows: np.ndarray,
    by: str,
    cut: pd.Timestamp | None,
) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, ThresholdPolicy]]:
    """Fit, calibrate and threshold on ``rows`` as forewarn train does; returns a scorer of (a mask of the rows to
    score, their classes). ``X`` None: a sequence model, whose input the fold builds (:func:`fold_inputs`)."""
    y = data.y
    positive = positive_rows(y, spec)
    calib = split_assets(data.groups, positive & rows, spec.holdout, spec.seed) & rows
    X = fold_inputs(data, spec, X, np.unique(data.groups[rows & ~calib]), cut)
    fit_rows = _subsample(np.flatnonzero(rows & ~calib), y, spec.max_rows, spec.seed)
    fill = None if zoo.accepts_missing(name) else np.array(list(training_means(X.iloc[fit_rows]).values()))
    if fill is not None:  # as the bundle does for such a model: missing features read as training means
        X = pd.DataFrame(fill_missing(X.to_numpy(dtype="float64"), fill), columns=X.columns, index=X.index)
    max_rul = spec.max_rul_hours if spec.task == "rul" else None
    model = zoo.fit_model(
        zoo.build(name, task=spec.task, seed=spec.seed, max_rul=max_rul), X.iloc[fit_rows], y[fit_rows]
    )
    said = zoo.output(model, X[calib])
    if spec.task == "rul":
        judged = held.rul_holdout(
            said, y[calib], data.groups[calib], spec.horizon_hours, spec.seed, cap=spec.max_rul_hours
        )
        outcome = (y[calib] <= spec.horizon_hours).astype(float)
    else:
        outcome = y[calib].astype(float)
        judged = held.calibrate_probabilities(said, outcome, data.groups[calib], spec.seed)
    cases, failures, renewed = held_out_cases(data, spec, X, model, judged, np.unique(data.groups[calib]))
    if by == "time":  # only what was known at the cut: the calibration assets' rows and failures before it
        cases = cases[cases["ts"] < cut]
        failures = failures[failures["ts"] < cut]
    policy, _ = held.choose_thresholds(
        judged.probability,
        outcome,
        data.asset_class[calib],
        dict(spec.costs),
        groups=data.groups[calib],
        cases=cases,
        failures=failures,
        renewals=renewed,
        horizon_hours=spec.horizon_hours,
        min_lead_hours=spec.min_lead_hours,
    )
    model, _ = refit(name, spec, X, y, rows)  # what forewarn train files: the recipe refit on every known row

    def scorer(scored: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, ThresholdPolicy]:
        raw = zoo.output(model, X[scored])  # X: the fold's features, missing values filled as the model was fitted
        rul = raw if spec.task == "rul" else np.full(len(raw), np.nan)
        return judged.probabilities(raw, spec.horizon_hours), rul, policy

    return scorer


def _row_figures(p: np.ndarray, outcome: np.ndarray, alarm: np.ndarray) -> dict[str, float | None]:
    from forewarn.evaluate.classification import alarm_figures, binary_metrics

    truth = outcome.astype(bool)
    both = len(np.unique(truth)) == 2
    ranks: dict[str, float | None] = {"roc_auc": None, "pr_auc": None}
    if both:
        ranks.update(binary_metrics(truth.astype(int), p))
    return {
        **alarm_figures(truth, alarm),
        "roc_auc": ranks["roc_auc"],
        "pr_auc": ranks["pr_auc"],
        "ece": expected_calibration_error(p, truth.astype(float)) if len(p) else None,
        "rows": int(len(p)),
    }


def backtest(
    store: str | os.PathLike[str] | Store,
    *,
    spec: TrainSpec | None = None,
    by: str = "time",
    folds: int = 5,
    min_lead: str | None = None,
    models: str | os.PathLike[str] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Backtest the spec's training recipe on the store's history; returns the result (see the module text).
    Numeric libraries run on one thread, as in :func:`forewarn.train`. ``executor``
    (:mod:`forewarn.base.executor`) runs the folds (local, one after the other, by default; the result does not
    depend on it: each fold is a function of the data and its own masks)."""
    with threadpool_limits(limits=1):
        return _backtest(
            store,
            spec=spec,
            by=by,
            folds=folds,
            min_lead=min_lead,
            models=models,
            json_path=json_path,
            report_dir=report_dir,
            progress=progress,
            executor=executor,
            **options,
        )


def _backtest(
    store: str | os.PathLike[str] | Store,
    *,
    spec: TrainSpec | None,
    by: str,
    folds: int,
    min_lead: str | None,
    models: str | os.PathLike[str] | None,
    json_path: str | os.PathLike[str] | None,
    report_dir: str | os.PathLike[str] | None,
    progress: Progress | None,
    executor: Executor | None = None,
    **options: Any,
) -> dict[str, Any]:
    if by not in BY:
        raise ConfigError(f"by={by!r} is not one of {', '.join(BY)}")
    if int(folds) < 2:
        raise ConfigError(f"folds={folds!r} must be at least 2")
    spec = (spec or TrainSpec()).with_options(min_lead=min_lead, **options)
    if spec.task not in ("failure", "rul"):
        raise ConfigError(f"backtest scores failure and rul models; task {spec.task!r} is not supported yet")
    min_lead_hours = spec.min_lead_hours
    started = time.perf_counter()
    with opened(store) as db:
        data = load_dataset(db, spec)
    spec = spec.resolved(data.interval)
    name = zoo.candidates(spec.task)[0] if spec.model == "auto" else spec.model
    X = None if zoo.is_sequence(name) else data.features(spec)  # a sequence model's input is each fold's own
    usable = data.labelled & ~data.down
    outcome_all = (data.y <= spec.horizon_hours).astype(float) if spec.task == "rul" else np.nan_to_num(data.y)
    p_all = np.full(len(data.frame), np.nan)
    cut_all = np.full(len(data.frame), np.nan)
    per_fold, fold_masks = [], []
    plan = _folds(data, by, int(folds))
    run = partial(_run_fold, data, spec, name, X, by, usable, outcome_all)
    for k, (label, record, scored, p, cut) in enumerate(resolve(executor).map(run, list(enumerate(plan)))):
        if progress is not None:
            progress(k, len(plan), label)
        if scored is not None:
            p_all[scored], cut_all[scored] = p, cut
        per_fold.append(record)
        fold_masks.append(scored)
    if progress is not None:
        progress(len(plan), len(plan), "done")
    common = event_keywords(data, spec, min_lead_hours)
    result = summarise(data, spec, by, len(plan), name, p_all, cut_all, outcome_all, usable, common)
    if spec.label is None or result["events"].get("failures"):  # a label column without failure events: none to judge
        for record, scored in zip(per_fold, fold_masks, strict=True):
            if scored is not None and scored.any():
                record["events"] = fold_events(data, common, p_all, cut_all, scored)
    result["per_fold"] = per_fold
    result["seconds"] = round(time.perf_counter() - started, 1)
    from forewarn.backtest.output import write_outputs

    write_outputs(result, data, p_all, cut_all, json_path=json_path, models=models, report_dir=report_dir)
    return result


def _run_fold(
    data: Dataset,
    spec: TrainSpec,
    name: str,
    X: pd.DataFrame | None,
    by: str,
    usable: np.ndarray,
    outcome_all: np.ndarray,
    fold: tuple[int, tuple[str, np.ndarray, np.ndarray]],
) -> tuple[str, dict[str, Any], np.ndarray | None, np.ndarray, np.ndarray]:
    """One fold (a walk-forward step or a left-out group), a function of its inputs alone so that an engine can
    run the folds in parallel: (label, the fold's record, its scored-rows mask or None when skipped, the scored
    rows' probabilities and thresholds)."""
    k, (label, fit_mask, judge_mask) = fold
    with threadpool_limits(limits=1):
        cut = data.frame["ts"][judge_mask].min() if by == "time" else None
        rows = fit_mask & usable & _known_by(data, spec, cut)
        if (
            int((data.y[rows] == 1).sum() if spec.task != "rul" else (data.y[rows] <= spec.horizon_hours).sum()) < 2
            or len(np.unique(data.groups[rows])) < 3
        ):
            skipped = {"fold": k, "label": label, "skipped": "too few failures known before this fold"}
            return label, skipped, None, np.empty(0), np.empty(0)
        scorer = _fit_fold(data, spec, name, X, rows, by, cut)
        scored = judge_mask & ~data.down
        p, _, policy = scorer(scored, data.asset_class[scored])
        cut_values = np.array([policy.threshold_for(c) for c in data.asset_class[scored]], dtype="float64")
        judged = (usable & scored)[scored]
        fold_rows = _row_figures(p[judged], outcome_all[scored][judged], p[judged] >= cut_values[judged])
        return label, {"fold": k, "label": label, "rows": fold_rows}, scored, p, cut_values


def event_keywords(data: Dataset, spec: TrainSpec, min_lead_hours: float) -> dict[str, Any]:
    """The keywords of :func:`~forewarn.evaluate.cases.event_figures` that do not depend on the scored rows
    (horizon, minimum lead, costs, renewals): read once for the whole backtest and each of its folds."""
    costs = ThresholdPolicy.from_mapping(dict(spec.costs)).costs_for(None) if spec.costs else Costs()
    renew = renewals(data.events, spec.renewing_actions) if len(data.events) else None
    return {"horizon_hours": spec.horizon_hours, "min_lead_hours": min_lead_hours, "costs": costs, "renewals": renew}


def _scored_rows(data: Dataset, p_all: np.ndarray, scored: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``scored`` rows (``asset_id, ts, p``) and the failures inside their spans."""
    frame = data.frame.loc[scored, ["asset_id", "ts"]].assign(p=p_all[scored])
    return frame, failures_in(frame, data.events, slack_hours=hours(data.interval, "interval"))


#: the event figures a fold's record carries (``per_fold[k]["events"]``)
FOLD_EVENT_KEYS = ("failures", "caught", "caught_share", "lead_time_hours_median", "false_cases_per_asset_year", "cost")


def fold_events(
    data: Dataset, common: dict[str, Any], p_all: np.ndarray, cut_all: np.ndarray, scored: np.ndarray
) -> dict[str, Any]:
    """One fold's event figures (:data:`FOLD_EVENT_KEYS`) at its own thresholds, over the rows it scored: the
    failures inside its assets' scored spans (a left-out group) or its period (a walk-forward step); ``common``:
    :func:`event_keywords`."""
    frame, failures = _scored_rows(data, p_all, scored)
    figures = event_figures(frame, failures, threshold=cut_all[scored], **common)
    return {key: figures[key] for key in FOLD_EVENT_KEYS}


def summarise(
    data: Dataset,
    spec: TrainSpec,
    by: str,
    folds: int,
    name: str,
    p_all: np.ndarray,
    cut_all: np.ndarray,
    outcome_all: np.ndarray,
    usable: np.ndarray,
    common: dict[str, Any],
) -> dict[str, Any]:
    """The pooled row figures, event figures at the fitted thresholds (``common``: :func:`event_keywords`), the sweep
    and the reliability diagram."""
    scored = ~np.isnan(p_all)
    if not scored.any():
        advice = "use fewer --folds" + (" or --by asset" if by != "asset" else " or train on more assets")
        raise DataNotFoundError(f"no fold could be trained: too few failures known before each fold; {advice}")
    judged = scored & usable
    rows = _row_figures(p_all[judged], outcome_all[judged], p_all[judged] >= cut_all[judged])
    frame, failures = _scored_rows(data, p_all, scored)
    costs, min_lead_hours = common["costs"], common["min_lead_hours"]
    events = event_figures(frame, failures, threshold=cut_all[scored], **common)
    events.update(
        time_based_cost(frame, failures, horizon_hours=spec.horizon_hours, min_lead_hours=min_lead_hours, costs=costs)
    )
    grid = threshold_grid(p_all[scored], np.unique(cut_all[scored]))
    sweep = []
    for threshold in grid:
        figures = event_figures(frame, failures, threshold=float(threshold), **common)
        sweep.append(
            {
                "threshold": float(threshold),
                "caught_share": figures["caught_share"],
                "false_cases_per_asset_year": figures["false_cases_per_asset_year"],
                "cost": figures["cost"],
                "alarm_share": figures["alarm_share"],
            }
        )
    note = None
    if spec.label is not None and not len(failures):
        events, sweep, note = without_failure_log(events, sweep, spec.label)
    elif (events["alarm_share"] or 0.0) > ALARM_SHARE_NOTE:
        note = (
            f"alarms are on for {events['alarm_share']:.0%} of the scored rows: cases that never close catch "
            "failures that come about as often as the horizon, so the caught share says little here; read it beside "
            "rows.far and the time-based baseline"
        )
    best = min(sweep, key=lambda s: s["cost"]) if sweep and note is None else None
    return {
        "id": "",
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "task": spec.task,
        "by": by,
        "folds": folds,
        "horizon_hours": spec.horizon_hours,
        "min_lead_hours": min_lead_hours,
        "model": name,
        "interval": data.interval,
        "window_rows": spec.window,
        "features": spec.features,
        "baseline": spec.baseline,
        "assets": int(data.frame["asset_id"].nunique()),
        "rows": rows,
        "events": events,
        "threshold": float(np.median(cut_all[scored])),
        "cost_optimal_threshold_in_hindsight": best,
        "sweep": sweep,
        "reliability": held.reliability(p_all[judged], outcome_all[judged]),
        "events_note": note,
    }


#: event figures that judge alarms against failure events: without a failure log they are not measured
JUDGED_BY_FAILURES = (
    "caught_share",
    "lead_time_hours_median",
    "false_cases",
    "false_cases_per_asset_year",
    "cost",
    "cost_run_to_failure",
    "cost_time_based",
    "time_based_period_hours",
)


def without_failure_log(
    events: dict[str, Any], sweep: list[dict[str, Any]], label: str
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Event figures of a backtest on a stored label column when the store holds no failure event: every case
    would count as false and run-to-failure as free, so the figures that judge cases against failures are not
    measured (``None``) and a note says why and what to ingest.

    >>> events, sweep, note = without_failure_log({"failures": 0, "caught": 0, "cases": 129, "false_cases": 129,
    ...     "false_cases_per_asset_year": 113.2, "cost": 193500.0}, [{"threshold": 0.5, "caught_share": None,
    ...     "false_cases_per_asset_year": 113.2, "cost": 193500.0}], "Ausfall")
    >>> events["false_cases_per_asset_year"], events["cases"], sweep[0]["cost"]
    (None, 129, None)
    >>> note.split(";")[0]
    "no failure event in the store, so cases cannot be judged (label column 'Ausfall' judges the rows only)"
    """
    events = {k: (None if k in JUDGED_BY_FAILURES else v) for k, v in events.items()}
    sweep = [{**s, "caught_share": None, "false_cases_per_asset_year": None, "cost": None} for s in sweep]
    note = (
        f"no failure event in the store, so cases cannot be judged (label column {label!r} judges the rows only); "
        "ingest the failure log (forewarn ingest LOG --event-kind failure), or a failure flag column as failures "
        "(forewarn ingest FILE --failure-column NAME), for failures caught, lead times, false cases and costs"
    )
    return events, sweep, note
