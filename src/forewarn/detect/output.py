"""Writing what ``forewarn detect`` found (:mod:`forewarn.detect`, step 7): the scores and the episodes, written
atomically; :func:`detect_file` reads, scores and writes in one call."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from forewarn.detect.inputs import read_table
from forewarn.detect.scoring import DetectResult, detect_frame


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
    **options: Any,
) -> DetectResult:
    """Read ``input_path``, score it (:func:`detect_frame` options), write the scores CSV to ``out_path``
    and, when ``events_path`` is given, one line per episode there."""
    frame = read_table(input_path)
    result = detect_frame(frame, source=str(input_path), **options)
    write_result(result, out_path, events_path)
    return result
