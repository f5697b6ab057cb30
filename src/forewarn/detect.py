"""``forewarn detect``: "is anything odd here?" for a CSV export or the store, without labels.

What it does, in order:

1. Read the input. A CSV file: the separator (``,`` or ``;``) is taken from the header line; numbers written
   with a decimal comma in a ``;`` file are read as numbers. Three layouts:

   * *wide, one series*: a timestamp column (named ``timestamp``, ``datetime``, ``time`` or ``ts`` in any
     case, else the first column whose every value parses as a date-time) and numeric columns (the
     channels; ``exclude`` drops some, e.g. labels; text columns are ignored);
   * *wide with an asset column*: the same plus a column naming the asset of each row (``asset_column``,
     found automatically when a column is named ``asset_id`` or ``asset``); each asset is its own series;
   * *long*: ``asset_id, ts, channel, value`` (one reading per row, :func:`forewarn.schema.to_long_readings`);
     readings of one asset at one time become one row (duplicates averaged), so the output has one row per
     ``(asset_id, ts)``.

   Or the store (:func:`detect_store`): the selected assets' readings, one series per asset.
   Rows of different assets are never mixed in one series: each asset is put in time order (stable sort;
   the output keeps the input's row order) and scored on its own.
2. Fill gaps causally, per asset: a missing value repeats the asset's last earlier value; a missing value
   before the first one takes the training median. A column without any value in a model's training rows
   is dropped for that model (listed in :attr:`DetectResult.dropped`).
3. Fit the detector (default :data:`DEFAULT_DETECTOR`) on the first ``train_fraction`` (15 %) of each asset's
   rows, one model per asset. An asset with fewer than :data:`MIN_TRAIN_ROWS` training rows is *pooled*:
   one model per asset class (the ``asset_classes`` map, e.g. the store's classes; every such asset of an
   input without classes shares one pool) learns from the training rows of all its small assets; when the
   pool still has fewer than :data:`MIN_TRAIN_ROWS`, each of its assets lends more of its leading rows, up to
   half of them. Each pooled fit is reported as a one-line note (:attr:`DetectResult.notes`) and in
   :attr:`DetectResult.fits` (column ``model``: ``own`` or ``pooled: <class>``). So 10 rows per asset score,
   with a warning: so few rows cannot tell normal variation from an anomaly well.
4. Score every row, smooth with a trailing mean of ``smooth`` rows (default: :data:`SMOOTH` for a detector
   with raw scores, none for one whose scores are already an ``anomaly_score``, tag ``unit`` =
   ``"probability-like"``, e.g. ``ensemble``). Nothing looks ahead: for an asset with its own model, a row's
   score after the training part depends only on that row and earlier ones. A detector's warnings while it
   learns (e.g. too few rows) become one-line notes (:attr:`DetectResult.notes`).
5. ``anomaly_score`` in [0, 1], continuous: a calibrated detector's score as is; else (:func:`anomaly_level`)
   learned from the training rows' scores
   (:class:`~forewarn.models.anomaly.series.ScoreCalibration`): up to the alarm level ``q99 * (q99 / q50)``
   it mixes the training scores' empirical CDF (90 %) with a linear ramp from the lowest training score
   (10 %), so it keeps rising between the highest training score and the level (no pile-up at 0.5); the
   level maps to 0.5; above it ``1 - 0.5 / (1 + (s - level) / w)`` with ``w = level - q50`` (0.75 one ``w``
   past the level) climbs towards 1 without reaching it, so a long fault still ranks its rows.
6. ``alarm``: 1 on the row where an anomaly episode starts, 0 elsewhere, from the one alarm rule
   (:mod:`forewarn.decide.alarms`, default :class:`~forewarn.decide.alarms.AlarmRule`: an episode opens on
   a row with ``anomaly_score >= 0.5``, it clears after 5 rows below 0.3, a refractory period is optional),
   per asset in time order. :attr:`DetectResult.episodes` holds the episodes (``--events``: one line each);
   an episode's ``top_channels`` are the (up to) three channels whose standardised deviation is largest on
   its peak row: ``|value - training median| / training scale`` with the scale ``1.4826 * MAD`` of the
   model's training rows (their standard deviation where the MAD is 0; 1 where both are 0).
7. Write ``timestamp`` (the input's text; ISO 8601 for long input and the store), ``anomaly_score`` and
   ``alarm`` (after ``asset_id`` when there are assets), one row per input row, to a temporary file renamed
   into place, so a failed run never leaves half a file.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=400, freq="min").astype(str),
...                       "temp": 50 + rng.normal(0, 1, 400), "flow": 10 + rng.normal(0, 0.2, 400)})
>>> frame.loc[300:, "temp"] += 8.0   # a fault starts at row 300
>>> result = detect_frame(frame, detector="var-residual", train_fraction=0.3)
>>> list(result.scores.columns), len(result.scores), result.timestamp_column, result.n_train
(['timestamp', 'anomaly_score', 'alarm'], 400, 'ts', 120)
>>> score = result.scores["anomaly_score"]
>>> bool(score[310:].mean() > 0.9 > 0.5 > score[:300].mean())
True
>>> [(e.start, e.end, e.top_channels[0]) for e in result.episodes], result.alarms
([(300, 399, 'temp')], 1)
"""

