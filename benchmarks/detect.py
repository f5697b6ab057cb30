"""Benchmark of label-free detection (issue 14): a detector's ``alarm`` column on data nobody tuned for.

A *detector* here is a function ``(frame, n_train) -> anomaly_score`` (one float in [0, 1] per row, the
frame's row order): ``frame`` holds one series of one asset, a ``timestamp`` column (UTC) then numeric
channels; ``n_train`` is the number of leading rows the protocol lets it fit on, or ``None`` for its own
default. The harness turns the scores into alarms with the one alarm rule
(:func:`forewarn.decide.alarms.find_alarms`; by default ``forewarn detect``'s,
:func:`~forewarn.decide.alarms.fitted_rule`) and never optimises a threshold. Plug another detector in with ``--detector module:function``; ``--on``, ``--off``,
``--clear-rows``, ``--refractory`` and ``--episode-rows`` change the rule (``--episode-rows 0,48,96``: one rule
per value, 0 = no limit, ``auto`` = a quarter of the series' training rows, 48 at the least, each part run once per
rule on the same scores, computed once).

Parts (``--parts``, all by default):

* ``nab``: NAB-style standard score of the ``alarm`` column, as is, on the generated corpus
  (:func:`forewarn.twin.anomalies.make_corpus`, one corpus per seed: synthetic series and healthy twin machines
  with injected spikes, level shifts, variance changes, drifts, stuck sensors, new frequencies, contaminated
  first 15 % in some). Scoring windows and probation: :meth:`~forewarn.twin.anomalies.LabelledSeries.nab_file`.
  Also reported: ``level_score`` (every row with ``anomaly_score >= on`` counted as a detection, what the old
  CLI did), and per anomaly kind the share of scored injections whose window holds an alarm.
  ``--corpus-baselines realistic`` (or family names, :mod:`forewarn.twin.baselines`) builds the synthetic series
  on normal behaviour that is not Gaussian (heavy tails, bursts, counts, multiplicative noise, business hours, a
  wandering level, rare steps, a sawtooth), the same shapes and anomalies otherwise; figures per family (the NAB
  standard score over the family's series, false starts outside the windows, windows hit) and, with
  ``--lead-members``, the default ensemble's member with the largest surprise on each false start.
* ``skab``: the SKAB protocol (:mod:`forewarn.bench.skab`): per labelled file, the detector may fit on the
  first 400 rows and scores the file; only later rows are evaluated. F1, FAR %, MAR % pooled over test rows,
  with a row predicted anomalous when it lies inside an alarm episode (start to end, the rule's hysteresis);
  ``level_*``: rows with ``anomaly_score >= on``. Changepoint score: the ``alarm`` column (episode starts)
  scored with SKAB's 60 s right windows and its tanh curve (``nab_skab_standard``).
* ``healthy``: the share of rows that start an episode on a healthy twin fleet (no degradation, no sensor
  faults), each asset scored on its own (target < 0.5 %).
* ``forewarning``: label-free alarms before failures on a twin fleet that fails (``--forewarn-sites`` x
  ``--forewarn-assets`` assets, ``--forewarn-days`` days of hourly rows, degradation 3x faster than life as in
  ``forewarn bench fleet``): each asset scored on its own with the detector's default fit (no label, no event is
  read by the detector). From the fleet's failure and maintenance events, with
  :func:`forewarn.evaluate.events.event_metrics`: a failure is *forewarned* when an episode started 7 days to 24 h
  before it (lead = failure time - the earliest such start); an episode start that forewarns no failure is a false
  alarm; starts while the asset is down (from a failure to the next renewing maintenance) are not counted, as the
  service does not alert a down asset. Target: 60 % forewarned with at most
  1 false alarm per asset-month. ``miss_reasons`` says why each failure was or was not forewarned;
  ``--forewarn-horizon`` widens the window (a lens, not the target), ``--forewarn-seed`` draws another fleet,
  ``--refit-after-renewal`` refits the detector after each renewing maintenance (the events read).
* ``short``: the default on short healthy histories (:mod:`detect_short`): healthy twin machines, synthetic
  series of four shapes and SKAB's healthy training parts and anomaly-free file, cut to their first 10 ... 1,000
  rows (``--short-lengths``) and scored through ``detect_frame`` as ``forewarn detect --store`` does; the share
  of rows starting an episode and the rows the models learnt from, per source and length (``--short-seed``
  draws the twin fleet, ``--detect-params`` passes the detector's parameters as JSON). Ignores ``--detector``.
* ``speed``: scoring ``--rows`` rows x ``--channels`` channels (a synthetic series, one asset) and applying the
  rule: wall time and peak RSS, each run in a fresh process (``--repeat`` runs; the median is reported).

The default detector is ``forewarn detect``'s (:func:`forewarn.detect.detect_frame` with its default detector,
``forewarn.detect.DEFAULT_DETECTOR``, trained on the first 15 % or on ``n_train`` rows); ``--detect-params JSON``
gives it parameters (an option measured through the same path as the default), and the environment variable
``D14_CONSTANTS`` (JSON, ``{"module.CONSTANT": value}``) sets module constants for a sensitivity run.

Run: ``.venv/bin/python benchmarks/detect.py`` (about a minute on 2 cores with today's detector) or ``--quick``; ``--json FILE``
writes the figures. Numeric libraries run on one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forewarn.decide.alarms import TIED, AlarmRule, find_alarms, find_episodes, fitted_rule  # noqa: E402
from forewarn.evaluate.anomaly import pooled_outlier_metrics  # noqa: E402
from forewarn.evaluate.nab import NABFile, normalised_score, right_windows  # noqa: E402

Detector = Callable[[pd.DataFrame, "int | None"], np.ndarray]
SKAB_CHANGEPOINT_WINDOW = pd.Timedelta(seconds=60)


def current_detector(frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
    """``forewarn detect``'s default: :func:`forewarn.detect.detect_frame` with its default detector."""
    from forewarn.detect import detect_frame

    options: dict[str, Any] = {"timestamp_column": "timestamp"}
    if os.environ.get("D14_DETECT_PARAMS"):  # the default detector's parameters (JSON), set by --detect-params
        options["params"] = json.loads(os.environ["D14_DETECT_PARAMS"])
    for name, value in json.loads(os.environ.get("D14_CONSTANTS") or "{}").items():  # a sensitivity run's constants
        module, _, constant = name.rpartition(".")
        setattr(importlib.import_module(module), constant, value)
    if n_train is not None:
        options["train_fraction"] = (n_train + 0.5) / len(frame)  # int(fraction * rows) == n_train
    return detect_frame(frame, **options).scores["anomaly_score"].to_numpy(dtype="float64")


