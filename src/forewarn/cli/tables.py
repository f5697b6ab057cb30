"""Tables for the terminal that never cut a cell, and the same rows as CSV or JSON for scripts.

rich fits a table that is too wide for the terminal by shrinking its columns and cutting cells with an ellipsis
(``ligh…``, ``pred… s``). :func:`print_table` measures every column instead and, when they do not fit side by
side, prints the table in parts of whole columns, each part repeating the key columns (the row names); a key
column wider than its share wraps at spaces. Commands that print tables take ``--format table|csv|json``
(:data:`FORMATS`), and :func:`write_records` writes their rows for scripts.

>>> from rich.console import Console
>>> console = Console(width=40, force_terminal=False, color_system=None)
>>> cols = [Column("model"), Column("rmse_capped_truth", "right"), Column("score_capped_truth", "right")]
>>> print_table(console, cols, [["lightgbm-rul", "13.10", "300"]])
┏━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ model        ┃ rmse_capped_truth ┃
┡━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ lightgbm-rul │             13.10 │
└──────────────┴───────────────────┘
┏━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓
┃ model        ┃ score_capped_truth ┃
┡━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩
│ lightgbm-rul │                300 │
└──────────────┴────────────────────┘
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from forewarn.exceptions import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

#: the values of the ``--format`` option of commands that print tables
FORMATS = ("table", "csv", "json")
FORMAT_HELP = "table (for people; parts that fit the terminal), csv or json (for scripts)."


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`."""
    value = fmt.strip().lower()
    if value not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    return value


@dataclass(frozen=True)
class Column:
    """A table column: its header and how its cells align."""

    name: str
    justify: Literal["left", "right"] = "left"


def _plain_len(cell: str) -> int:
    from rich.text import Text

    return max((Text.from_markup(line).cell_len for line in cell.splitlines()), default=0)


def _longest_word(cell: str) -> int:
    from rich.text import Text

    return max((len(word) for word in Text.from_markup(cell).plain.split()), default=0)


def _cost(width: int) -> int:
    return width + 3  # one space of padding either side and one rule


def _parts(widths: Sequence[int], key_cost: int, room: int) -> list[list[int]]:
    """Column indexes grouped so that each group, after the key columns, fits in ``room`` cells."""
    parts: list[list[int]] = []
    used = 0
    for i, width in enumerate(widths):
        if parts and parts[-1] and key_cost + used + _cost(width) + 1 <= room:
            parts[-1].append(i)
            used += _cost(width)
        else:
            parts.append([i])
            used = _cost(width)
    return parts


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    continued: str | None = None,
    keys: int = 1,
    key_width: int = 28,
    sections: Sequence[int] = (),
) -> None:
    """Print ``rows`` (cells as rich markup) under ``columns`` without cutting any cell.

    The first ``keys`` columns name the rows; they are repeated in every part and wrap at spaces beyond
    ``key_width`` (or less, when that saves a part, but never narrower than their longest word). The other
    columns keep their full width on one line. Parts after the first are titled ``continued`` (default: the
    title and "(continued)") and leave out the rows that have nothing in their columns. A rule is drawn
    before each row index in ``sections``.
    """
    from rich.table import Table

    if not 0 < keys <= len(columns):
        raise ValueError(f"keys must be between 1 and {len(columns)}, got {keys}")
    natural = [max([_plain_len(c.name)] + [_plain_len(str(row[i])) for row in rows]) for i, c in enumerate(columns)]
    floors = [
        min(natural[i], max([_plain_len(columns[i].name)] + [_longest_word(str(r[i])) for r in rows]))
        for i in range(keys)
    ]
    room = console.width
    others = natural[keys:]
    best: tuple[int, list[int], list[list[int]]] | None = None
    for cap in range(max(key_width, max(floors)), 0, -1):  # widest keys that need the fewest parts
        key_widths = [max(floor, min(width, cap)) for floor, width in zip(floors, natural[:keys], strict=True)]
        parts = _parts(others, sum(_cost(w) for w in key_widths), room) if others else [[]]
        if best is None or len(parts) < len(best[2]):
            best = (len(parts), key_widths, parts)
        if cap <= max(floors):
            break
    assert best is not None
    _, key_widths, parts = best
    later = continued or (f"{title} (continued)" if title else None)
    for number, part in enumerate(parts):
        table = Table(title=title if number == 0 else later, title_justify="left")
        for i in range(keys):
            table.add_column(columns[i].name, justify=columns[i].justify, max_width=key_widths[i], overflow="fold")
        for j in part:
            column = columns[keys + j]
            table.add_column(column.name, justify=column.justify, min_width=others[j], no_wrap=True, overflow="fold")
        for index, row in enumerate(rows):
            cells = [str(row[keys + j]) for j in part]
            if number > 0 and not any(cell.strip() for cell in cells):
                continue
            if index in sections and index > 0:
                table.add_section()
            table.add_row(*[str(cell) for cell in row[:keys]], *cells)
        console.print(table)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item())
    return value


def write_records(
    records: Sequence[Mapping[str, Any]], fmt: str, *, fields: Sequence[str] | None = None, out: IO[str] | None = None
) -> None:
    """Write ``records`` as CSV (a header of ``fields``, by default every key in first-seen order) or as a JSON
    array; missing and non-finite values are empty (CSV) or ``null`` (JSON).

    >>> write_records([{"model": "a", "rmse": 1.5}, {"model": "b", "seeds": 3}], "csv")
    model,rmse,seeds
    a,1.5,
    b,,3
    """
    stream = out or sys.stdout
    if fields is None:
        fields = list(dict.fromkeys(key for record in records for key in record))
    rows = [{key: _plain(record.get(key)) for key in fields} for record in records]
    fmt = check_format(fmt)
    if fmt == "json":
        stream.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        raise ConfigError("write_records writes csv or json; print a table with print_table")
