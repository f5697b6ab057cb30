"""The case rule (:mod:`forewarn.decide.quiet`) on a PostgreSQL store's case book: the same cases as the backtest
folds from the same alarms, the closing note and time, an acknowledged case closing with its note kept, and an asset
an alert policy keeps in alert holding its case. One server per session (``pg_server``); the module is ``slow``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.cases import CaseBook
from forewarn.evaluate.cases import cases as backtest_cases
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-05-01T08:00:00Z")
WEEK = pd.Timedelta("7D")


def _book(server: LocalPostgres, name: str) -> CaseBook:
    url = server.create_database(name)
    Store(url).close()  # migrated
    return CaseBook(url, close_quiet=WEEK)


def test_the_rule_on_postgres(pg_server: LocalPostgres) -> None:
    book = _book(pg_server, "case_rule_fold")
    try:
        rng = np.random.default_rng(3)
        rows = []
        for asset in ("A", "B"):
            rows += [(asset, T0 + pd.Timedelta(hours=int(h))) for h in np.cumsum(rng.choice([5, 167, 168, 169], 25))]
        alarms = pd.DataFrame(rows, columns=["asset_id", "ts"]).sort_values("ts", kind="stable")
        book.file_alerts([Alert(a, t, "detect", 0.9, "high", {}, source="stream") for a, t in alarms.to_numpy()])
        folded = backtest_cases(alarms, horizon_hours=168)
        got = sorted((str(c["asset_id"]), c["opened_ts"], c["last_alert_ts"]) for c in book.cases(limit=1000))
        assert got == sorted(zip(folded["asset_id"], folded["opened"], folded["last"], strict=True))
        closed = [c for c in book.cases(status="closed", limit=1000)]
        assert len(closed) == len(folded) - 2 and {c["closed_by"] for c in closed} == {"forewarn"}
        assert all(c["closed_ts"] == c["last_alert_ts"] + WEEK for c in closed)

        case_id = book.record_alert(Alert("P-1", T0, "detect", 0.9, "high", {}, source="stream"))
        book.acknowledge(case_id, by="ana", note="checked the coupling")
        assert book.close_quiet({"P-1": T0 + WEEK}) == []
        assert book.close_quiet({"P-1": T0 + WEEK + pd.Timedelta("1min")}) == [case_id]
        assert book.case(case_id)["note"].endswith("; earlier note: checked the coupling")
        assert book.open_case_id("P-1") is None

        policy = AlertPolicy(threshold=0.5, cooldown="1h")
        first = policy.update("P-2", T0, 0.9, model_id="m")
        assert first is not None
        held = book.file_alerts([first], {"m:pump": policy.get_state(["P-2"])})[0]
        policy.update("P-2", T0 + pd.Timedelta("10D"), 0.9, model_id="m")  # still in alert 10 days on
        book.file_alerts([], {"m:pump": policy.get_state(["P-2"])})
        assert book.close_quiet({"P-2": T0 + pd.Timedelta("10D")}) == []
        assert book.close_quiet({"P-2": T0 + pd.Timedelta("17D1min")}) == []  # not scored that far: may be in alert
        assert book.case(held)["status"] == "open"
    finally:
        book.close()
