"""The service's last window on PostgreSQL (``pg_hold.last_buckets``) reads the window's readings of each series,
not its history: the plan's scans of ``reading_values`` return about the window's rows (``EXPLAIN ANALYZE``), for a
plain asset (averaged) and a held one (weighed by time, plus the one reading before the window). The planner once
pulled the readings' lateral up into a join that read every series whole and filtered it afterwards (158 ms for a
day's window in 8 days of minutes; BENCHMARKS.md, 2026-12-06 07:18-08:10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store, hold, pg_hold
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.pg_sql import placeholders
from forewarn.store.window_queries import last_buckets

pytestmark = pytest.mark.slow
HOUR = 3_600_000_000
CHANNELS = ["a", "b", "c"]
DAYS = 6


@pytest.fixture(scope="module")
def store(pg_server: LocalPostgres) -> Iterator[Store]:
    """``P`` (plain) and ``H`` (every channel held 2 h): three channels every minute for six days."""
    stamps = pd.date_range("2026-01-01", periods=DAYS * 1440, freq="1min", tz="UTC")
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"asset_id": asset, "channel": channel, "ts": stamps, "value": rng.normal(10, 1, len(stamps))})
        for asset in ("P", "H")
        for channel in CHANNELS
    ]
    with Store(pg_server.create_database("fw_window_reads")) as db:
        db.ingest_readings(pd.concat(frames, ignore_index=True))
        db.set_hold("H", None, "2h")
        yield db


def rows_read(db: Store, sql: str, params: list[Any] | None) -> int:
    """Rows the plan's scans of ``reading_values`` (its partitions) returned, over all their loops."""
    values = list(params) if params else None
    with db.connection() as con, con.transaction():  # type: ignore[attr-defined]
        con.execute("SET LOCAL jit = off")
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + placeholders(sql, values)
        plan = con.execute(explain, values, prepare=False).fetchone()[0]

    def walk(node: dict[str, Any]) -> int:
        own = node["Actual Rows"] * node["Actual Loops"]
        mine = own if str(node.get("Relation Name", "")).startswith("reading_values") else 0
        return mine + sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


@pytest.mark.parametrize("asset", ["P", "H"])
def test_the_last_window_reads_the_window_not_the_history(store: Store, asset: str, monkeypatch) -> None:
    seen: list[tuple[str, list[Any] | None]] = []
    sql, select = store.sql, pg_hold.select_without_jit
    monkeypatch.setattr(store, "sql", lambda q, p=None: seen.append((q, p)) or sql(q, p))
    monkeypatch.setattr(pg_hold, "select_without_jit", lambda c, q, p=None: seen.append((q, p)) or select(c, q, p))
    window = last_buckets(store, [asset], CHANNELS, 24, HOUR, [hold.NO_START])
    assert len(window) == 24 * len(CHANNELS) and len(seen) == 1
    read = rows_read(store, *seen[0])
    in_window = len(CHANNELS) * 24 * 60  # the window's readings; the history holds six times as many
    # within an hour's readings of it: index probes for each series' newest reading and the one before the window
    assert in_window - 60 * len(CHANNELS) <= read <= in_window + 60 * len(CHANNELS), read
