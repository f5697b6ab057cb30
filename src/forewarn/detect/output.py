"""Writing what ``forewarn detect`` found (:mod:`forewarn.detect`, step 7): the scores and the episodes, written
atomically; :func:`detect_file` reads, scores and writes in one call."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.detect.inputs import TIMESTAMP_NAMES, _parse_times, find_asset_column, read_table, time_problem
from forewarn.detect.scoring import DetectResult, detect_frame
from forewarn.exceptions import ConfigError, SchemaError


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
    times ISO 8601, ``top_channels`` joined by ``;`` (package text, step 6)."""
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
    time_format: str | None = None,
    timezone: str = "UTC",
    **options: Any,
) -> DetectResult:
    """Read ``input_path``, score it (:func:`detect_frame` options), write the scores CSV to ``out_path``
    and, when ``events_path`` is given, one line per episode there.

    Units or description rows under the header are read as such, as ``forewarn ingest`` reads them
    (:func:`forewarn.store.validate.units_rows`), and said in the result's notes. ``time_format`` and
    ``timezone`` mean what they mean to ``forewarn ingest`` and are read by the same function
    (:func:`forewarn.store.validate.parse_times`); with either, the scores file's times are written in UTC.
    """
    from forewarn.store.options import ReadOptions

    read = ReadOptions(time_format=time_format, timezone=timezone)  # checks the format and the zone
    frame = read_table(input_path)
    source = str(input_path)
    column = _time_column(frame, options.get("timestamp_column"), read)
    times = None
    if column is not None and read.parses_text_time():
        times = _parsed_times(frame, column, read, options.get("asset_column"))
    skipped, note = _units_rows(frame, column, times, options.get("asset_column"), source)
    if skipped:
        frame = frame.iloc[skipped:].reset_index(drop=True)
        times = None if times is None else times.iloc[skipped:].reset_index(drop=True)
    if times is not None:
        assert column is not None
        _refuse_unparsed(frame[column], times, read, source, column, skipped)
        frame[column] = times
    try:
        result = detect_frame(frame, source=source, **options)
    except SchemaError as err:
        if not skipped or err.line is None or err.line < 2:
            raise
        raise type(err)(
            err.reason, source=err.source, line=err.line + skipped, column=err.column, hint=err.hint
        ) from None
    if note:
        result.notes.insert(0, note)
    write_result(result, out_path, events_path)
    return result


def _time_column(frame: pd.DataFrame, given: str | None, read: Any) -> str | None:
    """The column holding the times: ``given``, else one named as :data:`TIMESTAMP_NAMES` says, else ``None``
    (``detect_frame`` then finds it by its values). With a time format or zone the column must be known."""
    if given is not None:
        return given if given in frame.columns else None
    named = [str(c) for c in frame.columns if str(c).strip().lower() in TIMESTAMP_NAMES]
    if named:
        return named[0]
    if read.parses_text_time():
        raise ConfigError(
            f"no column named {', '.join(TIMESTAMP_NAMES)}: give --time-column with --time-format or "
            f"--timezone; columns are {list(frame.columns)}"
        )
    return None


def _series_keys(frame: pd.DataFrame, asset_column: str | None) -> pd.Series | None:
    """What tells a file's series apart, for a fall-back night's repeated hour: asset (and channel, long)."""
    asset = find_asset_column(frame, asset_column)
    if asset is None:
        return None
    keys = frame[asset].astype(str)
    if {"channel", "value"} <= {str(c) for c in frame.columns}:
        keys = keys + "\x1f" + frame["channel"].astype(str)
    return keys


def _parsed_times(frame: pd.DataFrame, column: str, read: Any, asset_column: str | None) -> pd.Series:
    from forewarn.store.validate import parse_times

    return parse_times(frame[column], read, _series_keys(frame, asset_column))


def _units_rows(
    frame: pd.DataFrame, column: str | None, times: pd.Series | None, asset_column: str | None, source: str
) -> tuple[int, str | None]:
    """How many leading rows are units or descriptions (as ingest reads them), and the note saying so."""
    from forewarn.store.validate import MAX_UNITS_ROWS, units_note, units_rows

    if column is None or column not in frame.columns or frame.empty:
        return 0, None
    asset = find_asset_column(frame, asset_column) if asset_column is None or asset_column in frame.columns else None
    head = frame.iloc[:MAX_UNITS_ROWS]
    parsed = times.iloc[:MAX_UNITS_ROWS] if times is not None else _parse_times(head[column])[0]
    values = [str(c) for c in frame.columns if str(c) not in (column, asset)]
    records = [(bool(pd.notna(t)), row) for t, row in zip(parsed, head[values].itertuples(index=False), strict=True)]
    count = units_rows(records)
    if not count:
        return 0, None
    rows = [list(head[values].iloc[i]) for i in range(count)]
    return count, units_note(source, list(range(2, 2 + count)), values, rows)


def _refuse_unparsed(cells: pd.Series, times: pd.Series, read: Any, source: str, column: str, skipped: int) -> None:
    """A time that the format (or zone) given does not read is an error at its line, as ingest says it."""
    bad = np.flatnonzero(times.isna().to_numpy())
    if not bad.size:
        return
    value = cells.iloc[int(bad[0])]
    what = time_problem(value)
    if read.time_format is not None and not pd.isna(value):
        what += f" with the format {read.time_format!r}"
    raise SchemaError(
        what,
        source=source,
        line=int(bad[0]) + 2 + skipped,
        column=column,
        hint="check --time-format (strptime directives such as %d/%m/%Y %H:%M, or epoch / epoch_ms)",
    )
