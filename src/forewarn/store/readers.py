"""Reading files and Arrow tables into DuckDB staging relations, with line-accurate error positions.

DuckDB reads the files itself (``read_csv``, ``read_parquet``, ``read_json``): that is what makes bulk
ingest fast. Every staged relation carries ``__rn``, the 0-based record number in the source, and a
:class:`Staged` knows how to turn a record number into the line a person sees in an editor:

* CSV: the physical file line, the header being line 1 (quoted cells may span lines, blank lines count);
* JSON lines: the physical file line (blank lines count);
* Parquet and in-memory tables: the 1-based row number.

Line numbers are only worked out when something is wrong, so the happy path never scans a file in Python.

Text files (CSV, JSON lines) are read as UTF-8. One that starts with a UTF-16 or UTF-32 byte order mark (Excel's
"Unicode text", many historians) is read in that encoding. One that is not valid UTF-8 (DuckDB or the header
read says so) is decoded in Python into a temporary UTF-8 copy: with the ``encoding`` given, else as
Windows-1252, the usual encoding of Excel and historian exports on Windows (:attr:`Staged.note` then says so).
A file that does not decode is an :class:`IngestError` naming the first bad line, never a ``UnicodeDecodeError``.

A CSV file's delimiter is found from its header line: ``,``, ``;`` or tab, whichever splits it into the most
fields. In a file separated by ``;`` or tab a comma inside a number is its decimal mark (``1,5`` is 1.5), as
Excel writes numbers where the decimal mark is a comma; ``1.5`` reads too. ``na_values`` are cell texts that
mean "no value" in the export (``n/a``, ``---``, ``#DIV/0!``): they are read as empty cells, i.e. gaps.

>>> import duckdb, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
>>> _ = path.write_text('asset_id,ts,note\\np1,2024-01-01,"two\\nlines"\\n\\np2,2024-01-02,x\\n')
>>> con = duckdb.connect()
>>> staged = stage_file(con, path, name="demo", types_for=lambda header: None)
>>> staged.columns, staged.line_of(1)
(['asset_id', 'ts', 'note'], 5)
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import duckdb
import numpy as np
import pyarrow as pa

from forewarn.exceptions import DataNotFoundError, IngestError
from forewarn.store.tables import quote_ident, quote_literal

ROW_COLUMN = "__rn"
DELIMITERS = (",", ";", "\t")
#: byte order marks of the encodings read without being asked (UTF-32's before UTF-16's: FF FE 00 00 starts with FF FE)
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
}


@dataclass
class Staged:
    """A source staged in DuckDB as relation ``name`` with its user columns plus ``__rn``."""

    name: str
    source: str
    columns: list[str]
    types: dict[str, str]
    fmt: str
    path: Path | None = None
    keep_alive: object | None = None  # an Arrow table registered with DuckDB must outlive the relation
    note: str | None = None  # something the user should know about how the source was read
    display: dict[str, str] | None = None  # Forewarn column -> the source's name, for error messages
    delimiter: str = ","  # of a CSV file
    decimal_comma: bool = False  # text cells of numbers may write the decimal mark as a comma (1,5)

    def shown(self, column: str) -> str:
        """The source's name of a staged column (they differ when the asset or time column was renamed)."""
        return (self.display or {}).get(column, column)

    def release(self) -> None:
        """Remove the temporary UTF-8 copy of a re-encoded file (safe to call twice)."""
        if isinstance(self.keep_alive, TemporaryDirectory):
            self.keep_alive.cleanup()

    def line_of(self, record: int) -> int:
        """The line (text files) or 1-based row (Parquet, tables) of 0-based record ``record``."""
        if self.path is None or self.fmt == "parquet":
            return int(record) + 1
        if self.fmt == "jsonl":
            return _jsonl_line(self.path, int(record))
        return _csv_line(self.path, int(record), self.delimiter)


