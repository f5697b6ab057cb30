"""Declaring the plant: sites, lines, assets and their channels (upserts, one transaction per call).

Declaring again replaces what was declared (name, class, metadata, unit...), never the readings. A
channel keeps its series id for life, so re-declaring an asset does not orphan its readings. An asset
given a line but no site takes the site of its line; a site that contradicts its line is an error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from forewarn.exceptions import SchemaError
from forewarn.schema import Asset, Line, Site
from forewarn.store.tables import fetch_value


def _in_transaction(con: duckdb.DuckDBPyConnection, statements: Sequence[tuple[str, list[list[Any]]]]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for sql, rows in statements:
            if rows:
                con.executemany(sql, rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _last_per_key(rows: list[list[Any]], width: int = 1) -> list[list[Any]]:
    """Keep the last declaration of each key (the first ``width`` fields): later ones override earlier."""
    return list({tuple(r[:width]): r for r in rows}.values())


def _checked(items: Iterable[Any], kind: type, what: str) -> list[Any]:
    out = list(items)
    for item in out:
        if not isinstance(item, kind):
            raise SchemaError(
                f"expected {kind.__name__} objects, got {type(item).__name__}",
                source=what,
                hint=f"build them with forewarn.schema.{kind.__name__}(...)",
            )
    return out


def add_sites(con: duckdb.DuckDBPyConnection, sites: Iterable[Site]) -> None:
    """Insert or update sites."""
    rows = _last_per_key([[s.site_id, s.name, s.timezone] for s in _checked(sites, Site, "add_sites")])
    _in_transaction(
        con,
        [
            (
                "INSERT INTO sites VALUES (?, ?, ?) ON CONFLICT (site_id) DO UPDATE SET "
                "name = excluded.name, timezone = excluded.timezone",
                rows,
            )
        ],
    )


def add_lines(con: duckdb.DuckDBPyConnection, lines: Iterable[Line]) -> None:
    """Insert or update production lines."""
    rows = _last_per_key([[ln.line_id, ln.site_id, ln.name] for ln in _checked(lines, Line, "add_lines")])
    _in_transaction(
        con,
        [
            (
                "INSERT INTO lines VALUES (?, ?, ?) ON CONFLICT (line_id) DO UPDATE SET "
                "site_id = excluded.site_id, name = excluded.name",
                rows,
            )
        ],
    )


def _install_date(asset: Asset) -> dt.date | None:
    value = asset.install_date
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SchemaError(
            f"install date {value!r} of asset {asset.asset_id!r} is not a date",
            column="install_date",
            hint="use a datetime.date or YYYY-MM-DD text",
        ) from None


def add_assets(con: duckdb.DuckDBPyConnection, assets: Iterable[Asset]) -> None:
    """Insert or update assets and their declared channels (name, unit, description)."""
    items = _checked(assets, Asset, "add_assets")
    line_site = dict(con.execute("SELECT line_id, site_id FROM lines").fetchall())
    asset_rows, channel_rows = [], []
    for asset in items:
        site = asset.site_id
        if asset.line_id is not None and asset.line_id in line_site:
            known = line_site[asset.line_id]
            if site is None:
                site = known
            elif known is not None and site != known:
                raise SchemaError(
                    f"asset {asset.asset_id!r} is declared on site {site!r}, but its line "
                    f"{asset.line_id!r} belongs to site {known!r}",
                    column="site_id",
                    hint="fix the asset's site_id or leave it empty to take the line's site",
                )
        metadata = json.dumps(dict(asset.metadata), sort_keys=True, default=str)
        asset_rows.append(
            [asset.asset_id, asset.asset_class, site, asset.line_id, asset.name, _install_date(asset), metadata]
        )
        channel_rows += [[asset.asset_id, ch.name, ch.unit, ch.description] for ch in asset.channels]
    channel_rows = _last_per_key(channel_rows, width=2)
    con.execute("BEGIN TRANSACTION")
    try:
        if asset_rows:
            con.executemany(
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id) DO UPDATE SET "
                "asset_class = excluded.asset_class, site_id = excluded.site_id, line_id = excluded.line_id, "
                "name = excluded.name, install_date = excluded.install_date, metadata = excluded.metadata",
                _last_per_key(asset_rows),
            )
        existing = {(a, c) for a, c in con.execute("SELECT asset_id, channel FROM channels").fetchall()}
        updates = [[r[2], r[3], r[0], r[1]] for r in channel_rows if (r[0], r[1]) in existing]
        new = sorted(r for r in channel_rows if (r[0], r[1]) not in existing)
        if updates:
            con.executemany("UPDATE channels SET unit = ?, description = ? WHERE asset_id = ? AND channel = ?", updates)
        if new:
            base = fetch_value(con, "SELECT coalesce(max(series_id), 0) FROM channels")
            con.executemany(
                "INSERT INTO channels (asset_id, channel, unit, description, series_id) VALUES (?, ?, ?, ?, ?)",
                [[*row, base + i] for i, row in enumerate(new, start=1)],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


FIELDS = ("asset_class", "site_id", "line_id", "name", "install_date")


def _date(value: object, where: dict[str, Any]) -> dt.date:
    if isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SchemaError(
            f"install date {value!r} is not a date", column="install_date", **where, hint="use YYYY-MM-DD"
        ) from None


def update_assets(
    con: duckdb.DuckDBPyConnection,
    updates: Sequence[dict[str, Any]],
    *,
    source: str | None = None,
    lines: Sequence[int] | None = None,
) -> tuple[list[str], list[str]]:
    """Create or update assets field by field, in one transaction: ``(created, updated)`` asset ids.

    Each update holds ``asset_id`` and any of :data:`FIELDS` (``None``: leave as it is) and ``metadata``
    (merged into the stored metadata, new keys win). Unknown sites and lines are created; an asset given a
    line but no site takes the line's site; a site that contradicts the line's site is an error naming
    ``source`` and the update's entry of ``lines``. Later updates of one asset apply on top of earlier ones.
    """
    ids = sorted({str(u["asset_id"]) for u in updates})
    stored = {
        str(r[0]): list(r[1:])
        for r in con.execute(
            "SELECT asset_id, asset_class, site_id, line_id, name, install_date, metadata FROM assets "
            "WHERE asset_id IN (SELECT unnest(?))",
            [ids],
        ).fetchall()
    }
    line_site: dict[str, str | None] = dict(con.execute("SELECT line_id, site_id FROM lines").fetchall())
    sites = {str(r[0]) for r in con.execute("SELECT site_id FROM sites").fetchall()}
    new_lines: dict[str, str | None] = {}
    rows: dict[str, list[Any]] = {}
    for index, update in enumerate(updates):
        where: dict[str, Any] = {"source": source, "line": lines[index] if lines is not None else None}
        asset = str(update["asset_id"]).strip()
        if not asset:
            raise SchemaError("missing asset_id", column="asset_id", **where, hint="every row needs an asset_id")
        row = rows.get(asset) or (list(stored[asset]) if asset in stored else ["generic", None, None, "", None, "{}"])
        row[5] = row[5] if isinstance(row[5], dict) else json.loads(row[5] or "{}")
        given = {k: update.get(k) for k in FIELDS if update.get(k) is not None}
        for position, key in enumerate(FIELDS):
            if key in given:
                row[position] = _date(given[key], where) if key == "install_date" else str(given[key])
        row[5].update(update.get("metadata") or {})
        line = row[2]
        if line is not None:
            known = line_site.get(line, row[1])
            if "site_id" not in given and known is not None:
                row[1] = known
            elif known is not None and row[1] != known:
                raise SchemaError(
                    f"asset {asset!r} is put on site {row[1]!r}, but its line {line!r} belongs to site {known!r}",
                    column="site_id",
                    **where,
                    hint="fix the site or leave it empty to take the line's site",
                )
            if line not in line_site:
                line_site[line] = new_lines[line] = row[1]
        if row[1] is not None:
            sites.add(row[1])
        rows[asset] = row
    known_sites = {str(r[0]) for r in con.execute("SELECT site_id FROM sites").fetchall()}
    asset_rows = [
        [a, r[0], r[1], r[2], r[3], r[4], json.dumps(r[5], sort_keys=True, default=str)] for a, r in rows.items()
    ]
    _in_transaction(
        con,
        [
            ("INSERT INTO sites (site_id) VALUES (?)", [[s] for s in sorted(sites - known_sites)]),
            ("INSERT INTO lines (line_id, site_id) VALUES (?, ?)", [[k, v] for k, v in sorted(new_lines.items())]),
            (
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset_id) DO UPDATE SET "
                "asset_class = excluded.asset_class, site_id = excluded.site_id, line_id = excluded.line_id, "
                "name = excluded.name, install_date = excluded.install_date, metadata = excluded.metadata",
                asset_rows,
            ),
        ],
    )
    created = sorted(a for a in rows if a not in stored)
    return created, sorted(a for a in rows if a in stored)
