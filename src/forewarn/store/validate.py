"""Validating staged readings in DuckDB and turning them into the canonical long form.

The checks mirror :func:`forewarn.schema.to_long_readings` (missing ``asset_id``, timestamp that does not
parse, numbers given as timestamps, missing ``channel``, value that is not a number, infinite value; an
empty value cell is a gap and is dropped), but run as one vectorised DuckDB query over the staged
relation. Only when a check fails is the first bad record looked up and its line worked out.

>>> import duckdb, pyarrow as pa
>>> from forewarn.store.readers import stage_arrow
>>> con = duckdb.connect(); _ = con.execute("SET TimeZone='UTC'")
>>> table = pa.table({"asset_id": ["p1", "p1"], "ts": ["2024-01-01", "2024-01-01 00:01"], "temp": ["40", "x"]})
>>> staged = stage_arrow(con, table, name="demo", source="demo frame")
>>> layout = readings_layout(staged)
>>> layout.wide, layout.value_columns
(True, ['temp'])
>>> validate_readings(con, staged, layout)
Traceback (most recent call last):
...
forewarn.exceptions.IngestError: demo frame, line 2, column 'temp': value 'x' is not a number (readings must be numeric; leave the cell empty for a missing value, or name the file's marks for one with --na-values (e.g. 'n/a,---,#DIV/0!'); a text column can be stored with --label-columns)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from forewarn.exceptions import ConfigError, IngestError
from forewarn.store.options import EPOCH_DIVISORS, ReadOptions
from forewarn.store.readers import ROW_COLUMN, Staged
from forewarn.store.tables import fetch_one, quote_ident, quote_literal

TS_HINT = "use ISO 8601, e.g. 2024-01-31T12:00:00Z"
EPOCH_HINT = "--time-format epoch (or epoch_ms) reads numbers of seconds (milliseconds) since 1970"
#: seconds since 1970 that an epoch time must lie between (1973-03-03 and the year 5138): a number outside is
#: in another unit (milliseconds read as seconds, or the reverse) or not a time
EPOCH_RANGE = (1e8, 1e11)
VALUE_HINT = (
    "readings must be numeric; leave the cell empty for a missing value, or name the file's marks for one with "
    "--na-values (e.g. 'n/a,---,#DIV/0!'); a text column can be stored with --label-columns"
)
#: words of an event log: a readings column holding one of them is an events file read as readings
EVENT_WORDS = frozenset({"failure", "failed", "fault", "breakdown", "maintenance", "repair", "inspection", "service"})
EVENT_VALUE_HINT = (
    "this looks like an event log read as readings: ingest it with --kind events (its kind column renamed with "
    "--rename 'Column=kind' where it has another name, or --event-kind failure for a file of failures only), or "
    "keep the column as a label with --label-columns"
)
LAYOUT_HINT = (
    "readings need asset_id, ts and either channel+value (long) or one column per channel (wide); "
    "--asset-column and --time-column name other columns, --asset gives a file one asset id, --rename "
    "'Tag=channel,Wert=value' others; a historian's tag, time, value export takes --tag-map; a failure log is "
    "read as events with --event-kind failure"
)
DEFAULT = ReadOptions()
# an ISO-like time ending in an offset (Z, +01, +01:00, -0500): such a time keeps its own zone
OFFSET_RE = r"\d:\d\d(:\d\d(\.\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$"
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


@dataclass(frozen=True)
class ReadingsLayout:
    """Which staged columns hold what: long (``channel`` + ``value``) or wide (one column per channel)."""

    wide: bool
    value_columns: list[str]
    label_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Check:
    column: str
    bad: str  # SQL condition, true for a bad record
    message: str  # may use {value}
    hint: str | None = None


def _kind(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper in ("VARCHAR", "NULL", "JSON") or upper.startswith("ENUM"):
        return "text"
    if upper.startswith(_NUMERIC):
        return "number"
    if upper.startswith(("TIMESTAMP", "DATE")):
        return "time"
    return "other"


def renamed(con: duckdb.DuckDBPyConnection, staged: Staged, options: ReadOptions) -> Staged:
    """The staged batch with the asset and time columns under Forewarn's names (a view; no copy).

    Returns ``staged`` itself when nothing is renamed. A missing or clashing column is an
    :class:`IngestError` naming the option that fixes it.
    """
    columns = staged.columns
    where: dict[str, Any] = {"source": staged.source, "line": 1}
    if options.asset is not None and options.asset_column in columns:
        raise IngestError(
            f"the file has an asset column {options.asset_column!r} and one asset {options.asset!r} was given",
            column=options.asset_column,
            **where,
            hint="drop --asset to take the ids from the column",
        )
    for source, target, flag in (
        (options.asset_column, "asset_id", "--asset-column"),
        (options.time_column, "ts", "--time-column"),
    ):
        if target == "asset_id" and options.asset is not None:
            continue
        if source != target and source not in columns:
            raise IngestError(
                f"missing column {source!r}; found {', '.join(columns) or 'none'}",
                column=source,
                **where,
                hint=f"{flag} names the column that holds the {'asset id' if target == 'asset_id' else 'time'}",
            )
        if source != target and target in columns:
            raise IngestError(
                f"column {target!r} clashes with {source!r}, given by {flag}",
                column=target,
                **where,
                hint=f"rename or drop the column {target!r}",
            )
    for src, dst in options.rename:
        if src not in columns:
            raise IngestError(
                f"missing column {src!r}; found {', '.join(columns) or 'none'}",
                column=src,
                **where,
                hint=f"--rename {src}={dst} names a column of the file",
            )
        if dst in columns and dst != src:
            raise IngestError(
                f"column {dst!r} clashes with {src!r}, given by --rename",
                column=dst,
                **where,
                hint=f"rename or drop the column {dst!r}",
            )
    if options.event_kind is not None and "kind" in columns and ("kind" not in options.renames()):
        raise IngestError(
            f"the file has a column 'kind' and one kind {options.event_kind!r} was given",
            column="kind",
            **where,
            hint="drop --event-kind to take the kinds from the column",
        )
    missing = [c for c in options.label_columns if c not in columns]
    if missing:
        raise IngestError(
            f"missing label column {missing[0]!r}; found {', '.join(columns) or 'none'}",
            column=missing[0],
            **where,
            hint="--label-columns names columns of the file",
        )
    renames = options.renames()
    if not renames and options.asset is None and options.event_kind is None:
        return staged
    select = [f"{quote_ident(src)} AS {quote_ident(dst)}" for src, dst in renames.items()]
    types = {dst: staged.types[src] for src, dst in renames.items()}
    if options.asset is not None:
        select.insert(0, f"CAST({quote_literal(options.asset)} AS VARCHAR) AS asset_id")
        types = {"asset_id": "VARCHAR", **types}
    if options.event_kind is not None:
        select.insert(0, f"CAST({quote_literal(options.event_kind)} AS VARCHAR) AS kind")
        types = {"kind": "VARCHAR", **types}
    rest = [c for c in columns if c not in renames]
    select += [quote_ident(c) for c in rest] + [ROW_COLUMN]
    name = staged.name + "_n"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT {', '.join(select)} FROM {quote_ident(staged.name)}"
    )
    types.update({c: staged.types[c] for c in rest})
    display = {dst: src for src, dst in renames.items()}
    return dataclasses.replace(staged, name=name, columns=list(types), types=types, display=display)


def readings_layout(staged: Staged, labels: tuple[str, ...] = ()) -> ReadingsLayout:
    """Work out long or wide layout from the column names, or say which column is missing.

    ``labels`` are columns stored as labels, never as channels; a batch may then hold no channel at all.
    """
    columns = staged.columns
    needed = ["asset_id", "ts"]
    if "channel" in columns or "value" in columns:
        needed += ["channel", "value"]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise IngestError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}",
            source=staged.source,
            line=1,
            column=missing[0],
            hint=LAYOUT_HINT,
        )
    if "channel" in columns:
        return ReadingsLayout(wide=False, value_columns=["value"], label_columns=labels)
    channels = [c for c in columns if c not in ("asset_id", "ts", *labels)]
    if not channels and labels:
        return ReadingsLayout(wide=True, value_columns=[], label_columns=labels)
    if not channels:
        raise IngestError(
            "no channel columns",
            source=staged.source,
            line=1,
            hint="a wide readings file has asset_id, ts and one column per channel",
        )
    return ReadingsLayout(wide=True, value_columns=channels, label_columns=labels)


def ts_sql(duck_type: str, options: ReadOptions = DEFAULT, ref: str = "ts") -> str:
    """SQL turning the staged time column into ``TIMESTAMPTZ`` (``NULL`` where text does not parse).

    Naive times are read in ``options.timezone``; times with an offset keep it; ``options.time_format``
    is a ``strptime`` format for text.

    >>> ts_sql("VARCHAR")
    'TRY_CAST(ts AS TIMESTAMPTZ)'
    >>> ts_sql("VARCHAR", ReadOptions(time_format="%d/%m/%Y %H:%M", timezone="Europe/Paris"))
    "timezone('Europe/Paris', try_strptime(ts, '%d/%m/%Y %H:%M'))"
    >>> ts_sql("BIGINT", ReadOptions(time_format="epoch_ms"))
    'to_timestamp(TRY_CAST(ts AS DOUBLE) / 1000)'
    """
    zone = options.timezone
    kind = _kind(duck_type)
    if options.time_format in EPOCH_DIVISORS:
        divisor = EPOCH_DIVISORS[options.time_format]
        return f"to_timestamp(TRY_CAST({ref} AS DOUBLE){f' / {divisor}' if divisor != 1 else ''})"

    def local(naive: str) -> str:
        return f"CAST({naive} AS TIMESTAMPTZ)" if zone == "UTC" else f"timezone({quote_literal(zone)}, {naive})"

    if kind == "text":
        fmt = options.time_format
        if fmt is not None:
            parsed = f"try_strptime({ref}, {quote_literal(fmt)})"
            return parsed if ("%z" in fmt or "%Z" in fmt) else local(parsed)
        if zone == "UTC":
            return f"TRY_CAST({ref} AS TIMESTAMPTZ)"
        return (
            f"CASE WHEN regexp_matches(trim({ref}), {quote_literal(OFFSET_RE)}) THEN TRY_CAST({ref} AS "
            f"TIMESTAMPTZ) ELSE {local(f'TRY_CAST({ref} AS TIMESTAMP)')} END"
        )
    if kind == "time" and "TIME ZONE" not in duck_type.upper() and zone != "UTC":
        return local(f"CAST({ref} AS TIMESTAMP)")
    return f"CAST({ref} AS TIMESTAMPTZ)"


def number_sql(ref: str, duck_type: str, decimal_comma: bool = False) -> str:
    """SQL of a staged value column as ``DOUBLE``; text that is not a number is ``NULL``.

    ``decimal_comma``: a comma in a text number is its decimal mark (a ``;``- or tab-separated export).

    >>> number_sql("v", "VARCHAR", decimal_comma=True), number_sql("v", "DOUBLE")
    ("TRY_CAST(replace(v, ',', '.') AS DOUBLE)", 'CAST(v AS DOUBLE)')
    """
    if _kind(duck_type) != "text":
        return f"CAST({ref} AS DOUBLE)"
    text = f"replace({ref}, ',', '.')" if decimal_comma else ref
    return f"TRY_CAST({text} AS DOUBLE)"


def _checks(staged: Staged, layout: ReadingsLayout, options: ReadOptions) -> list[_Check]:
    types = staged.types
    checks = [_Check("asset_id", "asset_id IS NULL", "missing asset_id")]  # blank ids: see find_blank_keys
    ts_kind = _kind(types["ts"])
    if options.is_epoch() and ts_kind in ("number", "text"):
        checks.append(_Check("ts", "ts IS NULL", "missing timestamp", EPOCH_HINT))
        checks.append(
            _Check(
                "ts",
                f"ts IS NOT NULL AND (TRY_CAST(ts AS DOUBLE) / {EPOCH_DIVISORS[str(options.time_format)]} "
                f"BETWEEN {EPOCH_RANGE[0]:g} AND {EPOCH_RANGE[1]:g}) IS NOT TRUE",
                f"timestamp {{value!r}} is not a number of {'milli' if options.time_format == 'epoch_ms' else ''}"
                "seconds since 1970 between 1973 and the year 5138",
                EPOCH_HINT,
            )
        )
    elif ts_kind == "number":
        checks.append(
            _Check(
                "ts",
                "true",
                "timestamps are numbers",
                f"give ISO 8601 text or datetimes; {EPOCH_HINT}",
            )
        )
    elif ts_kind == "other":
        checks.append(_Check("ts", "true", f"timestamps have type {types['ts']}", TS_HINT))
    else:
        checks.append(_Check("ts", "ts IS NULL", "missing timestamp", TS_HINT))
        if ts_kind == "text" and options.time_format is not None:
            checks.append(
                _Check(
                    "ts",
                    f"{ts_sql(types['ts'], options)} IS NULL",
                    f"cannot parse timestamp {{value!r}} with the format {options.time_format!r}",
                    "check --time-format (strptime directives such as %d/%m/%Y %H:%M)",
                )
            )
        elif ts_kind == "text":
            checks.append(
                _Check(
                    "ts",
                    f"{ts_sql(types['ts'], options)} IS NULL",
                    "cannot parse timestamp {value!r}",
                    TS_HINT + ", or give --time-format (a strptime format such as %d/%m/%Y %H:%M, or epoch / "
                    "epoch_ms for numbers of seconds / milliseconds since 1970)",
                )
            )
    if not layout.wide:
        checks.append(_Check("channel", "channel IS NULL", "missing channel"))
    for column in layout.value_columns:
        ref = quote_ident(column)
        kind = _kind(types[column])
        if kind == "text":
            number = number_sql(ref, types[column], staged.decimal_comma)
            checks.append(
                _Check(
                    column,
                    f"{ref} IS NOT NULL AND {number} IS NULL",
                    "value {value!r} is not a number",
                    VALUE_HINT,
                )
            )
            checks.append(_Check(column, f"isinf({number})", "value {value!r} is infinite", VALUE_HINT))
        elif kind == "number" and types[column].upper() in ("FLOAT", "DOUBLE"):
            checks.append(_Check(column, f"isinf({ref})", "value {value!r} is infinite", VALUE_HINT))
        elif kind != "number":
            checks.append(
                _Check(column, f"{ref} IS NOT NULL", f"values of type {types[column]} are not numbers", VALUE_HINT)
            )
    order = {name: i for i, name in enumerate(staged.columns)}
    return sorted(checks, key=lambda c: order[c.column])  # stable: keeps check order within a column


def validate_readings(
    con: duckdb.DuckDBPyConnection, staged: Staged, layout: ReadingsLayout, options: ReadOptions = DEFAULT
) -> None:
    """Raise :class:`IngestError` at the first bad record (lowest line; leftmost column on a tie)."""
    checks = _checks(staged, layout, options)
    select = ", ".join(f"min(CASE WHEN {c.bad} THEN {ROW_COLUMN} END)" for c in checks)
    try:
        firsts = fetch_one(con, f"SELECT {select} FROM {quote_ident(staged.name)}") or ()
    except duckdb.Error as err:
        if options.time_format is None:
            raise
        raise ConfigError(f"time format {options.time_format!r} is not valid: {str(err).splitlines()[0]}") from None
    failing = [(record, i) for i, record in enumerate(firsts) if record is not None]
    if not failing:
        return
    record, index = min(failing)
    check = checks[index]
    cell = fetch_one(
        con,
        f"SELECT CAST({quote_ident(check.column)} AS VARCHAR) FROM {quote_ident(staged.name)} WHERE {ROW_COLUMN} = ?",
        [record],
    )
    value = cell[0] if cell else None
    hint = check.hint
    if hint == VALUE_HINT and str(value).strip().lower() in EVENT_WORDS:
        hint = EVENT_VALUE_HINT
    raise IngestError(
        check.message.format(value=value),
        source=staged.source,
        line=staged.line_of(record),
        column=staged.shown(check.column),
        hint=hint,
    )


#: at most this many leading records are read as units or description rows (see :func:`units_rows`)
MAX_UNITS_ROWS = 3


def units_rows(records: Sequence[tuple[bool, Sequence[object]]]) -> int:
    """How many leading records are units or description rows under the header, not data.

    ``records``: the first records of a file in order, each as ``(time_parses, value_cells)``. Such a row has a
    time that is missing or not a time, no value cell that is a number, and at least one of text (``degC``,
    ``[bar]``, ``Temperature pump 1``), as historian and Excel exports write them. At most
    :data:`MAX_UNITS_ROWS` are counted, and only leading ones: a row like that further down is bad data. A row
    that this reads as units would otherwise be refused whole (no time, text where numbers go), so no reading
    is dropped that could have been stored. ``ingest`` and ``detect FILE`` both read the rows with it.

    >>> units_rows([(False, ["degC", "bar"]), (True, ["40", "1,5"])])
    1
    >>> units_rows([(False, ["Temp pump 1", None]), (False, ["degC", "m3/h"]), (True, ["40", "1"])])
    2
    >>> units_rows([(False, [None, "40"])]), units_rows([(True, ["degC"])]), units_rows([(False, [None, ""])])
    (0, 0, 0)
    """
    count = 0
    for time_parses, cells in list(records)[:MAX_UNITS_ROWS]:
        texts = [str(c).strip() for c in cells if c is not None and c == c and str(c).strip()]
        if time_parses or not texts or any(_is_number(t) for t in texts):
            break
        count += 1
    return count


def _is_number(text: str) -> bool:
    """Whether a cell's text is a number, with a decimal point or comma (``1.5``, ``1,5``, ``-3e2``)."""
    for candidate in (text, text.replace(",", ".")):
        try:
            float(candidate)
        except ValueError:
            continue
        return True
    return False