def file_format(path: str | os.PathLike[str]) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from a file name; anything else is an :class:`IngestError`.

    >>> file_format("plant/2024-01.csv.gz"), file_format("x.PARQUET"), file_format("a.ndjson")
    ('csv', 'parquet', 'jsonl')
    """
    name = Path(path).name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    raise IngestError(
        f"unsupported file type {Path(path).suffix!r}",
        source=str(path),
        hint="use .csv, .csv.gz, .parquet, .jsonl or .ndjson",
    )


class NotUtf8(Exception):
    """Internal signal: a text file is not valid UTF-8 (the caller decodes it another way)."""


def _open_binary(path: Path) -> gzip.GzipFile | io.BufferedReader:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - caller closes


def _open_text(path: Path, encoding: str = "utf-8-sig") -> io.TextIOBase:
    return io.TextIOWrapper(_open_binary(path), encoding=encoding, newline="")


def is_utf8(encoding: str | None) -> bool:
    """True for ``None`` (the default) and the names of UTF-8.

    >>> is_utf8(None), is_utf8("UTF8"), is_utf8("utf-8-sig"), is_utf8("cp1252")
    (True, True, True, False)
    """
    return encoding is None or codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def bom_encoding(path: Path) -> str | None:
    """``utf-16`` or ``utf-32`` when the file starts with that encoding's byte order mark, else ``None``.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "u.csv"
    >>> _ = path.write_text("ts,temp\\n", encoding="utf-16")
    >>> bom_encoding(path), bom_encoding(Path(__file__))
    ('utf-16', None)
    """
    with _open_binary(path) as handle:
        head = handle.read(4)
    return next((name for bom, name in BOMS if head.startswith(bom)), None)


def sniff_delimiter(line: str) -> str:
    """The delimiter of a CSV header line: whichever of ``,``, ``;`` and tab splits it into the most fields.

    ``,`` on a tie (a one-column header).

    >>> sniff_delimiter("datetime;Current;Pressure"), sniff_delimiter('"a;b",c'), sniff_delimiter("ts\\ttemp")
    (';', ',', '\\t')
    """
    best, most = ",", 1
    for delimiter in DELIMITERS:
        fields = len(next(csv.reader([line], delimiter=delimiter), []))
        if fields > most:
            best, most = delimiter, fields
    return best


def csv_delimiter(path: Path, encoding: str = "utf-8-sig") -> str:
    """The delimiter of a CSV file, from its first line (see :func:`sniff_delimiter`)."""
    with _open_text(path, encoding) as handle:
        return sniff_delimiter(handle.readline().rstrip("\r\n"))


def csv_header(path: Path, encoding: str = "utf-8-sig") -> list[str]:
    """The column names of a CSV file (its first line), checked to be present and unique.

    A header that is not valid in ``encoding`` raises ``UnicodeDecodeError``.
    """
    delimiter = csv_delimiter(path, encoding)
    with _open_text(path, encoding) as handle:
        header = next(csv.reader(handle, delimiter=delimiter), None)
    if not header or not any(h.strip() for h in header):
        raise IngestError(
            "the file is empty or has no header line",
            source=str(path),
            line=1,
            hint="the first line must name the columns, e.g. asset_id,ts,channel,value",
        )
    seen: set[str] = set()
    for name in header:
        if name in seen or not name.strip():
            raise IngestError(
                f"column name {name!r} is empty or repeated",
                source=str(path),
                line=1,
                column=name,
                hint="give every column a unique name",
            )
        seen.add(name)
    return header


def _csv_line(path: Path, record: int, delimiter: str = ",") -> int:
    """File line where data record ``record`` starts (0-based, header excluded, blank lines skipped)."""
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        index = 0
        for row in reader:
            if row:
                if index == record:
                    return start
                index += 1
            start = reader.line_num + 1
    return start


def _jsonl_line(path: Path, record: int) -> int:
    with _open_text(path) as handle:
        index = 0
        for number, text in enumerate(handle, start=1):
            if text.strip():
                if index == record:
                    return number
                index += 1
    return index + 1


def _first_bad_csv_line(path: Path, width: int, delimiter: str = ",") -> tuple[int, str]:
    """Find the first record whose field count differs from the header's, for a readable error."""
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != width:
                return start, f"has {len(row)} fields, the header has {width}"
            start = reader.line_num + 1
    return 0, ""


