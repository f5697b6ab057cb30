"""A failure flag run split over two files is one failure event, on DuckDB and on PostgreSQL, whichever file is
ingested first; a run after a gap longer than the sampling step, or one that starts later in the file, is another."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forewarn.store import Store


def _csv(path: Path, start: str, flags: list[int], *, asset: str = "M1", freq: str = "1h") -> Path:
    ts = pd.date_range(start, periods=len(flags), freq=freq, tz="UTC")
    frame = pd.DataFrame({"machine": asset, "time": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "temp": 40.0, "down": flags})
    frame.to_csv(path, index=False)
    return path


def _ingest(store: Store, path: Path) -> tuple[str, ...]:
    report = store.ingest_file(path, asset_column="machine", time_column="time", failure_column="down")
    return report.notes


def _failures(store: Store) -> list[pd.Timestamp]:
    events = store.events()
    return sorted(pd.Timestamp(t) for t in events.loc[events["kind"] == "failure", "ts"])


def test_a_run_continuing_in_the_next_file_is_one_failure(store: Store, tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "2024-03-01 00:00", [0] * 8 + [1, 1])
    b = _csv(tmp_path / "b.csv", "2024-03-01 10:00", [1, 1, 0, 0, 1, 0])
    _ingest(store, a)
    notes = _ingest(store, b)
    assert _failures(store) == [pd.Timestamp("2024-03-01 08:00", tz="UTC"), pd.Timestamp("2024-03-01 14:00", tz="UTC")]
    assert any("continue a run stored before at the next sampling step (M1)" in n for n in notes)
    assert any("1 failure event(s) filed" in n for n in notes)  # the run at 14:00 only
    _ingest(store, b)  # ingested again: nothing new
    assert len(_failures(store)) == 2


def test_a_gap_longer_than_the_step_or_an_unflagged_cut_gives_two_failures(store: Store, tmp_path: Path) -> None:
    _ingest(store, _csv(tmp_path / "a.csv", "2024-03-01 00:00", [0, 0, 1, 1]))
    _ingest(store, _csv(tmp_path / "b.csv", "2024-03-01 06:00", [1, 1, 0]))  # 03:00 -> 06:00: three steps
    _ingest(store, _csv(tmp_path / "c.csv", "2024-03-01 00:00", [0, 1, 1], asset="M2"))
    _ingest(store, _csv(tmp_path / "d.csv", "2024-03-01 03:00", [0, 1], asset="M2"))  # the cut is not flagged
    failures = store.events().query("kind == 'failure'").sort_values(["asset_id", "ts"])
    assert [(a, pd.Timestamp(t).hour) for a, t in zip(failures["asset_id"], failures["ts"], strict=True)] == [
        ("M1", 2),
        ("M1", 6),
        ("M2", 1),
        ("M2", 4),
    ]


def test_a_one_row_file_takes_its_step_from_the_stored_rows(store: Store, tmp_path: Path) -> None:
    _ingest(store, _csv(tmp_path / "a.csv", "2024-03-01 00:00", [0, 1, 1], freq="10min"))
    _ingest(store, _csv(tmp_path / "b.csv", "2024-03-01 00:30", [1], freq="10min"))
    _ingest(store, _csv(tmp_path / "c.csv", "2024-03-01 01:30", [1], freq="10min"))  # an hour later: a new run
    assert [t.strftime("%H:%M") for t in _failures(store)] == ["00:10", "01:30"]


def test_files_out_of_time_order_keep_one_failure_at_the_run_start(store: Store, tmp_path: Path) -> None:
    a = _csv(tmp_path / "jan.csv", "2024-03-01 00:00", [0] * 8 + [1, 1])
    b = _csv(tmp_path / "feb.csv", "2024-03-01 10:00", [1, 1, 0, 0, 1, 0])
    _ingest(store, b)  # the later file first: its run starts at its first row, 10:00
    assert [t.hour for t in _failures(store)] == [10, 14]
    notes = _ingest(store, a)
    assert [t.hour for t in _failures(store)] == [8, 14]  # one failure, at the run's first row
    assert any("continue into a run stored from a later file (M1)" in n for n in notes), notes
    _ingest(store, a)  # again: nothing moves
    assert [t.hour for t in _failures(store)] == [8, 14]


def test_a_later_run_after_a_gap_or_a_logged_failure_stays(store: Store, tmp_path: Path) -> None:
    _ingest(store, _csv(tmp_path / "b.csv", "2024-03-01 06:00", [1, 1, 0]))
    _ingest(store, _csv(tmp_path / "a.csv", "2024-03-01 00:00", [0, 0, 1, 1]))  # ends 03:00, three steps before
    assert [t.hour for t in _failures(store)] == [2, 6]
    logged = tmp_path / "log.csv"
    pd.DataFrame({"asset_id": ["M2"], "ts": ["2024-03-02T04:00:00Z"], "kind": ["failure"]}).to_csv(logged, index=False)
    store.ingest_file(logged)  # the failure log has it first: the flag's run at 04:00 adds no second event
    _ingest(store, _csv(tmp_path / "d.csv", "2024-03-02 04:00", [1, 0], asset="M2"))
    _ingest(store, _csv(tmp_path / "c.csv", "2024-03-02 00:00", [0, 0, 1, 1], asset="M2"))
    failures = store.events().query("asset_id == 'M2' and kind == 'failure'")
    assert sorted(pd.Timestamp(t).hour for t in failures["ts"]) == [2, 4]  # the log's event is not the flag's
