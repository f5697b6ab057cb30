"""``forewarn detect``: "is anything odd in this export?" for any CSV of a timestamp and numeric columns.

What it does, in order:

1. Read the file: the separator (``,`` or ``;``) is taken from the header line; numbers written with a
   decimal comma in a ``;`` file are read as numbers. The timestamp column is the one named
   ``timestamp``, ``datetime``, ``time`` or ``ts`` (any case), else the first column whose every value
   parses as a date-time. Every other numeric column is a feature (``exclude`` drops some, e.g. labels);
   text columns are ignored.
2. Put rows in time order (a stable sort; the output keeps the input's row order).
3. Fill gaps causally: a missing value repeats the column's last earlier value; a missing value before
   the first one takes the column's training median. A column without any value in the training part is
   dropped (listed in :attr:`DetectResult.dropped`).
4. Fit the detector (default ``var-residual``, the best general detector on SKAB) on the first
   ``train_fraction`` of the rows (15 %), score every row, and smooth the scores with a trailing mean of
   ``smooth`` rows. Nothing looks ahead: for rows after the training part, a row's score depends only on
   that row and earlier ones, so appending or changing later rows never changes it.
5. Map scores to ``anomaly_score`` in [0, 1] with
   :class:`~forewarn.models.anomaly.series.ScoreCalibration` learned on the training rows' scores: the
   empirical CDF of training scores up to the alarm level ``q99 * (q99 / q50)`` (which maps to 0.5),
   then a logistic tail towards 1. Above 0.5 means beyond what the training part makes normal.
6. Write ``timestamp`` (the input's text, unchanged) and ``anomaly_score``, one row per input row, to a
   temporary file renamed into place, so a failed run never leaves half a file.

>>> import numpy as np, pandas as pd, tempfile, pathlib
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=400, freq="min").astype(str),
...                       "temp": 50 + rng.normal(0, 1, 400), "flow": 10 + rng.normal(0, 0.2, 400)})
>>> frame.loc[300:, "temp"] += 8.0   # a fault starts at row 300
>>> result = detect_frame(frame)
>>> list(result.scores.columns), len(result.scores), result.timestamp_column, result.n_train
(['timestamp', 'anomaly_score'], 400, 'ts', 60)
>>> score = result.scores["anomaly_score"]
>>> bool(score[310:].mean() > 0.9 > 0.5 > score[:300].mean())
True
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base import registry
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.models.anomaly.series import ScoreCalibration, trailing_mean

DEFAULT_DETECTOR = "var-residual"
TIMESTAMP_NAMES = ("timestamp", "datetime", "time", "ts")
MIN_TRAIN_ROWS = 20
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?([eE][-+]?\d+)?\s*$")


@dataclass
class DetectResult:
    """Scores (``timestamp``, ``anomaly_score``, input row order) and what was used to make them."""

    scores: pd.DataFrame
    detector: str
    timestamp_column: str
    features: list[str]
    n_train: int
    alarm_level: float
    dropped: list[str] = field(default_factory=list)

    @property
    def alarms(self) -> int:
        """Rows above the alarm level (``anomaly_score > 0.5``)."""
        return int((self.scores["anomaly_score"] > 0.5).sum())


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


def detect_frame(
    frame: pd.DataFrame,
    *,
    detector: str = DEFAULT_DETECTOR,
    train_fraction: float = 0.15,
    smooth: int = 10,
    exclude: Sequence[str] = (),
    timestamp_column: str | None = None,
    params: Mapping[str, Any] | None = None,
    source: str = "input",
) -> DetectResult:
    """Score the rows of ``frame`` (see the module text); the frame's cells may be text or numbers."""
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(
            f"train fraction must be between 0 and 1 (exclusive), got {train_fraction}; "
            "e.g. 0.15 trains on the first 15 % of the rows"
        )
    cls = registry.get(detector)
    if getattr(cls, "task", "") != "anomaly":
        raise ConfigError(
            f"{detector!r} is not an anomaly detector; choose one of {', '.join(registry.names(task='anomaly'))}"
        )
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise ConfigError(f"cannot exclude {missing}: no such column; columns are {list(frame.columns)}")
    if timestamp_column is None:
        timestamp_column, times = find_timestamp_column(frame, source)
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
    features = feature_frame(frame, timestamp_column, exclude)
    if features.shape[1] == 0:
        raise SchemaError(
            "no numeric column to score",
            source=source,
            hint="the file needs a timestamp column and at least one column of numbers",
        )
    order = np.argsort(times.dt.tz_localize(None).to_numpy(), kind="stable")
    ordered = features.iloc[order].reset_index(drop=True)
    n_train = int(train_fraction * len(ordered))
    if n_train < MIN_TRAIN_ROWS:
        raise SchemaError(
            f"too few rows to train on: {len(ordered)} rows x {train_fraction:g} = {n_train} "
            f"training rows, at least {MIN_TRAIN_ROWS} needed",
            source=source,
            hint="give a longer export or a larger --train-fraction",
        )
    training = ordered.iloc[:n_train]
    dropped = [c for c in ordered.columns if training[c].isna().all()]
    ordered = ordered.drop(columns=dropped)
    if ordered.shape[1] == 0:
        raise SchemaError(
            f"no numeric column has a value in the first {n_train} (training) rows",
            source=source,
            hint="train on a stretch where the sensors report",
        )
    ordered = ordered.ffill().fillna(ordered.iloc[:n_train].median())
    model = cls(**dict(params or {}))
    model.fit(ordered.iloc[:n_train])
    smoothed = trailing_mean(model.score(ordered), smooth)
    calibration = ScoreCalibration.fit(smoothed[:n_train])
    anomaly = np.empty(len(ordered))
    anomaly[order] = calibration.transform(smoothed)
    scores = pd.DataFrame({"timestamp": frame[timestamp_column].astype(str).to_numpy(), "anomaly_score": anomaly})
    return DetectResult(
        scores=scores,
        detector=detector,
        timestamp_column=timestamp_column,
        features=list(ordered.columns),
        n_train=n_train,
        alarm_level=calibration.level,
        dropped=dropped,
    )


def detect_file(
    input_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    **options: Any,
) -> DetectResult:
    """Read ``input_path``, score it (:func:`detect_frame` options) and write the scores CSV to ``out_path``."""
    frame = read_table(input_path)
    result = detect_frame(frame, source=str(input_path), **options)
    target = Path(out_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            result.scores.to_csv(stream, index=False, float_format="%.6f", quoting=csv.QUOTE_MINIMAL)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return result