def _first_bad_json_line(path: Path) -> tuple[int, str]:
    with _open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                return number, f"is not valid JSON ({err.msg})"
            if not isinstance(record, dict):
                return number, "is not a JSON object"
    return 0, ""


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    *,
    name: str,
    types_for: Callable[[list[str]], dict[str, str] | None],
    encoding: str | None = None,
    na_values: tuple[str, ...] = (),
) -> Staged:
    """Stage a CSV, Parquet or JSON-lines file as relation ``name``.

    ``types_for(header)`` gives DuckDB types to read text files with (``None``: all ``VARCHAR``). When a
    typed read fails, the file is read again as text so that validation can point at the bad cell.
    ``encoding`` is that of text files (default: a byte order mark's, else UTF-8, else Windows-1252; see the
    module docstring); ``na_values`` are CSV cell texts read as empty cells. Call :meth:`Staged.release` when done.
    """
    file = Path(path)
    if not file.is_file():
        raise DataNotFoundError(f"file {str(file)!r} does not exist")
    fmt = file_format(file)
    if fmt == "parquet":
        return _stage_parquet(con, file, name)
    note = None
    encoding = encoding or (bom_encoding(file) if fmt == "csv" or fmt == "jsonl" else None)
    if is_utf8(encoding):
        try:
            return _stage_text(con, file, file, name, fmt, types_for, na_values)
        except NotUtf8:
            if encoding is not None:
                line = _first_undecodable_line(file, "utf-8")
                raise IngestError(
                    "the file is not valid UTF-8",
                    source=str(file),
                    line=line or None,
                    hint="give its encoding with --encoding, e.g. cp1252 or utf-16",
                ) from None
        note = f"{file}: not valid UTF-8, read as Windows-1252 (give --encoding to choose another)"
    used = encoding or "cp1252"
    folder = TemporaryDirectory(prefix="forewarn-")
    try:
        copy = Path(folder.name) / ("data.jsonl" if fmt == "jsonl" else "data.csv")
        bad_line = _transcode(file, copy, used)
        if bad_line:
            what = f"not valid {used}" if encoding else "neither UTF-8 nor Windows-1252 text"
            raise IngestError(
                f"the file is {what}",
                source=str(file),
                line=bad_line,
                hint="give its encoding with --encoding, e.g. utf-16, latin-1 or shift_jis",
            )
        staged = _stage_text(con, copy, file, name, fmt, types_for, na_values)
    except BaseException:
        folder.cleanup()
        raise
    staged.keep_alive, staged.note = folder, note
    return staged


def _stage_text(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    source: Path,
    name: str,
    fmt: str,
    types_for: Callable[[list[str]], dict[str, str] | None],
    na_values: tuple[str, ...] = (),
) -> Staged:
    """Stage a UTF-8 text file ``file`` (errors name ``source``); raises :class:`NotUtf8` when it is not UTF-8."""
    try:
        if fmt == "jsonl":
            return _stage_jsonl(con, file, source, name)
        return _stage_csv(con, file, source, name, types_for, na_values)
    except UnicodeDecodeError:
        raise NotUtf8 from None


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """The 1-based line of the first byte that does not decode in ``encoding``; 0 when all of it decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with _open_binary(path) as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                return line + chunk[: max(err.start, 0)].count(b"\n")
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line
    return 0


def _transcode(path: Path, out: Path, encoding: str) -> int:
    """Write ``path`` decoded from ``encoding`` as UTF-8 to ``out``; return 0, or the first line that fails."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with _open_binary(path) as handle, open(out, "w", encoding="utf-8", newline="") as sink:
        while chunk := handle.read(1 << 20):
            try:
                sink.write(decoder.decode(chunk))
            except UnicodeDecodeError as err:
                return line + chunk[: max(err.start, 0)].count(b"\n")
            line += chunk.count(b"\n")
        try:
            sink.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            return line
    return 0


def _finish(con: duckdb.DuckDBPyConnection, name: str, table: str, staged_from: Path, fmt: str, source: Path) -> Staged:
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT *, rowid AS {ROW_COLUMN} FROM {quote_ident(table)}"
    )
    return _describe(con, name, str(source), fmt, staged_from)


def _describe(con: duckdb.DuckDBPyConnection, name: str, source: str, fmt: str, path: Path | None) -> Staged:
    rows = con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
    types = {str(r[0]): str(r[1]) for r in rows if r[0] != ROW_COLUMN}
    return Staged(name=name, source=source, columns=list(types), types=types, fmt=fmt, path=path)


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    source: Path,
    name: str,
    types_for: Callable[[list[str]], dict[str, str] | None],
    na_values: tuple[str, ...] = (),
) -> Staged:
    try:
        header = csv_header(file)
        delimiter = csv_delimiter(file)
    except IngestError as err:
        raise IngestError(err.reason, source=str(source), line=err.line, column=err.column, hint=err.hint) from None
    table = f"{name}_rows"
    typed = types_for(header)
    decimal_comma = delimiter != ","
    # typed reads first (fast); a ';' or tab file may write decimal commas, tried first; then all text
    attempts: list[tuple[dict[str, str] | None, str]] = (
        [(typed, ","), (typed, ".")] if decimal_comma else [(typed, ".")]
    )
    attempts = [a for a in attempts if a[0]] + [(None, ".")]
    nulls = ", ".join(quote_literal(v) for v in ("", *na_values))
    for types, decimal in attempts:
        columns = {h: (types or {}).get(h, "VARCHAR") for h in header}
        spec = "{" + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in columns.items()) + "}"
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS SELECT * FROM read_csv("
                f"{quote_literal(str(file))}, header=true, auto_detect=false, delim={quote_literal(delimiter)}, "
                f"quote='\"', escape='\"', decimal_separator={quote_literal(decimal)}, nullstr=[{nulls}], "
                f"columns={spec})"
            )
            staged = _finish(con, name, table, file, "csv", source)
            staged.delimiter, staged.decimal_comma = delimiter, decimal_comma
            return staged
        except duckdb.Error as err:
            failure = err
    if _first_undecodable_line(file, "utf-8"):
        raise NotUtf8
    line, what = _first_bad_csv_line(file, len(header), delimiter)
    if line:
        shown = {",": "commas", ";": "semicolons", "\t": "tabs"}[delimiter]
        raise IngestError(
            f"the line {what} (fields separated by {shown}, as in the header)",
            source=str(source),
            line=line,
            hint=f"quote cells that contain {shown} or line breaks",
        ) from None
    raise IngestError(f"cannot read the CSV file: {failure}", source=str(source)) from None


