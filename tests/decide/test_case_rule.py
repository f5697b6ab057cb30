"""One case rule for the backtest and the case book (issue 12 item 4, issue 14 item 4): a case that had no alarm for
the gap and holds no failure ends; the next alarm opens a new case. ``evaluate.cases.cases`` and ``CaseBook`` give
the same cases from the same alarms, at the boundary (exactly the gap: the same case) and on random alarm times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alerts import Alert, AlertPolicy, failure_alert
from forewarn.decide.cases import CaseBook
from forewarn.decide.quiet import DEFAULT_CLOSE_QUIET, close_quiet_setting, went_quiet
from forewarn.evaluate.cases import cases as backtest_cases
from forewarn.exceptions import ConfigError

T0 = pd.Timestamp("2024-05-01 08:00", tz="UTC")
WEEK = pd.Timedelta("7D")


def alarm(asset: str, ts: pd.Timestamp, source: str | None = "stream") -> Alert:
    return Alert(asset, ts, "detect", 0.9, "high", {"vib": 1.0}, source=source)


def book_cases(book: CaseBook) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    rows = [c for c in book.cases(limit=10_000) if c["kind"] == "health"]
    return sorted((str(c["asset_id"]), c["opened_ts"], c["last_alert_ts"]) for c in rows)


@pytest.mark.parametrize(
    ("after", "same_case"), [(WEEK, True), (WEEK + pd.Timedelta("1min"), False), (WEEK - pd.Timedelta("1h"), True)]
)
def test_the_boundary_is_the_same_in_the_backtest_and_the_case_book(after: pd.Timedelta, same_case: bool) -> None:
    times = [T0, T0 + after]
    folded = backtest_cases(pd.DataFrame({"asset_id": "P-1", "ts": times}), horizon_hours=168)
    book = CaseBook(close_quiet=WEEK)
    ids = [book.record_alert(alarm("P-1", t)) for t in times]
    assert (len(folded) == 1) == same_case
    assert (ids[0] == ids[1]) == same_case
    assert went_quiet(times[0], times[1], WEEK) is (not same_case)
    if not same_case:
        first = book.case(ids[0])
        assert first["status"] == "closed" and first["closed_by"] == "forewarn"
        assert first["closed_ts"] == T0 + WEEK
        assert first["note"].startswith("quiet for 7 d after its last alarm at 2024-05-01 08:00 UTC, no failure")
        assert book.open_case_id("P-1") == ids[1] and book.case(ids[1])["status"] == "open"


@pytest.mark.parametrize("one_batch", [True, False])
def test_random_alarms_fold_into_the_same_cases_in_both(one_batch: bool) -> None:
    rng = np.random.default_rng(7)
    rows = []
    for asset in ("A", "B", "C"):
        gaps = rng.choice([1, 6, 24, 100, 167, 168, 169, 300, 1000], size=40)  # hours, at and around the gap
        rows += [(asset, T0 + pd.Timedelta(hours=int(h))) for h in np.cumsum(gaps)]
    alarms = pd.DataFrame(rows, columns=["asset_id", "ts"]).sort_values("ts", kind="stable")
    book = CaseBook(close_quiet=WEEK)
    filed = [alarm(a, t) for a, t in zip(alarms["asset_id"], alarms["ts"], strict=True)]
    if one_batch:
        book.file_alerts(filed)
    else:
        for one in filed:
            book.record_alert(one)
    folded = backtest_cases(alarms, horizon_hours=168)
    assert book_cases(book) == sorted(zip(folded["asset_id"], folded["opened"], folded["last"], strict=True))
    closed = [c for c in book.cases(limit=10_000) if c["status"] == "closed"]
    assert len(closed) == len(folded) - 3 and {c["closed_by"] for c in closed} == {"forewarn"}


def test_never_closing_keeps_one_case() -> None:
    book = CaseBook(close_quiet=None)
    ids = {book.record_alert(alarm("P-1", T0 + pd.Timedelta(days=30 * k))) for k in range(4)}
    assert len(ids) == 1 and book.close_quiet({"P-1": T0 + pd.Timedelta(days=400)}) == []


def test_a_case_holding_a_failure_waits_for_the_repair() -> None:
    book = CaseBook(close_quiet=WEEK)
    case_id = book.record_alert(alarm("P-1", T0))
    assert book.record_alert(failure_alert("P-1", T0 + pd.Timedelta("2D"))) == case_id  # forewarned
    assert book.close_quiet({"P-1": T0 + pd.Timedelta("30D")}) == []  # down for a month: still open
    assert book.record_alert(alarm("P-1", T0 + pd.Timedelta("31D"))) == case_id
    assert book.close_renewed({"P-1": T0 + pd.Timedelta("32D")}) == [case_id]
    assert book.case(case_id)["note"].startswith("renewed: maintenance recorded at")


def test_a_failure_after_a_quiet_case_opens_a_failure_case() -> None:
    book = CaseBook(close_quiet=WEEK)
    stale = book.record_alert(alarm("P-1", T0))
    down = book.record_alert(failure_alert("P-1", T0 + pd.Timedelta("10D")))
    assert down != stale and book.case(down)["kind"] == "failure"
    assert book.case(stale)["status"] == "closed" and book.case(stale)["closed_by"] == "forewarn"
    assert book.close_renewed({"P-1": T0 + pd.Timedelta("11D")}) == [down]


def test_an_acknowledged_case_that_went_quiet_closes_and_keeps_its_note() -> None:
    book = CaseBook(close_quiet=WEEK)
    case_id = book.record_alert(alarm("P-1", T0))
    book.acknowledge(case_id, by="planner", note="work order 4711 raised")
    assert book.close_quiet({"P-1": T0 + WEEK}) == []  # exactly the gap: still open
    assert book.close_quiet({"P-1": T0 + WEEK + pd.Timedelta("1s")}) == [case_id]
    closed = book.case(case_id)
    assert closed["status"] == "closed" and closed["acknowledged_by"] == "planner"
    assert closed["note"].endswith("; earlier note: work order 4711 raised")
    assert book.open_case_id("P-1") is None
    assert book.record_alert(alarm("P-1", T0 + pd.Timedelta("9D"))) != case_id


def test_an_asset_that_stays_in_alert_keeps_its_case() -> None:
    """The service's policy raises one alert and stays active while the score stays high: the case lives while the
    policy sees the asset in alert (its state's last active time), as alarm rows keep a backtest case alive."""
    book, policy = CaseBook(close_quiet=WEEK), AlertPolicy(threshold=0.5, cooldown="1h")
    first = policy.update("P-1", T0, 0.9, model_id="m")
    assert first is not None
    case_id = book.file_alerts([first], {"m:pump": policy.get_state(["P-1"])})[0]
    for day in range(1, 20):  # in alert every day for 19 days: no new alert
        assert policy.update("P-1", T0 + pd.Timedelta(days=day), 0.9, model_id="m") is None
        book.file_alerts([], {"m:pump": policy.get_state(["P-1"])})
        assert book.close_quiet({"P-1": T0 + pd.Timedelta(days=day)}) == []
    # readings beyond what the policy scored do not count: it may be in alert there
    assert book.close_quiet({"P-1": T0 + pd.Timedelta(days=40)}) == []
    policy.update("P-1", T0 + pd.Timedelta(days=20), 0.1, model_id="m")  # clears
    policy.update("P-1", T0 + pd.Timedelta(days=27), 0.1, model_id="m")
    book.file_alerts([], {"m:pump": policy.get_state(["P-1"])})
    assert book.close_quiet({"P-1": T0 + pd.Timedelta(days=27)}) == [case_id]
    assert "after its last alarm at 2024-05-20 08:00 UTC" in book.case(case_id)["note"]


def test_a_drift_case_is_not_closed_by_the_rule() -> None:
    book = CaseBook(close_quiet=WEEK)
    drift = book.record_alert(alarm("P-1", T0, source="drift"))
    assert book.record_alert(alarm("P-1", T0 + pd.Timedelta("30D"), source="drift")) == drift


def test_the_setting() -> None:
    assert close_quiet_setting(None) is None and close_quiet_setting("never") is None
    assert close_quiet_setting("7d") == DEFAULT_CLOSE_QUIET and close_quiet_setting(" 168h ") == DEFAULT_CLOSE_QUIET
    with pytest.raises(ConfigError, match="close-quiet '7 parsecs' is not a time span"):
        close_quiet_setting("7 parsecs")
    with pytest.raises(ConfigError, match="must not be negative"):
        close_quiet_setting("-1d")
