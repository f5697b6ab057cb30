"""Recorded failures in the case book: on the asset's open case, or on a case of kind ``failure``; filed once; closed
by the maintenance that renews the asset (and only by one after the failure)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forewarn.decide.alerts import Alert, failure_alert
from forewarn.decide.cases import CaseBook

T = pd.Timestamp("2024-05-01 08:00", tz="UTC")


def test_a_failure_joins_the_case_that_forewarned_it() -> None:
    book = CaseBook()
    warned = book.record_alert(Alert("P-1", T, "failure:v1", 0.8, "high", {"vib": 0.4}, source="service"))
    failed = book.record_alert(failure_alert("P-1", T + pd.Timedelta("30h")))
    case = book.case(warned)
    assert failed == warned and case["kind"] == "health" and case["n_alerts"] == 2
    assert case["risk_level"] == "critical"
    # a forewarning after the failure (the model still scores the stale readings) stays on the same case
    assert book.record_alert(Alert("P-1", T + pd.Timedelta("31h"), "failure:v1", 0.9, "high", {})) == warned
    assert book.close_renewed({"P-1": T + pd.Timedelta("40h")}) == [warned]
    assert book.case(warned)["status"] == "closed" and book.open_case_id("P-1") is None


def test_a_failure_is_filed_once_and_a_drift_case_is_left_alone() -> None:
    book = CaseBook()
    drift = book.record_alert(Alert("P-2", T, "drift:v1", 3.0, "medium", {}, source="drift"))
    alert = failure_alert("P-2", T + pd.Timedelta("1h"))
    assert not book.is_filed(alert)
    case_id = book.record_alert(alert)
    assert case_id != drift and book.case(case_id)["kind"] == "failure" and book.is_filed(alert)
    assert book.record_alert(alert) == case_id and book.case(case_id)["n_alerts"] == 1
    assert book.close_renewed({"P-2": T + pd.Timedelta("2h"), "P-9": T}) == [case_id]
    assert book.case(drift)["status"] == "open"  # drift is not the failure's business
    # a case with no recorded failure is not closed by a maintenance: a person closes it with what was found
    warned = book.record_alert(Alert("P-3", T, "failure:v1", 0.8, "high", {}, source="service"))
    assert book.close_renewed({"P-3": T + pd.Timedelta("1h")}) == []
    assert book.case(warned)["status"] == "open"


def test_the_book_on_disk_reads_a_failure_case_back_as_the_assets_open_case(tmp_path: Path) -> None:
    path = tmp_path / "plant.cases.duckdb"
    book = CaseBook(path)
    case_id = book.record_alert(failure_alert("P-4", T))
    book.close()
    again = CaseBook(path)
    try:
        assert again.open_case_id("P-4") == case_id
    finally:
        again.close()