def _stage_parquet(con: duckdb.DuckDBPyConnection, file: Path, name: str) -> Staged:
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number AS {ROW_COLUMN} FROM read_parquet({quote_literal(str(file))}, "
            "file_row_number=true)"
        )
        return _describe(con, name, str(file), "parquet", file)
    except duckdb.Error as err:
        raise IngestError(
            f"cannot read the Parquet file: {err}",
            source=str(file),
            hint="check that the file is a complete Parquet file",
        ) from None


def _stage_jsonl(con: duckdb.DuckDBPyConnection, file: Path, source: Path, name: str) -> Staged:
    with _open_text(file) as handle:
        if not any(text.strip() for text in handle):
            raise IngestError("the file is empty", source=str(source), line=1, hint="write one JSON object per line")
    table = f"{name}_rows"
    try:
        keys = [
            str(r[0])
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_json({quote_literal(str(file))}, format='newline_delimited', "
                "sample_size=-1)"
            ).fetchall()
        ]
        spec = "{" + ", ".join(f"{quote_literal(k)}: 'VARCHAR'" for k in keys) + "}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS SELECT * FROM read_json("
            f"{quote_literal(str(file))}, format='newline_delimited', columns={spec})"
        )
    except duckdb.Error as err:
        if _first_undecodable_line(file, "utf-8"):
            raise NotUtf8 from None
        line, what = _first_bad_json_line(file)
        if line:
            raise IngestError(
                f"the line {what}", source=str(source), line=line, hint="JSON lines files hold one JSON object per line"
            ) from None
        raise IngestError(f"cannot read the JSON lines file: {err}", source=str(source)) from None
    return _finish(con, name, table, file, "jsonl", source)


def stage_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table, *, name: str, source: str) -> Staged:
    """Stage an in-memory Arrow table; its record numbers are its row positions."""
    if ROW_COLUMN in table.column_names:
        raise IngestError(f"column name {ROW_COLUMN!r} is reserved", source=source, line=1, column=ROW_COLUMN)
    if len(set(table.column_names)) != len(table.column_names):
        raise IngestError("column names repeat", source=source, line=1, hint="give every column a unique name")
    numbered = table.append_column(ROW_COLUMN, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    con.register(f"{name}_arrow", numbered)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {quote_ident(name + '_arrow')}")
    staged = _describe(con, name, source, "arrow", None)
    staged.keep_alive = numbered
    return staged


def without_leading(con: duckdb.DuckDBPyConnection, staged: Staged, count: int) -> Staged:
    """The staged batch without its first ``count`` records (units rows under the header; a view, no copy).

    The records keep their numbers, so errors still name the file's own lines.
    """
    name = staged.name + "_u"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {quote_ident(staged.name)} "
        f"WHERE {ROW_COLUMN} >= {int(count)}"
    )
    return dataclasses.replace(staged, name=name)


def drop_staged(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop whatever :func:`stage_file`, :func:`stage_arrow` or a renaming view created under ``name``."""
    con.execute(
        f"DROP VIEW IF EXISTS {quote_ident(name + '_n_u')}; DROP VIEW IF EXISTS {quote_ident(name + '_u')}; "
        f"DROP VIEW IF EXISTS {quote_ident(name + '_n_t')}; DROP VIEW IF EXISTS {quote_ident(name + '_t')}; "
        f"DROP VIEW IF EXISTS {quote_ident(name + '_n')}; DROP VIEW IF EXISTS {quote_ident(name)}; "
        f"DROP TABLE IF EXISTS {quote_ident(name + '_rows')}"
    )
    with contextlib.suppress(duckdb.Error):
        con.unregister(f"{name}_arrow")
