"""SKAB benchmark: unsupervised outlier and changepoint detection on a water-circulation rig (34 files, 1 Hz).

Protocol (SKAB's proposed leaderboard):

* Each labelled file is its own experiment: a fresh detector is fitted on its first 400 rows and scores
  the whole file in time order; only the remaining (test) rows are evaluated.
* Scores are smoothed by a trailing mean over ``smooth`` rows (10 s): causal, so row ``t`` never sees
  rows after ``t``.
* Alarm threshold, from the file's training rows only, one rule for every file and model
  (:class:`~forewarn.models.anomaly.series.ScoreCalibration`): with ``q50`` and ``q99`` the median and
  99th percentile of the training rows' smoothed scores, a row alarms when its smoothed score reaches
  ``q99 * (q99 / q50)``, as far above the 99th percentile as that is above the median, in ratio terms
  (the same alarms for a distance and for its square, so one rule fits every detector's scale).
* Alarm rules, both reported for every detector: ``<model>`` alarms on every row above the level;
  ``<model> +on-delay`` adds the alarm-management on-delay (:func:`~forewarn.models.anomaly.series.on_delay`):
  a row alarms only once the level has been exceeded for ``smooth + 1`` consecutive rows (11 s). The length
  is derived, not fitted: a trailing mean over ``smooth`` rows spreads a single-row outlier over exactly
  ``smooth`` rows, so an on-delay one row longer can never be set off by one bad row, however large. Both
  rules run on the same scores (one fit per file), and the on-delay state runs over the training rows too,
  so the first test rows know how long the alarm has been on.
* Outlier detection: every test row's alarm is a binary prediction of its ``anomaly`` label; F1, FAR %
  and MAR % are pooled over all test rows of all files (:mod:`forewarn.evaluate.anomaly`).
* Changepoint detection: as SKAB does, a predicted changepoint is every test row where the alarm switches
  on or off (and the first test row when the alarm is already on), scored over the corpus with a 60 s
  window to the right of each labelled changepoint and no probation (the 400 training rows are the
  probationary part). ``nab_standard``, ``nab_low_fp`` and ``nab_low_fn`` use SKAB's own weighting (TSAD's
  tanh curve, every false positive ``-fp``), as the published rows do; ``nab_sigmoid_standard`` is the
  same detections under NAB v1.1's sigmoid weighting (:mod:`forewarn.evaluate.nab`).
* ``forewarn-detect`` (:data:`DETECT`, issue 14): the ``forewarn detect`` path as a user gets it
  (:func:`forewarn.detect.detect_frame` with its default detector, fitted on the same first 400 rows, the same
  ``smooth``), with detections counted from the one alarm rule (:mod:`forewarn.decide.alarms`) instead of a
  per-row level: a test row is predicted anomalous when it lies inside an alarm episode (from the row whose
  ``anomaly_score >= 0.5`` opens it to its end, the rule's hysteresis), and the predicted changepoints are that
  indicator's switches (:func:`alarm_edges`), as for every other row. Its ``fit_s`` is 0: fit and scoring are
  one call, timed as ``predict_s``.
* One comparison convention (issue 14): a row alarms when its smoothed score is *at or above* the level
  (``>=``, as everywhere in Forewarn); until issue 14 this runner used ``>`` (``ScoreCalibration.alarm``).
  The two differ only on a score exactly equal to the level, so the published rows stay comparable.
* Deterministic detectors run once whatever ``seeds`` is; seeded ones (``isolation-forest``,
  ``autoencoder``, ``conv-ae``) run with seeds ``0 .. seeds - 1``. ``fit_s`` and ``predict_s`` are summed over the 34
  files; linear algebra runs on one thread (threadpoolctl), so timings do not depend on a busy machine's
  thread contention.

Run: ``forewarn bench skab --seeds 5`` (or :func:`run`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.base.executor import resolve
from forewarn.bench.anchors import anchor_protocol, anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.datasets.skab import N_TRAIN, SKABFile, load_skab
from forewarn.evaluate.anomaly import pooled_outlier_metrics
from forewarn.evaluate.nab import NABFile, normalised_score, right_windows
from forewarn.exceptions import ConfigError
from forewarn.models.anomaly.isolation_forest import IsolationForestDetector
from forewarn.models.anomaly.knn import KNNDetector
from forewarn.models.anomaly.mset import MSETDetector
from forewarn.models.anomaly.pca import PCADetector
from forewarn.models.anomaly.series import ScoreCalibration, on_delay, trailing_mean
from forewarn.models.anomaly.var_residual import VARResidualDetector
from forewarn.models.deep.autoencoder import AutoencoderDetector
from forewarn.models.deep.conv_autoencoder import ConvAutoencoderDetector

#: model label -> factory taking a seed (deterministic models ignore it)
MODELS: dict[str, Callable[[int], Any]] = {
    "var-residual": lambda seed: VARResidualDetector(),
    "pca-t2q": lambda seed: PCADetector(),
    "knn": lambda seed: KNNDetector(),
    "mset": lambda seed: MSETDetector(),
    "isolation-forest": lambda seed: IsolationForestDetector(seed=seed),
    "autoencoder": lambda seed: AutoencoderDetector(seed=seed),
    "conv-ae": lambda seed: ConvAutoencoderDetector(seed=seed),
}
SMOOTH = 10
CHANGEPOINT_WINDOW = pd.Timedelta(seconds=60)
PROFILES = ("standard", "low_fp", "low_fn")
#: suffix of the rows whose alarms pass the on-delay of ``smooth + 1`` rows
ON_DELAY = " +on-delay"
#: label of the ``forewarn detect`` path's row (its default detector, detections from the alarm rule's episodes)
DETECT = "forewarn-detect"


def is_seeded(factory: Callable[[int], Any]) -> bool:
    """Whether the model built by ``factory`` has a ``seed`` parameter (randomness worth repeating)."""
    return "seed" in inspect.signature(type(factory(0)).__init__).parameters


def _sensors(frame: pd.DataFrame, sensors: Sequence[str]) -> pd.DataFrame:
    return frame.loc[:, list(sensors)].reset_index(drop=True)


def alarm_edges(alarms: np.ndarray) -> np.ndarray:
    """SKAB's predicted changepoints: rows where the alarm switches, and row 0 if it starts on.

    >>> alarm_edges(np.array([1, 1, 0, 0, 1])).tolist()
    [True, False, True, False, True]
    """
    on = np.asarray(alarms, dtype=bool)
    edges = np.zeros(len(on), dtype=bool)
    if len(on):
        edges[0] = on[0]
        edges[1:] = on[1:] != on[:-1]
    return edges


def _metrics(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], cp_detections: Sequence[np.ndarray], cp_files: Sequence[NABFile]
) -> dict[str, float]:
    metrics = {k: v for k, v in pooled_outlier_metrics(pairs).as_dict().items() if k in ("f1", "far", "mar")}
    for profile in PROFILES:
        metrics[f"nab_{profile}"] = normalised_score(cp_detections, cp_files, profile)
    nab_files = [replace(file, curve="nab") for file in cp_files]
    metrics["nab_sigmoid_standard"] = normalised_score(cp_detections, nab_files, "standard")
    return metrics


def _model_run(
    name: str,
    factory: Callable[[int], Any],
    seed: int,
    files: Sequence[SKABFile],
    sensors: Sequence[str],
    smooth: int,
    progress: Callable[[str], None],
) -> list[ModelRun]:
    """The model's rows for one seed: immediate alarms, and alarms after the on-delay (module text)."""
    delays = {name: 1, name + ON_DELAY: smooth + 1}
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {label: [] for label in delays}
    detections: dict[str, list[np.ndarray]] = {label: [] for label in delays}
    cp_files = []
    fit_s = predict_s = 0.0
    for number, file in enumerate(files, start=1):
        progress(f"skab {name} seed {seed}: file {number}/{len(files)} {file.name}")
        frame = _sensors(file.frame, sensors)
        model = factory(seed)
        start = time.perf_counter()
        model.fit(frame.iloc[:N_TRAIN])
        fit_s += time.perf_counter() - start
        start = time.perf_counter()
        scores = trailing_mean(model.score(frame), smooth)
        predict_s += time.perf_counter() - start
        above = scores >= ScoreCalibration.fit(scores[:N_TRAIN]).level  # the one convention: at or above
        test = file.frame.iloc[N_TRAIN:]
        events = np.flatnonzero(test["changepoint"].to_numpy() == 1)
        cp_files.append(NABFile(len(test), right_windows(test.index, events, CHANGEPOINT_WINDOW), curve="skab"))
        for label, rows in delays.items():
            alarms = on_delay(above, rows)[N_TRAIN:]
            pairs[label].append((test["anomaly"].to_numpy(), alarms))
            detections[label].append(alarm_edges(alarms))
    return [
        ModelRun(label, seed, _metrics(pairs[label], detections[label], cp_files), fit_s, predict_s) for label in delays
    ]


