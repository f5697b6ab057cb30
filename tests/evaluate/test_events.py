"""Event-level maintenance figures."""

import pandas as pd
import pytest

from forewarn.evaluate.events import Costs, event_metrics
from forewarn.exceptions import SchemaError


def _frame(rows):
    return pd.DataFrame(rows, columns=["asset_id", "ts"])


FAILURES = _frame([("pump-1", "2024-03-10"), ("pump-2", "2024-05-01"), ("pump-3", "2024-06-01")])
OBSERVED = {a: ("2024-01-01", "2024-07-01") for a in ("pump-1", "pump-2", "pump-3")}


def test_caught_missed_lead_time_and_false_alarms():
    alerts = _frame(
        [
            ("pump-1", "2024-03-01"),
            ("pump-1", "2024-03-05"),  # both warn of the 10 March failure
            ("pump-2", "2024-02-01"),  # 3 months early: outside the 30-day horizon, a false alarm
            ("pump-3", "2024-06-02"),  # after the failure: a false alarm, and the failure is missed
        ]
    )
    m = event_metrics(alerts, FAILURES, horizon=pd.Timedelta(days=30), observed=OBSERVED)
    assert (m.failures, m.caught, m.missed, m.alerts, m.false_alarms) == (3, 1, 2, 4, 2)
    assert m.lead_times == [pd.Timedelta(days=9)]  # from the first warning
    assert m.catch_rate == pytest.approx(1 / 3)
    assert m.asset_months == pytest.approx(3 * 182 / (365.25 / 12))
    assert m.false_alarms_per_asset_month == pytest.approx(2 / m.asset_months)
    assert m.lead_time_summary()["median"] == pd.Timedelta(days=9)
    assert m.as_dict()["lead_time_mean"] == pytest.approx(9 * 24)


def test_min_lead_cooldown_and_cost():
    alerts = _frame(
        [
            ("pump-1", "2024-03-09 00:00"),
            ("pump-1", "2024-03-09 06:00"),
            ("pump-1", "2024-03-09 12:00"),
            ("pump-2", "2024-04-20"),
        ]
    )
    m = event_metrics(
        alerts,
        FAILURES,
        horizon=pd.Timedelta(days=30),
        min_lead=pd.Timedelta(days=2),
        cooldown=pd.Timedelta(days=1),
        costs=Costs(missed_failure=10_000, false_alarm=500, inspection=100),
    )
    # pump-1's alerts are 1 day before the failure, under the 2-day minimum lead: a miss, and one folded case
    assert (m.caught, m.alerts, m.false_alarms) == (1, 2, 1)
    assert m.lead_times == [pd.Timedelta(days=11)]
    assert m.cost == 2 * 10_000 + 1 * 500 + 2 * 100


def test_numeric_times_need_a_month_and_work_in_that_unit():
    alerts = pd.DataFrame({"asset_id": [7, 7], "ts": [90.0, 300.0]})
    failures = pd.DataFrame({"asset_id": [7], "ts": [100.0]})
    with pytest.raises(SchemaError, match="month"):
        event_metrics(alerts, failures, horizon=20.0)
    m = event_metrics(alerts, failures, horizon=20.0, month=100.0)
    assert (m.caught, m.false_alarms, m.lead_times) == (1, 1, [10.0])
    assert m.false_alarms_per_asset_month == pytest.approx(1 / 2.1)


def test_no_alerts_and_bad_inputs():
    m = event_metrics(_frame([]), FAILURES, horizon=pd.Timedelta(days=7), observed=OBSERVED)
    assert (m.caught, m.missed, m.false_alarms, m.lead_time_summary()["mean"]) == (0, 3, 0, None)
    with pytest.raises(SchemaError, match="asset_id"):
        event_metrics(pd.DataFrame({"ts": ["2024-01-01"]}), FAILURES, horizon=pd.Timedelta(days=7))
    with pytest.raises(SchemaError, match="mix"):
        event_metrics(pd.DataFrame({"asset_id": ["a"], "ts": [1.0]}), FAILURES, horizon=pd.Timedelta(days=7))
    with pytest.raises(SchemaError, match="ends before"):
        event_metrics(
            _frame([]), FAILURES, horizon=pd.Timedelta(days=7), observed={"pump-1": ("2024-02-01", "2024-01-01")}
        )
