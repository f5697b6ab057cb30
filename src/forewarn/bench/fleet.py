"""Simulated fleet benchmark: trained on some sites, does a model warn in time at a site it never saw?

The digital twin (:mod:`forewarn.twin`) simulates a fleet of differing sites (climate, equipment mix, load,
maintenance policy, sensor calibration) with its ground-truth failure events. No data directory is read:
``data_dir`` is accepted for the runner contract and ignored. Each repetition ``seed`` simulates a new fleet
(``FleetConfig.seed = seed``) and seeds every model with the same number.

Protocol (per seed), with the defaults of :data:`FLEET` (4 sites, 48 assets, 180 days at hourly steps,
degradation 3 times faster than in life so that a few dozen failures happen):

* Labels come from the failure events only: for each hourly row, the hours to the asset's next failure.
  ``failure within the horizon`` (:data:`HORIZON_H`, 7 days) is 1 when a failure follows within it, 0 when none
  does and at least the horizon of simulated time remains, and unknown (censored: left out everywhere) in the
  last days of an asset that does not fail. The RUL target is the hours to the next failure capped at
  :data:`MAX_RUL_H` (30 days), known when a failure follows or when at least that much time remains.
* Features, computed causally per asset: trailing 24-hour window statistics of every channel
  (:func:`~forewarn.features.window.window_features`) and the asset class (one-hot). Models that take no
  missing values see them imputed with medians of the training rows.
* Split by site, leave one site out: each site in turn is the test site, every model is fitted on the other
  sites' rows (every :data:`TRAIN_STEP`-th hour, labelled rows only) and scores every hour of the held-out
  site; the held-out predictions of all sites are pooled. No asset is ever on both sides.
* Failure predictors (``lightgbm-failure``, ``logistic-failure``) give calibrated probabilities; an hour
  alerts when the probability exceeds the cost-based threshold of :func:`forewarn.decide.thresholds.bayes_threshold`
  at :data:`COSTS`. ``lightgbm-rul`` alerts when its predicted RUL is within the horizon. Anomaly detectors are
  fitted per asset class on the training sites' rows labelled healthy (each class has its own channels) and
  alarm above the :class:`~forewarn.models.anomaly.series.ScoreCalibration` level of those rows' scores.
* Reported on the pooled held-out rows: ``roc_auc`` and ``pr_auc`` of the score against the failure label
  (threshold-free; for the RUL model the score is minus the predicted RUL, for detectors the calibrated
  anomaly score); event level (:func:`~forewarn.evaluate.events.event_metrics`, alerts of one asset within
  7 days folded into one visit): ``catch_rate`` (failures with an alert between 7 days and :data:`MIN_LEAD_H`
  hours before them), ``lead_time_median_h`` (hours from the first such alert to the failure),
  ``false_alarms_per_asset_month``; and for ``lightgbm-rul`` the ``rmse`` (hours) against the capped truth.

``fit_s`` and ``predict_s`` are summed over the held-out sites of a seed.

Run time sets the model settings (measured on a 2-core machine shared with other jobs): training on every 12th
hour, five window statistics, 150 boosting rounds with 255 bins (failure) and 200 (RUL), at most 300 L-BFGS
iterations for the logistic baseline and a 2000-row memory for ``knn`` (whose 5000-row default took 42 s of a
seed's run, 22 s at 2000) keep a seed near a minute; BLAS and OpenMP run on one thread. Left out: ``var-residual``
models one time-ordered series (here rows of many assets interleave) and ``autoencoder`` would bring torch
training into every site and class fold.

>>> sorted(MODELS)
['isolation-forest', 'knn', 'lightgbm-failure', 'lightgbm-rul', 'logistic-failure', 'mset', 'pca-t2q']
>>> FLEET.sites, FLEET.assets, FLEET.days, FLEET.interval
(4, 48, 180, '1h')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.base.executor import resolve
from forewarn.bench.anchors import anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.decide.thresholds import Costs, bayes_threshold
from forewarn.evaluate.classification import binary_metrics
from forewarn.evaluate.events import event_metrics
from forewarn.evaluate.rul import rmse
from forewarn.exceptions import ConfigError
from forewarn.features.window import window_features
from forewarn.twin import FleetConfig, simulate_fleet
from forewarn.twin.assets import CHANNEL_NAMES, CLASS_CHANNELS, CLASSES

#: the simulated fleet of a repetition (its seed is replaced by the repetition's seed)
FLEET = FleetConfig(sites=4, assets=48, days=180, interval="1h", degradation_scale=3.0)
HORIZON_H = 168
MIN_LEAD_H = 24
MAX_RUL_H = 720
WINDOW_H = 24
TRAIN_STEP = 12
STATS = ("mean", "std", "max", "slope", "last")
#: unit costs behind the failure predictors' alert threshold (the defaults of :class:`~forewarn.decide.thresholds.Costs`)
COSTS = Costs()
MONTH_H = 365.25 * 24 / 12


def _lightgbm_failure(seed: int) -> Any:
    from forewarn.models.failure import LightGBMFailure

    return LightGBMFailure(n_estimators=150, max_bin=255, n_jobs=1, seed=seed)


def _logistic_failure(seed: int) -> Any:
    from forewarn.models.failure import LogisticFailure

    return LogisticFailure(max_iter=300, seed=seed)


def _lightgbm_rul(seed: int) -> Any:
    from forewarn.models.rul.lightgbm_rul import LightGBMRUL

    return LightGBMRUL(n_estimators=200, max_rul=MAX_RUL_H, n_jobs=1, seed=seed)


def _detector(name: str) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        from forewarn.base.registry import get

        cls = get(name)
        return cls(seed=seed) if "seed" in cls().get_params() else cls()

    return build


def _knn(seed: int) -> Any:
    from forewarn.models.anomaly.knn import KNNDetector

    return KNNDetector(max_memory=2000)


#: model label -> factory taking a seed
MODELS: dict[str, Callable[[int], Any]] = {
    "lightgbm-failure": _lightgbm_failure,
    "logistic-failure": _logistic_failure,
    "lightgbm-rul": _lightgbm_rul,
    "isolation-forest": _detector("isolation-forest"),
    "pca-t2q": _detector("pca-t2q"),
    "mset": _detector("mset"),
    "knn": _knn,
}


def hours_to_next_failure(asset: np.ndarray, hour: np.ndarray, failures: Mapping[Any, np.ndarray]) -> np.ndarray:
    """Per row, hours until the row's asset fails next (at or after ``hour``); NaN when no failure follows.

    >>> hours_to_next_failure(np.array([0, 0, 0, 1]), np.array([0, 5, 9, 3]), {0: np.array([7])}).tolist()
    [7.0, 2.0, nan, nan]
    """
    out = np.full(len(hour), np.nan)
    for key, times in failures.items():
        rows = np.flatnonzero(asset == key)
        times = np.sort(np.asarray(times, dtype="float64"))
        nxt = np.searchsorted(times, hour[rows], side="left")
        ahead = nxt < len(times)
        out[rows[ahead]] = times[nxt[ahead]] - hour[rows[ahead]]
    return out


@dataclass(frozen=True)
class Prepared:
    """One simulated fleet as model inputs: rows in (asset, hour) order and their labels."""

    rows: pd.DataFrame  # asset_id, site_id, asset_class, hour
    X: pd.DataFrame
    label: np.ndarray  # failure within the horizon: 1.0, 0.0 or NaN (censored)
    rul: np.ndarray  # capped hours to the next failure, NaN when unknown
    failures: pd.DataFrame  # asset_id, hour of every failure event
    sites: list[str]

    def summary(self, seed: int) -> dict[str, Any]:
        """Rows, failures (per site) and the share of labelled rows with a failure ahead, for the payload."""
        site_of = dict(zip(self.rows["asset_id"], self.rows["site_id"], strict=False))
        per_site = self.failures["asset_id"].map(site_of).value_counts()
        return {
            "seed": seed,
            "rows": len(self.rows),
            "failures": len(self.failures),
            "failures_per_site": {s: int(per_site.get(s, 0)) for s in self.sites},
            "positive_rate": float(np.nanmean(self.label)),
        }

    def site_split(self, site: str) -> tuple[np.ndarray, np.ndarray]:
        """(training rows: other sites, every TRAIN_STEP-th hour; test rows: every hour of ``site``)."""
        at_site = self.rows["site_id"].to_numpy() == site
        sampled = self.rows["hour"].to_numpy() % TRAIN_STEP == 0
        return np.flatnonzero(~at_site & sampled), np.flatnonzero(at_site)


def prepare(config: FleetConfig) -> Prepared:
    """Simulate ``config`` and build features and labels (see the module docstring)."""
    if config.interval_minutes() != 60:
        raise ConfigError(f"the fleet benchmark works on hourly rows; got interval {config.interval!r}, use '1h'")
    fleet = simulate_fleet(config)
    readings = fleet.readings
    start = fleet.start
    hour = ((readings["ts"] - start) / pd.Timedelta(hours=1)).round().to_numpy(dtype="int64")
    asset_ids = readings["asset_id"].astype(str).to_numpy()
    meta = {a.asset_id: (a.site_id, a.asset_class) for a in fleet.assets}
    rows = pd.DataFrame(
        {
            "asset_id": asset_ids,
            "site_id": [meta[a][0] for a in asset_ids],
            "asset_class": [meta[a][1] for a in asset_ids],
            "hour": hour,
        }
    )
    channels = list(CHANNEL_NAMES)
    frame = readings[channels].astype("float64").assign(asset_id=asset_ids, hour=hour)
    X = window_features(frame, group="asset_id", order="hour", columns=channels, window=WINDOW_H, stats=STATS)
    for cls in CLASSES:
        X[f"class_{cls}"] = (rows["asset_class"] == cls).to_numpy(dtype="float64")
    events = fleet.events
    failed = events[events["kind"] == "failure"]
    failures = pd.DataFrame(
        {
            "asset_id": failed["asset_id"].astype(str).to_numpy(),
            "hour": ((failed["ts"] - start) / pd.Timedelta(hours=1)).to_numpy(dtype="float64"),
        }
    )
    ahead = hours_to_next_failure(
        asset_ids, hour.astype("float64"), {a: g["hour"].to_numpy() for a, g in failures.groupby("asset_id")}
    )
    remaining = float(fleet.steps - 1) - hour
    label = np.where(ahead <= HORIZON_H, 1.0, np.where(remaining >= HORIZON_H, 0.0, np.nan))
    rul = np.where(
        np.isfinite(ahead), np.minimum(ahead, MAX_RUL_H), np.where(remaining >= MAX_RUL_H, MAX_RUL_H, np.nan)
    )
    return Prepared(rows, X.reset_index(drop=True), label, rul, failures, [s.site_id for s in fleet.sites])


def _impute(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    medians = train.median().fillna(0.0)
    return train.fillna(medians), test.fillna(medians)


def _supervised(
    model: Any, prepared: Prepared, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(score, alarm, fit seconds, predict seconds) of a failure or RUL model on the test rows."""
    is_rul = model.task == "rul"
    target = prepared.rul if is_rul else prepared.label
    train = train[np.isfinite(target[train])]
    if not is_rul and len(np.unique(target[train])) < 2:
        raise ConfigError(
            "the training sites of a held-out site have no failure within the horizon; simulate "
            "more assets or days, or a larger degradation_scale"
        )
    X_train, X_test = prepared.X.iloc[train], prepared.X.iloc[test]
    if not model.get_tags()["nan_allowed"]:
        X_train, X_test = _impute(X_train, X_test)
    start = time.perf_counter()
    model.fit(X_train, target[train])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    if is_rul:
        predicted = model.predict(X_test)
        score, alarm = -predicted, predicted <= HORIZON_H
    else:
        score = model.predict_proba(X_test)
        alarm = score >= bayes_threshold(COSTS)
    return score, alarm, fit_s, time.perf_counter() - start