def _detect_run(
    files: Sequence[SKABFile], sensors: Sequence[str], smooth: int, progress: Callable[[str], None]
) -> ModelRun:
    """The ``forewarn detect`` path's row (module text): detections from the alarm rule's episodes."""
    from forewarn.detect import DEFAULT_DETECTOR, detect_frame

    pairs, detections, cp_files = [], [], []
    predict_s = 0.0
    for number, file in enumerate(files, start=1):
        progress(f"skab {DETECT} ({DEFAULT_DETECTOR}): file {number}/{len(files)} {file.name}")
        frame = _sensors(file.frame, sensors)
        frame.insert(0, "timestamp", file.frame.index.to_numpy())
        start = time.perf_counter()
        result = detect_frame(
            frame, timestamp_column="timestamp", train_fraction=(N_TRAIN + 0.5) / len(frame), smooth=smooth
        )
        predict_s += time.perf_counter() - start
        inside = np.zeros(len(frame), dtype=bool)
        for episode in result.episodes:
            inside[episode.start : episode.end + 1] = True
        test = file.frame.iloc[N_TRAIN:]
        events = np.flatnonzero(test["changepoint"].to_numpy() == 1)
        cp_files.append(NABFile(len(test), right_windows(test.index, events, CHANGEPOINT_WINDOW), curve="skab"))
        pairs.append((test["anomaly"].to_numpy(), inside[N_TRAIN:]))
        detections.append(alarm_edges(inside[N_TRAIN:]))
    return ModelRun(DETECT, 0, _metrics(pairs, detections, cp_files), 0.0, predict_s)