from __future__ import annotations

import csv
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base import registry
from forewarn.decide.alarms import AlarmRule, Episode, episodes_table, find_episodes
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.models.anomaly.series import ScoreCalibration, trailing_mean

DEFAULT_DETECTOR = "ensemble"
TIMESTAMP_NAMES = ("timestamp", "datetime", "time", "ts")
ASSET_NAMES = ("asset_id", "asset")
#: training rows an asset needs for a model of its own; fewer: pooled per class (module text)
MIN_TRAIN_ROWS = 20
#: trailing-mean rows for detectors with raw scores (``smooth=None``); 1 (none) for calibrated ones (module text)
SMOOTH = 10
#: channels named per episode (``top_channels``)
TOP_CHANNELS = 3
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?([eE][-+]?\d+)?\s*$")


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

    @property
    def alarms(self) -> int:
        """Alarm episodes started (the ``alarm`` column's sum; the rule of :mod:`forewarn.decide.alarms`)."""
        return int(self.scores["alarm"].sum())

    def events(self) -> pd.DataFrame:
        """One line per episode (:func:`~forewarn.decide.alarms.episodes_table`), rows counted in the output."""
        return episodes_table(self.episodes)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``,`` or ``;`` separated file with a header row; every cell as text (typed later)."""
    source = Path(path)
    if not source.is_file():
        raise DataNotFoundError(f"input file {str(source)!r} not found")
    try:
        with open(source, encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
    except (OSError, UnicodeDecodeError) as err:
        raise SchemaError(
            f"cannot read the file as UTF-8 text: {err}",
            source=str(source),
            line=1,
            hint="export the data as a UTF-8 CSV",
        ) from None
    if not header.strip():
        raise SchemaError(
            "the file is empty or has no header row",
            source=str(source),
            line=1,
            hint="the first line must name the columns, e.g. timestamp,temperature,...",
        )
    separator = ";" if header.count(";") > header.count(",") else ","
    try:
        return pd.read_csv(
            source, sep=separator, dtype=str, keep_default_na=True, encoding="utf-8-sig", skipinitialspace=True
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as err:
        line = re.search(r"line (\d+)", str(err))
        raise SchemaError(
            f"cannot parse the file as {separator!r}-separated text ({str(err).strip()})",
            source=str(source),
            line=int(line.group(1)) if line else None,
            hint="every line needs as many fields as the header",
        ) from None


def _parse_times(values: pd.Series) -> tuple[pd.Series, int | None]:
    """UTC timestamps of a text column and the position of the first value that does not parse (or ``None``)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):  # already times: no round trip through text
        parsed = pd.Series(pd.to_datetime(values, utc=True), index=values.index)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        return parsed, (int(bad[0]) if bad.size else None)
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    return parsed, (int(bad[0]) if bad.size else None)


