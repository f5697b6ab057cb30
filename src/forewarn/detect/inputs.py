"""Reading what ``forewarn detect`` scores (:mod:`forewarn.detect`, step 1): the CSV file, its timestamp, asset
and numeric columns, long readings made wide, and the refusal of two rows of one series at one time."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError

TIMESTAMP_NAMES = ("timestamp", "datetime", "time", "ts")
ASSET_NAMES = ("asset_id", "asset")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?([eE][-+]?\d+)?\s*$")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``,`` or ``;`` separated file with a header row; every cell as text (typed later).

    UTF-8, or UTF-16 / UTF-32 when the file starts with that encoding's byte order mark (Excel's "Unicode text").
    """
    from forewarn.store.readers import bom_encoding

    source = Path(path)
    if not source.is_file():
        raise DataNotFoundError(f"input file {str(source)!r} not found")
    encoding = bom_encoding(source) or "utf-8-sig"
    try:
        with open(source, encoding=encoding, newline="") as handle:
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
            source, sep=separator, dtype=str, keep_default_na=True, encoding=encoding, skipinitialspace=True
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
        parsed = _one_format(text)
    if parsed is None or parsed.isna().any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    return parsed, (int(bad[0]) if bad.size else None)


def _one_format(text: pd.Series) -> pd.Series | None:
    """The times of a column read with one format for every row, day first or month first; ``None`` if neither
    format reads them all.

    Guessing each value on its own (pandas' ``mixed``) reads ``12.03.2024`` as 3 December and ``13.03.2024`` as
    13 March, which scrambles a day-first export's order unseen. When both orders read every value (no day above
    12), the one that keeps the file in time order more often wins.

    >>> _one_format(pd.Series(["12.03.2024 00:10", "13.03.2024 00:10"])).dt.day.tolist()
    [12, 13]
    >>> _one_format(pd.Series(["01/02/2024 10:00", "01/03/2024 10:00", "01/04/2024 10:00"])).dt.month.tolist()
    [1, 1, 1]
    """
    from pandas.tseries.api import guess_datetime_format

    present = text.dropna()
    if present.empty:
        return None
    best: tuple[int, int, pd.Series] | None = None
    for dayfirst in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when a guess is day first and dayfirst is False
            fmt = guess_datetime_format(str(present.iloc[0]), dayfirst=dayfirst)
        if fmt is None:
            continue
        parsed = pd.Series(pd.to_datetime(text, errors="coerce", format=fmt, utc=True), index=text.index)
        stamps = parsed.dropna().to_numpy()
        score = (int(parsed.isna().sum()), int((stamps[1:] < stamps[:-1]).sum()))
        if best is None or score < best[:2]:
            best = (*score, parsed)
    return None if best is None or best[0] else best[2]


def time_problem(value: object) -> str:
    """What is wrong with a time that did not parse: missing (an empty cell, e.g. a units row) or unreadable.

    >>> time_problem(float("nan")), time_problem("31/02/2024")
    ('missing timestamp', "cannot parse timestamp '31/02/2024'")
    """
    return "missing timestamp" if pd.isna(value) else f"cannot parse timestamp {value!r}"


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
                time_problem(frame[column].iloc[bad]),
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


