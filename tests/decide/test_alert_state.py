"""Alert-policy state in the case book: written with the alerts it causes, all or nothing, read back on start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.cases import CaseBook
from forewarn.exceptions import StateError

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _policy() -> AlertPolicy:
    return AlertPolicy(threshold=0.5, clear_threshold=0.3, min_consecutive=2, cooldown="1h")


def _feed(policy: AlertPolicy, book: CaseBook, scores: list[float], start: int = 0) -> list[int]:
    """Feed P-1 one score a minute; file what opens, with the state, as the service does."""
    cases = []
    for m, score in enumerate(scores, start=start):
        alert = policy.update("P-1", T0 + pd.Timedelta(minutes=m), score, model_id="m")
        cases += book.file_alerts([alert] if alert else [], {"m:pump": policy.get_state(["P-1"])})
    return cases


def test_state_survives_reopening_the_book(tmp_path: Path) -> None:
    path = tmp_path / "plant.cases.duckdb"
    book = CaseBook(path)
    policy = _policy()
    assert len(_feed(policy, book, [0.6, 0.7, 0.9])) == 1
    book.close()

    book = CaseBook(path)
    restored = _policy().set_state(book.policy_state("m:pump"))
    np.testing.assert_equal(restored.get_state(), policy.get_state())
    assert _feed(restored, book, [0.9, 0.8, 0.4], start=3) == []  # hysteresis: above clear, still the same alert
    assert book.counts()["alerts"] == 1 and book.counts()["open"] == 1
    _feed(restored, book, [0.1], start=6)  # clears
    book.close()

    book = CaseBook(path)
    again = _policy().set_state(book.policy_state("m:pump"))
    assert not again.is_active("P-1")
    assert _feed(again, book, [0.9, 0.9], start=200) != []  # a new episode after the cooldown alerts again
    assert book.counts()["alerts"] == 2 and book.counts()["open"] == 1  # ... on the one open case
    book.close()


def test_streak_survives_so_min_consecutive_counts_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    book = CaseBook(path)
    assert _feed(_policy(), book, [0.9]) == []
    book.close()
    book = CaseBook(path)
    assert len(_feed(_policy().set_state(book.policy_state("m:pump")), book, [0.9], start=1)) == 1
    book.close()


def test_failed_write_leaves_no_alert_no_case_no_state() -> None:
    book = CaseBook()
    alert = Alert("P-9", T0, "m", 0.9, "high", {"temp": 1.0})
    bad = {"asset_id": np.asarray(["P-9"]), "active": np.asarray([True])}  # lacks columns
    with pytest.raises(StateError, match="lacks"):
        book.file_alerts([alert], {"m:pump": bad})
    assert book.counts()["alerts"] == 0 and book.cases() == [] and book.open_case_id("P-9") is None
    assert len(book.policy_state("m:pump")["asset_id"]) == 0
    ragged = {**_policy().get_state(), "asset_id": np.asarray(["a", "b"])}
    with pytest.raises(StateError, match="different lengths"):
        book.file_alerts([alert], {"m:pump": ragged})
    assert book.counts()["alerts"] == 0
    book.close()


def test_policies_are_kept_apart() -> None:
    book = CaseBook()
    one, two = _policy(), _policy()
    one.update("P-1", T0, 0.9)
    two.update("P-1", T0, 0.1)
    book.file_alerts([], {"v1:pump": one.get_state(), "v2:pump": two.get_state()})
    assert book.policy_state("v1:pump")["streak"].tolist() == [1]
    assert book.policy_state("v2:pump")["streak"].tolist() == [0]
    assert book.policy_state("v3:pump")["asset_id"].tolist() == []
    book.close()