def units_rows_staged(
    con: duckdb.DuckDBPyConnection, staged: Staged, layout: ReadingsLayout, options: ReadOptions = DEFAULT
) -> tuple[int, str | None, dict[str, str]]:
    """The number of leading units rows of a staged batch (:func:`units_rows`), a note saying what they held, and
    the units they give (each value column's text in the last of them, the row nearest the data).

    ``(0, None, {})`` when there is none, or when the time format itself is not valid (validation says so).
    """
    if staged.fmt != "csv" or not layout.value_columns:
        return 0, None, {}
    cells = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in layout.value_columns)
    try:
        rows = con.execute(
            f"SELECT {ROW_COLUMN}, {ts_sql(staged.types['ts'], options)} IS NOT NULL, {cells} "
            f"FROM {quote_ident(staged.name)} WHERE {ROW_COLUMN} < {MAX_UNITS_ROWS} ORDER BY {ROW_COLUMN}"
        ).fetchall()
    except duckdb.Error:
        return 0, None, {}
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        return 0, None, {}
    count = units_rows([(bool(r[1]), r[2:]) for r in rows])
    if not count:
        return 0, None, {}
    note = units_note(
        staged.source,
        [staged.line_of(i) for i in range(count)],
        layout.value_columns,
        [rows[i][2:] for i in range(count)],
    )
    units = {
        str(column): str(cell).strip()
        for column, cell in zip(layout.value_columns, rows[count - 1][2:], strict=False)
        if cell is not None and cell == cell and str(cell).strip()
    }
    return count, note, units