def _class_columns(columns: Sequence[str], classes: Sequence[str]) -> list[str]:
    """The feature columns of the channels every one of ``classes`` has.

    >>> _class_columns(["speed__mean", "flow__mean", "class_pump"], ["pump", "motor"])
    ['speed__mean']
    """
    keep = set.intersection(*(set(CLASS_CHANNELS[c]) for c in classes))
    return [c for c in columns if c.split("__")[0] in keep]


def _unsupervised(
    factory: Callable[[int], Any], seed: int, prepared: Prepared, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per asset class: fit on healthy training rows, calibrate on their scores, score the test rows."""
    from forewarn.models.anomaly.series import ScoreCalibration

    classes = prepared.rows["asset_class"].to_numpy()
    score, alarm = np.zeros(len(test)), np.zeros(len(test), dtype=bool)
    fit_s = predict_s = 0.0
    healthy = train[prepared.label[train] == 0.0]
    for cls in np.unique(classes[test]):
        fit_rows, test_rows = healthy[classes[healthy] == cls], classes[test] == cls
        if len(fit_rows) == 0:  # a class only the test site has: every healthy row, on the channels all share
            fit_rows = healthy
        columns = _class_columns(prepared.X.columns, [cls, *np.unique(classes[fit_rows])])
        X_fit, X_test = _impute(prepared.X.iloc[fit_rows][columns], prepared.X.iloc[test[test_rows]][columns])
        start = time.perf_counter()
        detector = factory(seed).fit(X_fit)
        calibration = ScoreCalibration.fit(detector.score(X_fit))
        fit_s += time.perf_counter() - start
        start = time.perf_counter()
        raw = detector.score(X_test)
        predict_s += time.perf_counter() - start
        score[test_rows], alarm[test_rows] = calibration.transform(raw), calibration.alarm(raw)
    return score, alarm, fit_s, predict_s


def evaluate_model(label: str, seed: int, prepared: Prepared) -> ModelRun:
    """Leave each site out in turn; metrics on the pooled held-out predictions (module docstring)."""
    factory = MODELS[label]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    fit_s = predict_s = 0.0
    for site in prepared.sites:
        train, test = prepared.site_split(site)
        model = factory(seed)
        if model.task == "anomaly":
            score, alarm, fit, predict = _unsupervised(factory, seed, prepared, train, test)
        else:
            score, alarm, fit, predict = _supervised(model, prepared, train, test)
        parts.append((test, score, alarm))
        fit_s, predict_s = fit_s + fit, predict_s + predict
    rows = np.concatenate([p[0] for p in parts])
    score, alarm = np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
    metrics = held_out_metrics(prepared, rows, score, alarm)
    if factory(seed).task == "rul":
        known = np.isfinite(prepared.rul[rows])
        metrics["rmse"] = rmse(prepared.rul[rows][known], -score[known])
    return ModelRun(label, seed, metrics, fit_s, predict_s)


def held_out_metrics(prepared: Prepared, rows: np.ndarray, score: np.ndarray, alarm: np.ndarray) -> dict[str, float]:
    """Row-level AUCs and event-level figures of the held-out rows (censored rows left out)."""
    known = np.isfinite(prepared.label[rows])
    rows, score, alarm = rows[known], score[known], alarm[known]
    ranked = binary_metrics(prepared.label[rows].astype("int64"), score)
    table = prepared.rows.iloc[rows]
    spans = table.groupby("asset_id")["hour"].agg(["min", "max"])
    observed = {a: (float(lo), float(hi)) for a, (lo, hi) in spans.iterrows()}
    alerts = pd.DataFrame(
        {"asset_id": table["asset_id"].to_numpy()[alarm], "ts": table["hour"].to_numpy(dtype="float64")[alarm]}
    )
    failures = prepared.failures[prepared.failures["asset_id"].isin(list(observed))]
    events = event_metrics(
        alerts,
        failures.rename(columns={"hour": "ts"}),
        horizon=float(HORIZON_H),
        min_lead=float(MIN_LEAD_H),
        cooldown=float(HORIZON_H),
        observed=observed,
        month=MONTH_H,
    )
    figures = events.as_dict()
    metrics = {
        "roc_auc": ranked["roc_auc"],
        "pr_auc": ranked["pr_auc"],
        "catch_rate": events.catch_rate,
        "false_alarms_per_asset_month": events.false_alarms_per_asset_month,
    }
    if figures["lead_time_median"] is not None:
        metrics["lead_time_median_h"] = float(figures["lead_time_median"])
    return metrics


def _seed_unit(
    config: FleetConfig, chosen: Sequence[str], say: Callable[[str], None] | None, seed: int
) -> tuple[dict[str, Any], list[ModelRun]]:
    """One seed: its fleet simulated and every chosen model evaluated on it (a unit of the executor)."""
    quiet = say or (lambda message: None)
    quiet(f"fleet seed {seed}: simulating {config.sites} sites, {config.assets} assets, {config.days} days")
    prepared = prepare(replace(config, seed=seed))
    summary, runs = prepared.summary(seed), []
    for name in chosen:
        quiet(f"fleet seed {seed}: {name}, each of {len(prepared.sites)} sites held out in turn")
        with threadpool_limits(limits=1):  # a busy 2-core box: no BLAS/OpenMP oversubscription
            runs.append(evaluate_model(name, seed, prepared))
    return summary, runs


def run(
    models: Sequence[str] | None = None,
    seeds: int = 5,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run the fleet benchmark; ``data_dir`` is ignored (the fleet is simulated).

    Options: ``sites``, ``assets``, ``days``, ``degradation_scale`` override :data:`FLEET`; ``executor``
    (:mod:`forewarn.base.executor`) runs each seed (its fleet simulated, every model evaluated on it) as one unit,
    e.g. on Ray (the figures do not depend on it, the timings do).
    """
    executor = options.pop("executor", None)
    overrides = {k: options.pop(k) for k in ("sites", "assets", "days", "degradation_scale") if k in options}
    if options:
        raise ConfigError(
            f"unknown fleet option(s) {', '.join(sorted(options))}; use sites, assets, days or "
            "degradation_scale (the fleet benchmark has no subsets)"
        )
    chosen = list(MODELS) if models is None or list(models) in (["all"], []) else list(models)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown fleet model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    if int(seeds) < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    config = replace(FLEET, **overrides)
    config.validate()
    if config.sites < 2:
        raise ConfigError(f"a held-out site needs at least 2 sites, got sites={config.sites}")
    say = progress or (lambda message: None)
    unit = partial(_seed_unit, config, chosen, say if executor is None else None)
    done = resolve(executor).map(unit, range(int(seeds)))
    fleets = [summary for summary, _ in done]
    runs = [run for _, seed_runs in done for run in seed_runs]
    return {
        "dataset": "fleet",
        "subset": None,
        "protocol": f"digital-twin fleet ({config.sites} sites, {config.assets} assets, {config.days} days hourly, "
        f"degradation x{config.degradation_scale:g}), leave one site out; failure within "
        f"{HORIZON_H} h from failure events; caught = alert {HORIZON_H} h to {MIN_LEAD_H} h before",
        "primary_metric": "pr_auc",
        "results": summarise(runs),
        "published": _published(),
        "fleets": fleets,
    }


def _published() -> list[dict[str, Any]]:
    try:
        return anchor_rows("fleet")
    except ConfigError:  # our own simulator: no published figures exist
        return []