def _numbers(values: pd.Series, marks: list[str] | None = None) -> pd.Series | None:
    """A column as float64, or ``None`` when it holds text that is not a number.

    With ``marks`` (a list), a column whose present cells are mostly (more than half) numbers is read with its
    other cells as missing, and their texts are appended to ``marks`` (an export's ``n/a``, ``---``, ``#DIV/0!``).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return pd.Series(np.nan, index=values.index)
    converted = pd.to_numeric(present, errors="coerce")
    if converted.isna().any() and present.str.match(_DECIMAL_COMMA).all():
        converted = pd.to_numeric(present.str.replace(",", ".", regex=False), errors="coerce")
    bad = converted.isna()
    if bad.any() and (marks is None or bad.mean() >= 0.5):
        return None
    if bad.any() and marks is not None:
        marks.extend(present[bad].tolist())
    out = pd.Series(np.nan, index=values.index)
    out[converted.index] = converted.to_numpy(dtype="float64")
    return out


def feature_frame(
    frame: pd.DataFrame, timestamp_column: str, exclude: Sequence[str] = (), notes: list[str] | None = None
) -> pd.DataFrame:
    """The numeric feature columns (float64), without the timestamp and ``exclude`` columns.

    A column of numbers with a few cells of text (an export's ``n/a``, ``#DIV/0!``) is kept with those cells
    missing; ``notes`` (when given) receives a line per such column. A column mostly of text (a state, a code)
    is left out.

    >>> frame = pd.DataFrame({"ts": ["1", "2", "3"], "temp": ["40", "#DIV/0!", "41"], "state": ["run", "run", "stop"]})
    >>> notes = []
    >>> list(feature_frame(frame, "ts", notes=notes)), notes
    (['temp'], ["column 'temp': 1 cell(s) of text read as missing ('#DIV/0!')"])
    """
    features = {}
    for column in frame.columns:
        if str(column) == timestamp_column or str(column) in set(exclude):
            continue
        marks: list[str] = []
        numbers = _numbers(frame[column], marks)
        if numbers is None:
            continue
        features[str(column)] = numbers
        if marks and notes is not None:
            shown = ", ".join(repr(m) for m in list(dict.fromkeys(marks))[:5])
            notes.append(f"column {str(column)!r}: {len(marks)} cell(s) of text read as missing ({shown})")
    return pd.DataFrame(features, index=frame.index)


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
    stamps = pd.DatetimeIndex(times)
    why = _why_repeated(frame, stamps[repeated], stamps.max() - stamps.min(), earlier, later)
    if asset_column is not None:
        asset = keys["asset"].iloc[earlier]
        raise SchemaError(
            f"asset {asset!r} has {int(repeated[keys['asset'].to_numpy() == asset].sum())} rows sharing a timestamp "
            f"(lines {lines[0]} and {lines[1]})",
            source=source,
            column=timestamp_column,
            hint=why or "remove the duplicate rows, or give the column that tells the machines apart (--asset-column)",
        )
    stamps = keys["ts"].to_numpy()
    candidates = [
        str(c)
        for c in frame.columns
        if str(c) != timestamp_column
        and _numbers(frame[c]) is None
        and not pd.DataFrame({"ts": stamps, "c": frame[c].astype(str).to_numpy()}).duplicated().any()
    ]
    hint = why or (
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


#: column names of a historian export's tag (its rows are one tag's value at a time each)
TAG_NAMES = frozenset({"tag", "tagname", "tag_name", "tag name", "point", "pointname", "point_name"})


def _why_repeated(
    frame: pd.DataFrame, repeated: pd.DatetimeIndex, span: pd.Timedelta, earlier: int, later: int
) -> str | None:
    """A likelier cause of repeated timestamps than mixed machines, as a hint; ``None`` when none is seen.

    Rows equal in every column are a doubled export. Rows that differ at times all within one hour of a longer
    file (``span``, first to last time) look like local clock times from the night the clocks go back (that hour
    occurs twice).
    """
    if frame.iloc[earlier].equals(frame.iloc[later]):
        return "the rows repeat each other exactly (a doubled export?): remove the duplicate rows"
    names = {str(c).strip().lower() for c in frame.columns}
    if names & TAG_NAMES and "value" in names:
        return (
            "a historian's tag export (tag, time, value)? its tags name assets and channels: ingest it with "
            "forewarn ingest FILE --store DB --tag-map tags.csv (columns tag, asset, channel), then run "
            "forewarn detect --store DB"
        )
    if len(repeated) and repeated.max() - repeated.min() < pd.Timedelta(hours=1) and span > pd.Timedelta(hours=3):
        return (
            f"every repeated time lies in one hour from {repeated.min():%Y-%m-%d %H:%M}: local clock times from the night "
            "the clocks go back (that hour occurs twice)? export times in UTC or with their offset"
        )
    return None
