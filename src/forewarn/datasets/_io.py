"""Shared file handling for the dataset loaders: finding files, reading delimited text, naming bad lines.

Every loader goes through these helpers so that a missing file always raises
:class:`~forewarn.exceptions.DataNotFoundError` naming the file and the expected layout, and a file of the
wrong shape always raises :class:`~forewarn.exceptions.SchemaError` naming the file and, where it can be
found, the first bad line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "t.csv").write_text("a;b\\n1;2\\n3\\n")
>>> try:
...     read_delimited(folder / "t.csv", names=["a", "b"], sep=";", dtype="float64", header=["a", "b"])
... except SchemaError as err:
...     print(err)
t.csv, line 3: expected 2 fields, found 1 (the file is cut short or malformed; restore it from the original dataset)
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from forewarn.config import dataset_dir
from forewarn.exceptions import DataNotFoundError, SchemaError

REPAIR_HINT = "the file is cut short or malformed; restore it from the original dataset"

# What the loaders catch from a reader that met a bad file: parse errors, bad numbers, broken compression.
READ_ERRORS = (ValueError, pd.errors.ParserError, EOFError, OSError, zlib.error, UnicodeDecodeError)


def dataset_folder(folder: str, data_dir: str | os.PathLike[str] | None, layout: str) -> Path:
    """Resolve ``<data dir>/<folder>``; a missing folder raises :class:`DataNotFoundError` showing ``layout``."""
    try:
        return dataset_dir(folder, data_dir)
    except DataNotFoundError as err:
        raise DataNotFoundError(f"{err}; expected layout: {layout}") from None


def require_file(path: Path, layout: str) -> Path:
    """Return ``path`` when it is a file, else raise :class:`DataNotFoundError` naming it and the layout."""
    if not path.is_file():
        raise DataNotFoundError(f"missing file {str(path)!r}; expected layout: {layout}")
    return path


def first_existing(folder: Path, stems: Iterable[str], layout: str) -> Path:
    """The first of ``folder/<stem>`` that exists (e.g. ``x.txt.gz`` then ``x.txt``), or a clear error."""
    tried = [folder / stem for stem in stems]
    for path in tried:
        if path.is_file():
            return path
    names = " or ".join(repr(str(p)) for p in tried)
    raise DataNotFoundError(f"missing file {names}; expected layout: {layout}")


def _open_text(path: Path, encoding: str) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")  # noqa: SIM115 - the caller closes it


def _split(line: str, sep: str | None) -> list[str]:
    text = line.rstrip("\r\n")
    return text.split() if sep is None else text.split(sep)


def locate_bad_line(
    path: Path, *, n_fields: int, sep: str | None, numeric: Sequence[int], skip: int = 0, encoding: str = "utf-8"
) -> tuple[int | None, str]:
    """Scan a text file for its first malformed data line (used only after a fast read failed).

    Returns ``(line, reason)`` with a 1-based line number, or ``(None, reason)`` when the whole file
    parses (or the damage is in the compression, past the last line that could be read).
    ``sep=None`` splits on runs of whitespace; ``numeric`` are the field positions that must be numbers.
    """
    line_no = 0
    try:
        with _open_text(path, encoding) as handle:
            for line_no, line in enumerate(handle, start=1):
                if line_no <= skip or not line.strip():
                    continue
                fields = _split(line, sep)
                if len(fields) != n_fields:
                    return line_no, f"expected {n_fields} fields, found {len(fields)}"
                for pos in numeric:
                    try:
                        float(fields[pos])
                    except ValueError:
                        return line_no, f"field {pos + 1} ({fields[pos]!r}) is not a number"
    except (EOFError, OSError, zlib.error) as err:
        return None, f"cannot be read past line {line_no}: {err}"
    except UnicodeDecodeError as err:
        return line_no + 1, f"is not {encoding} text: {err.reason}"
    return None, "does not parse as expected"


def read_delimited(
    path: Path,
    *,
    names: Sequence[str],
    sep: str | None,
    dtype: str | Mapping[str, str],
    header: Sequence[str] | None = None,
    encoding: str = "utf-8",
    source: str | None = None,
) -> pd.DataFrame:
    """Read a delimited text file (optionally gzip) with fixed column ``names`` and explicit ``dtype``.

    ``header`` is the exact header row the file must start with (``None`` for a file without header).
    ``sep=None`` means runs of whitespace. A missing field, an extra field or a non-number in a numeric
    column raises :class:`SchemaError` naming ``source`` (default: the file name) and the line.
    """
    source = source or path.name
    skip = 0
    if header is not None:
        skip = 1
        try:
            with _open_text(path, encoding) as handle:
                found = _split(handle.readline(), sep)
        except READ_ERRORS as err:
            raise SchemaError(f"cannot read the header: {err}", source=source, line=1, hint=REPAIR_HINT) from None
        if found != list(header):
            raise SchemaError(
                f"header is {found}, expected {list(header)}",
                source=source,
                line=1,
                hint="this is not the expected file, or its header was edited",
            )
    types = dict.fromkeys(names, dtype) if isinstance(dtype, str) else dict(dtype)
    numeric = [i for i, name in enumerate(names) if types.get(name, "str") not in ("str", "string", "object")]
    try:
        frame = pd.read_csv(
            path,
            sep=r"\s+" if sep is None else sep,
            header=None,
            names=list(names),
            dtype=types,
            skiprows=skip,
            encoding=encoding,
            engine="c",
            index_col=False,
        )
    except READ_ERRORS as err:
        line, reason = locate_bad_line(
            path, n_fields=len(names), sep=sep, numeric=numeric, skip=skip, encoding=encoding
        )
        if line is None and str(err) not in reason:
            reason = f"{reason} ({type(err).__name__}: {err})"
        raise SchemaError(reason, source=source, line=line, hint=REPAIR_HINT) from None
    missing = frame.isna().to_numpy().any(axis=1)
    if missing.any():
        line, reason = locate_bad_line(
            path, n_fields=len(names), sep=sep, numeric=numeric, skip=skip, encoding=encoding
        )
        if line is None:
            row = int(np.flatnonzero(missing)[0])
            line, reason = row + skip + 1, "empty field"
        raise SchemaError(reason, source=source, line=line, hint=REPAIR_HINT)
    return frame


def check_binary(
    frame: pd.DataFrame,
    columns: Iterable[str],
    *,
    source: str,
    first_line: int,
    file_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Check that ``columns`` hold only 0/1 and return the frame with them cast to ``int64``.

    ``file_names`` maps a column to its name in the file, for the error message.
    """
    out = frame.copy()
    for column in columns:
        values = out[column].to_numpy()
        bad = ~np.isin(values, (0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SchemaError(
                f"value {values[row].item()!r} is not 0 or 1",
                source=source,
                line=row + first_line,
                column=(file_names or {}).get(column, column),
                hint=REPAIR_HINT,
            )
        out[column] = values.astype("int64")
    return out
