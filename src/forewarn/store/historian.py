"""A historian's long export as it comes: tag names instead of assets and channels, a quality per value.

Historians (PI, Wonderware, Ignition, Canary...) export ``tag, timestamp, value, quality`` rows. Two steps turn
such a batch into Forewarn's long layout before it is validated (:func:`historian_rows`):

* ``quality_column``: only rows whose quality is one of ``good_quality`` (case-insensitive; ``Good`` and OPC's
  ``192`` by default) are readings; the rest (``Bad``, ``Uncertain``, a failed read written as 0) are skipped and
  counted per quality in a note, so a bad read's placeholder never becomes a value.
* ``tag_map``: a CSV of ``tag, asset, channel`` (``asset_id`` for ``asset``; an optional ``unit``; an optional
  ``hold``, e.g. ``8h``: the tag is recorded on change and a value holds that long at most, :mod:`forewarn.store.hold`)
  names the asset and channel of each tag; rows of tags the map does not name are skipped and counted in a note (an export holds
  more tags than the models need). A tag named twice in the map is refused, naming both lines.

Both are views over the staged batch, so the records keep their numbers and errors still name the file's lines.

>>> import duckdb, tempfile, pathlib
>>> from forewarn.store.readers import stage_file
>>> from forewarn.store.options import ReadOptions
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "h.csv").write_text("tag,ts,value,quality\\nP1.T,2024-01-01T00:00:00Z,40,Good\\n"
...                                   "P1.T,2024-01-01T01:00:00Z,0,Bad\\nX.Y,2024-01-01T00:00:00Z,1,Good\\n")
>>> _ = (folder / "map.csv").write_text("tag,asset,channel,unit\\nP1.T,P-1,temp,degC\\n")
>>> con = duckdb.connect()
>>> staged = stage_file(con, folder / "h.csv", name="s", types_for=lambda h: None)
>>> opts = ReadOptions(tag_map=str(folder / "map.csv"), quality_column="quality")
>>> mapped, notes, units = historian_rows(con, staged, opts)
>>> con.execute(f"SELECT asset_id, channel, value FROM {mapped.name}").fetchall()
[('P-1', 'temp', '40')]
>>> units
{'temp': 'degC'}
>>> [n.split(": ", 1)[1] for n in notes]  # doctest: +NORMALIZE_WHITESPACE
['1 row(s) of a quality other than Good, 192 skipped (Bad: 1)',
 '1 row(s) of 1 tag(s) the tag map does not name skipped: X.Y']
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb

from forewarn.exceptions import ConfigError, IngestError
from forewarn.store.hold import HOLD_HINT, hold_micros
from forewarn.store.options import ReadOptions
from forewarn.store.readers import ROW_COLUMN, Staged, drop_staged, stage_file
from forewarn.store.tables import fetch_value, quote_ident, quote_literal

MAP_STAGE = "__fw_tagmap"
SUFFIX = "_h"
MAP_HINT = "a tag map is a CSV with the columns tag, asset and channel (and unit and hold, optionally): one row per tag"


def historian_rows(
    con: duckdb.DuckDBPyConnection, staged: Staged, options: ReadOptions
) -> tuple[Staged, tuple[str, ...], dict[str, str]]:
    """The batch with bad-quality rows and unmapped tags left out and tags read as asset and channel.

    Returns the new staged relation (``staged`` itself when neither option is given), the notes for the user
    and the units the tag map gives (channel -> unit).
    """
    if options.quality_column is None and options.tag_map is None:
        return staged, (), {}
    where: dict[str, Any] = {"source": staged.source, "line": 1}
    src = quote_ident(staged.name)
    keep = keep_s = "TRUE"
    notes: list[str] = []
    if options.quality_column is not None:
        keep, keep_s = _quality_filter(staged, options, where, src), _quality_filter(staged, options, where, "s")
        skipped = con.execute(
            f"SELECT CAST({quote_ident(options.quality_column)} AS VARCHAR), count(*) FROM {src} "
            f"WHERE NOT ({keep}) GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        if skipped:
            total = sum(int(n) for _, n in skipped)
            each = ", ".join(f"{q if q is not None else 'empty'}: {int(n):,}" for q, n in skipped[:5])
            notes.append(
                f"{staged.source}: {total:,} row(s) of a quality other than {', '.join(options.good_quality)} "
                f"skipped ({each}{', ...' if len(skipped) > 5 else ''})"
            )
    name = staged.name + SUFFIX
    if options.tag_map is None:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {src} WHERE {keep}")
        return dataclasses.replace(staged, name=name), tuple(notes), {}
    units = _load_map(con, Path(options.tag_map))
    tag = _tag_column(staged, options, where)
    dropped = [c for c in (tag, options.quality_column) if c is not None]
    rest = [c for c in staged.columns if c not in dropped]
    select = ", ".join(["m.asset AS asset_id", "m.channel AS channel"] + [f"s.{quote_ident(c)}" for c in rest])
    join = f"FROM {src} s JOIN __fw_tags m ON CAST(s.{quote_ident(tag)} AS VARCHAR) = m.tag"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT {select}, s.{ROW_COLUMN} {join} WHERE {keep_s}"
    )
    unmapped = con.execute(
        f"SELECT CAST(s.{quote_ident(tag)} AS VARCHAR) AS tag, count(*) FROM {src} s ANTI JOIN __fw_tags m "
        f"ON CAST(s.{quote_ident(tag)} AS VARCHAR) = m.tag WHERE {keep_s} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if unmapped:
        rows = sum(int(n) for _, n in unmapped)
        shown = ", ".join(str(t) for t, _ in unmapped[:3]) + (", ..." if len(unmapped) > 3 else "")
        notes.append(
            f"{staged.source}: {rows:,} row(s) of {len(unmapped):,} tag(s) the tag map does not name skipped: {shown}"
        )
    types = {"asset_id": "VARCHAR", "channel": "VARCHAR", **{c: staged.types[c] for c in rest}}
    display = {"asset_id": tag, "channel": tag}
    out = dataclasses.replace(staged, name=name, columns=list(types), types=types, display=display)
    return out, tuple(notes), units


def drop_historian(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the views :func:`historian_rows` made over staged relation ``name`` and the tag map's table."""
    for view in (f"{name}{SUFFIX}_n_u", f"{name}{SUFFIX}_u", f"{name}{SUFFIX}_n", f"{name}{SUFFIX}"):
        con.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
    con.execute("DROP TABLE IF EXISTS __fw_tags")


