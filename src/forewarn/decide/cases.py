"""Cases: the unit of work a planner acts on. One open case per asset groups all its alerts.

A case opens with the first alert of an asset, collects every later alert of that asset while it is open (``open``
or ``acknowledged``), and ends when someone closes it with a note saying what was done, or when it goes quiet: no
alert for ``close_quiet`` (default :data:`~forewarn.decide.quiet.DEFAULT_CLOSE_QUIET`, 7 days; the backtest's case
rule, :func:`forewarn.evaluate.cases.cases`, the same function), and no failure on it. Such a case is closed by
``forewarn`` with the note "quiet for 7 d after its last alarm at ..., no failure", at that alarm + the gap. The
last alarm is the case's last alert, or later the last time an alert policy of the book saw the asset still in alert
(``alert_state.last_active_ns``: an asset whose score stays above the threshold raises one alert, and its case stays
open while it stays in alert, as the backtest's alarm rows keep a case alive). An acknowledged case closes too (a
planner who acknowledged it and found nothing has nothing to wait for; the acknowledgement's note is kept after the
closing note). The book applies it when the asset's next alert is filed (in event time: a replay of history gets the
same cases) and when :meth:`CaseBook.close_quiet` is told an asset's latest reading time (the service, at each
evaluation). The next alert after a close opens a new case. So a degrading asset gives one case, however many alerts
the scoring raises. A recorded failure of an asset that no maintenance has renewed since (it is down) is an alert
too (:func:`~forewarn.decide.alerts.failure_alert`): it joins the open case that forewarned it, or opens a case of
kind ``failure``, and the renewing maintenance closes that case (:meth:`CaseBook.close_renewed`). A drift alert
(``forewarn monitor``) has a case of its own (kind ``drift``).

The alerts and cases live in their own DuckDB database (a file, or ``":memory:"``), beside the readings
store rather than inside it: the store owns its connection and exposes no write access to other tables,
and a separate file keeps the planner's work apart from bulk sensor data (it can be backed up, or
reset, on its own). :func:`casebook_path_for` names the file next to a store file.

On a PostgreSQL store (``CaseBook("postgresql://...")``) the case book is a set of tables in the store's own
database (:mod:`forewarn.store.pg_cases`), which several processes (the service, the stream, ``forewarn monitor``)
file into at once: each writing transaction holds the book's advisory lock, so two processes filing an alert of
one asset together still give one open case, and the asset's open case is read back from the database (at most
:data:`OPEN_CASES_TTL` seconds old) instead of trusted from this process's memory.

The alert policy's per-asset state (hysteresis, de-duplication: ``alert_state``, one row per policy and
asset) lives here too, not in the readings store: :meth:`CaseBook.file_alerts` writes the alerts, their cases
and the policy state that raised them in one transaction, which DuckDB can only do within one database (a
transaction may write to one attached database only). A restarted service reads it back with
:meth:`CaseBook.policy_state`, so it neither alerts again on an asset already in alert nor forgets which
asset has an open case.

>>> import pandas as pd
>>> from forewarn.decide.alerts import FAILURE_SOURCE, Alert
>>> book = CaseBook()
>>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
>>> first = book.record_alert(Alert("P-101", t, "rul-v1", 0.7, "high", {"temp": -3.0}))
>>> second = book.record_alert(Alert("P-101", t + pd.Timedelta("1h"), "rul-v1", 0.9, "critical", {"temp": -5.0}))
>>> first == second, book.case(first)["n_alerts"], book.case(first)["risk_level"]
(True, 2, 'critical')
>>> book.acknowledge(first, by="planner")["status"]
'acknowledged'
>>> book.close_case(first, note="replaced bearing", by="planner")["status"]
'closed'
>>> book.record_alert(Alert("P-101", t + pd.Timedelta("2D"), "rul-v1", 0.8, "high", {})) != first
True

The policy state travels with the alerts it causes:

>>> from forewarn.decide.alerts import AlertPolicy
>>> policy = AlertPolicy(threshold=0.5)
>>> alert = policy.update("P-202", t, 0.9, model_id="rul-v1")
>>> [book.case(c)["asset_id"] for c in book.file_alerts([alert], {"rul-v1:pump": policy.get_state(["P-202"])})]
['P-202']
>>> AlertPolicy(threshold=0.5).set_state(book.policy_state("rul-v1:pump")).is_active("P-202")
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from forewarn.base.timespan import utc_minute
from forewarn.decide.alerts import FAILURE_SOURCE, Alert
from forewarn.decide.case_filing import (
    CaseChange,
    FiledKey,
    FilingPlan,
    OpenCase,
    epoch_us,
    filed_key,
    plan_filing,
    utc,
)
from forewarn.decide.quiet import (
    DEFAULT_CLOSE_QUIET,
    QUIET_CLOSER,
    SILENT_PREFIX,
    quiet_note,
    resumed_note,
    silent_note,
    went_quiet,
)
from forewarn.decide.risk import RISK_LEVELS
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError, StateError
from forewarn.store.pg_sql import is_postgres_url
from forewarn.store.queries import match_filter

OPEN_STATUSES = ("open", "acknowledged")
#: the kinds of the asset's own case (one open at a time, whatever opened it): a forewarning, or a recorded failure
ASSET_CASE_KINDS = ("health", "failure")
STATUSES = ("open", "acknowledged", "closed")
#: seconds a PostgreSQL case book trusts its in-memory map of open cases (other processes file and close cases too)
OPEN_CASES_TTL = 1.0

DDL = """
CREATE SEQUENCE IF NOT EXISTS case_ids START 1;
CREATE SEQUENCE IF NOT EXISTS alert_ids START 1;
CREATE TABLE IF NOT EXISTS cases (
    case_id BIGINT PRIMARY KEY,
    asset_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    risk_level VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    opened_ts TIMESTAMPTZ NOT NULL,
    last_alert_ts TIMESTAMPTZ NOT NULL,
    n_alerts INTEGER NOT NULL,
    top_sensors VARCHAR NOT NULL,
    acknowledged_ts TIMESTAMPTZ,
    acknowledged_by VARCHAR,
    closed_ts TIMESTAMPTZ,
    closed_by VARCHAR,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id BIGINT PRIMARY KEY,
    case_id BIGINT NOT NULL,
    asset_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    model_id VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    probability DOUBLE,
    rul DOUBLE,
    risk_level VARCHAR NOT NULL,
    explanation VARCHAR NOT NULL
);
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'health';
CREATE TABLE IF NOT EXISTS alert_state (
    policy VARCHAR NOT NULL,
    asset_id VARCHAR NOT NULL,
    active BOOLEAN NOT NULL,
    streak INTEGER NOT NULL,
    last_active_ns BIGINT NOT NULL,
    last_ns BIGINT NOT NULL,
    PRIMARY KEY (policy, asset_id)
);
"""

CASE_COLUMNS = (
    "case_id",
    "asset_id",
    "status",
    "risk_level",
    "model_id",
    "opened_ts",
    "last_alert_ts",
    "n_alerts",
    "top_sensors",
    "acknowledged_ts",
    "acknowledged_by",
    "closed_ts",
    "closed_by",
    "note",
    "kind",
)
STATE_COLUMNS = ("asset_id", "active", "streak", "last_active_ns", "last_ns")
ALERT_COLUMNS = (
    "alert_id",
    "case_id",
    "asset_id",
    "ts",
    "model_id",
    "score",
    "probability",
    "rul",
    "risk_level",
    "explanation",
    "source",
)


def casebook_path_for(store_path: str | os.PathLike[str] | Any) -> str:
    """The case-book file beside a store file (``plant.duckdb`` -> ``plant.cases.duckdb``); memory for memory; a
    PostgreSQL store's own database for a PostgreSQL store. Give the open store itself (not its ``path``, which
    hides a password) where the URL may hold one.

    >>> casebook_path_for("/data/plant.duckdb"), casebook_path_for(":memory:")
    ('/data/plant.cases.duckdb', ':memory:')
    >>> casebook_path_for("postgresql://svc@db.plant/plant")
    'postgresql://svc@db.plant/plant'
    """
    url = getattr(store_path, "url", None)  # a PgStore: its URL as given (its path is redacted)
    if url is not None and is_postgres_url(url):
        return str(url)
    text = str(getattr(store_path, "path", store_path))
    if text == ":memory:" or is_postgres_url(text):
        return text
    path = Path(text)
    return str(path.with_name(path.stem + ".cases.duckdb"))


def _record(row: tuple[Any, ...], columns: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name, value in zip(columns, row, strict=True):
        if isinstance(value, dt.datetime):
            stamp = pd.Timestamp(value)
            value = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        out[name] = value
    if "top_sensors" in out:
        out["top_sensors"] = [s for s in str(out["top_sensors"]).split(",") if s]
    if "explanation" in out:
        out["explanation"] = json.loads(out["explanation"])
    return out


class CaseBook:
    """Alerts and cases in a DuckDB database, or in a PostgreSQL store's database (``path`` a
    ``postgresql://`` URL); safe to share between threads (calls are serialised). ``close_quiet``: the case rule's
    gap (``None``: a case never closes by itself)."""

    def __init__(
        self, path: str | os.PathLike[str] = ":memory:", *, close_quiet: pd.Timedelta | None = DEFAULT_CLOSE_QUIET
    ):
        self.path = str(path)
        self.quiet = close_quiet
        self.shared = is_postgres_url(self.path)  # other processes write the same book
        self._con: Any
        if self.shared:
            from forewarn.store.pg_cases import CaseConnection

            self._con = CaseConnection(self.path)
            self.path = self._con.path  # redacted: the path is shown in status answers
        else:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._con = duckdb.connect(self.path)
            except duckdb.Error as err:
                raise ConfigError(f"cannot open the case book {self.path!r}: {err}") from None
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute(DDL)
        self._lock = threading.RLock()
        # asset -> its open case: read on every health request, so kept in memory (re-read when shared)
        self._open: dict[str, int] = {}
        self._open_read = 0.0
        try:
            self._read_open()
        except Exception:  # e.g. a PostgreSQL role without the case book's rights: no connection left open
            self._con.close()
            raise

    def _read_open(self) -> None:
        self._open = {
            str(a): int(c)
            for a, c in self._con.execute(
                "SELECT asset_id, case_id FROM cases WHERE status IN ('open', 'acknowledged') "
                "AND kind IN ('health', 'failure')"
            ).fetchall()
        }
        self._open_read = time.monotonic()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._con.close()

    def _begin(self) -> None:
        """Start a writing transaction (on PostgreSQL it holds the book's advisory lock until it ends)."""
        self._con.execute("BEGIN TRANSACTION")

    def _rollback(self) -> None:
        with contextlib.suppress(Exception):  # a lost connection has rolled back already; the caller's error counts
            self._con.execute("ROLLBACK")

    # -- writing ----------------------------------------------------------------------------------------
    def record_alert(self, alert: Alert) -> int:
        """Store an alert; attach it to the asset's open case or open a new one. Returns the case id."""
        return self.file_alerts([alert])[0]

    def file_alerts(
        self, alerts: Sequence[Alert], policy_states: Mapping[str, Mapping[str, Any]] | None = None
    ) -> list[int]:
        """Store alerts (each on its asset's open case, or a new one) and alert-policy state in one transaction.

        ``policy_states`` maps a policy name to :meth:`forewarn.decide.alerts.AlertPolicy.get_state` output
        (usually of the assets just updated); those rows replace the stored ones. Either everything is written
        or, on any error, nothing. Returns the case id of each alert.

        Filing is idempotent for alerts that name their ``source``: an alert of the same source, model, asset and
        time as one already in the book is not stored again (its case id is returned), so a stream that files its
        alerts again after a restart (it cannot commit its own tables and this book in one transaction) opens no
        second case.

        A batch is written in a few statements whatever its size (:meth:`_write_alerts`; the rule of filing the
        alerts one at a time, with the same case and alert ids): the first start of a service on a store with
        hundreds of down assets not yet filed files them all at once.
        """
        for alert in alerts:
            if alert.risk_level not in RISK_LEVELS:
                raise SchemaError(
                    f"risk level {alert.risk_level!r} is not one of {', '.join(RISK_LEVELS)}", column="risk_level"
                )
        with self._lock:
            con = self._con
            self._begin()
            try:
                plan = self._write_alerts(alerts)
                for policy, state in (policy_states or {}).items():
                    self._write_policy_state(str(policy), state)
                con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
            self._forget_open([c.case_id for c in plan.closed])
            for alert, case_id in zip(alerts, plan.cases, strict=True):
                # an alert filed before may sit on a closed case; a drift case (source "drift") is not the health case
                if case_id not in plan.filed_before and alert.source != "drift":
                    self._open[alert.asset_id] = case_id
        return plan.cases

    def _forget_open(self, case_ids: Sequence[int]) -> None:
        """These cases are closed now: no asset has them as its open case."""
        gone = set(case_ids)
        for asset, open_id in list(self._open.items()):
            if open_id in gone:
                self._open.pop(asset)

    def _closing_columns(self, closed: Sequence[CaseChange | None]) -> dict[str, Any]:
        """``closed_ts, closed_by, note`` of cases that went quiet (at their last alarm + the gap; None: open)."""
        quiet = self.quiet or pd.Timedelta(0)
        return {
            "closed_ts": pd.DatetimeIndex([pd.NaT if c is None else utc(c.last_alarm) + quiet for c in closed]),
            "closed_by": pd.array([None if c is None else QUIET_CLOSER for c in closed], dtype=object),
            "note": pd.array([None if c is None else quiet_note(quiet, c.last_alarm) for c in closed], dtype=object),
        }

    def _write_quiet_closes(self, closed: Sequence[CaseChange]) -> None:
        """Close the cases that went quiet (inside the caller's transaction), at their last alarm + the gap."""
        if not closed or self.quiet is None:
            return
        rows = pd.DataFrame({"case_id": [int(c.case_id) for c in closed], **self._closing_columns(closed)})
        self._insert_frame(
            "UPDATE cases SET status = 'closed', closed_ts = u.closed_ts, closed_by = u.closed_by, "
            "note = u.note || coalesce('; earlier note: ' || cases.note, '') FROM {rows} u "
            "WHERE cases.case_id = u.case_id",
            rows,
        )

    def close_quiet(self, latest: Mapping[str, Any]) -> list[int]:
        """Close the open cases (kind ``health``, no failure on them) of the assets in ``latest`` (asset -> the time
        its readings have reached) that went quiet by then (the case rule; a no-op when ``close_quiet`` is None).
        An asset that an alert policy of the book scores is read at the last time one scored it, if earlier (its
        newer readings are not scored yet: it may be in alert at them). Returns the ids of the cases closed.

        >>> from forewarn.decide.alerts import Alert
        >>> book = CaseBook(close_quiet=pd.Timedelta("7D"))
        >>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
        >>> case_id = book.record_alert(Alert("P-1", t, "detect", 0.9, "high", {}))
        >>> book.close_quiet({"P-1": t + pd.Timedelta("7D")}), book.close_quiet({"P-1": t + pd.Timedelta("8D")})
        ([], [1])
        >>> book.case(case_id)["closed_by"], str(book.case(case_id)["closed_ts"]), book.open_case_id("P-1")
        ('forewarn', '2024-05-08 08:00:00+00:00', None)
        """
        if self.quiet is None or not latest:
            return []
        with self._lock:
            self._begin()
            try:
                found = self._con.execute(
                    "SELECT c.case_id, c.asset_id, c.last_alert_ts, c.risk_level FROM cases c "
                    "WHERE c.status IN ('open', 'acknowledged') AND c.kind = 'health' "
                    "AND c.asset_id IN (SELECT unnest(?)) AND NOT EXISTS "
                    "(SELECT 1 FROM alerts a WHERE a.case_id = c.case_id AND a.source = ?)",
                    [sorted(str(a) for a in latest), FAILURE_SOURCE],
                ).fetchall()
                assets = sorted({str(a) for _, a, _, _ in found})
                active, scored = self._policy_alarms(assets), self._policy_alarms(assets, "last_ns")
                closed = []
                for case_id, asset, last, risk in found:
                    change = CaseChange(int(case_id), str(asset), "", str(risk), "", utc(last), utc(last), "")
                    change.last_alarm = max(utc(last), active.get(str(asset), utc(last)))
                    if latest[str(asset)] is None:
                        continue
                    now = min(utc(latest[str(asset)]), scored.get(str(asset), utc(latest[str(asset)])))
                    if went_quiet(change.last_alarm, now, self.quiet):
                        closed.append(change)
                self._write_quiet_closes(closed)
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
            self._forget_open([c.case_id for c in closed])
        return [c.case_id for c in closed]

    def note_silent(self, latest: Mapping[str, Any], now: Any) -> list[int]:
        """Say on the open cases (kind ``health``, no failure on them) of the assets in ``latest`` (asset -> the time
        of its newest reading) whose readings stopped more than ``close_quiet`` before ``now`` (how far the plant's
        readings went) that they did: the note becomes "no readings since ..." (:func:`~forewarn.decide.quiet.silent_note`;
        an earlier note is kept after it), and the case stays open: silence is no evidence that the asset went quiet,
        so the case rule does not close it. Once the asset's readings come back, the note says for how long they
        stopped (:func:`~forewarn.decide.quiet.resumed_note`). Returns the ids of the cases whose note changed.

        >>> book = CaseBook(close_quiet=pd.Timedelta("7D"))
        >>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
        >>> case_id = book.record_alert(Alert("P-1", t, "detect", 0.9, "high", {}))
        >>> book.note_silent({"P-1": t + pd.Timedelta("1h")}, t + pd.Timedelta("7D1h")), book.note_silent({"P-1": t + pd.Timedelta("1h")}, t + pd.Timedelta("9D"))
        ([], [1])
        >>> book.case(case_id)["status"], book.case(case_id)["note"][:38]
        ('open', 'no readings since 2024-05-01 09:00 UTC')
        >>> book.note_silent({"P-1": t + pd.Timedelta("10D")}, t + pd.Timedelta("10D")), book.case(case_id)["note"]
        ([1], 'no readings from 2024-05-01 09:00 UTC to 2024-05-11 08:00 UTC')
        """
        if self.quiet is None or not latest:
            return []
        stamp = utc(now)
        with self._lock:
            self._begin()
            try:
                found = self._con.execute(
                    "SELECT c.case_id, c.asset_id, c.note FROM cases c WHERE c.status IN ('open', 'acknowledged') "
                    "AND c.kind = 'health' AND c.asset_id IN (SELECT unnest(?)) AND NOT EXISTS "
                    "(SELECT 1 FROM alerts a WHERE a.case_id = c.case_id AND a.source = ?)",
                    [sorted(str(a) for a in latest), FAILURE_SOURCE],
                ).fetchall()
                changed = []
                for case_id, asset, note in found:
                    last = latest[str(asset)]
                    if last is None:
                        continue
                    last, old = utc(last), str(note or "")
                    noted = old.startswith(SILENT_PREFIX)
                    kept = old.split("; earlier note: ", 1)[1] if noted and "; earlier note: " in old else ""
                    if went_quiet(last, stamp, self.quiet):
                        text = silent_note(last)
                        if old.startswith(text):
                            continue
                        earlier = kept if noted else old
                    elif noted:
                        since = pd.Timestamp(old[len(SILENT_PREFIX) : len(SILENT_PREFIX) + 16], tz="UTC")
                        text, earlier = resumed_note(since, last), kept
                    else:
                        continue
                    new = text + (f"; earlier note: {earlier}" if earlier else "")
                    self._con.execute("UPDATE cases SET note = ? WHERE case_id = ?", [new, int(case_id)])
                    changed.append(int(case_id))
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
        return changed

    def open_assets(self) -> list[str]:
        """The assets that have an open (or acknowledged) case of their own, sorted."""
        with self._lock:
            if self.shared:
                self._read_open()
            return sorted(self._open)

    def _write_alerts(self, alerts: Sequence[Alert]) -> FilingPlan:
        """Write alerts and their cases (inside the caller's transaction) in a few statements, whatever their number:
        the alerts filed already and the assets' open cases are read in two queries, the plan is made in memory
        (:func:`~forewarn.decide.case_filing.plan_filing`, the rule of filing one at a time), and the new cases,
        the cases' changes and the alerts are written in one statement each. Returns the plan, its ``cases``
        numbered."""
        if not alerts:
            return FilingPlan()
        plan = plan_filing(
            alerts, filed=self._filed_cases(alerts), open_cases=self._open_cases(alerts), quiet=self.quiet
        )
        # the book's cases that went quiet close first, and a new case that went quiet within the batch is written
        # closed: a PostgreSQL book holds one open case per asset and kind at any moment (``cases_one_open``)
        self._write_quiet_closes([c for c in plan.closed if c.case_id >= 0])
        quiet_new = {id(c) for c in plan.closed if c.case_id < 0}
        numbers = self._next_ids("case_ids", len(plan.new))
        for change, number in zip(plan.new, numbers, strict=True):
            change.case_id = number
        plan.cases = [numbers[-c - 1] if c < 0 else c for c in plan.cases]
        if plan.new:
            rows = pd.DataFrame(
                {
                    "case_id": [c.case_id for c in plan.new],
                    "asset_id": [c.asset_id for c in plan.new],
                    "risk_level": [c.risk_level for c in plan.new],
                    "model_id": [c.model_id for c in plan.new],
                    "opened_ts": pd.DatetimeIndex([c.opened_ts for c in plan.new]),
                    "last_alert_ts": pd.DatetimeIndex([c.last_alert_ts for c in plan.new]),
                    "n_alerts": [c.n_alerts for c in plan.new],
                    "top_sensors": [c.top_sensors for c in plan.new],
                    "kind": [c.kind for c in plan.new],
                    **self._closing_columns([c if id(c) in quiet_new else None for c in plan.new]),
                }
            )
            self._insert_frame(
                "INSERT INTO cases (case_id, asset_id, status, risk_level, model_id, opened_ts, last_alert_ts, "
                "n_alerts, top_sensors, kind, closed_ts, closed_by, note) SELECT case_id, asset_id, "
                "CASE WHEN closed_by IS NULL THEN 'open' ELSE 'closed' END, risk_level, model_id, opened_ts, "
                "last_alert_ts, n_alerts, top_sensors, kind, closed_ts, CAST(closed_by AS VARCHAR), "
                "CAST(note AS VARCHAR) FROM {rows}",
                rows,
            )
        if plan.updated:
            rows = pd.DataFrame(
                {
                    "case_id": [c.case_id for c in plan.updated],
                    "n_alerts": [c.n_alerts for c in plan.updated],
                    "risk_level": [c.risk_level for c in plan.updated],
                    "model_id": [c.model_id for c in plan.updated],
                    "last_alert_ts": pd.DatetimeIndex([c.last_alert_ts for c in plan.updated]),
                    "top_sensors": [c.top_sensors for c in plan.updated],
                }
            )
            self._insert_frame(
                "UPDATE cases SET n_alerts = cases.n_alerts + u.n_alerts, risk_level = u.risk_level, "
                "model_id = u.model_id, last_alert_ts = greatest(cases.last_alert_ts, u.last_alert_ts), "
                "top_sensors = u.top_sensors FROM {rows} u WHERE cases.case_id = u.case_id",
                rows,
            )
        if plan.stored:
            stored = [alerts[i] for i in plan.stored]
            rows = pd.DataFrame(
                {
                    "alert_id": self._next_ids("alert_ids", len(stored)),
                    "case_id": [plan.cases[i] for i in plan.stored],
                    "asset_id": [a.asset_id for a in stored],
                    "ts": pd.DatetimeIndex([utc(a.ts) for a in stored]),
                    "model_id": [a.model_id for a in stored],
                    "score": np.asarray([a.score for a in stored], dtype="float64"),
                    "probability": pd.array([a.probability for a in stored], dtype="Float64"),
                    "rul": pd.array([a.rul for a in stored], dtype="Float64"),
                    "risk_level": [a.risk_level for a in stored],
                    "explanation": [json.dumps(a.explanation) for a in stored],
                    "source": pd.array([a.source for a in stored], dtype=object),
                }
            )
            self._insert_frame(
                f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) SELECT {', '.join(ALERT_COLUMNS)} FROM {{rows}}", rows
            )
        return plan

    def _insert_frame(self, sql: str, rows: pd.DataFrame) -> None:
        """Run ``sql`` (an INSERT or UPDATE reading ``{rows}``) with ``rows`` registered as a table."""
        name = "_case_book_rows"
        self._con.register(name, rows)
        try:
            self._con.execute(sql.format(rows=name))
        finally:
            self._con.unregister(name)

    def _next_ids(self, sequence: str, n: int) -> list[int]:
        """The next ``n`` values of ``sequence``, ascending (the ids filing one at a time hands out, in order)."""
        if n == 0:
            return []
        found = self._con.execute(
            f"SELECT nextval('{sequence}') FROM (SELECT unnest(?) AS k) t", [[str(k) for k in range(n)]]
        ).fetchall()
        return sorted(int(row[0]) for row in found)

    def _filed_cases(self, alerts: Sequence[Alert]) -> dict[FiledKey, int]:
        """The cases of the alerts of ``alerts``' keys (:func:`~forewarn.decide.case_filing.filed_key`) already in
        the book: one query over the assets and the batch's time span."""
        keyed = [a for a in alerts if a.source is not None]
        if not keyed:
            return {}
        wanted = {filed_key(a) for a in keyed}
        stamps = [utc(a.ts) for a in keyed]
        found = self._con.execute(
            "SELECT source, model_id, asset_id, ts, case_id FROM alerts WHERE source IS NOT NULL "
            "AND asset_id IN (SELECT unnest(?)) AND ts >= ? AND ts <= ?",
            [sorted({str(a.asset_id) for a in keyed}), min(stamps), max(stamps)],
        ).fetchall()
        out: dict[FiledKey, int] = {}
        for source, model_id, asset_id, ts, case_id in found:
            key = (str(source), str(model_id), str(asset_id), epoch_us(ts))
            if key in wanted:
                out[key] = min(out.get(key, int(case_id)), int(case_id))
        return out

    def _open_cases(self, alerts: Sequence[Alert]) -> dict[tuple[str, str], OpenCase]:
        """``{(asset, group): its open case}`` of ``alerts``' assets (group: ``drift``, or ``asset`` for the asset's
        own case of kind health or failure; the one opened first), one query."""
        found = self._con.execute(
            "SELECT c.asset_id, c.kind, c.case_id, c.risk_level, c.last_alert_ts, EXISTS (SELECT 1 FROM alerts a "
            "WHERE a.case_id = c.case_id AND a.source = ?) FROM cases c WHERE c.status IN ('open', 'acknowledged') "
            "AND c.asset_id IN (SELECT unnest(?)) ORDER BY c.opened_ts DESC, c.case_id DESC",
            [FAILURE_SOURCE, sorted({str(a.asset_id) for a in alerts})],
        ).fetchall()
        active = self._policy_alarms(sorted({str(row[0]) for row in found}))
        out: dict[tuple[str, str], OpenCase] = {}
        for asset_id, kind, case_id, risk_level, last, failed in found:  # the latest first: the first is written last
            group = "drift" if kind == "drift" else "asset" if kind in ASSET_CASE_KINDS else None
            if group is not None:
                alarm = max(utc(last), active.get(str(asset_id), utc(last)))
                out[(str(asset_id), group)] = OpenCase(
                    int(case_id), str(risk_level), alarm, bool(failed) or kind == "failure"
                )
        return out

    def _policy_alarms(self, asset_ids: Sequence[str], column: str = "last_active_ns") -> dict[str, pd.Timestamp]:
        """The last time any alert policy of the book saw each asset in alert (its stored ``last_active_ns``), or
        (``column="last_ns"``) scored it at all."""
        if not asset_ids:
            return {}
        found = self._con.execute(
            f"SELECT asset_id, max({column}) FROM alert_state WHERE asset_id IN (SELECT unnest(?)) "
            f"AND {column} > ? GROUP BY asset_id",
            [list(asset_ids), int(np.iinfo("int64").min)],
        ).fetchall()
        return {str(a): pd.Timestamp(int(ns), tz="UTC") for a, ns in found if ns is not None}

    def is_filed(self, alert: Alert) -> bool:
        """Whether this alert (same source, model, asset and time) is in the book already, on any case."""
        with self._lock:
            return filed_key(alert) in self._filed_cases([alert])

    def close_renewed(self, renewed: Mapping[str, Any], *, by: str = "forewarn") -> list[int]:
        """Close the open case of each asset in ``renewed`` (asset -> the time of its renewing maintenance) that
        holds a recorded failure (:func:`~forewarn.decide.alerts.failure_alert`) from before that maintenance: the
        repair is what the case asked for. The note says so; returns the ids of the cases closed.

        >>> from forewarn.decide.alerts import failure_alert
        >>> book = CaseBook()
        >>> case_id = book.record_alert(failure_alert("P-7", "2024-05-02 06:00"))
        >>> book.case(case_id)["kind"], book.open_case_id("P-7") == case_id
        ('failure', True)
        >>> book.close_renewed({"P-7": "2024-05-01 09:00"})  # a maintenance before the failure renews nothing
        []
        >>> book.close_renewed({"P-7": "2024-05-03 10:00"}) == [case_id], book.open_case_id("P-7")
        (True, None)
        >>> book.case(case_id)["note"]
        'renewed: maintenance recorded at 2024-05-03 10:00 UTC after the failure at 2024-05-02 06:00 UTC'
        """
        closed: list[int] = []
        with self._lock:
            self._begin()
            try:
                for asset_id, at in renewed.items():
                    when = pd.Timestamp(at)
                    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
                    row = self._con.execute(
                        "SELECT c.case_id, max(a.ts) FROM cases c JOIN alerts a ON a.case_id = c.case_id "
                        "WHERE c.asset_id = ? AND c.status IN ('open', 'acknowledged') "
                        "AND c.kind IN ('health', 'failure') AND a.source = ? AND a.ts <= ? GROUP BY c.case_id",
                        [str(asset_id), FAILURE_SOURCE, when],
                    ).fetchone()
                    if row is None:
                        continue
                    failed = utc_minute(row[1])
                    note = f"renewed: maintenance recorded at {utc_minute(when)} after the failure at {failed}"
                    self._con.execute(
                        "UPDATE cases SET status = 'closed', closed_ts = now(), closed_by = ?, note = ? "
                        "WHERE case_id = ?",
                        [by, note, int(row[0])],
                    )
                    closed.append(int(row[0]))
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
            self._forget_open(closed)
        return closed

    def _write_policy_state(self, policy: str, state: Mapping[str, Any]) -> None:
        """Replace the stored rows of ``policy`` for the assets in ``state`` (inside the caller's transaction)."""
        missing = [k for k in STATE_COLUMNS if k not in state]
        if missing:
            raise StateError(f"alert policy state for {policy!r} lacks {', '.join(missing)}")
        columns = {k: np.asarray(state[k]).reshape(-1) for k in STATE_COLUMNS}
        if len({len(c) for c in columns.values()}) != 1:
            raise StateError(f"alert policy state arrays for {policy!r} have different lengths")
        if len(columns["asset_id"]) == 0:
            return
        rows = pd.DataFrame(
            {
                "policy": policy,
                "asset_id": columns["asset_id"].astype(str),
                "active": columns["active"].astype(bool),
                "streak": columns["streak"].astype("int64"),
                "last_active_ns": columns["last_active_ns"].astype("int64"),
                "last_ns": columns["last_ns"].astype("int64"),
            }
        )
        self._con.register("_alert_state_rows", rows)
        try:
            self._con.execute(
                "INSERT INTO alert_state SELECT policy, asset_id, active, streak, last_active_ns, last_ns "
                "FROM _alert_state_rows ON CONFLICT (policy, asset_id) DO UPDATE SET active = excluded.active, "
                "streak = excluded.streak, last_active_ns = excluded.last_active_ns, last_ns = excluded.last_ns"
            )
        finally:
            self._con.unregister("_alert_state_rows")

    def acknowledge(self, case_id: int, *, by: str = "", note: str | None = None) -> dict[str, Any]:
        """Mark an open case as seen by ``by``; acknowledging a closed case is an error."""
        with self._lock:
            self._begin()
            try:
                case = self.case(case_id)
                if case["status"] == "closed":
                    raise StateError(f"case {case_id} is closed; it cannot be acknowledged")
                self._con.execute(
                    "UPDATE cases SET status = 'acknowledged', acknowledged_ts = now(), acknowledged_by = ?, "
                    "note = coalesce(?, note) WHERE case_id = ?",
                    [by, note, int(case_id)],
                )
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
            return self.case(case_id)

    def close_case(self, case_id: int, *, note: str, by: str = "") -> dict[str, Any]:
        """Close a case with a note saying what was done (the note is required)."""
        if not isinstance(note, str) or not note.strip():
            raise SchemaError("closing a case needs a note saying what was found or done", column="note")
        with self._lock:
            self._begin()
            try:
                case = self.case(case_id)
                if case["status"] == "closed":
                    raise StateError(f"case {case_id} is already closed (on {case['closed_ts']})")
                self._con.execute(
                    "UPDATE cases SET status = 'closed', closed_ts = now(), closed_by = ?, note = ? WHERE case_id = ?",
                    [by, note.strip(), int(case_id)],
                )
                self._con.execute("COMMIT")
            except Exception:
                self._rollback()
                raise
            if self._open.get(case["asset_id"]) == int(case_id):  # a drift case is not the asset's health case
                self._open.pop(case["asset_id"], None)
            return self.case(case_id)

    # -- reading ----------------------------------------------------------------------------------------
    def policy_state(self, policy: str) -> dict[str, np.ndarray]:
        """The stored state of one alert policy, in the layout of ``AlertPolicy.get_state`` (empty if none)."""
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(STATE_COLUMNS)} FROM alert_state WHERE policy = ? ORDER BY asset_id", [str(policy)]
            ).fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(STATE_COLUMNS)
        dtypes: tuple[Any, ...] = (str, bool, "int64", "int64", "int64")
        return {name: np.asarray(list(v), dtype=d) for name, v, d in zip(STATE_COLUMNS, values, dtypes, strict=True)}

    def case(self, case_id: int) -> dict[str, Any]:
        """One case as a dict; an unknown id raises :class:`DataNotFoundError`."""
        with self._lock:
            row = self._con.execute(
                f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE case_id = ?", [int(case_id)]
            ).fetchone()
        if row is None:
            raise DataNotFoundError(f"no case with id {case_id}; list cases with GET /api/v1/cases")
        return _record(row, CASE_COLUMNS)

    def cases_by_id(self, case_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The cases of ``case_ids`` (unknown ids left out), in one query: what a fleet's health answers name."""
        ids = sorted({int(i) for i in case_ids})
        if not ids:
            return {}
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE case_id IN ({', '.join('?' * len(ids))})", ids
            ).fetchall()
        found = [_record(r, CASE_COLUMNS) for r in rows]
        return {int(c["case_id"]): c for c in found}

    def cases(
        self, *, status: str | None = None, asset_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Cases, newest first; ``status="open"`` means open or acknowledged."""
        where, params = ["true"], []
        if status is not None:
            if status not in STATUSES:
                raise SchemaError(f"status {status!r} is not one of {', '.join(STATUSES)}", column="status")
            if status == "open":
                where.append("status IN ('open', 'acknowledged')")
            else:
                where.append("status = ?")
                params.append(status)
        if asset_id is not None:
            where.append("asset_id = ?")
            params.append(asset_id)
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE {' AND '.join(where)} "
                f"ORDER BY opened_ts DESC, case_id DESC LIMIT {int(limit)}",
                params,
            ).fetchall()
        return [_record(r, CASE_COLUMNS) for r in rows]

    def open_case_of(self, asset_id: str) -> dict[str, Any] | None:
        """The open (or acknowledged) case of an asset, if any."""
        case_id = self.open_case_id(asset_id)
        return None if case_id is None else self.case(case_id)

    def open_case_id(self, asset_id: str) -> int | None:
        """The id of the asset's open (or acknowledged) case, if any (from memory, no query; a shared book re-reads
        every open case when its memory is older than :data:`OPEN_CASES_TTL`)."""
        if self.shared and time.monotonic() - self._open_read > OPEN_CASES_TTL:
            with self._lock:
                if time.monotonic() - self._open_read > OPEN_CASES_TTL:
                    self._read_open()
        return self._open.get(str(asset_id))

    def alerts(
        self,
        *,
        asset_id: str | None = None,
        case_id: int | None = None,
        start: Any = None,
        end: Any = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Alerts, newest first, optionally of one asset or case and in ``[start, end)``."""
        where, params = match_filter({"asset_id": asset_id, "case_id": case_id}, start=start, end=end)
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE {where} "
                f"ORDER BY ts DESC, alert_id DESC LIMIT {int(limit)}",
                params,
            ).fetchall()
        return [_record(r, ALERT_COLUMNS) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of cases per status and of alerts."""
        with self._lock:
            rows = self._con.execute("SELECT status, count(*) FROM cases GROUP BY status").fetchall()
            n_alerts = self._con.execute("SELECT count(*) FROM alerts").fetchone()[0]
        out = dict.fromkeys(STATUSES, 0)
        out.update({str(s): int(n) for s, n in rows})
        return {**out, "alerts": int(n_alerts)}