def load_detector(spec: str | None) -> Detector:
    """``module:function`` -> the function; ``None`` -> :func:`current_detector`."""
    if not spec:
        return current_detector
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def fitted(rule: AlarmRule, frame: pd.DataFrame, n_train: int | None) -> AlarmRule:
    """``rule`` for a series the detector fitted on ``n_train`` rows (``None``: ``detect_frame``'s default share of
    ``frame``): ``episode_rows="auto"`` resolved against them, as ``forewarn detect`` resolves it."""
    if not rule.tied:
        return rule
    if n_train is None:
        from forewarn.detect import detect_frame

        n_train = int(inspect.signature(detect_frame).parameters["train_fraction"].default * len(frame))
    return rule.resolved(n_train)


def _scores(detector: Detector, frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
    scores = np.asarray(detector(frame, n_train), dtype="float64")
    if scores.shape != (len(frame),):
        raise ValueError(f"the detector returned shape {scores.shape} for {len(frame)} rows")
    return scores


def remembered(detector: Detector) -> Detector:
    """``detector`` with its scores kept per (frame, ``n_train``): several rules score the same series once."""
    kept: dict[tuple[str, int | None], np.ndarray] = {}

    def scores(frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        digest = hashlib.sha1(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(repr((list(frame.columns), list(map(str, frame.dtypes)))).encode())
        key = (digest.hexdigest(), n_train)
        if key not in kept:
            kept[key] = np.asarray(detector(frame, n_train), dtype="float64").copy()
        return kept[key].copy()

    return scores


def corpus_baselines(spec: str | None) -> tuple[str, ...] | None:
    """``--corpus-baselines``: ``None``/``gaussian`` -> the standard corpus (``None``), ``realistic`` -> every
    non-Gaussian family (:data:`forewarn.twin.baselines.REALISTIC`), else comma-separated family names.

    >>> corpus_baselines("realistic")[:2], corpus_baselines("counts,steps"), corpus_baselines(None)
    (('student_t', 'bursty'), ('counts', 'steps'), None)
    """
    from forewarn.twin.baselines import BASELINES, REALISTIC

    if not spec or spec == "gaussian":
        return None
    if spec == "realistic":
        return REALISTIC
    names = tuple(name.strip() for name in spec.split(",") if name.strip())
    unknown = [name for name in names if name not in BASELINES]
    if unknown or not names:
        raise SystemExit(f"--corpus-baselines: unknown families {unknown}; use realistic or some of {BASELINES}")
    return names


def lead_members(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The default ensemble's member with the largest surprise on each of ``rows`` (fitted as
    :func:`forewarn.models.anomaly.ensemble.score_frame` fits: the first 15 %; ``none`` where no member scored)."""
    from forewarn.models.anomaly.ensemble import TRAIN_FRACTION, EnsembleDetector, _numeric

    values = _numeric(frame)
    detector = EnsembleDetector().fit(values.iloc[: max(10, int(TRAIN_FRACTION * len(values)))])
    members = detector.member_scores(values)
    surprise = members.to_numpy(dtype="float64")[rows]
    seen = np.isfinite(surprise).any(axis=1)
    best = np.argmax(np.where(np.isfinite(surprise), surprise, -np.inf), axis=1)
    return [str(members.columns[b]) if ok else "none" for b, ok in zip(best, seen, strict=True)]


def nab_part(
    detector: Detector,
    rule: AlarmRule,
    seeds: Sequence[int],
    n_rows: int,
    level_on: float,
    baselines: Sequence[str] | None = None,
    leads: bool = False,
) -> dict[str, Any]:
    """NAB-style scores of the alarm column on the generated corpus, per seed (module text); ``baselines``: the
    corpus' families of normal behaviour (:func:`forewarn.twin.anomalies.make_corpus`), with figures per family
    (the NAB standard score over that family's series of every seed, false starts outside the windows after the
    probationary period, windows hit) and, with ``leads``, the member leading each false start (:func:`lead_members`)."""
    from forewarn.twin.anomalies import KINDS, make_corpus

    per_seed, level, hits_by_kind = [], [], {kind: [0, 0] for kind in KINDS}
    alarms_per_series = []
    by_family: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        corpus = make_corpus(seed=seed, n_rows=n_rows, baselines=baselines)
        files: list[NABFile] = []
        detections, level_detections = [], []
        for series in corpus:
            scores = _scores(detector, series.frame, None)
            alarms, _ = find_alarms(scores, fitted(rule, series.frame, None), ts=series.frame["timestamp"])
            file = series.nab_file()
            files.append(file)
            detections.append(alarms.astype(bool))
            level_detections.append(scores >= level_on)
            alarms_per_series.append(int(alarms.sum()))
            family = by_family.setdefault(
                series.baseline, {"detections": [], "files": [], "false_starts": 0, "windows": 0, "hit": 0, "leads": {}}
            )
            family["detections"].append(alarms.astype(bool))
            family["files"].append(file)
            inside = np.zeros(len(alarms), dtype=bool)
            for lo, hi in file.windows:
                inside[lo : hi + 1] = True
                family["windows"] += int(hi >= file.probation)
                family["hit"] += int(hi >= file.probation and alarms[lo : hi + 1].any())
            false = np.flatnonzero(alarms.astype(bool) & ~inside & (np.arange(len(alarms)) >= file.probation))
            family["false_starts"] += len(false)
            if leads and len(false):
                for member in lead_members(series.frame, false):
                    family["leads"][member] = family["leads"].get(member, 0) + 1
            for label in series.labels:
                if label.end < file.probation:
                    continue
                window = next((w for w in file.windows if w[0] <= label.start <= w[1]), (label.start, label.end))
                hits_by_kind[label.kind][1] += 1
                hits_by_kind[label.kind][0] += int(alarms[window[0] : window[1] + 1].any())
        per_seed.append(normalised_score(detections, files, "standard"))
        level.append(normalised_score(level_detections, files, "standard"))
    return {
        "standard": statistics.median(per_seed),
        "per_seed": per_seed,
        "seeds": list(seeds),
        "level_score": statistics.median(level),
        "level_per_seed": level,
        "alarms_per_series_median": statistics.median(alarms_per_series),
        "detected_share_by_kind": {k: (round(h / n, 3) if n else None) for k, (h, n) in hits_by_kind.items()},
        "baselines": list(baselines) if baselines else None,
        "by_family": {
            name: {
                "series": len(f["files"]),
                "standard": normalised_score(f["detections"], f["files"], "standard"),
                "false_starts": f["false_starts"],
                "windows_hit": f"{f['hit']} of {f['windows']}",
                **({"false_start_leads": f["leads"]} if leads else {}),
            }
            for name, f in sorted(by_family.items())
        },
    }


def false_rows_where(truth: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """Where a file's false-positive rows lie: ``before`` its first anomalous row, ``after`` its last, or
    ``between`` (every false positive counts as ``before`` in a file without anomalies).

    >>> false_rows_where(np.array([0, 0, 1, 1, 0, 1, 0, 0]), np.array([1, 0, 1, 1, 1, 1, 1, 1]))
    {'before': 1, 'between': 1, 'after': 2}
    """
    false = np.flatnonzero((np.asarray(predicted) == 1) & (np.asarray(truth) == 0))
    anomalous = np.flatnonzero(np.asarray(truth) == 1)
    if len(anomalous) == 0:
        return {"before": len(false), "between": 0, "after": 0}
    before = int((false < anomalous[0]).sum())
    after = int((false > anomalous[-1]).sum())
    return {"before": before, "between": len(false) - before - after, "after": after}


def after_rows_split(truth: np.ndarray, spans: Sequence[tuple[int, int]]) -> dict[str, int]:
    """The false-positive rows after a file's last anomalous row, split by the episode that holds them:
    ``continuing`` (an episode that started at or before that row: the anomaly's own episode running on past
    its end) or ``new`` (an episode that started after it). ``spans``: episodes as ``(start, end)`` rows, inclusive.

    >>> after_rows_split(np.array([0, 1, 1, 0, 0, 0, 0, 0]), [(1, 4), (6, 7)])
    {'continuing': 2, 'new': 2}
    """
    anomalous = np.flatnonzero(np.asarray(truth) == 1)
    out = {"continuing": 0, "new": 0}
    if len(anomalous) == 0:
        return out
    last = int(anomalous[-1])
    for start, end in spans:
        if end > last:
            out["continuing" if start <= last else "new"] += end - max(start, last + 1) + 1
    return out


def false_start_cause(
    row: int, ts: pd.Timestamp, n_train: int, stopped: np.ndarray | None, maintained: pd.Series, failures: pd.Series
) -> str:
    """Why a false episode start (one that warns of no failure) may have come, the first that applies: ``training``
    (inside the rows the detector fitted on), ``switch`` (the machine was stopped on the start row or one of the
    6 rows before: a start-up or a shut-down), ``after_maintenance`` (within 72 h after a maintenance),
    ``early`` (7 to 30 days before a failure of the asset), else ``other``.

    >>> t = pd.Timestamp("2024-03-01", tz="UTC")
    >>> stopped = np.array([False] * 20 + [True] + [False] * 79)
    >>> none = pd.Series([], dtype="datetime64[ns, UTC]")
    >>> [false_start_cause(r, t, 15, stopped, none, none) for r in (5, 24, 40)]
    ['training', 'switch', 'other']
    >>> false_start_cause(40, t, 15, stopped, pd.Series([t - pd.Timedelta(hours=30)]), none)
    'after_maintenance'
    >>> false_start_cause(40, t, 15, None, none, pd.Series([t + pd.Timedelta(days=12)]))
    'early'
    """
    if row < n_train:
        return "training"
    if stopped is not None and stopped[max(0, row - 6) : row + 1].any():
        return "switch"
    if ((maintained <= ts) & (maintained >= ts - pd.Timedelta(hours=72))).any():
        return "after_maintenance"
    if ((failures > ts + pd.Timedelta(days=7)) & (failures <= ts + pd.Timedelta(days=30))).any():
        return "early"
    return "other"


def skab_part(detector: Detector, rule: AlarmRule, data_dir: str | None, level_on: float) -> dict[str, Any]:
    """SKAB's protocol on the alarm episodes and the alarm column (module text)."""
    from forewarn.datasets.skab import N_TRAIN, load_skab

    data = load_skab(data_dir)
    pairs, level_pairs, cp_detections, cp_files = [], [], [], []
    where = {"before": 0, "between": 0, "after": 0}
    after_split = {"continuing": 0, "new": 0}
    for file in data.files:
        frame = file.frame.loc[:, list(data.SENSORS)].reset_index(drop=True)
        frame.insert(0, "timestamp", file.frame.index.to_numpy())
        scores = _scores(detector, frame, N_TRAIN)
        alarms, episodes = find_alarms(scores, fitted(rule, frame, N_TRAIN), ts=frame["timestamp"])
        inside = np.zeros(len(frame), dtype=int)
        for episode in episodes:
            inside[episode.start : episode.end + 1] = 1
        test = file.frame.iloc[N_TRAIN:]
        truth = test["anomaly"].to_numpy().astype(int)
        pairs.append((truth, inside[N_TRAIN:]))
        for key, count in false_rows_where(truth, inside[N_TRAIN:]).items():
            where[key] += count
        spans = [(e.start - N_TRAIN, e.end - N_TRAIN) for e in episodes if e.end >= N_TRAIN]
        for key, count in after_rows_split(truth, spans).items():
            after_split[key] += count
        level_pairs.append((truth, (scores[N_TRAIN:] >= level_on).astype(int)))
        events = np.flatnonzero(test["changepoint"].to_numpy() == 1)
        cp_files.append(NABFile(len(test), right_windows(test.index, events, SKAB_CHANGEPOINT_WINDOW), curve="skab"))
        cp_detections.append(alarms[N_TRAIN:].astype(bool))
    metrics = pooled_outlier_metrics(pairs).as_dict()
    level_metrics = pooled_outlier_metrics(level_pairs).as_dict()
    out: dict[str, Any] = {key: metrics[key] for key in ("f1", "far", "mar")}
    out.update({f"level_{key}": level_metrics[key] for key in ("f1", "far", "mar")})
    out["nab_skab_standard"] = normalised_score(cp_detections, cp_files, "standard")
    out["false_rows_where"] = where
    out["false_rows_after_split"] = after_split
    out["files"] = len(data.files)
    return out


def healthy_part(detector: Detector, rule: AlarmRule, seed: int, assets: int, days: int) -> dict[str, Any]:
    """Share of rows starting an episode on a healthy twin fleet, each asset on its own."""
    from forewarn.twin.anomalies import twin_series

    rows = starts = 0
    per_asset = []
    for _, frame in twin_series(seed, assets=assets, days=days, max_channels=32):
        alarms, _ = find_alarms(_scores(detector, frame, None), fitted(rule, frame, None), ts=frame["timestamp"])
        rows, starts = rows + len(frame), starts + int(alarms.sum())
        per_asset.append(int(alarms.sum()))
    return {
        "episode_start_share_pct": 100.0 * starts / rows,
        "rows": rows,
        "assets": len(per_asset),
        "episodes": starts,
        "max_episodes_per_asset": max(per_asset),
        "days": days,
    }


def miss_reasons(
    failures: pd.DataFrame, episodes: dict[str, list[tuple[Any, Any]]], horizon: Any, min_lead: Any
) -> dict[str, int]:
    """Why each failure was or was not forewarned, from its asset's episodes ``(start, end)`` (times):
    ``forewarned`` (an episode started ``horizon`` to ``min_lead`` before it), else ``open_before`` (an episode
    that started earlier was still open when that window began, so the rule raised nothing new in it), else
    ``late`` (an episode started less than ``min_lead`` before it), else ``none``.

    >>> t = pd.Timestamp("2024-01-10", tz="UTC")
    >>> failures = pd.DataFrame({"asset_id": ["a", "a", "b", "c"], "ts": [t, t + pd.Timedelta(days=30), t, t]})
    >>> episodes = {"a": [(t - pd.Timedelta(days=3), t - pd.Timedelta(days=2)),
    ...                   (t + pd.Timedelta(days=10), t + pd.Timedelta(days=30))],
    ...             "b": [(t - pd.Timedelta(hours=5), t)]}
    >>> miss_reasons(failures, episodes, pd.Timedelta(days=7), pd.Timedelta(hours=24))
    {'forewarned': 1, 'open_before': 1, 'late': 1, 'none': 1}
    """
    out = {"forewarned": 0, "open_before": 0, "late": 0, "none": 0}
    for asset, failed in zip(failures["asset_id"], failures["ts"], strict=True):
        found = episodes.get(asset, [])
        window_start, window_end = failed - horizon, failed - min_lead
        if any(window_start <= start <= window_end for start, _ in found):
            out["forewarned"] += 1
        elif any(start < window_start <= end for start, end in found):
            out["open_before"] += 1
        elif any(window_end < start <= failed for start, _ in found):
            out["late"] += 1
        else:
            out["none"] += 1
    return out


def _renewal_segments(times: pd.Series, renewed_at: pd.Series) -> list[tuple[int, int]]:
    """Row ranges ``[a, b)`` of one asset's series cut at each renewing maintenance (a cut at a renewal's time).

    >>> times = pd.Series(pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC"))
    >>> _renewal_segments(times, pd.Series([pd.Timestamp("2024-01-01 03:30", tz="UTC")]))
    [(0, 4), (4, 10)]
    """
    cuts = {0, len(times)}
    cuts.update(int(times.searchsorted(at)) for at in renewed_at)
    edges = sorted(c for c in cuts if 0 <= c <= len(times))
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _refit_scores(detector: Detector, frame: pd.DataFrame, renewed_at: pd.Series) -> np.ndarray:
    """Scores with the detector refitted after each renewing maintenance: each segment's model fits on its
    first rows (as many as the whole series' default fit, at most all but one of the segment's rows); a segment
    under 10 rows scores 0 (too short to learn)."""
    n_train = max(10, int(0.15 * len(frame)))
    times = pd.to_datetime(frame["timestamp"], utc=True).reset_index(drop=True)
    out = np.zeros(len(frame))
    for a, b in _renewal_segments(times, renewed_at):
        if b - a < 10:
            continue
        part = frame.iloc[a:b].reset_index(drop=True)
        out[a:b] = _scores(detector, part, min(n_train, b - a - 1))
    return out


def forewarning_part(
    detector: Detector,
    rule: AlarmRule,
    seed: int,
    sites: int,
    assets: int,
    days: int,
    horizon: pd.Timedelta | None = None,
    refit_after_renewal: bool = False,
) -> dict[str, Any]:
    """Failures forewarned by label-free alarms on a failing twin fleet (module text), counted by
    :func:`forewarn.evaluate.events.event_metrics`; a failed asset is down until a renewing maintenance
    (:func:`forewarn.train.labels.renewals`). ``miss_reasons`` says why the others were not; with
    ``refit_after_renewal`` the detector is refitted after each renewing maintenance (the events read);
    ``horizon``: 7 days unless given."""
    horizon = pd.Timedelta(days=7) if horizon is None else horizon
    from forewarn.evaluate.events import event_metrics
    from forewarn.train.labels import renewals
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval="1h", degradation_scale=3.0)
    )
    events = fleet.events.assign(ts=pd.to_datetime(fleet.events["ts"], utc=True))
    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]]
    renewed = renewals(events)
    alerts, observed, spans = [], {}, {}
    maintained = {str(a): group["ts"] for a, group in events.loc[events["kind"] == "maintenance"].groupby("asset_id")}
    no_times = pd.Series([], dtype="datetime64[ns, UTC]")
    causes = {"training": 0, "switch": 0, "after_maintenance": 0, "early": 0, "other": 0}
    for asset in fleet.assets:
        rows = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels if c.name in rows.columns]
        frame = pd.concat([rows["ts"].rename("timestamp"), rows[names].astype("float64")], axis=1)
        frame = frame.dropna(axis=1, how="all").reset_index(drop=True)
        repairs = renewed.loc[renewed["asset_id"] == asset.asset_id, "ts"]
        scores = _refit_scores(detector, frame, repairs) if refit_after_renewal else _scores(detector, frame, None)
        alarms, found = find_alarms(scores, fitted(rule, frame, None), ts=frame["timestamp"])
        times = pd.to_datetime(frame["timestamp"], utc=True)
        starts = times[alarms.astype(bool)]
        down = np.zeros(len(starts), dtype=bool)
        for failed in failures.loc[failures["asset_id"] == asset.asset_id, "ts"]:
            later = repairs[repairs > failed]
            back = later.min() if len(later) else times.max() + pd.Timedelta(hours=1)
            down |= ((starts >= failed) & (starts < back)).to_numpy()
        alerts.append(pd.DataFrame({"asset_id": asset.asset_id, "ts": starts[~down].to_numpy()}))
        asset_failures = failures.loc[failures["asset_id"] == asset.asset_id, "ts"]
        n_train = max(10, int(0.15 * len(frame)))
        stopped = None
        if "speed" in frame.columns:
            speed = frame["speed"].to_numpy(dtype="float64")
            top = np.nanmax(speed[:n_train]) if np.isfinite(speed[:n_train]).any() else np.nan
            stopped = speed < 0.05 * top if np.isfinite(top) and top > 0 else None
        for row, start, gone in zip(np.flatnonzero(alarms), starts, down, strict=True):
            warns = ((asset_failures >= start + pd.Timedelta(hours=24)) & (asset_failures <= start + horizon)).any()
            if not gone and not warns:
                cause = false_start_cause(
                    int(row), start, n_train, stopped, maintained.get(asset.asset_id, no_times), asset_failures
                )
                causes[cause] += 1
        # the episodes whose start is an alert (alarm rows are the episodes' starts, in order)
        spans[asset.asset_id] = [
            (times.iloc[e.start], times.iloc[e.end]) for e, gone in zip(found, down, strict=True) if not gone
        ]
        observed[asset.asset_id] = (times.min(), times.max())
    figures = event_metrics(
        pd.concat(alerts, ignore_index=True),
        failures,
        horizon=horizon,
        min_lead=pd.Timedelta(hours=24),
        observed=observed,
    )
    leads = [lead / pd.Timedelta(hours=1) for lead in figures.lead_times]
    reasons = miss_reasons(failures, spans, horizon, pd.Timedelta(hours=24))
    return {
        "failures": figures.failures,
        "forewarned": figures.caught,
        "forewarned_share": figures.caught / figures.failures if figures.failures else None,
        "lead_hours_median": float(np.median(leads)) if leads else None,
        "false_alarms": figures.false_alarms,
        "false_alarms_per_asset_month": figures.false_alarms_per_asset_month,
        "miss_reasons": reasons,
        "false_start_causes": causes,
        "horizon_hours": horizon / pd.Timedelta(hours=1),
        "refit_after_renewal": refit_after_renewal,
        "assets": len(fleet.assets),
        "days": days,
        "seed": seed,
    }