def _quality_filter(staged: Staged, options: ReadOptions, where: dict[str, Any], ref: str) -> str:
    """SQL condition of a good row of relation ``ref``: its quality (trimmed, any case) is one of ``good_quality``."""
    column = options.quality_column
    assert column is not None
    if column not in staged.columns:
        raise IngestError(
            f"missing quality column {column!r}; found {', '.join(staged.columns) or 'none'}",
            column=column,
            **where,
            hint="--quality-column names the column holding each value's quality (Good, Bad, 192...)",
        )
    good = ", ".join(quote_literal(g.strip().lower()) for g in options.good_quality)
    return f"lower(trim(CAST({ref}.{quote_ident(column)} AS VARCHAR))) IN ({good})"


def _tag_column(staged: Staged, options: ReadOptions, where: dict[str, Any]) -> str:
    """The batch's tag column, checked: present, in a long file (a value column), no asset or channel column."""
    tag = options.tag_column
    if tag not in staged.columns:
        raise IngestError(
            f"missing tag column {tag!r}; found {', '.join(staged.columns) or 'none'}",
            column=tag,
            **where,
            hint="--tag-column names the column holding the historian's tag names",
        )
    if "value" not in staged.columns:
        raise IngestError(
            "a tag map reads a long export (tag, time, value), and the file has no 'value' column",
            column=tag,
            **where,
            hint="rename the file's value column to 'value'",
        )
    for clash in ("asset_id", "channel"):
        if clash in staged.columns:
            raise IngestError(
                f"the file has a column {clash!r} and a tag map was given",
                column=clash,
                **where,
                hint="the tag map names each tag's asset and channel: drop the column or the map",
            )
    return tag


