"""A work order written as one row per replaced part keeps every part; re-ingesting it stores nothing new."""

from __future__ import annotations

from pathlib import Path

from forewarn.store import Store

ORDER = (
    "asset_id,ts,kind,action,parts\n"
    "M1,2024-01-01T08:00:00Z,maintenance,replace,comp1\n"
    "M1,2024-01-01T08:00:00Z,maintenance,replace,comp2\n"
    "M1,2024-01-01T08:00:00Z,maintenance,replace,comp2\n"
    "M1,2024-01-02T08:00:00Z,failure,,\n"
    "M1,2024-01-02T08:00:00Z,failure,,\n"
)


def test_one_row_per_part_keeps_every_part(tmp_path: Path) -> None:
    export = tmp_path / "work_orders.csv"
    export.write_text(ORDER)
    store = Store(tmp_path / "plant.duckdb")
    first = store.ingest_file(export, kind="events")
    assert (first.written, first.duplicates) == (3, 2)
    again = store.ingest_file(export, kind="events")
    assert (again.written, again.duplicates) == (0, 5)
    events = store.events()
    visit = events[events["kind"] == "maintenance"]
    assert sorted(visit["parts"]) == ["comp1", "comp2"]
    assert (events["kind"] == "failure").sum() == 1