def units_note(source: str, lines: Sequence[int], columns: Sequence[str], cells: Sequence[Sequence[object]]) -> str:
    """The note that says which lines were read as units or descriptions, and what the last of them holds.

    >>> units_note("plant.csv", [2], ["temp", "flow", "s3"], [["degC", "m3/h", None]])
    "plant.csv: line 2 read as the channels' units, not as readings (temp: degC, flow: m3/h)"
    """
    shown = ", ".join(
        f"{c}: {str(v).strip()}"
        for c, v in zip(columns, cells[-1], strict=False)
        if v is not None and v == v and str(v).strip()
    )
    if len(shown) > 200:
        shown = shown[:197] + "..."
    where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
    return f"{source}: {where} read as the channels' units, not as readings ({shown})"


def find_blank_keys(con: duckdb.DuckDBPyConnection, staged: Staged, series_table: str) -> None:
    """Reject blank (empty or whitespace) asset ids and channel names.

    Checked on the batch's distinct ``(asset_id, channel)`` pairs, which is far cheaper than trimming every
    row; only when one is blank is the staged batch searched for its first line.
    """
    for column, message in (("asset_id", "missing asset_id"), ("channel", "missing channel")):
        if column == "channel" and "channel" not in staged.columns:
            continue  # wide layout: channel names are column names, checked when the header was read
        if not fetch_one(con, f"SELECT 1 FROM {quote_ident(series_table)} WHERE trim({column}) = '' LIMIT 1"):
            continue
        record = fetch_one(
            con, f"SELECT min({ROW_COLUMN}) FROM {quote_ident(staged.name)} WHERE trim(CAST({column} AS VARCHAR)) = ''"
        )
        assert record is not None  # an aggregate query always returns its one row
        raise IngestError(
            message,
            source=staged.source,
            line=staged.line_of(int(record[0])),
            column=staged.shown(column),
            hint=f"every reading needs a non-empty {column}",
        )