def _skab_unit(
    selected: Sequence[SKABFile],
    sensors: Sequence[str],
    smooth: int,
    say: Callable[[str], None] | None,
    unit: tuple[str, int],
) -> list[ModelRun]:
    """One model and seed over the selected files, or the alarm rule's row (a unit of the executor)."""
    name, seed = unit
    quiet = say or (lambda message: None)
    with threadpool_limits(limits=1):
        if name == DETECT:
            return [_detect_run(selected, sensors, smooth, quiet)]
        return list(_model_run(name, MODELS[name], seed, selected, sensors, smooth, quiet))


def run(
    models: Sequence[str] | None = None,
    seeds: int = 5,
    data_dir: Any = None,
    *,
    files: Sequence[str] | None = None,
    smooth: int = SMOOTH,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run the SKAB protocol (module text) for ``models`` (default: all) and return the bench payload.

    ``files`` restricts the run to some labelled files (names like ``"valve1/3"``; for quick checks only:
    the published figures are over all 34). ``executor`` (:mod:`forewarn.base.executor`) runs each model and
    seed (and the alarm rule's row) as one unit, e.g. on Ray (the figures do not depend on it, the timings do).
    """
    executor = options.pop("executor", None)
    if options:
        raise ConfigError(f"skab takes no option(s) {', '.join(sorted(options))}")
    chosen = [*MODELS, DETECT] if models is None else list(models)
    unknown = [m for m in chosen if m not in MODELS and m != DETECT]
    if unknown:
        raise ConfigError(f"unknown SKAB model(s) {', '.join(unknown)}; known: {', '.join([*MODELS, DETECT])}")
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    say = progress or (lambda message: None)
    data = load_skab(data_dir)
    selected = data.files if files is None else [data.file(name) for name in files]
    units = [
        (name, seed) for name in chosen for seed in range(1 if name == DETECT or not is_seeded(MODELS[name]) else seeds)
    ]
    unit = partial(_skab_unit, selected, data.SENSORS, smooth, say if executor is None else None)
    runs = [run for done in resolve(executor).map(unit, units) for run in done]
    return {
        "dataset": "skab",
        "subset": None,
        "protocol": anchor_protocol("skab") + f"; scores smoothed by a trailing {smooth}-row mean; alarm above "
        "q99 * (q99 / q50) of the file's training scores; '+on-delay' rows: alarm only after "
        f"{smooth + 1} consecutive rows above; '{DETECT}': rows inside the alarm rule's episodes",
        "primary_metric": "f1",
        "results": summarise(runs),
        "published": anchor_rows("skab"),
        "files": [f.name for f in selected],
    }


__all__ = ["DETECT", "MODELS", "ON_DELAY", "alarm_edges", "is_seeded", "run"]
