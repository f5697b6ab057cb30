"""Copying a whole store to another, either way between DuckDB and PostgreSQL (``forewarn store copy``).

Everything goes through the public Store methods, so the copy obeys the target's ingest rules: the plant
(sites, lines, assets with their metadata and channels), then readings asset by asset in slices of
``slice_days`` (so memory stays bounded), each channel's hold (a channel recorded on change,
:mod:`forewarn.store.hold`: without it the target's buckets would average the recorded values), events, and
labels. Copying is idempotent: a second run writes
nothing, and a copy into a store that already holds some of the readings keeps the stored values
(``on_conflict="keep"``), counting the ones that differ.

The record of rewrites (:mod:`forewarn.store.rewrites`) goes too, numbers kept, before the readings
(:func:`carry_rewrites`): marks a reader took on the source (``detect --only-new``) then hold on the copy, and a
rewrite the copy's own readings make is numbered after the source's. It is carried into a target whose record is
empty or holds only the source's rows (an earlier copy); a target with a record of its own keeps it, and the report
says why nothing was carried (``rewrites_not_carried``): numbers from two stores cannot be merged, and a mark from
the source then scores its asset whole on the copy once (``seq < mark``, :func:`forewarn.detect.since.changed_since`).

>>> import pandas as pd
>>> from forewarn.store import Store
>>> with Store() as a, Store() as b:
...     _ = a.ingest_readings(pd.DataFrame({"asset_id": ["P-1"] * 2, "ts": ["2024-01-01", "2024-01-02"], "t": [1.0, 2.0]}))
...     first, again = copy_store(a, b), copy_store(a, b)
...     (first.readings, again.readings, b.count_readings())
(2, 0, 2)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import pandas as pd
import pyarrow as pa

from forewarn.exceptions import ForewarnError
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store.store import Store

#: the record of rewrites with each series named (both stores' ``sql``)
NAMED_REWRITES = (
    "SELECT w.seq, c.asset_id, c.channel, w.t0 FROM reading_rewrites w JOIN channels c ON c.series_id = w.series_id"
)


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_store` wrote into the target (``readings`` newly stored, ``conflicts`` kept as stored)."""

    assets: int = 0
    readings: int = 0
    duplicates: int = 0
    conflicts: int = 0
    events: int = 0
    labels: int = 0
    holds: int = 0
    rewrites: int = 0
    #: why the record of rewrites was not carried ("" where it was; :func:`carry_rewrites`)
    rewrites_not_carried: str = ""

    def as_dict(self) -> dict[str, int | str]:
        """The report as plain JSON-ready numbers."""
        return dataclasses.asdict(self)


def _plant(source: Store, target: Store) -> int:
    sites = source.sql("SELECT site_id, name, timezone FROM sites ORDER BY site_id")
    target.add_sites(Site(r.site_id, name=r.name, timezone=r.timezone) for r in sites.itertuples(index=False))
    lines = source.sql("SELECT line_id, site_id, name FROM lines ORDER BY line_id")
    target.add_lines(
        Line(r.line_id, cast(str, None if pd.isna(r.site_id) else r.site_id), name=r.name)
        for r in lines.itertuples(index=False)
    )
    channels = source.channels()
    by_asset: dict[str, list[Channel]] = {}
    for r in channels.itertuples(index=False):
        by_asset.setdefault(str(r.asset_id), []).append(Channel(str(r.channel), str(r.unit), str(r.description)))
    assets = source.assets()
    target.add_assets(
        Asset(
            str(r.asset_id),
            asset_class=str(r.asset_class),
            site_id=None if pd.isna(r.site_id) else str(r.site_id),
            line_id=None if pd.isna(r.line_id) else str(r.line_id),
            name=str(r.name),
            install_date=None if r.install_date is None or pd.isna(r.install_date) else r.install_date,
            metadata=r.metadata if isinstance(r.metadata, dict) else json.loads(str(r.metadata or "{}")),
            channels=tuple(by_asset.get(str(r.asset_id), ())),
        )
        for r in assets.itertuples(index=False)
    )
    return len(assets)


