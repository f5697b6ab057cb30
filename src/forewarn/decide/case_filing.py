"""Which case each alert of a batch goes on, worked out in memory so the case book writes a batch in a few bulk
statements (:meth:`forewarn.decide.cases.CaseBook.file_alerts`).

The rule is the case book's (:mod:`forewarn.decide.cases`), applied to the alerts in their order as if they were
filed one at a time:

- an alert that names its ``source`` and is in the book already (same source, model, asset and time; or earlier
  in the same batch) is not stored again: it takes the case it is on;
- a drift alert (source ``drift``) goes on the asset's open drift case, any other on the asset's own open case
  (kind ``health`` or ``failure``, the one opened first); with none, it opens a case (kind ``drift``, ``failure``
  for a recorded failure, else ``health``), which later alerts of the batch join;
- a case's alert count grows by one per alert, its risk level becomes the worse of its own and the alert's, its
  model and top sensors become the alert's, its last alert time the latest;
- the case rule's gap (:func:`~forewarn.decide.quiet.went_quiet`, the backtest's): an asset's own case that holds no
  failure and whose last alarm (its last alert, or the last time an alert policy saw the asset still in alert) came
  more than ``quiet`` before the alert is closed (``closed``: it went quiet at that alarm + ``quiet``), and the alert
  opens a new case. A case holding a failure waits for the repair.

New cases are numbered in the order they open (``new`` holds them in that order), so the ids a sequence hands out
in that order are the ids one-at-a-time filing gave.

>>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
>>> alerts = [
...     Alert("P-1", t, "m", 0.7, "high", {"temp": 2.0, "vib": -1.0}, source="service"),
...     Alert("P-1", t + pd.Timedelta("1h"), "m", 0.9, "critical", {"vib": 3.0}, source="service"),
...     Alert("P-2", t, "m", 0.6, "medium", {}, source="service"),
...     Alert("P-1", t, "m", 0.7, "high", {"temp": 2.0}, source="service"),  # the first one again
... ]
>>> plan = plan_filing(alerts, filed={}, open_cases={("P-2", "asset"): OpenCase(7, "high")})
>>> plan.cases, [(c.asset_id, c.n_alerts, c.risk_level, c.top_sensors) for c in plan.new]
([-1, -1, 7, -1], [('P-1', 2, 'critical', 'vib')])
>>> [(u.case_id, u.n_alerts, u.risk_level) for u in plan.updated], plan.stored, plan.filed_before
([(7, 1, 'high')], [0, 1, 2], set())

An alert that comes more than ``quiet`` after the open case's last alert closes it and opens another:

>>> stale = OpenCase(7, "high", last_alarm=t - pd.Timedelta("8D"))
>>> plan = plan_filing(alerts[2:3], filed={}, open_cases={("P-2", "asset"): stale}, quiet=pd.Timedelta("7D"))
>>> plan.cases, [c.case_id for c in plan.closed], [c.case_id for c in plan.updated]
([-1], [7], [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from forewarn.decide.alerts import FAILURE_SOURCE, Alert
from forewarn.decide.quiet import went_quiet
from forewarn.decide.risk import RISK_LEVELS

#: the key of an alert already in the book: source, model, asset and time in epoch microseconds
FiledKey = tuple[str, str, str, int]


@dataclass
class OpenCase:
    """An open case of the book: its id, risk level, last alarm (its last alert, or later the last time an alert
    policy saw the asset in alert) and whether it holds a recorded failure."""

    case_id: int
    risk_level: str
    last_alarm: pd.Timestamp | None = None
    holds_failure: bool = False


@dataclass
class CaseChange:
    """A case a batch opens (``case_id`` -1 until the book numbers it) or adds alerts to."""

    case_id: int
    asset_id: str
    kind: str
    risk_level: str
    model_id: str
    opened_ts: pd.Timestamp
    last_alert_ts: pd.Timestamp
    top_sensors: str
    n_alerts: int = 0
    holds_failure: bool = False
    last_alarm: pd.Timestamp | None = None


@dataclass
class FilingPlan:
    """What filing a batch writes: ``cases[i]`` is alert ``i``'s case id (negative ``-k - 1``: the ``k``-th case of
    ``new``); ``stored``: the alerts to insert (indices, in order); ``updated``: open cases the batch adds to
    (``n_alerts`` counts the batch's alerts only); ``filed_before``: cases of alerts found in the book already;
    ``closed``: cases (of the book or of ``new``) that went quiet before an alert of the batch (the case rule)."""

    cases: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    new: list[CaseChange] = field(default_factory=list)
    updated: list[CaseChange] = field(default_factory=list)
    filed_before: set[int] = field(default_factory=set)
    closed: list[CaseChange] = field(default_factory=list)


def utc(ts: Any) -> pd.Timestamp:
    """A time as a UTC timestamp (a naive one is read as UTC).

    >>> str(utc("2024-05-01 08:00")), str(utc(pd.Timestamp("2024-05-01 10:00", tz="Europe/Berlin")))
    ('2024-05-01 08:00:00+00:00', '2024-05-01 08:00:00+00:00')
    """
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def epoch_us(ts: Any) -> int:
    """A time in epoch microseconds (how the book stores it).

    >>> epoch_us("1970-01-01 00:00:01.5"), epoch_us(pd.Timestamp("2400-01-01"))  # beyond nanoseconds too
    (1500000, 13569465600000000)
    """
    return int(utc(ts).asm8.astype("datetime64[us]").astype("int64"))


def top_sensors(explanation: Mapping[str, float]) -> str:
    """The sensors pushing towards failure, strongest first (all by size when none does), the first three.

    >>> top_sensors({"a": 1.0, "b": 3.0, "c": -5.0}), top_sensors({"a": -1.0, "c": -5.0}), top_sensors({})
    ('b,a', 'c,a', '')
    """
    ranked = sorted(explanation.items(), key=lambda kv: -kv[1])
    rising = [name for name, value in ranked if value > 0] or [
        name for name, _ in sorted(explanation.items(), key=lambda kv: -abs(kv[1]))
    ]
    return ",".join(rising[:3])


def worse(a: str, b: str) -> str:
    """The worse of two risk levels.

    >>> worse("high", "medium"), worse("low", "critical")
    ('high', 'critical')
    """
    rank = {level: i for i, level in enumerate(RISK_LEVELS)}
    return a if rank.get(a, -1) >= rank.get(b, -1) else b


def case_kind(alert: Alert) -> str:
    """The kind of case an alert opens: ``drift``, ``failure`` (a recorded failure) or ``health``."""
    return "drift" if alert.source == "drift" else "failure" if alert.source == FAILURE_SOURCE else "health"


def case_group(alert: Alert) -> str:
    """Which of an asset's open cases an alert joins: its drift case (``drift``) or its own case (``asset``)."""
    return "drift" if alert.source == "drift" else "asset"


def filed_key(alert: Alert) -> FiledKey | None:
    """The key that finds an alert in the book (None: it names no source, so it is never matched)."""
    if alert.source is None:
        return None
    return (str(alert.source), str(alert.model_id), str(alert.asset_id), epoch_us(alert.ts))


def ends(case: CaseChange | OpenCase, group: str, ts: pd.Timestamp, quiet: pd.Timedelta | None) -> bool:
    """Whether an alert at ``ts`` finds ``case`` ended by the case rule: an asset's own case (group ``asset``) that
    holds no failure and went quiet (:func:`~forewarn.decide.quiet.went_quiet`) after its last alert."""
    return (
        group == "asset"
        and not case.holds_failure
        and case.last_alarm is not None
        and went_quiet(case.last_alarm, ts, quiet)
    )


def plan_filing(
    alerts: Sequence[Alert],
    *,
    filed: Mapping[FiledKey, int],
    open_cases: Mapping[tuple[str, str], OpenCase],
    quiet: pd.Timedelta | None = None,
) -> FilingPlan:
    """The plan of filing ``alerts`` (see the module text); ``filed``: the book's alerts of these keys and their
    cases; ``open_cases``: ``{(asset, group): the open case}`` (group as :func:`case_group` names it); ``quiet``: the
    case rule's gap (``None``: an open case never ends by itself)."""
    plan = FilingPlan()
    known: dict[FiledKey, int] = dict(filed)
    changes: dict[tuple[str, str], CaseChange] = {}
    for index, alert in enumerate(alerts):
        key = filed_key(alert)
        if key is not None and key in known:
            plan.cases.append(known[key])
            if key in filed:
                plan.filed_before.add(known[key])
            continue
        ts, top = utc(alert.ts), top_sensors(alert.explanation)
        slot = (str(alert.asset_id), case_group(alert))
        change = changes.get(slot)
        if change is not None and ends(change, slot[1], ts, quiet):
            plan.closed.append(change)
            change = None
        if change is None:
            stored = None if slot in changes else open_cases.get(slot)
            if stored is not None and ends(stored, slot[1], ts, quiet):
                gone = CaseChange(stored.case_id, slot[0], "", stored.risk_level, "", ts, ts, "")
                gone.last_alarm = utc(stored.last_alarm)
                plan.closed.append(gone)
                stored = None
            if stored is None:
                change = CaseChange(
                    -len(plan.new) - 1, slot[0], case_kind(alert), alert.risk_level, alert.model_id, ts, ts, top
                )
                plan.new.append(change)
            else:
                change = CaseChange(stored.case_id, slot[0], "", stored.risk_level, alert.model_id, ts, ts, top)
                change.holds_failure, change.last_alarm = stored.holds_failure, stored.last_alarm
                plan.updated.append(change)
            changes[slot] = change
        change.n_alerts += 1
        change.risk_level = worse(alert.risk_level, change.risk_level)
        change.model_id, change.top_sensors = alert.model_id, top
        change.last_alert_ts = max(change.last_alert_ts, ts)
        change.last_alarm = ts if change.last_alarm is None else max(utc(change.last_alarm), ts)
        change.holds_failure = change.holds_failure or alert.source == FAILURE_SOURCE
        plan.cases.append(change.case_id)
        plan.stored.append(index)
        if key is not None:
            known[key] = change.case_id
    return plan
