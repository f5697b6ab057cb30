"""Scoring for ``forewarn detect`` (:mod:`forewarn.detect`, steps 2-6): the detector, one model per asset or per
pool, the ``anomaly_score`` and the alarm episodes; :func:`detect_frame` for a table (and, through it,
:func:`forewarn.detect.stored.detect_store` for the store)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base import registry
from forewarn.base.executor import Executor, resolve
from forewarn.decide.alarms import AlarmRule, Episode, episodes_table, find_episodes, fitted_rule
from forewarn.detect.channels import episode_channels, episode_rows, raw_scores
from forewarn.detect.inputs import (
    _long_to_wide,
    _parse_times,
    _refuse_mixed_series,
    feature_frame,
    find_asset_column,
    find_timestamp_column,
    time_problem,
)
from forewarn.detect.since import (
    CARRY_ROWS,
    Mark,
    carry_alarms,
    check_rule,
    mark_after,
    reach,
    row_contributions,
    score_since,
)
from forewarn.exceptions import ConfigError, SchemaError
from forewarn.models.anomaly.recurrence import Carry, carrying
from forewarn.models.anomaly.series import ScoreCalibration

DEFAULT_DETECTOR = "ensemble"
#: training rows an asset needs for a model of its own; fewer: pooled per class (package text)
MIN_TRAIN_ROWS = 20
#: trailing-mean rows for detectors with raw scores (``smooth=None``); 1 (none) for calibrated ones (package text)
SMOOTH = 10


@dataclass
class DetectFit:
    """One fitted model of :func:`detect_frame` (``keep_models=True``): the assets it scores (one, or a pool's),
    the channels it reads in order, the value filling a channel before its first reading (the training median),
    each member's training rows and the times of the first and last training row (ISO 8601, UTC)."""

    group: str
    assets: list[str]
    model: Any
    channels: list[str]
    fill: list[float]
    n_train: list[int]
    train_from: str
    train_to: str
    #: each channel's robust scale in the training rows (what an episode's top channels are measured in)
    scale: list[float] | None = None


@dataclass
class DetectResult:
    """Scores (``[asset_id,] timestamp, anomaly_score, alarm``, input row order), episodes, and what made them."""

    scores: pd.DataFrame
    detector: str
    timestamp_column: str
    features: list[str]
    n_train: int
    alarm_level: float
    dropped: list[str] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    rule: AlarmRule = field(default_factory=AlarmRule)
    asset_column: str | None = None
    #: the fitted models, one per asset or pool, with what scoring needs besides (``keep_models=True``)
    models: list[DetectFit] = field(default_factory=list)
    #: per episode (same order), its channels on its alarm row: ``{channel: |value - training median| / scale}``,
    #: the (up to) :data:`TOP_CHANNELS` largest first: what an alert filed for the episode names (its explanation)
    explanations: list[dict[str, float]] = field(default_factory=list)
    #: per episode (same order), the ``anomaly_score`` on its alarm row (the score of an alert filed for it)
    alarm_scores: list[float] = field(default_factory=list)
    #: only the new rows (``since=``): each scored asset's mark after this run (:mod:`forewarn.detect.since`), to
    #: keep with :func:`~forewarn.detect.since.write_marks` once the run's outputs are written; ``None`` otherwise
    marks: dict[str, Mark] | None = None
    #: ... how each asset with a kept fit was scored: ``new``, ``first`` (no mark), ``changed``, ``nothing``
    scored_how: dict[str, str] = field(default_factory=dict)
    #: ... the marks it started from
    previous: dict[str, Mark] = field(default_factory=dict)

    @property
    def alarms(self) -> int:
        """Alarm episodes started (the ``alarm`` column's sum; the rule of :mod:`forewarn.decide.alarms`)."""
        return int(self.scores["alarm"].sum())

    def events(self) -> pd.DataFrame:
        """One line per episode (:func:`~forewarn.decide.alarms.episodes_table`), rows counted in the output."""
        return episodes_table(self.episodes)


def anomaly_level(calibration: ScoreCalibration, scores: np.ndarray) -> np.ndarray:
    """Raw scores -> continuous ``anomaly_score`` in [0, 1], 0.5 at the alarm level (package text, step 5).

    >>> cal = ScoreCalibration.fit(np.linspace(1.0, 2.0, 101))   # level 2.0 * 2.0 / 1.5 = 2.667
    >>> [round(float(v), 3) for v in anomaly_level(cal, np.array([1.0, 2.0, 2.3, cal.level, 5.0]))]
    [0.0, 0.48, 0.49, 0.5, 0.837]
    """
    values = np.asarray(scores, dtype="float64")
    reference, level = calibration.reference, calibration.level
    grid = np.linspace(0.0, 1.0, len(reference))
    cdf = np.interp(values, reference, grid) / max(float(np.interp(level, reference, grid)), 1e-12)
    ramp = np.clip((values - reference[0]) / max(level - float(reference[0]), 1e-12), 0.0, 1.0)
    low = 0.5 * (0.9 * np.minimum(cdf, 1.0) + 0.1 * ramp)
    width = max(level - calibration.median, 1e-12)
    with np.errstate(over="ignore", invalid="ignore"):
        high = 1.0 - 0.5 / (1.0 + np.maximum(values - level, 0.0) / width)
    return np.clip(np.where(values <= level, low, high), 0.0, 1.0)


def _detector_class(detector: str) -> Any:
    cls = registry.get(detector)
    if getattr(cls, "task", "") != "anomaly":
        raise ConfigError(
            f"{detector!r} is not an anomaly detector; choose one of {', '.join(registry.names(task='anomaly'))}"
        )
    return cls


def _scale(training: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust scale (1.4826 MAD, else std, else 1) of each training column."""
    values = training.to_numpy(dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(values, axis=0)
        scale = 1.4826 * np.nanmedian(np.abs(values - median), axis=0)
        std = np.nanstd(values, axis=0)
    scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
    return np.nan_to_num(median), scale


def _training_rows(sizes: Sequence[int], train_fraction: float, pooled: bool) -> list[int]:
    """Training rows per asset: its leading ``train_fraction``; a pool short of MIN_TRAIN_ROWS lends more."""
    rows = [int(train_fraction * n) for n in sizes]
    if pooled and sum(rows) < MIN_TRAIN_ROWS:
        each = math.ceil(MIN_TRAIN_ROWS / max(len(sizes), 1))
        rows = [max(r, min(each, n // 2)) for r, n in zip(rows, sizes, strict=True)]
    return rows


def _score_assets(
    features: pd.DataFrame,
    times: pd.Series,
    assets: np.ndarray | None,
    *,
    cls: Any,
    detector: str,
    train_fraction: float,
    smooth: int | None,
    params: Mapping[str, Any] | None,
    rule: AlarmRule,
    asset_classes: Mapping[str, str] | None,
    source: str,
    executor: Executor | None = None,
    keep_models: bool = False,
    kept: Any = None,
    since: Mapping[str, Mark] | None = None,
) -> dict[str, Any]:
    """Score every asset's series (package text, steps 2-6); rows are positions of ``features``. Each model (an
    asset's own, or a pool's) is one unit of ``executor`` (:func:`_fit_group`); the units' results are put together
    in the groups' order, so the result does not depend on where they ran. ``kept``: earlier fits
    (:class:`~forewarn.detect.saved.SavedFits`): an asset that has one is scored with it, not fitted again
    (:func:`_score_kept`); with ``since`` (the marks of :mod:`forewarn.detect.since`, ``{}``: none yet), such an
    asset's rows after its mark only (the others: every row)."""
    n_rows = len(features)
    # a detector whose scores are already an anomaly_score (0.5 at its own alarm level) is not recalibrated
    calibrated = cls.get_tags().get("unit") == "probability-like"
    if smooth is None:
        smooth = 1 if calibrated else SMOOTH
    stamps = pd.DatetimeIndex(times).as_unit("ns").asi8
    keys = np.full(n_rows, "", dtype=object) if assets is None else assets
    series: dict[str, np.ndarray] = {}
    for key, positions in pd.Series(np.arange(n_rows)).groupby(keys, sort=True):
        rows = positions.to_numpy()
        series[str(key)] = rows[np.argsort(stamps[rows], kind="stable")]
    groups: dict[str, list[str]] = {}
    for key, rows in series.items():
        number = None if kept is None or assets is None else kept.fit_number(key)
        if number is not None:
            groups.setdefault(f"kept:{number}", []).append(key)
        elif int(train_fraction * len(rows)) >= MIN_TRAIN_ROWS:
            groups[f"own:{key}"] = [key]
        else:
            label = str((asset_classes or {}).get(key, "all")) if assets is not None else "all"
            groups.setdefault(f"pooled:{label}", []).append(key)
    units = [
        (
            group,
            members,
            [features.iloc[series[k]].reset_index(drop=True).ffill() for k in members],
            [stamps[series[k]] for k in members],
            kept.unit(int(group.split(":", 1)[1]), members, since) if group.startswith("kept:") else None,
        )
        for group, members in groups.items()
    ]
    fit = partial(
        _score_unit,
        cls=cls,
        detector=detector,
        train_fraction=train_fraction,
        smooth=smooth,
        params=params,
        rule=rule,
        source=source,
        calibrated=calibrated,
        named=assets is not None,
        keep=keep_models,
        marking=since is not None,
    )
    anomaly = np.zeros(n_rows)
    alarm = np.zeros(n_rows, dtype="int8")
    shown = np.ones(n_rows, dtype=bool)
    marks: dict[str, Any] = {}
    hows: dict[str, str] = {}
    episodes: list[tuple[Episode, dict[str, float], float]] = []
    fits: list[dict[str, Any]] = []
    notes: list[str] = []
    dropped_all: set[str] = set()
    used: list[str] = []
    told: dict[str, dict[str, str]] = {}  # the detector's warnings: kind -> series -> first line
    levels = []
    made: dict[str, DetectFit] = {}
    total_train = 0
    for (group, _, _, _, _), done in zip(units, resolve(executor).map(fit, units), strict=True):
        if done.get("fit") is not None:
            made[group] = done["fit"]
        dropped_all.update(done["dropped"])
        used.extend(c for c in done["columns"] if c not in used)
        for kind, said in done["told"].items():
            for where, line in said.items():
                told.setdefault(kind, {}).setdefault(where, line)
        levels.append(done["level"])
        for key, level, found, t in done["members"]:
            rows = series[key]
            first = len(rows) - len(level)  # only new rows (since=): the asset's rows before them are not written
            if first:
                shown[rows[:first]] = False
            anomaly[rows[first:]] = level
            for episode, explanation, score in found:
                if episode.start >= 0:
                    alarm[rows[first + episode.start]] = 1
                at = {k: -1 if p < 0 else int(rows[first + p]) for k, p in episode_rows(episode).items()}
                episodes.append((replace(episode, **at), explanation, score))
            fits.append(
                {
                    "asset_id": key if assets is not None else None,
                    "rows": len(rows),
                    "n_train": t,
                    "model": done["model"],
                    "kept": group.startswith("kept:"),
                    "scored": len(level),
                }
            )
            total_train += t
        marks.update(done.get("marks", {}))
        hows.update(done.get("hows", {}))
        if done["note"]:
            notes.append(done["note"])
    for said in told.values():  # one line per kind of warning, however many assets
        series_named = list(said)
        more = f" and {len(series_named) - 3} more" if len(series_named) > 3 else ""
        notes.append(
            f"{', '.join(series_named[:3])}{more}: {said[series_named[0]]}"
            + (" (the others alike)" if len(series_named) > 1 else "")
        )
    episodes.sort(key=lambda item: (item[0].asset_id or "", item[0].start_ts or pd.Timestamp(0), item[0].start))
    kept_fits = [] if kept is None or not keep_models else kept.detect_fits()
    return {
        "anomaly": anomaly,
        "alarm": alarm,
        "episodes": [e for e, _, _ in episodes],
        "explanations": [x for _, x, _ in episodes],
        "alarm_scores": [v for _, _, v in episodes],
        "fits": pd.DataFrame(fits, columns=["asset_id", "rows", "n_train", "model", "kept", "scored"]),
        "shown": None if shown.all() else shown,
        "marks": marks,
        "hows": hows,
        "notes": notes,
        "dropped": sorted(dropped_all - set(used)),
        "features": used,
        "n_train": total_train,
        "alarm_level": levels[0] if len(levels) == 1 else float("nan"),
        "models": kept_fits + [f for g, f in made.items() if not g.startswith("kept:")],
    }


def _score_members(
    score: Any,
    frames: Sequence[pd.DataFrame],
    stamps: Sequence[np.ndarray],
    members: Sequence[str],
    n_train: Sequence[int],
    *,
    columns: list[str],
    fill: pd.Series,
    centre: np.ndarray,
    scale: np.ndarray,
    smooth: int,
    rule: AlarmRule,
    named: bool,
    calibration_rows: bool,
    carry_back: int | None = None,
) -> tuple[list[tuple[str, np.ndarray, list[tuple[Episode, dict[str, float], float]], int]], float, list[Carry]]:
    """Score each member's rows (``frames``: gaps carried forward; a channel before its first reading takes its
    ``fill``) with ``score`` (rows -> raw scores, the rows indexed by their times), turn them into
    the ``anomaly_score`` (learning the calibration from the training rows when ``calibration_rows``), find the
    episodes, their top channels (peak row) and their alarm row's channels (the explanation of an alert filed for
    it). Returns ``(member, level, [(episode, explanation, alarm row's score)], n_train)`` per member, the alarm
    level and, with ``carry_back`` (rows), each member's :class:`~forewarn.models.anomaly.recurrence.Carry`: the
    state of the ensemble's ``recurrence`` cap that many rows before its last row, for the marks of
    :mod:`forewarn.detect.since` (else an empty list)."""
    carries = [Carry(carry_back) for _ in frames] if carry_back is not None else []
    raw = []
    for i, (f, ts) in enumerate(zip(frames, stamps, strict=True)):
        if carries:
            with carrying(carries[i]):  # scores as without it (the cap in pieces equals one run)
                raw.append(raw_scores(score, f, ts, columns, fill, smooth))
        else:
            raw.append(raw_scores(score, f, ts, columns, fill, smooth))
    calibration = None
    if calibration_rows:
        calibration = ScoreCalibration.fit(np.concatenate([r[:t] for r, t in zip(raw, n_train, strict=True)]))
    scored = []
    for key, frame, scores, t, ts in zip(members, frames, raw, n_train, stamps, strict=True):
        level = np.clip(scores, 0.0, 1.0) if calibration is None else anomaly_level(calibration, scores)
        values = frame[columns].to_numpy(dtype="float64")
        found = []
        for episode in find_episodes(level, rule.resolved(t), ts=ts, asset_id=key if named else None):
            top, explanation = episode_channels(values, episode, columns, centre, scale)
            found.append((replace(episode, top_channels=top), explanation, float(level[episode.start])))
        scored.append((key, level, found, t))
    return scored, 0.5 if calibration is None else calibration.level, carries


def _score_unit(
    unit: tuple[str, list[str], list[pd.DataFrame], list[np.ndarray], Any], **options: Any
) -> dict[str, Any]:
    """One unit of :func:`_score_assets`: a group fitted now (:func:`_fit_group`) or one kept fit
    (:func:`_score_kept`)."""
    group, members, frames, stamps, kept = unit
    if kept is None:
        return _fit_group((group, members, frames, stamps), **options)
    return _score_kept(kept, members, frames, stamps, **options)


def _score_kept(
    kept: Any,
    members: list[str],
    frames: list[pd.DataFrame],
    stamps: list[np.ndarray],
    *,
    smooth: int,
    rule: AlarmRule,
    named: bool,
    **_: Any,
) -> dict[str, Any]:
    """Score ``members`` with a kept fit (``kept``: :meth:`forewarn.detect.saved.SavedFits.unit`): its model, its
    channels (one the asset does not report is missing throughout), the fill and scale it was saved with (the
    scale of its training rows, found again in ``frames`` for a folder saved without it); nothing is fitted."""
    fit, n_train = kept.fit, [kept.n_train.get(m, 0) for m in members]
    columns = list(fit.channels)
    frames = [f.reindex(columns=columns) for f in frames]
    fill = pd.Series(fit.fill, index=columns)
    scale = kept.scale
    if scale is None:
        training = pd.concat([f.iloc[:t] for f, t in zip(frames, n_train, strict=True)], ignore_index=True)
        scale = _scale(training.fillna(fill))[1]
    centre, spread = np.asarray(fit.fill, dtype="float64"), np.asarray(scale, dtype="float64")
    marks: dict[str, Any] = {}
    hows: dict[str, str] = {}
    if kept.marks is not None:  # only the rows after each member's mark (forewarn.detect.since)
        scored = []
        for member, frame, ts, t in zip(members, frames, stamps, n_train, strict=True):
            level_new, found, marks[member], hows[member] = score_since(
                fit,
                frame,
                ts,
                kept.marks.get(member),
                member if named else None,
                columns,
                fill,
                centre,
                spread,
                rule.resolved(t),
                smooth,
            )
            scored.append((member, level_new, found, t))
        level = 0.5
    else:
        scored, level, _carries = _score_members(
            fit.score,
            frames,
            stamps,
            members,
            n_train,
            columns=columns,
            fill=fill,
            centre=centre,
            scale=spread,
            smooth=smooth,
            rule=rule,
            named=named,
            calibration_rows=False,
        )
    return {
        "marks": marks,
        "hows": hows,
        "fit": None,
        "dropped": [],
        "columns": columns,
        "told": {},
        "level": level,
        "members": scored,
        "note": None,
        "model": kept.model,
    }


def _fit_group(
    unit: tuple[str, list[str], list[pd.DataFrame], list[np.ndarray]],
    *,
    cls: Any,
    detector: str,
    train_fraction: float,
    smooth: int,
    params: Mapping[str, Any] | None,
    rule: AlarmRule,
    source: str,
    calibrated: bool,
    named: bool,
    keep: bool = False,
    marking: bool = False,
) -> dict[str, Any]:
    """One model: ``unit`` is a group (``own:ASSET`` or ``pooled:CLASS``), its member assets, their feature rows
    (in time order) and times. Fits the detector on the members' leading rows, scores every row, finds the episodes
    (positions within each member's rows) and names their top channels; a pure function of its inputs. With
    ``keep`` the result's ``fit`` is the model and what scoring needs besides (:class:`DetectFit`); with
    ``marking`` (only the new rows scored: :mod:`forewarn.detect.since`) each member's mark after its last row."""
    group, members, frames, stamps = unit
    pooled = group.startswith("pooled:")
    sizes = [len(f) for f in frames]
    label = group.split(":", 1)[1]
    if not named:
        where = "the series"
    elif not pooled:
        where = f"asset {members[0]!r}"
    else:
        where = "pooled assets" + (f" of class {label!r}" if label != "all" else "")
    told: dict[str, dict[str, str]] = {}
    first = _training_rows(sizes, train_fraction, pooled)
    # a pool the detector cannot learn from its leading rows learns from all of them (said in the note)
    attempts = [first, list(sizes)] if pooled and first != list(sizes) else [first]
    for attempt, n_train in enumerate(attempts, start=1):
        training = pd.concat([f.iloc[:t] for f, t in zip(frames, n_train, strict=True)], ignore_index=True)
        dropped = [c for c in training.columns if training[c].isna().all()]
        columns = [c for c in training.columns if c not in dropped]
        problem = None
        if len(training) < 2:
            problem = SchemaError(
                f"too few rows to learn from in {where}: {sum(sizes)} rows, {len(training)} to train on",
                source=source,
                hint="give at least 10 rows per asset",
            )
        elif not columns:
            problem = SchemaError(
                f"no numeric column has a value in the {len(training)} training rows of {where}",
                source=source,
                hint="train on a stretch where the sensors report",
            )
        else:
            training = training[columns]
            median = training.median()
            training = training.fillna(median)
            model = cls(**dict(params or {}))
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", UserWarning)
                    model.fit(training)
                if not pooled:  # a pool's note says it already (below)
                    for w in caught:
                        if issubclass(w.category, UserWarning):
                            told.setdefault(w.category.__name__, {}).setdefault(where, str(w.message).splitlines()[0])
            except (ValueError, np.linalg.LinAlgError) as err:
                problem = SchemaError(
                    f"{detector} cannot learn {where} from {len(training)} training rows ({err})",
                    source=source,
                    hint="give more rows, a larger --train-fraction, or another --detector",
                )
        if problem is None:
            break
        if attempt == len(attempts):
            raise problem
    # a detector tagged "timed" reads the rows' times as the DatetimeIndex of what it scores (the ensemble settles
    # lasting deviations over hours, models.anomaly.ensemble)
    timed = bool(cls.get_tags().get("timed", False))
    centre, scale = _scale(training)
    scored, level, carries = _score_members(
        (lambda X: model.score(X)) if timed else (lambda X: model.score(X.reset_index(drop=True))),
        frames,
        stamps,
        members,
        n_train,
        columns=columns,
        fill=median,
        centre=centre,
        scale=scale,
        smooth=smooth,
        rule=rule,
        named=named,
        calibration_rows=not calibrated,
        carry_back=CARRY_ROWS + smooth if marking else None,
    )
    capping = getattr(model, "recurrence", None) is not None  # the ensemble's cap: its state goes in the mark
    marks = {}
    for (key, level_of, found, t), frame, ts, carry in zip(
        scored if marking else [], frames, stamps, carries, strict=False
    ):
        values = frame[columns].to_numpy(dtype="float64")
        carried = carry_alarms(
            level_of,
            ts,
            rule.resolved(t),
            None,
            key if named else None,
            row_contributions(values, columns, centre, scale),
        )
        opened = found[-1][0].start if found else 0
        mark = mark_after(ts, level_of, carried.state, found, None, reach(model), int(ts[0]), opened)
        marks[key] = replace(mark, recurrence=carry.to_json() if capping else None)
    note = None
    if pooled:
        names = ", ".join(members[:5]) + (f" and {len(members) - 5} more" if len(members) > 5 else "")
        subject = f"{len(members)} asset(s) ({names})" if named else f"the series ({sizes[0]} rows)"
        whole = " (all its rows, the scored ones too)" if n_train == list(sizes) else ""
        note = (
            f"{subject} with fewer than {MIN_TRAIN_ROWS} training rows: one {detector} model learnt "
            f"{len(training)} rows{whole} ({', '.join(map(str, n_train[:5]))}{'...' if len(members) > 5 else ''} "
            f"per asset); scores are rough: so few rows cannot tell normal variation from a fault"
        )
    fitted = None
    if keep:
        first_ts = [int(ts[0]) for ts, t in zip(stamps, n_train, strict=True) if t]
        last_ts = [int(ts[t - 1]) for ts, t in zip(stamps, n_train, strict=True) if t]
        fitted = DetectFit(
            group=group,
            assets=list(members),
            model=model,
            channels=list(columns),
            fill=[float(v) for v in median.to_numpy(dtype="float64")],
            n_train=list(n_train),
            train_from=pd.Timestamp(min(first_ts), tz="UTC").isoformat(),
            train_to=pd.Timestamp(max(last_ts), tz="UTC").isoformat(),
            scale=[float(v) for v in scale],
        )
    return {
        "marks": marks,
        "fit": fitted,
        "dropped": dropped,
        "columns": columns,
        "told": told,
        "level": level,
        "members": scored,
        "note": note,
        "model": "own" if not pooled else f"pooled: {label}",
    }


def detect_frame(
    frame: pd.DataFrame,
    *,
    detector: str = DEFAULT_DETECTOR,
    train_fraction: float = 0.15,
    smooth: int | None = None,
    exclude: Sequence[str] = (),
    timestamp_column: str | None = None,
    asset_column: str | None = None,
    asset_classes: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    rule: AlarmRule | None = None,
    source: str = "input",
    executor: Executor | None = None,
    keep_models: bool = False,
    kept: Any = None,
    since: Mapping[str, Mark] | None = None,
) -> DetectResult:
    """Score the rows of ``frame`` (see the package text); the frame's cells may be text or numbers.

    ``asset_classes`` maps asset ids to classes for pooling assets with too few rows (package text, step 3).
    ``rule``: the alarm rule (default :func:`~forewarn.decide.alarms.fitted_rule`); one tied to the fit
    (``episode_rows="auto"``) is resolved per asset against the training rows of the fit that scores it.
    ``executor`` (:mod:`forewarn.base.executor`) fits and scores each asset's (or pool's) model as one unit
    (in this process by default; the result does not depend on it). ``keep_models`` keeps the fitted models in
    :attr:`DetectResult.models` (for :func:`forewarn.detect.saved.save_fits`). ``kept``: the fits of an earlier
    run (:class:`~forewarn.detect.saved.SavedFits`, ``forewarn detect --models DIR``): each asset that has one is
    scored with it, so its scores on the rows that run scored do not change; the others are fitted as above (with
    ``keep_models``, the result keeps every kept fit and the new ones). ``since``: the marks of the previous run (:func:`forewarn.detect.since.read_marks`; ``{}`` for none): each asset with a kept fit is scored
    on its rows after its mark only, with a context before them and the alarm state carried
    (:mod:`forewarn.detect.since`); the result holds those rows only (:attr:`DetectResult.marks` the marks after
    them, :attr:`DetectResult.scored_how` how each asset was scored).
    """
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(
            f"train fraction must be between 0 and 1 (exclusive), got {train_fraction}; "
            "e.g. 0.15 trains on the first 15 % of the rows"
        )
    if smooth is not None and smooth < 1:
        raise ConfigError(f"smooth must be at least 1 row, got {smooth}")
    cls = _detector_class(detector)
    rule = rule or fitted_rule()  # the default of the faces with fits (FITTED_EPISODE_ROWS)
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise ConfigError(f"cannot exclude {missing}: no such column; columns are {list(frame.columns)}")
    columns = [str(c) for c in frame.columns]
    if {"channel", "value"} <= set(columns) and asset_column is None and timestamp_column is None:
        frame = _long_to_wide(frame.drop(columns=list(exclude)), source)
        asset_column, timestamp_column, exclude = "asset_id", "timestamp", ()
    else:
        asset_column = find_asset_column(frame, asset_column)
    if timestamp_column is None:
        timestamp_column, times = find_timestamp_column(
            frame.drop(columns=[asset_column]) if asset_column else frame, source
        )
    elif timestamp_column not in frame.columns:
        raise ConfigError(f"no timestamp column {timestamp_column!r}; columns are {list(frame.columns)}")
    else:
        times, bad = _parse_times(frame[timestamp_column])
        if bad is not None:
            raise SchemaError(
                time_problem(frame[timestamp_column].iloc[bad]),
                source=source,
                line=bad + 2,
                column=timestamp_column,
                hint="use ISO 8601, e.g. 2024-01-31 12:00:00",
            )
    assets = None
    if asset_column is not None:
        ids = frame[asset_column]
        blank = ids.isna() | (ids.astype(str).str.strip() == "")
        if blank.any():
            raise SchemaError(
                "missing asset id",
                source=source,
                line=int(np.flatnonzero(blank.to_numpy())[0]) + 2,
                column=asset_column,
                hint="every row needs its asset, or leave the asset column out for a single series",
            )
        assets = ids.astype(str).str.strip().to_numpy(dtype=object)
    _refuse_mixed_series(frame, times, assets, timestamp_column, asset_column, source)
    if since and kept is not None and assets is not None:  # the marks continue under the rule they were taken with
        check_rule(since, sorted({str(a) for a in assets}), rule)
    read_notes: list[str] = []
    features = feature_frame(
        frame, timestamp_column, [*exclude, *([asset_column] if asset_column else [])], notes=read_notes
    )
    if features.shape[1] == 0:
        raise SchemaError(
            "no numeric column to score",
            source=source,
            hint="the file needs a timestamp column and at least one column of numbers",
        )
    if len(features) == 0:
        raise SchemaError("no rows to score", source=source, hint="the file has a header but no data rows")
    scored = _score_assets(
        features,
        times,
        assets,
        cls=cls,
        detector=detector,
        train_fraction=train_fraction,
        smooth=smooth,
        params=params,
        rule=rule,
        asset_classes=asset_classes,
        source=source,
        executor=executor,
        keep_models=keep_models,
        kept=kept,
        since=since,
    )
    out: dict[str, Any] = {}
    if asset_column is not None:
        out["asset_id"] = assets
    stamp = frame[timestamp_column]
    # the input's text as is; a column that already holds times keeps them (formatting 1 M times costs seconds)
    out["timestamp"] = (stamp if pd.api.types.is_datetime64_any_dtype(stamp.dtype) else stamp.astype(str)).to_numpy()
    out["anomaly_score"] = scored["anomaly"]
    out["alarm"] = scored["alarm"]
    table, episodes = pd.DataFrame(out), scored["episodes"]
    if scored["shown"] is not None:  # only the new rows: the others dropped, the episodes' rows counted again
        shown = scored["shown"]
        table = table[shown].reset_index(drop=True)
        position = np.cumsum(shown) - 1
        episodes = [
            replace(e, **{k: -1 if p < 0 else int(position[p]) for k, p in episode_rows(e).items()}) for e in episodes
        ]
    return DetectResult(
        scores=table,
        detector=detector,
        timestamp_column=timestamp_column,
        features=scored["features"],
        n_train=scored["n_train"],
        alarm_level=scored["alarm_level"],
        dropped=scored["dropped"],
        episodes=episodes,
        fits=scored["fits"],
        notes=[*read_notes, *scored["notes"]],
        rule=rule,
        asset_column=asset_column,
        models=scored["models"],
        explanations=scored["explanations"],
        alarm_scores=scored["alarm_scores"],
        marks={a: replace(m, rule=rule.settings()) for a, m in scored["marks"].items()} if since is not None else None,
        scored_how=scored["hows"],
        previous=dict(since or {}),
    )
