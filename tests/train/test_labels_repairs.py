"""A failure's repair renews the asset: the first maintenance after a failure with a blank result (a work-order
export without a result column), whatever its action; a planned visit to a failed machine does not."""

from __future__ import annotations

import pandas as pd

from forewarn.train.labels import is_down, latest_marks, life_table, renewals

T = pd.Timestamp("2024-01-01", tz="UTC")


def _events(rows: list[tuple[str, float, str, str | None, str | None]]) -> pd.DataFrame:
    """(asset, day, kind, action, result) rows."""
    return pd.DataFrame(
        [
            {"asset_id": a, "ts": T + pd.Timedelta(days=d), "kind": k, "action": act, "result": res}
            for a, d, k, act, res in rows
        ],
        index=[7] * len(rows),  # a frame whose index repeats (concatenated exports) reads the same
    )


def _days(frame: pd.DataFrame, asset: str) -> list[float]:
    return sorted((frame.loc[frame["asset_id"] == asset, "ts"] - T).dt.days.astype(float).tolist())


def test_the_first_maintenance_after_a_failure_is_its_repair() -> None:
    events = _events(
        [
            ("fan", 10, "failure", None, None),
            ("fan", 11, "maintenance", "balance", None),  # the repair (no result column in the export)
            ("fan", 20, "maintenance", "oil_change", None),  # a service visit to a running machine: renews nothing
            ("pump", 10, "failure", None, None),
            ("pump", 11, "maintenance", "oil_change", "planned"),  # planned, said: the pump stays down
            ("pump", 12, "maintenance", "clean_cooling", None),  # then the repair
            ("motor", 5, "failure", None, None),
            ("motor", 5, "maintenance", "reset", None),  # at the failure's own time: the failure comes first
            ("mixer", 3, "failure", None, None),
            ("mixer", 4, "failure", None, None),
            ("mixer", 6, "maintenance", "adjust", None),  # one repair after two failures
            ("mixer", 8, "maintenance", "adjust", None),
        ]
    )
    found = renewals(events)
    assert _days(found, "fan") == [11.0]
    assert _days(found, "pump") == [12.0]
    assert _days(found, "motor") == [5.0]
    assert _days(found, "mixer") == [6.0]
    marks = latest_marks(events)
    assert not any(is_down(marks[a]) for a in ("fan", "pump", "motor", "mixer"))


def test_a_failed_machine_with_only_planned_visits_stays_down() -> None:
    events = _events([("pump", 10, "failure", None, None), ("pump", 11, "maintenance", "oil_change", "planned")])
    assert renewals(events).empty and is_down(latest_marks(events)["pump"])


def test_the_repair_starts_a_new_life_in_the_labels() -> None:
    rows = pd.DataFrame({"asset_id": "fan", "ts": pd.date_range(T, periods=14, freq="12h")})
    events = _events([("fan", 3, "failure", None, None), ("fan", 4, "maintenance", "balance", None)])
    life = life_table(rows, events)
    assert life["down"].tolist() == [False] * 7 + [True] + [False] * 6  # between the failure and the balance only
    assert life["ttf_hours"].iloc[6] == 0.0 and life["future_hours"].iloc[8] == 60.0  # a new life, watched to the end