def _is_number_text(values: pd.Series) -> bool:
    return pd.to_numeric(values.dropna(), errors="coerce").notna().all()


def find_timestamp_column(frame: pd.DataFrame, source: str = "input") -> tuple[str, pd.Series]:
    """The timestamp column (by name, else the first fully parseable one) and its parsed UTC times."""
    named = [c for c in frame.columns if str(c).strip().lower() in TIMESTAMP_NAMES]
    candidates = named[:1] or [c for c in frame.columns if not _is_number_text(frame[c])]
    for column in candidates:
        parsed, bad = _parse_times(frame[column])
        if bad is None:
            return str(column), parsed
        if named:
            raise SchemaError(
                f"cannot parse timestamp {frame[column].iloc[bad]!r}",
                source=source,
                line=bad + 2,
                column=str(column),
                hint="use ISO 8601, e.g. 2024-01-31 12:00:00",
            )
    raise SchemaError(
        "no timestamp column found",
        source=source,
        hint=f"name it one of {', '.join(TIMESTAMP_NAMES)} or give ISO 8601 date-times",
    )


def _numbers(values: pd.Series) -> pd.Series | None:
    """A column as float64, or ``None`` when it holds text that is not a number."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return pd.Series(np.nan, index=values.index)
    converted = pd.to_numeric(present, errors="coerce")
    if converted.isna().any() and present.str.match(_DECIMAL_COMMA).all():
        converted = pd.to_numeric(present.str.replace(",", ".", regex=False), errors="coerce")
    if converted.isna().any():
        return None
    out = pd.Series(np.nan, index=values.index)
    out[converted.index] = converted.to_numpy(dtype="float64")
    return out


def feature_frame(frame: pd.DataFrame, timestamp_column: str, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """The numeric feature columns (float64), without the timestamp and ``exclude`` columns."""
    features = {}
    for column in frame.columns:
        if str(column) == timestamp_column or str(column) in set(exclude):
            continue
        numbers = _numbers(frame[column])
        if numbers is not None:
            features[str(column)] = numbers
    return pd.DataFrame(features, index=frame.index)


def anomaly_level(calibration: ScoreCalibration, scores: np.ndarray) -> np.ndarray:
    """Raw scores -> continuous ``anomaly_score`` in [0, 1], 0.5 at the alarm level (module text, step 5).

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


def find_asset_column(frame: pd.DataFrame, asset_column: str | None = None) -> str | None:
    """The asset column: ``asset_column`` (must exist), else one named ``asset_id`` or ``asset`` (any case)."""
    if asset_column is not None:
        if asset_column not in frame.columns:
            raise ConfigError(f"no asset column {asset_column!r}; columns are {list(frame.columns)}")
        return asset_column
    named = [c for c in frame.columns if str(c).strip().lower() in ASSET_NAMES]
    return str(named[0]) if named else None