def long_readings_sql(staged: Staged, layout: ReadingsLayout, options: ReadOptions = DEFAULT) -> str:
    """SQL of the validated batch in long form: ``asset_id, channel, ts, value, __rn``; gaps dropped.

    Wide batches are unpivoted by DuckDB (``UNPIVOT`` drops empty cells); NaN counts as a gap too. Local times
    of the hour the zone's clocks go back are put in order by :func:`fold_back_sql`.
    """
    src = quote_ident(staged.name)
    ts = ts_sql(staged.types["ts"], options)  # validated: every time parses
    keys = f"CAST(asset_id AS VARCHAR) AS asset_id, {ts} AS ts, {ROW_COLUMN}"
    if layout.wide and not layout.value_columns:
        return (
            f"SELECT CAST(NULL AS VARCHAR) AS asset_id, CAST(NULL AS VARCHAR) AS channel, "
            f"CAST(NULL AS TIMESTAMPTZ) AS ts, CAST(NULL AS DOUBLE) AS value, {ROW_COLUMN} FROM {src} LIMIT 0"
        )
    comma = staged.decimal_comma
    zone = options.timezone
    if not layout.wide:
        rows = (
            f"SELECT {keys}, CAST(channel AS VARCHAR) AS channel, "
            f"{number_sql('value', staged.types['value'], comma)} AS value FROM {src}"
        )
        if zone != "UTC":
            rows = fold_back_sql(rows, zone, "asset_id, channel")
        return (
            f"SELECT asset_id, channel, ts, value, {ROW_COLUMN} FROM ({rows}) "
            "WHERE value IS NOT NULL AND NOT isnan(value)"
        )
    casts = ", ".join(
        f"{number_sql(quote_ident(c), staged.types[c], comma)} AS {quote_ident(c)}" for c in layout.value_columns
    )
    rows = f"SELECT {keys}, {casts} FROM {src}"
    if zone != "UTC":
        rows = fold_back_sql(rows, zone, "asset_id")
    on = ", ".join(quote_ident(c) for c in layout.value_columns)
    return (
        f"SELECT asset_id, channel, ts, value, {ROW_COLUMN} FROM (UNPIVOT ({rows}) "
        f"ON {on} INTO NAME channel VALUE value) WHERE NOT isnan(value)"
    )


