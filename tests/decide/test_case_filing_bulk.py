"""Filing a batch of alerts at once gives what filing them one at a time gives (case ids, alert ids, records), in a
few statements (their speed: benchmarks/casebook_filing.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from forewarn.decide.alerts import Alert, failure_alert
from forewarn.decide.cases import CaseBook

T = pd.Timestamp("2024-05-01 08:00", tz="UTC")


def _mixed() -> list[Alert]:
    hour = pd.Timedelta("1h")
    return [
        Alert("P-1", T, "m1", 0.6, "medium", {"temp": 1.0, "vib": 2.0}, probability=0.6, source="service"),
        Alert("P-2", T, "m1", 0.9, "critical", {"vib": -1.0}, source="stream"),
        failure_alert("P-1", T + 2 * hour),  # joins P-1's open case
        Alert("P-1", T + hour, "m2", 0.7, "high", {"flow": 0.5}, rul=12.0),  # no source: never matched
        Alert("P-3", T + hour, "drift", 0.4, "medium", {"temp": 0.3}, source="drift"),  # a drift case of its own
        Alert("P-3", T + 3 * hour, "m1", 0.5, "low", {}, source="service"),  # P-3's own case, not the drift one
        Alert("P-2", T, "m1", 0.9, "critical", {"vib": -1.0}, source="stream"),  # the second alert again
        failure_alert("P-4", T + hour),  # opens a failure case
        Alert("P-3", T + 2 * hour, "drift", 0.5, "high", {"temp": 0.4}, source="drift"),
        Alert("P-5", T, "m1", 0.8, "high", {"temp": 1.0}, source="service"),
    ]


def _tables(book: CaseBook) -> tuple[pd.DataFrame, pd.DataFrame]:
    cases = pd.DataFrame(book.cases()).sort_values("case_id").drop(columns="closed_ts").reset_index(drop=True)
    alerts = pd.DataFrame(book.alerts()).sort_values("alert_id").reset_index(drop=True)
    return cases, alerts


@pytest.mark.parametrize("before", [0, 3])
def test_a_batch_is_filed_as_one_alert_at_a_time(before: int) -> None:
    """``before``: alerts of the batch filed already (the start of the batch), plus an open case of P-5 closed."""
    one, many = CaseBook(), CaseBook()
    for book in (one, many):
        for alert in _mixed()[:before]:
            book.record_alert(alert)
        closed = book.record_alert(Alert("P-5", T - pd.Timedelta("1D"), "m0", 0.7, "high", {}, source="service"))
        book.close_case(closed, note="fixed")
    ids_one = [one.record_alert(a) for a in _mixed()]
    ids_many = many.file_alerts(_mixed())
    assert ids_many == ids_one
    assert ids_one[1] == ids_one[6] and ids_one[0] == ids_one[2] == ids_one[3]  # the duplicate, the joined case
    assert len({ids_one[4], ids_one[5], ids_one[8]}) == 2 and ids_one[4] == ids_one[8]  # drift apart
    cases_one, alerts_one = _tables(one)
    cases_many, alerts_many = _tables(many)
    pd.testing.assert_frame_equal(cases_many, cases_one)
    pd.testing.assert_frame_equal(alerts_many, alerts_one)
    p1 = many.case(ids_many[0])
    assert p1["n_alerts"] == 3 and p1["risk_level"] == "critical" and p1["model_id"] == "m2"
    assert p1["top_sensors"] == ["flow"] and p1["last_alert_ts"] == T + pd.Timedelta("2h") and p1["kind"] == "health"
    assert many.case(ids_many[7])["kind"] == "failure" and many.case(ids_many[4])["kind"] == "drift"
    for asset, index in (("P-1", 0), ("P-2", 1), ("P-3", 5), ("P-4", 7), ("P-5", 9)):
        assert many.open_case_id(asset) == one.open_case_id(asset) == ids_many[index]
    assert many.file_alerts(_mixed()[:3]) == ids_many[:3]  # filed again: nothing new
    assert many.counts() == {**one.counts()}
    assert all(many.is_filed(a) for a in _mixed() if a.source is not None)
    assert not many.is_filed(Alert("P-1", T, "m1", 0.6, "medium", {}, source="elsewhere"))


def test_a_failed_batch_writes_nothing() -> None:
    book = CaseBook()
    book.record_alert(Alert("P-1", T, "m1", 0.6, "medium", {}, source="service"))
    before = _tables(book)
    with pytest.raises(ValueError, match="lacks"):
        book.file_alerts([failure_alert(f"D-{i}", T) for i in range(5)], {"p": {"asset_id": ["D-0"]}})
    after = _tables(book)
    pd.testing.assert_frame_equal(after[0], before[0])
    pd.testing.assert_frame_equal(after[1], before[1])
    assert book.open_case_id("D-0") is None
    case_id = book.record_alert(failure_alert("D-0", T))  # a sequence does not roll back: a later id, as before
    assert book.open_case_id("D-0") == case_id and book.case(case_id)["kind"] == "failure"


def test_hundreds_of_down_assets_are_filed_in_one_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Its speed is measured by benchmarks/casebook_filing.py, not here (a timed test flakes on a loaded machine).
    book = CaseBook(tmp_path / "plant.cases.duckdb")
    alerts = [failure_alert(f"A{i:04d}", T) for i in range(400)]
    ids = book.file_alerts(alerts)
    assert ids == list(range(1, 401)) and book.counts()["open"] == 400 and book.counts()["alerts"] == 400
    assert all(book.open_case_id(f"A{i:04d}") == i + 1 for i in range(400))