def _load_map(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Stage the tag map as ``__fw_tagmap_t`` (tag, asset, channel) and return its units (channel -> unit)."""
    staged = stage_file(con, path, name=MAP_STAGE, types_for=lambda header: dict.fromkeys(header, "VARCHAR"))
    try:
        columns = {c.strip().lower(): c for c in staged.columns}
        if "asset" not in columns and "asset_id" in columns:
            columns["asset"] = columns["asset_id"]
        missing = [c for c in ("tag", "asset", "channel") if c not in columns]
        if missing:
            raise IngestError(
                f"missing column(s) {', '.join(missing)}; found {', '.join(staged.columns) or 'none'}",
                source=str(path),
                line=1,
                column=missing[0],
                hint=MAP_HINT,
            )
        unit, held = (
            f"trim(CAST({quote_ident(columns[c])} AS VARCHAR))" if c in columns else "NULL" for c in ("unit", "hold")
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __fw_tags AS SELECT "
            + ", ".join(f"trim(CAST({quote_ident(columns[c])} AS VARCHAR)) AS {c}" for c in ("tag", "asset", "channel"))
            + f", {unit} AS unit, {held} AS hold, {ROW_COLUMN} FROM {quote_ident(staged.name)}"
        )
        _check_map(con, staged)
        _check_holds(con, staged)
        rows = con.execute(
            f"SELECT channel, first(unit ORDER BY {ROW_COLUMN}) FROM __fw_tags "
            "WHERE unit IS NOT NULL AND unit <> '' GROUP BY 1"
        ).fetchall()
        return {str(c): str(u) for c, u in rows}
    finally:
        drop_staged(con, MAP_STAGE)
        staged.release()


def map_holds(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """``(asset, channel) -> hold`` (microseconds) of the tags whose map row gives a ``hold`` (checked when the map
    was read: :func:`_check_holds`); empty without a tag map."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '__fw_tags'").fetchall()[0][0]:
        return {}
    rows = con.execute("SELECT asset, channel, hold FROM __fw_tags WHERE coalesce(hold, '') <> ''").fetchall()
    return {(str(a), str(c)): hold_micros(str(h)) for a, c, h in rows}


def _check_holds(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Each ``hold`` a tag map gives (a blank cell: none) is a time span, else the map is refused at its line."""
    for text, row in con.execute(
        f"SELECT hold, min({ROW_COLUMN}) FROM __fw_tags WHERE coalesce(hold, '') <> '' GROUP BY 1 ORDER BY 2"
    ).fetchall():
        try:
            hold_micros(str(text))
        except ConfigError:
            raise IngestError(
                f"hold {text!r} is not a time span",
                source=staged.source,
                line=staged.line_of(int(row)),
                column="hold",
                hint=HOLD_HINT,
            ) from None


def _check_map(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """A tag map names each tag once, with an asset and a channel."""
    blank = fetch_value(
        con,
        f"SELECT min({ROW_COLUMN}) FROM __fw_tags WHERE coalesce(tag, '') = '' OR coalesce(asset, '') = '' "
        "OR coalesce(channel, '') = ''",
    )
    if blank is not None:
        raise IngestError(
            "a row without tag, asset or channel",
            source=staged.source,
            line=staged.line_of(int(blank)),
            hint=MAP_HINT,
        )
    twice = con.execute(
        f"SELECT tag, list({ROW_COLUMN} ORDER BY {ROW_COLUMN}) FROM __fw_tags GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY min(" + ROW_COLUMN + ") LIMIT 1"
    ).fetchone()
    if twice is not None:
        lines = [staged.line_of(int(r)) for r in twice[1][:2]]
        raise IngestError(
            f"tag {twice[0]!r} is named twice (lines {lines[0]} and {lines[1]})",
            source=staged.source,
            line=lines[1],
            column="tag",
            hint="a tag belongs to one asset and channel: keep one row of it",
        )
