"""The case book's bulk filing on PostgreSQL: the same case ids and records as filing one alert at a time, and as
the DuckDB book."""

from __future__ import annotations

import itertools

import pandas as pd

from forewarn.decide.alerts import Alert, failure_alert
from forewarn.decide.cases import CaseBook
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

_names = itertools.count()
T = pd.Timestamp("2024-05-01 08:00", tz="UTC")


def _mixed() -> list[Alert]:
    """Forewarnings on six assets, failures on four of them and two new ones, a drift alert, a repeated alert."""
    hour = pd.Timedelta("1h")
    out = [
        Alert(f"A-{i}", T + i * hour, "m1", 0.5 + i / 20, "high", {"t": float(i)}, source="service") for i in range(6)
    ]
    out += [failure_alert(f"A-{i}", T + 9 * hour) for i in range(2, 8)]
    out += [Alert("A-1", T, "drift", 0.4, "medium", {}, source="drift"), out[0]]
    return out


def _tables(book: CaseBook) -> tuple[pd.DataFrame, pd.DataFrame]:
    cases = pd.DataFrame(book.cases()).sort_values("case_id").reset_index(drop=True)
    alerts = pd.DataFrame(book.alerts()).sort_values("alert_id").reset_index(drop=True)
    return cases, alerts


def _book(server: LocalPostgres) -> CaseBook:
    url = server.create_database(f"bulk_{next(_names)}")
    Store(url).close()  # migrated
    return CaseBook(url)


def test_a_batch_on_postgres_is_filed_as_one_alert_at_a_time(pg_server: LocalPostgres) -> None:
    one, many, duck = _book(pg_server), _book(pg_server), CaseBook()
    try:
        ids_one = [one.record_alert(a) for a in _mixed()]
        assert many.file_alerts(_mixed()) == ids_one == duck.file_alerts(_mixed())
        for left, right, other in zip(_tables(many), _tables(one), _tables(duck), strict=True):
            pd.testing.assert_frame_equal(left, right)
            pd.testing.assert_frame_equal(left, other, check_dtype=False)
        assert many.file_alerts(_mixed()) == ids_one  # filed again: nothing new
        assert many.counts() == one.counts() == {"open": 9, "acknowledged": 0, "closed": 0, "alerts": 13}
    finally:
        for book in (one, many, duck):
            book.close()