def _long_to_wide(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Long readings -> one row per ``(asset_id, ts)``, a column per channel (duplicates averaged), sorted."""
    from forewarn.schema import to_long_readings

    long = to_long_readings(frame, source=source, first_line=2)
    if long.empty:
        raise SchemaError("no readings to score", source=source, hint="the file has a header but no data rows")
    wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="mean", sort=True)
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    wide.insert(1, "timestamp", pd.DatetimeIndex(wide.pop("ts")).strftime("%Y-%m-%dT%H:%M:%S.%f%z"))
    return wide


def _refuse_mixed_series(
    frame: pd.DataFrame,
    times: pd.Series,
    assets: np.ndarray | None,
    timestamp_column: str,
    asset_column: str | None,
    source: str,
) -> None:
    """Two rows of one series at the same time are two machines mixed (or a doubled export): refuse, naming
    the lines and, when a text column would tell the rows apart, that column."""
    keys = pd.DataFrame({"ts": pd.DatetimeIndex(times).asi8, "asset": "" if assets is None else assets})
    repeated = keys.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    later = int(np.flatnonzero(keys.duplicated(keep="first").to_numpy())[0])
    earlier = int(np.flatnonzero((keys == keys.iloc[later]).all(axis=1).to_numpy())[0])
    lines = [earlier + 2, later + 2]  # the first repeated pair (line 1 is the header)
    if asset_column is not None:
        raise SchemaError(
            f"asset {keys['asset'].iloc[lines[0] - 2]!r} has {int(repeated.sum())} rows sharing a timestamp "
            f"(lines {lines[0]} and {lines[1]})",
            source=source,
            column=timestamp_column,
            hint="remove the duplicate rows, or give the column that tells the machines apart (--asset-column)",
        )
    stamps = keys["ts"].to_numpy()
    candidates = [
        str(c)
        for c in frame.columns
        if str(c) != timestamp_column
        and _numbers(frame[c]) is None
        and not pd.DataFrame({"ts": stamps, "c": frame[c].astype(str).to_numpy()}).duplicated().any()
    ]
    hint = (
        f"several machines in one file? score each on its own with --asset-column {candidates[0]}"
        if candidates
        else "several machines in one file? add a column naming each row's asset (--asset-column), "
        "or remove the duplicate rows"
    )
    raise SchemaError(
        f"{int(repeated.sum())} rows share a timestamp with another row (lines {lines[0]} and {lines[1]}): "
        "one series cannot hold two rows at one time",
        source=source,
        column=timestamp_column,
        hint=hint,
    )


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
) -> dict[str, Any]:
    """Score every asset's series (module text, steps 2-6); rows are positions of ``features``."""
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
        if int(train_fraction * len(rows)) >= MIN_TRAIN_ROWS:
            groups[f"own:{key}"] = [key]
        else:
            label = str((asset_classes or {}).get(key, "all")) if assets is not None else "all"
            groups.setdefault(f"pooled:{label}", []).append(key)
    anomaly = np.zeros(n_rows)
    alarm = np.zeros(n_rows, dtype="int8")
    episodes: list[Episode] = []
    fits: list[dict[str, Any]] = []
    notes: list[str] = []
    dropped_all: set[str] = set()
    used: list[str] = []
    told: dict[str, dict[str, str]] = {}  # the detector's warnings: kind -> series -> first line
    levels = []
    total_train = 0
    for group, members in groups.items():
        pooled = group.startswith("pooled:")
        sizes = [len(series[k]) for k in members]
        frames = [features.iloc[series[k]].reset_index(drop=True).ffill() for k in members]
        label = group.split(":", 1)[1]
        if assets is None:
            where = "the series"
        elif not pooled:
            where = f"asset {members[0]!r}"
        else:
            where = "pooled assets" + (f" of class {label!r}" if label != "all" else "")
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
                                told.setdefault(w.category.__name__, {}).setdefault(
                                    where, str(w.message).splitlines()[0]
                                )
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
        dropped_all.update(dropped)
        used.extend(c for c in columns if c not in used)
        raw = [trailing_mean(model.score(f[columns].fillna(median)), smooth) for f in frames]
        calibration = None
        if not calibrated:
            calibration = ScoreCalibration.fit(np.concatenate([r[:t] for r, t in zip(raw, n_train, strict=True)]))
        levels.append(0.5 if calibration is None else calibration.level)
        centre, scale = _scale(training)
        for key, frame, scores, t in zip(members, frames, raw, n_train, strict=True):
            rows = series[key]
            level = np.clip(scores, 0.0, 1.0) if calibration is None else anomaly_level(calibration, scores)
            anomaly[rows] = level
            found = find_episodes(level, rule, ts=stamps[rows], asset_id=key if assets is not None else None)
            values = frame[columns].to_numpy(dtype="float64")
            for episode in found:
                deviation = np.nan_to_num(np.abs(values[episode.peak] - centre) / scale, nan=-1.0)
                top = tuple(columns[i] for i in np.argsort(-deviation, kind="stable")[:TOP_CHANNELS])
                alarm[rows[episode.start]] = 1
                episodes.append(
                    replace(
                        episode,
                        start=int(rows[episode.start]),
                        end=int(rows[episode.end]),
                        peak=int(rows[episode.peak]),
                        top_channels=top,
                    )
                )
            fits.append(
                {
                    "asset_id": key if assets is not None else None,
                    "rows": len(rows),
                    "n_train": t,
                    "model": "own" if not pooled else f"pooled: {group.split(':', 1)[1]}",
                }
            )
            total_train += t
        if pooled:
            names = ", ".join(members[:5]) + (f" and {len(members) - 5} more" if len(members) > 5 else "")
            subject = f"{len(members)} asset(s) ({names})" if assets is not None else f"the series ({sizes[0]} rows)"
            whole = " (all its rows, the scored ones too)" if n_train == list(sizes) else ""
            notes.append(
                f"{subject} with fewer than {MIN_TRAIN_ROWS} training rows: one {detector} model learnt "
                f"{len(training)} rows{whole} ({', '.join(map(str, n_train[:5]))}{'...' if len(members) > 5 else ''} "
                f"per asset); scores are rough: so few rows cannot tell normal variation from a fault"
            )
    for said in told.values():  # one line per kind of warning, however many assets
        series_named = list(said)
        more = f" and {len(series_named) - 3} more" if len(series_named) > 3 else ""
        notes.append(
            f"{', '.join(series_named[:3])}{more}: {said[series_named[0]]}"
            + (" (the others alike)" if len(series_named) > 1 else "")
        )
    episodes.sort(key=lambda e: (e.asset_id or "", e.start))
    return {
        "anomaly": anomaly,
        "alarm": alarm,
        "episodes": episodes,
        "fits": pd.DataFrame(fits, columns=["asset_id", "rows", "n_train", "model"]),
        "notes": notes,
        "dropped": sorted(dropped_all - set(used)),
        "features": used,
        "n_train": total_train,
        "alarm_level": levels[0] if len(levels) == 1 else float("nan"),
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
) -> DetectResult:
    """Score the rows of ``frame`` (see the module text); the frame's cells may be text or numbers.

    ``asset_classes`` maps asset ids to classes for pooling assets with too few rows (module text, step 3).
    """
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(
            f"train fraction must be between 0 and 1 (exclusive), got {train_fraction}; "
            "e.g. 0.15 trains on the first 15 % of the rows"
        )
    if smooth is not None and smooth < 1:
        raise ConfigError(f"smooth must be at least 1 row, got {smooth}")
    cls = _detector_class(detector)
    rule = rule or AlarmRule()
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
                f"cannot parse timestamp {frame[timestamp_column].iloc[bad]!r}",
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
    features = feature_frame(frame, timestamp_column, [*exclude, *([asset_column] if asset_column else [])])
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
    )
    out: dict[str, Any] = {}
    if asset_column is not None:
        out["asset_id"] = assets
    stamp = frame[timestamp_column]
    # the input's text as is; a column that already holds times keeps them (formatting 1 M times costs seconds)
    out["timestamp"] = (stamp if pd.api.types.is_datetime64_any_dtype(stamp.dtype) else stamp.astype(str)).to_numpy()
    out["anomaly_score"] = scored["anomaly"]
    out["alarm"] = scored["alarm"]
    return DetectResult(
        scores=pd.DataFrame(out),
        detector=detector,
        timestamp_column=timestamp_column,
        features=scored["features"],
        n_train=scored["n_train"],
        alarm_level=scored["alarm_level"],
        dropped=scored["dropped"],
        episodes=scored["episodes"],
        fits=scored["fits"],
        notes=scored["notes"],
        rule=rule,
        asset_column=asset_column,
    )