def copy_store(
    source: Store,
    target: Store,
    *,
    slice_days: int = 31,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy everything ``source`` holds into ``target`` (see the module docstring); returns what was written."""
    n_assets = _plant(source, target)
    n_rewrites, why = carry_rewrites(source, target)
    written = duplicates = conflicts = 0
    summary = source.fleet_summary()
    for row in summary.itertuples(index=False):
        if not row.n_readings:
            continue
        start = pd.Timestamp(row.first_ts).floor("D")
        stop = pd.Timestamp(row.last_ts) + pd.Timedelta(microseconds=1)
        while start < stop:
            end = min(start + pd.Timedelta(days=slice_days), stop)
            part = source.readings(str(row.asset_id), start, end)
            if len(part):
                table = pa.table(
                    {
                        "asset_id": pa.array(part["asset_id"].astype(str).to_numpy(dtype=object), pa.string()),
                        "ts": pa.array(part["ts"].to_numpy(), pa.timestamp("us", tz="UTC")),
                        "channel": pa.array(part["channel"].astype(str).to_numpy(dtype=object), pa.string()),
                        "value": pa.array(part["value"].to_numpy(dtype="float64"), pa.float64()),
                    }
                )
                report = target.ingest_readings(table, source=f"{source.path} {row.asset_id}")
                written += report.written
                duplicates += report.duplicates
                conflicts += report.conflicts
                if progress is not None:
                    progress(str(row.asset_id), report.written)
            start = end
    n_holds = _holds(source, target)
    events = source.events()
    n_events = target.ingest_events(events, source=str(source.path)).written if len(events) else 0
    n_labels = 0
    labels = source.labels()
    for name, group in labels.groupby("name", sort=True):
        frame = pd.DataFrame(
            {"asset_id": group["asset_id"].astype(str), "ts": group["ts"], str(name): group["value"].astype(str)}
        )
        n_labels += target.ingest_readings(frame, label_columns=[str(name)], source=str(source.path)).labels_written
    return CopyReport(n_assets, written, duplicates, conflicts, n_events, n_labels, n_holds, n_rewrites, why)


def _holds(source: Store, target: Store) -> int:
    """Set each held channel of ``source`` to its hold in ``target`` (after the readings: a hold names a channel the
    target must know); returns how many channels were set."""
    held = source.holds()
    for row in held.itertuples(index=False):
        micros = int(pd.Timedelta(row.hold) / pd.Timedelta(microseconds=1))
        target.set_hold(str(row.asset_id), [str(row.channel)], f"{micros}us")
    return len(held)


def _named(rows: Iterable[Sequence[Any]]) -> set[tuple[int, str, str, int]]:
    """Rows of :data:`NAMED_REWRITES` as ``(seq, asset, channel, t0 in ns)``, comparable across the two stores."""
    return {(int(n), str(a), str(c), int(pd.Timestamp(t).value)) for n, a, c, t in rows}


def carry_rewrites(source: Store, target: Store) -> tuple[int, str]:
    """Add the source's record of rewrites to the target's, numbers kept (module text), in one write transaction
    of the target, after its plant and before its readings. Returns the rows added and, where nothing could be
    carried, why (``""`` otherwise)."""
    try:
        found = _named(source.sql(NAMED_REWRITES).itertuples(index=False, name=None))
    except ForewarnError:
        return 0, "the source keeps no record of rewrites (a store from before it)"
    with target._lock:
        con = target._db(write=True)
        con.execute("BEGIN TRANSACTION")
        try:
            have = _named(con.execute(NAMED_REWRITES).fetchall())
            if not have <= found:
                con.execute("ROLLBACK")
                return 0, (
                    f"the target keeps a record of its own ({len(have - found)} rows not the source's): marks taken "
                    "on the source score their assets whole on it once"
                )
            series = {
                (str(a), str(c)): int(s)
                for a, c, s in con.execute("SELECT asset_id, channel, series_id FROM channels").fetchall()
            }
            rows = [
                [n, series[(a, c)], pd.Timestamp(t, tz="UTC").to_pydatetime()] for n, a, c, t in sorted(found - have)
            ]
            if rows:
                con.executemany("INSERT INTO reading_rewrites (seq, series_id, t0) VALUES (?, ?, ?)", rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(rows), ""