def repeated_hour_sql(zone: str, ts: str = "ts", first: bool = False) -> str:
    """SQL condition: UTC time ``ts`` lies in the hour that zone ``zone``'s clocks repeat when they go back.

    ``first``: in its first pass (summer time), else in its second (standard time).

    >>> repeated_hour_sql("Europe/Berlin")
    "timezone('Europe/Berlin', ts) = timezone('Europe/Berlin', ts - INTERVAL 1 HOUR)"
    """
    zone = quote_literal(zone)
    return f"timezone({zone}, {ts}) = timezone({zone}, {ts} {'+' if first else '-'} INTERVAL 1 HOUR)"


def fold_back_sql(rows: str, zone: str, series: str) -> str:
    """Records ``rows`` (with ``ts`` and ``__rn``) with the first pass of a repeated local hour put back one hour.

    When the clocks go back, the local times of one hour occur twice (02:00-02:59 in Europe/Berlin on the last
    Sunday of October). Such a time without an offset reads as the later instant, so both passes would fall on
    one UTC time and the second be dropped as a duplicate: an hour of data lost, unseen. Within a series (the
    columns ``series``), the records at one such time are taken in file order, as a logger writes them: all but
    the last are the first pass (summer time) and move one hour earlier. A file that is not in time order within
    that hour cannot be told apart; giving times with their offset (or in UTC) avoids the question.
    """
    rn = ROW_COLUMN
    return (
        f"WITH b AS ({rows}), f AS (SELECT {rn} AS __fold_rn, row_number() OVER (PARTITION BY {series}, ts "
        f"ORDER BY {rn} DESC) AS k FROM b WHERE {repeated_hour_sql(zone)}) "
        "SELECT b.* REPLACE (CASE WHEN f.k > 1 THEN b.ts - INTERVAL 1 HOUR ELSE b.ts END AS ts) "
        f"FROM b LEFT JOIN f ON f.__fold_rn = b.{rn}"
    )