def detect_store(
    store: Any,
    *,
    sites: Sequence[str] = (),
    lines: Sequence[str] = (),
    classes: Sequence[str] = (),
    assets: Sequence[str] = (),
    interval: str | None = None,
    **options: Any,
) -> DetectResult:
    """Score the selected assets already in ``store`` (a path or an open :class:`~forewarn.store.Store`).

    The selection is ``forewarn train``'s (:func:`forewarn.train.dataset.select_assets`); each asset's
    readings are read wide (``interval``: averaged at that spacing, e.g. ``"10min"``; default: as stored) and
    scored as its own series, pooled per asset class where it has too few rows (:func:`detect_frame`).
    """
    from forewarn.train.dataset import opened, select_assets
    from forewarn.train.spec import TrainSpec

    spec = TrainSpec(sites=tuple(sites), lines=tuple(lines), classes=tuple(classes), assets=tuple(assets))
    with opened(store) as db:
        chosen = select_assets(db, spec)
        parts = []
        for asset_id in chosen["asset_id"].astype(str):
            part = db.readings(asset_id, resample=interval, wide=True)
            if len(part):
                parts.append(part)
    if not parts:
        raise DataNotFoundError(f"no readings for the {len(chosen)} selected asset(s)")
    frame = pd.concat(parts, ignore_index=True)
    frame["asset_id"] = frame["asset_id"].astype(str)
    frame["ts"] = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    classes_of = dict(zip(chosen["asset_id"].astype(str), chosen["asset_class"].astype(str), strict=True))
    return detect_frame(
        frame,
        timestamp_column="ts",
        asset_column="asset_id",
        asset_classes=classes_of,
        source=str(store) if not hasattr(store, "sql") else "store",
        **options,
    )


