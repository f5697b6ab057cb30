"""Ingesting a plant's own exports through the Python API: renamed columns, time formats and zones, label
columns, conflicting values, encodings, and asset lists. A rejected file writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from store_helpers import assert_unchanged, snapshot

from forewarn.exceptions import ConfigError, IngestError, SchemaError
from forewarn.store import Store


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_renamed_asset_and_time_columns_with_a_day_first_format(store, tmp_path):
    path = _write(tmp_path / "export.csv", "Machine,Time,temp\nP-1,31/01/2024 10:00,40.5\nP-1,01/02/2024 10:00,41\n")
    report = store.ingest_file(path, asset_column="Machine", time_column="Time", time_format="%d/%m/%Y %H:%M")
    assert report.written == 2 and report.assets_created == ("P-1",)
    got = store.readings("P-1")
    assert got["ts"].tolist() == [_utc("2024-01-31 10:00"), _utc("2024-02-01 10:00")]
    assert store.channels()["channel"].tolist() == ["temp"]


def test_a_time_that_does_not_match_the_format_names_line_and_source_column(store, tmp_path):
    path = _write(tmp_path / "export.csv", "Machine,Time,temp\nP-1,31/01/2024 10:00,40.5\nP-1,2024-02-01,41\n")
    with pytest.raises(IngestError) as caught:
        store.ingest_file(path, asset_column="Machine", time_column="Time", time_format="%d/%m/%Y %H:%M")
    assert caught.value.line == 3 and caught.value.column == "Time" and "%d/%m/%Y" in str(caught.value)
    assert store.count_readings() == 0


def test_naive_times_are_read_in_the_zone_and_aware_times_keep_their_offset(store, tmp_path):
    path = _write(
        tmp_path / "berlin.csv",
        "asset_id,ts,temp\nP-1,2024-07-01 12:00,1\nP-1,2024-07-01T12:00:00+00:00,2\nP-1,2024-01-15 12:00,3\n",
    )
    store.ingest_file(path, timezone="Europe/Berlin")
    got = store.readings("P-1").set_index("value")["ts"]
    assert got[1.0] == _utc("2024-07-01 10:00")  # summer time: UTC+2
    assert got[2.0] == _utc("2024-07-01 12:00")
    assert got[3.0] == _utc("2024-01-15 11:00")  # winter time: UTC+1


def test_zone_and_format_work_for_frames_too(store):
    frame = pd.DataFrame({"Machine": ["P-1"], "Time": ["31.01.2024 08:00"], "temp": [1.0]})
    store.ingest_readings(
        frame, asset_column="Machine", time_column="Time", time_format="%d.%m.%Y %H:%M", timezone="America/Chicago"
    )
    assert store.readings("P-1")["ts"].tolist() == [_utc("2024-01-31 14:00")]


def test_one_asset_for_a_file_without_asset_column(store, tmp_path):
    path = _write(tmp_path / "pump7.csv", "ts,temp,vib\n2024-01-01T00:00Z,40,0.1\n2024-01-01T00:01Z,41,0.2\n")
    report = store.ingest_file(path, asset="P-7")
    assert report.written == 4 and store.assets()["asset_id"].tolist() == ["P-7"]
    with pytest.raises(IngestError, match="asset column"):
        store.ingest_file(_write(tmp_path / "two.csv", "asset_id,ts,temp\nP-1,2024-01-01,1\n"), asset="P-7")


def test_a_missing_renamed_column_says_which_option_to_use(store, tmp_path):
    path = _write(tmp_path / "export.csv", "Machine,Time,temp\nP-1,2024-01-01,1\n")
    with pytest.raises(IngestError, match="--time-column"):
        store.ingest_file(path, asset_column="Machine", time_column="Zeit")
    with pytest.raises(ConfigError):
        store.ingest_file(path, timezone="Mars/Olympus")


def test_label_columns_numeric_and_text_are_labels_never_channels(store, tmp_path):
    path = _write(
        tmp_path / "labelled.csv",
        "asset_id,ts,temp,state,fault_code\nP-1,2024-01-01T00:00Z,40,run,0\n"
        "P-1,2024-01-01T00:01Z,41,,7\nP-2,2024-01-01T00:00Z,39,fault,\n",
    )
    report = store.ingest_file(path, label_columns="state,fault_code")
    assert report.written == 3 and report.labels_written == 4
    assert store.channels()["channel"].tolist() == ["temp", "temp"]
    assert store.label_names() == ["fault_code", "state"]
    labels = store.labels()
    assert list(labels.columns) == ["asset_id", "ts", "name", "value"]
    assert str(labels["ts"].dtype) == "datetime64[us, UTC]"
    assert labels.values.tolist() == [
        ["P-1", _utc("2024-01-01 00:00"), "fault_code", "0"],
        ["P-1", _utc("2024-01-01 00:00"), "state", "run"],
        ["P-1", _utc("2024-01-01 00:01"), "fault_code", "7"],
        ["P-2", _utc("2024-01-01 00:00"), "state", "fault"],
    ]
    assert store.labels(["P-1"], name="state")["value"].tolist() == ["run"]
    assert store.labels(start="2024-01-01 00:01")["value"].tolist() == ["7"]
    again = store.ingest_file(path, label_columns=["state", "fault_code"])
    assert again.written == 0 and again.labels_written == 0 and len(store.labels()) == 4


def test_labels_from_a_frame_and_a_labels_only_file(store, tmp_path):
    frame = pd.DataFrame({"asset_id": ["M-1"], "ts": ["2024-01-01"], "rul": [120], "speed": [1500.0]})
    store.ingest_readings(frame, label_columns=["rul"])
    assert store.labels()["value"].tolist() == ["120"] and store.channels()["channel"].tolist() == ["speed"]
    only = _write(tmp_path / "labels.csv", "asset_id,ts,grade\nM-2,2024-01-02,A\n")
    report = store.ingest_file(only, label_columns="grade")
    assert report.rows_read == 0 and report.labels_written == 1 and report.assets_created == ("M-2",)


def _conflicting(store: Store, tmp_path: Path) -> tuple[Store, Path]:
    first = _write(
        tmp_path / "first.csv", "asset_id,ts,temp,state\nP-1,2024-01-01T00:00Z,40,run\nP-1,2024-01-01T00:01Z,41,run\n"
    )
    store.ingest_file(first, label_columns="state")
    second = _write(
        tmp_path / "second.csv",
        "asset_id,ts,temp,state\nP-1,2024-01-01T00:00Z,40,run\n"
        "P-1,2024-01-01T00:01Z,45,stop\nP-1,2024-01-01T00:02Z,42,run\n",
    )
    return store, second


def test_on_conflict_keep_counts_and_keeps_the_stored_values(store, tmp_path):
    store, second = _conflicting(store, tmp_path)
    report = store.ingest_file(second, label_columns="state")
    assert (report.written, report.duplicates, report.conflicts, report.replaced) == (1, 2, 2, 0)
    assert store.readings("P-1")["value"].tolist() == [40.0, 41.0, 42.0]
    assert store.labels()["value"].tolist() == ["run", "run", "run"]


def test_on_conflict_replace_takes_the_new_values(store, tmp_path):
    store, second = _conflicting(store, tmp_path)
    report = store.ingest_file(second, label_columns="state", on_conflict="replace")
    assert (report.written, report.conflicts, report.replaced) == (1, 2, 2)
    assert store.readings("P-1")["value"].tolist() == [40.0, 45.0, 42.0]
    assert store.labels()["value"].tolist() == ["run", "stop", "run"]
    assert store.ingest_file(second, label_columns="state", on_conflict="replace").conflicts == 0


def test_on_conflict_error_rejects_the_file_whole_at_the_first_differing_value(store, tmp_path):
    store, second = _conflicting(store, tmp_path)
    before = snapshot(store)
    labels_before = store.labels()
    with pytest.raises(IngestError) as caught:
        store.ingest_file(second, label_columns="state", on_conflict="error")
    assert caught.value.line == 3 and caught.value.column == "temp" and "second.csv" in str(caught.value)
    assert "45.0" in str(caught.value) and "41.0" in str(caught.value)
    assert_unchanged(store, before)
    pd.testing.assert_frame_equal(store.labels(), labels_before)
    long = pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-01T00:00Z"], "channel": ["temp"], "value": [99.0]})
    with pytest.raises(IngestError) as caught:
        store.ingest_readings(long, on_conflict="error")
    assert caught.value.column == "value" and caught.value.line == 1
    wide = pd.DataFrame(
        {
            "asset_id": ["P-1", "P-1"],
            "ts": ["2024-01-01T00:01Z", "2024-01-01T00:00Z"],
            "vib": [1.0, None],
            "temp": [41.0, 98.0],
        }
    )
    with pytest.raises(IngestError) as caught:
        store.ingest_readings(wide, on_conflict="error")
    assert caught.value.column == "temp" and caught.value.line == 2


def test_same_values_again_are_plain_duplicates_in_every_mode(store, tmp_path):
    store, _ = _conflicting(store, tmp_path)
    same = _write(tmp_path / "same.csv", "asset_id,ts,temp\nP-1,2024-01-01T00:00Z,40\n")
    for mode in ("keep", "replace", "error"):
        report = store.ingest_file(same, on_conflict=mode)  # type: ignore[arg-type]
        assert (report.written, report.duplicates, report.conflicts) == (0, 1, 0)


def test_a_windows_1252_file_with_a_degree_sign_is_read_and_said_so(store, tmp_path):
    path = _write(tmp_path / "historian.csv", "asset_id,ts,temp °C\nP-1,2024-01-01T00:00Z,40.5\n", encoding="cp1252")
    report = store.ingest_file(path)
    assert store.channels()["channel"].tolist() == ["temp °C"] and report.written == 1
    assert len(report.notes) == 1 and "Windows-1252" in report.notes[0]
    utf16 = _write(tmp_path / "u16.csv", "asset_id,ts,Druck µbar\nP-2,2024-01-01T00:00Z,1\n", encoding="utf-16")
    assert store.ingest_file(utf16, encoding="utf-16").written == 1 and "Druck µbar" in set(store.channels()["channel"])


def test_a_file_in_no_known_encoding_is_one_clear_error_and_writes_nothing(store, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"asset_id,ts,temp\nP-1,2024-01-01T00:00Z,1\nP-\x81\x8d,2024-01-01T00:01Z,2\n")
    before = snapshot(store)
    with pytest.raises(IngestError) as caught:
        store.ingest_file(path)
    assert caught.value.line == 3 and "--encoding" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(IngestError, match="not valid UTF-8"):
        store.ingest_file(path, encoding="utf-8")
    assert_unchanged(store, before)


def test_a_rejected_labelled_file_writes_nothing(store, tmp_path):
    path = _write(tmp_path / "bad.csv", "asset_id,ts,temp,state\nP-1,2024-01-01T00:00Z,40,run\nP-1,2024-01-01,x,stop\n")
    before = snapshot(store)
    with pytest.raises(IngestError) as caught:
        store.ingest_file(path, label_columns="state")
    assert caught.value.line == 3 and caught.value.column == "temp"
    assert_unchanged(store, before)
    assert store.labels().empty and store.label_names() == []


def test_import_assets_creates_sites_and_lines_and_merges_updates(store, tmp_path):
    path = _write(
        tmp_path / "assets.csv",
        "asset_id,class,site,line,name,install_date,rated_kw\n"
        "P-1,pump,S1,L1,Feed pump,2019-05-01,55\nM-2,motor,,L1,,,\n",
    )
    report = store.import_assets(path)
    assert report.created == ("M-2", "P-1") and report.updated == ()
    assets = store.assets().set_index("asset_id")
    assert assets.loc["P-1", "asset_class"] == "pump" and assets.loc["M-2", "site_id"] == "S1"
    assert (
        assets.loc["P-1", "metadata"] == {"rated_kw": "55"}
        and str(assets.loc["P-1", "install_date"])[:10] == "2019-05-01"
    )
    assert store.hierarchy() == {"S1": {"L1": ["M-2", "P-1"]}}
    created, updated = store.update_assets(
        [{"asset_id": "P-1", "asset_class": "centrifugal_pump", "metadata": {"serial": "X9"}}]
    )
    assert (created, updated) == ([], ["P-1"])
    row = store.assets().set_index("asset_id").loc["P-1"]
    assert row["asset_class"] == "centrifugal_pump" and row["metadata"] == {"rated_kw": "55", "serial": "X9"}
    assert row["name"] == "Feed pump" and row["site_id"] == "S1"


def test_a_bad_asset_list_is_rejected_whole(store, tmp_path):
    path = _write(tmp_path / "assets.csv", "asset_id,class,install_date\nP-1,pump,2019-05-01\nP-2,pump,May 2019\n")
    with pytest.raises(IngestError) as caught:
        store.import_assets(path)
    assert caught.value.line == 3 and caught.value.column == "install_date"
    assert store.assets().empty
    with pytest.raises(IngestError, match="asset_id"):
        store.import_assets(_write(tmp_path / "none.csv", "id,class\nP-1,pump\n"))
    store.update_assets([{"asset_id": "A", "site_id": "S1", "line_id": "L1"}])
    with pytest.raises(SchemaError, match="belongs to site"):
        store.update_assets([{"asset_id": "B", "site_id": "S2", "line_id": "L1"}])