def parse_times(
    values: Sequence[object], options: ReadOptions = DEFAULT, series: Sequence[object] | None = None
) -> pd.Series:
    """UTC times of the cells ``values``, read as ``forewarn ingest`` reads a time column; ``NaT`` where one
    does not parse (an empty cell, text the format does not read, an epoch number out of range).

    The same SQL as ingest (:func:`ts_sql`: ``options.time_format``, ``options.timezone``, epoch numbers), and
    the repeated hour of a fall-back night put in order by :func:`fold_back_sql` within each of ``series``
    (asset ids; default: one series). ``forewarn detect FILE --time-format --timezone`` calls it.

    >>> parse_times(["27.10.2024 02:30", "27.10.2024 02:30", "27.10.2024 03:00"],
    ...             ReadOptions(time_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin")).dt.strftime("%H:%M").tolist()
    ['00:30', '01:30', '02:00']
    >>> parse_times(["1700000000", "17000000000000", ""], ReadOptions(time_format="epoch")).isna().tolist()
    [False, True, True]
    """
    import pyarrow as pa

    texts = [None if v is None or v != v or not str(v).strip() else str(v).strip() for v in values]
    keys = [""] * len(texts) if series is None else [str(s) for s in series]
    table = pa.table(
        {
            "asset_id": pa.array(keys, pa.string()),
            "ts": pa.array(texts, pa.string()),
            ROW_COLUMN: pa.array(range(len(texts)), pa.int64()),
        }
    )
    ts = ts_sql("VARCHAR", options)
    if options.is_epoch():
        low, high = EPOCH_RANGE
        ts = (
            f"CASE WHEN TRY_CAST(ts AS DOUBLE) / {EPOCH_DIVISORS[str(options.time_format)]} BETWEEN {low:g} AND "
            f"{high:g} THEN {ts} END"
        )
    rows = f"SELECT asset_id, {ts} AS ts, {ROW_COLUMN} FROM __fw_times"
    if options.timezone != "UTC" and not options.is_epoch():
        rows = fold_back_sql(rows, options.timezone, "asset_id")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        con.register("__fw_times", table)
        micros = con.execute(f"SELECT epoch_us(ts) FROM ({rows}) ORDER BY {ROW_COLUMN}").fetchnumpy()
    except duckdb.Error as err:
        raise ConfigError(f"time format {options.time_format!r} is not valid: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
    column = micros[next(iter(micros))]
    stamps = pd.to_datetime(pd.array(column, dtype="Int64"), unit="us", utc=True)
    index = values.index if isinstance(values, pd.Series) else None
    return pd.Series(stamps, index=index, name=getattr(values, "name", None))