def _write_atomic(frames: Sequence[tuple[pd.DataFrame, Path]]) -> None:
    """Write every ``(frame, path)`` CSV to a temporary file first; rename them all only when all are written."""
    temporaries: list[tuple[str, Path]] = []
    try:
        for table, target in frames:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temporaries.append((temporary, target))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                table.to_csv(stream, index=False, float_format="%.6f", quoting=csv.QUOTE_MINIMAL)
        for temporary, target in temporaries:
            os.replace(temporary, target)
    except BaseException:
        for temporary, _ in temporaries:
            Path(temporary).unlink(missing_ok=True)
        raise


def events_frame(result: DetectResult) -> pd.DataFrame:
    """The ``--events`` file: one line per episode; rows are 0-based positions in the scores file,
    times ISO 8601, ``top_channels`` joined by ``;`` (module text, step 6)."""
    table = result.events()
    for name in ("start_ts", "end_ts", "peak_ts"):
        table[name] = [None if t is None or pd.isna(t) else pd.Timestamp(t).isoformat() for t in table[name]]
    table["top_channels"] = [";".join(c) for c in table["top_channels"]]
    if result.asset_column is None:
        table = table.drop(columns=["asset_id"])
    return table


def write_result(
    result: DetectResult, out_path: str | os.PathLike[str], events_path: str | os.PathLike[str] | None = None
) -> None:
    """Write the scores (and the episodes to ``events_path``) atomically: all files or none."""
    frames = [(result.scores, Path(out_path))]
    if events_path is not None:
        frames.append((events_frame(result), Path(events_path)))
    _write_atomic(frames)


def detect_file(
    input_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    events_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> DetectResult:
    """Read ``input_path``, score it (:func:`detect_frame` options), write the scores CSV to ``out_path``
    and, when ``events_path`` is given, one line per episode there."""
    frame = read_table(input_path)
    result = detect_frame(frame, source=str(input_path), **options)
    write_result(result, out_path, events_path)
    return result
