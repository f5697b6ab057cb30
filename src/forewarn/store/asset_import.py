"""Reading an asset list (CSV) exported from a plant's maintenance system, for :meth:`Store.import_assets`.

Columns: ``asset_id`` (required), ``site``, ``line``, ``class`` (or ``asset_class``), ``name``,
``install_date`` (YYYY-MM-DD); ``site_id`` and ``line_id`` are accepted too. Every other column goes into the
asset's metadata, as text as written. An empty cell leaves that field as it is, so an update file may
carry only the columns it changes. As for readings files, the delimiter (``,``, ``;`` or tab) comes from the
header line, and the file is UTF-8 (UTF-16 / UTF-32 with a byte order mark), else read as Windows-1252.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "assets.csv"
>>> _ = path.write_text("asset_id,class,site,line,rated_kw\\nP-1,pump,S1,L1,55\\nM-2,motor,,,\\n")
>>> updates, lines, notes = read_asset_file(path)
>>> updates[0], lines
({'asset_id': 'P-1', 'asset_class': 'pump', 'site_id': 'S1', 'line_id': 'L1', 'metadata': {'rated_kw': '55'}}, [2, 3])
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forewarn.exceptions import DataNotFoundError, IngestError
from forewarn.store.options import column_pairs
from forewarn.store.readers import bom_encoding, is_utf8, sniff_delimiter

ALIASES = {
    "asset_id": "asset_id",
    "site": "site_id",
    "site_id": "site_id",
    "line": "line_id",
    "line_id": "line_id",
    "class": "asset_class",
    "asset_class": "asset_class",
    "name": "name",
    "install_date": "install_date",
}


def _text(path: Path, encoding: str | None) -> tuple[str, tuple[str, ...]]:
    data = path.read_bytes()
    encoding = encoding or bom_encoding(path)
    if not is_utf8(encoding):
        try:
            return data.decode(str(encoding)), ()
        except UnicodeDecodeError as err:
            raise IngestError(
                f"the file is not valid {encoding}",
                source=str(path),
                line=data[: err.start].count(b"\n") + 1,
                hint="give the file's encoding",
            ) from None
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as err:
        if encoding is not None:
            raise IngestError(
                "the file is not valid UTF-8",
                source=str(path),
                line=data[: err.start].count(b"\n") + 1,
                hint="give its encoding with --encoding, e.g. cp1252",
            ) from None
        try:
            return data.decode("cp1252"), (
                f"{path}: not valid UTF-8, read as Windows-1252 (give --encoding to choose another)",
            )
        except UnicodeDecodeError:
            raise IngestError(
                "the file is neither UTF-8 nor Windows-1252 text",
                source=str(path),
                line=data[: err.start].count(b"\n") + 1,
                hint="give its encoding with --encoding, e.g. utf-16 or latin-1",
            ) from None


def read_asset_file(
    path: str | os.PathLike[str],
    encoding: str | None = None,
    rename: str | Sequence[tuple[str, str]] = (),
) -> tuple[list[dict[str, Any]], list[int], tuple[str, ...]]:
    """The updates of an asset CSV, the file line of each, and notes on how it was read.

    ``rename`` reads the plant's own column names as fields (``"Maschine=asset_id,Standort=site,Klasse=class"``):

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "anlagen.csv"
    >>> _ = path.write_text("Maschine;Standort;Klasse;Baujahr\\nM01;Werk Nord;Fräse;2011\\n", encoding="utf-8")
    >>> read_asset_file(path, rename="Maschine=asset_id,Standort=site,Klasse=class")[0]
    [{'asset_id': 'M01', 'site_id': 'Werk Nord', 'asset_class': 'Fräse', 'metadata': {'Baujahr': '2011'}}]
    """
    file = Path(path)
    if not file.is_file():
        raise DataNotFoundError(f"file {str(file)!r} does not exist")
    text, notes = _text(file, encoding)
    delimiter = sniff_delimiter(text.split("\n", 1)[0].rstrip("\r"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    fields = _fields(header, column_pairs(rename), str(file))
    if "asset_id" not in fields:
        raise IngestError(
            f"missing column 'asset_id'; found {', '.join(header) or 'none'}",
            source=str(file),
            line=1,
            column="asset_id",
            hint="an asset list has asset_id and any of site, line, class, name, "
            "install_date and other columns (kept as metadata); --rename 'Machine=asset_id,Plant=site' reads "
            "the file's own names",
        )
    seen = [f for f in fields if f is not None]
    if len(seen) != len(set(seen)) or len(header) != len(set(header)):
        raise IngestError(
            "a column is given twice (e.g. class and asset_class)",
            source=str(file),
            line=1,
            hint="keep one column per field",
        )
    updates: list[dict[str, Any]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    for row in reader:
        if not any(cell.strip() for cell in row):
            start = reader.line_num + 1
            continue
        if len(row) != len(header):
            raise IngestError(
                f"the line has {len(row)} fields, the header has {len(header)}",
                source=str(file),
                line=start,
                hint="quote cells that contain commas",
            )
        update: dict[str, Any] = {"metadata": {}}
        for name, field, cell in zip(header, fields, row, strict=True):
            if not cell.strip():
                continue
            if field is None:
                update["metadata"][name] = cell
            else:
                update[field] = cell.strip()
        update["asset_id"] = update.get("asset_id", "")
        update = {
            "asset_id": update.pop("asset_id"),
            **{k: v for k, v in update.items() if k != "metadata"},
            "metadata": update["metadata"],
        }
        updates.append(update)
        lines.append(start)
        start = reader.line_num + 1
    return updates, lines, notes


def _fields(header: list[str], rename: tuple[tuple[str, str], ...], source: str) -> list[str | None]:
    """The field of each header column (``None``: metadata), the ``rename`` pairs first, then the usual names."""
    given = dict(rename)
    for src, dst in rename:
        if src not in header:
            raise IngestError(
                f"missing column {src!r}; found {', '.join(header) or 'none'}",
                source=source,
                line=1,
                column=src,
                hint=f"--rename {src}={dst} names a column of the file",
            )
        if dst.lower() not in ALIASES:
            raise IngestError(
                f"--rename {src}={dst}: {dst!r} is not a field of an asset list",
                source=source,
                line=1,
                column=src,
                hint="use asset_id, site, line, class, name or install_date (other columns are metadata as they are)",
            )
    return [ALIASES[given[h].lower()] if h in given else ALIASES.get(h.lower()) for h in header]


def meta_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["rated_kw=55", "serial=A 12"]`` as a dict; a pair without ``=`` is an error.

    >>> meta_pairs(["rated_kw=55", "note=a=b"])
    {'rated_kw': '55', 'note': 'a=b'}
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise IngestError(f"metadata {pair!r} is not key=value", hint="write --meta rated_kw=55")
        out[key.strip()] = value
    return out