def _speed_child(spec: str | None, n_rows: int, n_channels: int) -> None:
    """One timed run in this (fresh) process; prints a JSON line."""
    from forewarn.twin.anomalies import SeriesConfig, synthetic_series

    detector = load_detector(spec)
    frame = synthetic_series(SeriesConfig(n_rows=n_rows, n_channels=n_channels, freq="1min"), seed=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    scores = _scores(detector, frame, None)
    scored = time.perf_counter()
    find_episodes(scores, AlarmRule(), ts=frame["timestamp"])
    end = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "wall_s": end - start,
                "score_s": scored - start,
                "rule_s": end - scored,
                "rss_before_mib": before / 1024,
                "peak_rss_mib": peak / 1024,
            }
        )
    )


def speed_part(spec: str | None, n_rows: int, n_channels: int, repeat: int) -> dict[str, Any]:
    """``repeat`` fresh-process runs of :func:`_speed_child`; medians."""
    runs = []
    for _ in range(repeat):
        command = [sys.executable, __file__, "--speed-child", "--rows", str(n_rows), "--channels", str(n_channels)]
        if spec:
            command += ["--detector", spec]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    out.update({"rows": n_rows, "channels": n_channels, "runs": [round(run["wall_s"], 2) for run in runs]})
    return out


def summary(report: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    lines = [f"detector: {report['detector']}"]
    for label, figures in report["rules"].items():
        lines.append(
            f"rule {label} (off {figures['rule']['off']}, clear_rows {figures['rule']['clear_rows']}, "
            f"refractory {figures['rule']['refractory']}"
            + (f", episode_rows {figures['rule']['episode_rows']})" if "episode_rows" in figures["rule"] else ")")
        )
        if "nab" in figures:
            nab = figures["nab"]
            lines.append(
                f"  nab standard (alarm column): median {nab['standard']:.1f} over seeds {nab['seeds']} "
                f"({', '.join(f'{v:.1f}' for v in nab['per_seed'])}); every row >= on: "
                f"{nab['level_score']:.1f}; detected share by kind {nab['detected_share_by_kind']}"
            )
            if nab.get("baselines"):
                lines.append(f"  corpus baselines: {', '.join(nab['baselines'])} (and the twin series)")
            for name, family in nab["by_family"].items():
                leads = f"; false starts led by {family['false_start_leads']}" if "false_start_leads" in family else ""
                lines.append(
                    f"    {name}: {family['series']} series, standard {family['standard']:.1f}, false starts "
                    f"{family['false_starts']}, windows hit {family['windows_hit']}{leads}"
                )
        if "skab" in figures:
            skab = figures["skab"]
            lines.append(
                f"  skab episodes: F1 {skab['f1']:.3f} FAR {skab['far']:.2f} % MAR {skab['mar']:.2f} %; "
                f"rows >= on: F1 {skab['level_f1']:.3f} FAR {skab['level_far']:.2f} % MAR "
                f"{skab['level_mar']:.2f} %; changepoint NAB (SKAB curve) {skab['nab_skab_standard']:.1f}; "
                f"false-positive rows {skab['false_rows_where']} (after the last anomaly: "
                f"{skab.get('false_rows_after_split')})"
            )
        if "forewarning" in figures:
            fw = figures["forewarning"]
            share = "-" if fw["forewarned_share"] is None else f"{fw['forewarned_share']:.2f}"
            lead = "-" if fw["lead_hours_median"] is None else f"{fw['lead_hours_median']:.0f} h"
            lines.append(
                f"  forewarning (twin fleet, {fw['assets']} assets x {fw['days']} days, seed {fw['seed']}): "
                f"{fw['forewarned']} of {fw['failures']} failures ({share}) had an episode start "
                f"{fw['horizon_hours'] / 24:g} d to 24 h before, median lead {lead}; "
                f"{fw['false_alarms_per_asset_month']:.2f} false alarms per asset-month; why: {fw['miss_reasons']}; "
                f"false starts by cause {fw['false_start_causes']}"
                + ("; refitted after each renewal" if fw["refit_after_renewal"] else "")
            )
        if "healthy" in figures:
            healthy = figures["healthy"]
            lines.append(
                f"  healthy fleet: {healthy['episode_start_share_pct']:.3f} % of rows start an episode "
                f"({healthy['episodes']} in {healthy['rows']} rows, {healthy['assets']} assets x "
                f"{healthy['days']} days; at most {healthy['max_episodes_per_asset']} per asset)"
            )
        if "short" in figures:
            from detect_short import short_lines

            lines.extend(short_lines(figures["short"]))
    if "speed" in report:
        speed = report["speed"]
        lines.append(
            f"speed: {speed['rows']:,} rows x {speed['channels']} channels: median wall "
            f"{speed['wall_s']:.1f} s (runs {speed['runs']}; the rule {speed['rule_s']:.3f} s), peak RSS "
            f"{speed['peak_rss_mib']:.0f} MiB ({speed['rss_before_mib']:.0f} MiB before scoring)"
        )
    lines.append(
        f"cpus {report['cpus']}; load average at start {report['load_average_start']}, "
        f"at end {report['load_average_end']}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", help="module:function (default: forewarn.detect.detect_frame's default)")
    parser.add_argument("--parts", default="nab,skab,healthy,forewarning,short,speed")
    parser.add_argument("--seeds", type=int, default=3, help="corpus seeds 0..N-1 (nab)")
    parser.add_argument(
        "--seed-offset", type=int, default=0, help="nab: corpus seeds OFFSET..OFFSET+N-1 (10 on: validation seeds)"
    )
    parser.add_argument("--corpus-rows", type=int, default=4000)
    parser.add_argument(
        "--corpus-baselines",
        default=None,
        help="nab: the synthetic series' normal behaviour: realistic (every non-Gaussian family) or family names "
        "(forewarn.twin.baselines), comma-separated; default the Gaussian corpus",
    )
    parser.add_argument("--lead-members", action="store_true", help="nab: the member leading each false start")
    parser.add_argument("--fleet-assets", type=int, default=20)
    parser.add_argument("--fleet-days", type=int, default=30)
    parser.add_argument("--forewarn-sites", type=int, default=4)
    parser.add_argument("--forewarn-assets", type=int, default=48, help="assets of the failing fleet")
    parser.add_argument("--forewarn-days", type=int, default=180)
    parser.add_argument(
        "--forewarn-horizon", default="7D", help="forewarning: an episode start this long to 24 h before counts"
    )
    parser.add_argument("--forewarn-seed", type=int, default=0, help="forewarning: the failing fleet's seed")
    parser.add_argument(
        "--refit-after-renewal", action="store_true", help="forewarning: refit after each renewing maintenance"
    )
    parser.add_argument("--short-seed", type=int, default=1, help="short: the healthy twin fleet's seed")
    parser.add_argument("--short-lengths", default="10,20,40,60,120,250,500,1000,0", help="short: rows (0: all)")
    parser.add_argument(
        "--detect-params", default=None, help="the default detector's parameters (JSON), in every part but speed"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("FOREWARN_DATA_DIR", "../shared/data"))
    parser.add_argument("--on", type=float, default=None, help="rule: open at score >= on (default AlarmRule's)")
    parser.add_argument("--off", type=float, default=None, help="rule: clear below off (default AlarmRule's)")
    parser.add_argument("--clear-rows", type=int, default=None, help="rule: rows below off that clear")
    parser.add_argument("--refractory", default=None, help="rule: rows (int) or a duration such as 6h")
    parser.add_argument(
        "--episode-rows",
        default=None,
        help="rule: an episode lasts at most this many rows (0: no limit; auto: a quarter of the training rows, 48 "
        "at the least); comma-separated: one rule each",
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="1 seed, small corpus and fleet, 100k rows, 1 run")
    parser.add_argument("--speed-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_child:
        _speed_child(args.detector, args.rows, args.channels)
        return {}
    if args.quick:
        args.seeds, args.corpus_rows, args.fleet_assets, args.fleet_days = 1, 2000, 6, 14
        args.forewarn_assets, args.forewarn_days = 12, 90
        args.rows, args.repeat = 100_000, 1
    if args.detect_params:
        os.environ["D14_DETECT_PARAMS"] = args.detect_params
    detector = load_detector(args.detector)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    settings: dict[str, Any] = {
        name: value
        for name, value in (
            ("on", args.on),
            ("off", args.off),
            ("clear_rows", args.clear_rows),
            ("refractory", int(args.refractory) if str(args.refractory).isdigit() else args.refractory),
        )
        if value is not None
    }
    chosen = fitted_rule(**settings)  # forewarn detect's default rule
    rules = {f"on>={chosen.on}": chosen}
    if args.episode_rows is not None:
        caps = [v.strip() if v.strip() == TIED else int(v) for v in str(args.episode_rows).split(",") if v.strip()]
        rules = {
            f"on>={chosen.on}" + (f" episode_rows={k}" if k else ""): replace(chosen, episode_rows=k) for k in caps
        }
        if len(rules) > 1:
            detector = remembered(detector)
    from forewarn.detect import DEFAULT_DETECTOR

    report: dict[str, Any] = {
        "detector": args.detector or f"forewarn.detect.detect_frame ({DEFAULT_DETECTOR})",
        "load_average_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "rules": {},
    }
    for label, rule in rules.items():
        figures: dict[str, Any] = {
            "rule": {"on": rule.on, "off": rule.off, "clear_rows": rule.clear_rows, "refractory": str(rule.refractory)}
            | ({"episode_rows": rule.episode_rows} if rule.episode_rows else {})
        }
        if "nab" in parts:
            start = time.perf_counter()
            figures["nab"] = nab_part(
                detector,
                rule,
                range(args.seed_offset, args.seed_offset + args.seeds),
                args.corpus_rows,
                rule.on,
                baselines=corpus_baselines(args.corpus_baselines),
                leads=args.lead_members,
            )
            figures["nab"]["seconds"] = round(time.perf_counter() - start, 1)
        if "skab" in parts:
            figures["skab"] = skab_part(detector, rule, args.data_dir, rule.on)
        if "forewarning" in parts:
            figures["forewarning"] = forewarning_part(
                detector,
                rule,
                args.forewarn_seed,
                args.forewarn_sites,
                args.forewarn_assets,
                args.forewarn_days,
                horizon=pd.Timedelta(args.forewarn_horizon),
                refit_after_renewal=args.refit_after_renewal,
            )
        if "healthy" in parts:
            figures["healthy"] = healthy_part(detector, rule, 0, args.fleet_assets, args.fleet_days)
        if "short" in parts:
            from detect_short import short_part

            lengths = [int(n) for n in args.short_lengths.split(",")]
            params = json.loads(args.detect_params) if args.detect_params else None
            figures["short"] = short_part(args.short_seed, args.data_dir, lengths, params=params, rule=rule)
        report["rules"][label] = figures
    if "speed" in parts:
        report["speed"] = speed_part(args.detector, args.rows, args.channels, args.repeat)
    report["load_average_end"] = os.getloadavg()
    print(summary(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1, default=float)
    return report


if __name__ == "__main__":
    main()
