"""Moving a case book with its store (``forewarn store copy``): every case, alert and alarm state, ids kept.

The target must hold no case of its own (an empty case book, or an earlier copy of the same one: copying is
idempotent); its id sequences are moved past the copied ids, so the next filing there does not collide.

>>> import pandas as pd
>>> from forewarn.decide.alerts import Alert
>>> source, target = CaseBook(), CaseBook()
>>> t = pd.Timestamp("2024-05-01", tz="UTC")
>>> source.record_alert(Alert("P-1", t, "rul-v1", 0.9, "high", {"temp": 1.0}))
1
>>> copy_casebook(source, target), copy_casebook(source, target)
({'cases': 1, 'alerts': 1}, {'cases': 0, 'alerts': 0})
>>> target.open_case_id("P-1"), target.record_alert(Alert("P-2", t, "rul-v1", 0.9, "high", {}))  # no collision
(1, 2)
"""

from __future__ import annotations

from typing import Any

from forewarn.decide.cases import ALERT_COLUMNS, CASE_COLUMNS, CaseBook
from forewarn.exceptions import ConfigError

STATE_TABLE_COLUMNS = ("policy", "asset_id", "active", "streak", "last_active_ns", "last_ns")


def _rows(book: CaseBook, table: str, columns: tuple[str, ...], key: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in book._con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}").fetchall()]


def _advance(book: CaseBook, sequence: str, past: int) -> None:
    """Move ``sequence`` so its next value is above ``past`` (DuckDB has no setval: draw the values)."""
    current = int(book._con.execute(f"SELECT nextval('{sequence}')").fetchone()[0])
    if current < past:
        book._con.execute(f"SELECT max(nextval('{sequence}')) FROM range({past - current})").fetchall()


def copy_casebook(source: CaseBook, target: CaseBook) -> dict[str, int]:
    """Copy ``source`` into ``target`` (see the module docstring); returns the cases and alerts newly written."""
    cases = _rows(source, "cases", CASE_COLUMNS, "case_id")
    alerts = _rows(source, "alerts", ALERT_COLUMNS, "alert_id")
    states = _rows(source, "alert_state", STATE_TABLE_COLUMNS, "policy, asset_id")
    with target._lock:
        have_cases = {int(r[0]) for r in target._con.execute("SELECT case_id FROM cases").fetchall()}
        have_alerts = {int(r[0]) for r in target._con.execute("SELECT alert_id FROM alerts").fetchall()}
        foreign = have_cases - {int(r[0]) for r in cases}
        if foreign:
            raise ConfigError(
                f"the case book {target.path} already holds {len(foreign)} case(s) of its own; copy into an empty one"
            )
        new_cases = [r for r in cases if int(r[0]) not in have_cases]
        new_alerts = [r for r in alerts if int(r[0]) not in have_alerts]
        marks = ", ".join("?" for _ in CASE_COLUMNS)
        for row in new_cases:
            target._con.execute(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({marks})", list(row))
        marks = ", ".join("?" for _ in ALERT_COLUMNS)
        for row in new_alerts:
            target._con.execute(f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) VALUES ({marks})", list(row))
        have_states = {
            (str(r[0]), str(r[1])) for r in target._con.execute("SELECT policy, asset_id FROM alert_state").fetchall()
        }
        marks = ", ".join("?" for _ in STATE_TABLE_COLUMNS)
        for row in states:
            if (str(row[0]), str(row[1])) not in have_states:
                target._con.execute(
                    f"INSERT INTO alert_state ({', '.join(STATE_TABLE_COLUMNS)}) VALUES ({marks})", list(row)
                )
        if new_cases:
            _advance(target, "case_ids", max(int(r[0]) for r in cases))
        if new_alerts:
            _advance(target, "alert_ids", max(int(r[0]) for r in alerts))
        target._read_open()  # the copied open cases are the target's open cases now
    return {"cases": len(new_cases), "alerts": len(new_alerts)}
