"""File ingest in every format, in-batch duplicates, upserts, export layout, persistence and read-only use."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from store_helpers import canon, read_all, write_table

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError, StateError
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store import IngestReport, Store

LONG = pd.DataFrame(
    {
        "asset_id": ["P-1", "P-1", "P-2", "P-2"],
        "ts": ["2024-01-01T00:00:00Z", "2024-01-01T02:00:00+01:00", "2024-01-01T00:00:00", "2024-01-02"],
        "channel": ["temp", "temp", "vib", "vib"],
        "value": [1.5, 2.5, None, 4.0],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".jsonl", ".ndjson"])
def test_long_files_in_every_format(store: Store, tmp_path: Path, suffix: str):
    path = tmp_path / f"long{suffix}"
    if suffix == ".csv.gz":
        path.write_bytes(gzip.compress(LONG.to_csv(index=False).encode()))
    else:
        write_table(path, LONG)
    calls: list[int] = []
    report = store.ingest_file(path, progress=calls.append)
    # four rows, one with an empty value: 4 rows, 3 readings
    assert report == IngestReport(
        str(path), rows_read=3, written=3, duplicates=0, assets_created=("P-1", "P-2"), file_rows=4
    )
    assert calls and calls[-1] == 3
    got = read_all(store)
    # "+01:00" is converted to UTC, naive times are UTC, and the empty value is a gap
    assert got["ts"].tolist() == [
        pd.Timestamp(t) for t in ("2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-02T00:00Z")
    ]
    assert got["value"].tolist() == [1.5, 2.5, 4.0]


def test_wide_parquet_with_typed_columns(store: Store, tmp_path: Path):
    frame = pd.DataFrame(
        {
            "asset_id": ["F-1", "F-1"],
            "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01"]),
            "speed": [1000, 1010],
            "load": [0.5, float("nan")],
        }
    )
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)  # int, float and naive timestamps
    report = store.ingest_file(path)
    assert (report.rows_read, report.written) == (3, 3)
    assert store.readings("F-1", wide=True)[["speed", "load"]].values.tolist()[0] == [1000.0, 0.5]


def test_in_batch_duplicates_keep_the_first_line(store: Store, tmp_path: Path):
    path = tmp_path / "dups.csv"
    path.write_text(
        "asset_id,ts,channel,value\nP-1,2024-01-01,temp,1\nP-1,2024-01-01,temp,2\n"
        "P-1,2024-01-01T00:00:00Z,temp,3\nP-1,2024-01-02,temp,4\n"
    )
    report = store.ingest_file(path)
    assert (report.rows_read, report.written, report.duplicates) == (4, 2, 2)
    assert store.readings("P-1")["value"].tolist() == [1.0, 4.0]
    later = store.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-01"], "temp": [9.0]}))
    assert later.written == 0 and store.readings("P-1")["value"].tolist() == [1.0, 4.0]  # the stored value stays


def test_header_only_csv_reads_nothing(store: Store, tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("asset_id,ts,channel,value\n")
    assert store.ingest_file(path) == IngestReport(str(path), 0, 0, 0, file_rows=0)


def test_events_files_auto_detected_and_idempotent(store: Store, tmp_path: Path):
    events = pd.DataFrame(
        {
            "asset_id": ["P-1", "P-1", "P-1"],
            "ts": ["2024-01-05", "2024-01-05", "2024-01-06"],
            "kind": ["Failure", "failure", "maintenance"],
            "failure_mode": ["seal", "seal", None],
            "action": [None, None, "replace"],
            "note": ["first", "repeat", None],
        }
    )
    path = write_table(tmp_path / "events.jsonl", events)
    first = store.ingest_file(path)
    assert (first.kind, first.rows_read, first.written, first.duplicates) == ("events", 3, 2, 1)
    assert first.assets_created == ("P-1",)
    assert store.events()["note"].tolist()[0] == "first"  # the first line of a repeated key wins
    again = store.ingest_file(path, kind="events")
    assert (again.written, again.duplicates) == (0, 3)
    csv = write_table(tmp_path / "more.csv", events.assign(ts="2024-02-01"))
    assert store.ingest_file(csv).kind == "events" and len(store.events()) == 4
    with pytest.raises(ConfigError, match="kind='photos'"):
        store.ingest_file(csv, kind="photos")  # type: ignore[arg-type]


def test_add_assets_upserts_and_keeps_readings(store: Store):
    store.add_lines([Line("L1", "S1")])
    store.add_assets([Asset("P-1", asset_class="pump", line_id="L1", channels=(Channel("temp", "degC"),))])
    store.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-01"], "temp": [1.0]}))
    store.add_assets(
        [
            Asset(
                "P-1",
                asset_class="centrifugal pump",
                line_id="L1",
                install_date=dt.date(2020, 1, 1),
                channels=(Channel("temp", "K", "casing temperature"), Channel("flow", "m3/h")),
            )
        ]
    )
    asset = store.assets().set_index("asset_id").loc["P-1"]
    assert (asset["asset_class"], asset["site_id"]) == ("centrifugal pump", "S1")
    assert store.channels("P-1")[["channel", "unit"]].values.tolist() == [["flow", "m3/h"], ["temp", "K"]]
    assert store.readings("P-1")["value"].tolist() == [1.0]
    store.add_sites([Site("S1", name="first"), Site("S1", name="renamed")])  # the last declaration wins
    assert store.sql("SELECT name FROM sites")["name"].tolist() == ["renamed"]
    with pytest.raises(SchemaError, match="belongs to site 'S1'"):
        store.add_assets([Asset("P-2", line_id="L1", site_id="S7")])
    with pytest.raises(SchemaError, match="expected Asset objects"):
        store.add_assets(["P-3"])  # type: ignore[list-item]


def test_export_hive_layout(store: Store, tmp_path: Path):
    store.add_sites([Site("S1")])
    store.add_assets([Asset("P/1", site_id="S1")])
    store.ingest_readings(
        pd.DataFrame(
            {
                "asset_id": ["P/1", "P/1", "LOOSE"],
                "ts": ["2024-01-01T23:59:00Z", "2024-01-02T00:00:00Z", "2024-01-01"],
                "temp": [1.0, 2.0, 3.0],
            }
        )
    )
    files = store.export_parquet(tmp_path / "lake")
    names = sorted(str(f.relative_to(tmp_path / "lake").parent) for f in files)
    assert names == [
        "site_id=S1/asset_id=P%2F1/date=2024-01-01",
        "site_id=S1/asset_id=P%2F1/date=2024-01-02",
        "site_id=__HIVE_DEFAULT_PARTITION__/asset_id=LOOSE/date=2024-01-01",
    ]
    back = ds.dataset(tmp_path / "lake", partitioning="hive").to_table().to_pandas()
    assert sorted(zip(back["asset_id"], back["value"], strict=True)) == [("LOOSE", 3.0), ("P/1", 1.0), ("P/1", 2.0)]
    assert back.loc[back["asset_id"] == "LOOSE", "site_id"].isna().all()
    assert set(pq.read_schema(files[0]).names) == {"ts", "channel", "value"}
    part = store.export_parquet(tmp_path / "day2", start="2024-01-02")
    assert len(part) == 1 and "date=2024-01-02" in str(part[0])
    with pytest.raises(ConfigError, match="not an empty folder"):
        store.export_parquet(tmp_path / "lake")


def test_file_store_persists_and_opens_read_only(tmp_path: Path):
    path = tmp_path / "deep" / "plant.duckdb"
    with Store(path) as store:
        store.add_assets([Asset("P-1", asset_class="pump", metadata={"serial": "A1"})])
        store.ingest_readings(
            pd.DataFrame({"asset_id": ["P-1"] * 2, "ts": ["2024-01-01", "2024-01-02"], "temp": [1.0, 2.0]})
        )
        saved = read_all(store)
    with Store(path) as reopened:
        pd.testing.assert_frame_equal(read_all(reopened), saved)
        assert reopened.assets()["metadata"].tolist() == [{"serial": "A1"}]
        assert (
            reopened.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-02"], "temp": [5.0]})).written
            == 0
        )
    with Store(path, read_only=True) as reader:
        pd.testing.assert_frame_equal(canon(reader.readings("P-1")), saved)
        with pytest.raises(ConfigError, match="read-only"):
            reader.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-03"], "temp": [1.0]}))
    with pytest.raises(DataNotFoundError, match="does not exist"):
        Store(tmp_path / "absent.duckdb", read_only=True)
    with pytest.raises(ConfigError, match="cannot be read-only"):
        Store(read_only=True)
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello")
    with pytest.raises(ConfigError, match="not a DuckDB store file; it is another kind of file"):
        Store(not_a_db)
    closed = Store()
    closed.close()
    closed.close()
    with pytest.raises(StateError, match="closed"):
        closed.count_readings()
    assert "closed" in repr(closed)


def test_windows_csv_with_bom_and_crlf(store: Store, tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"\xef\xbb\xbfasset_id,ts,channel,value\r\nP-1,2024-01-01T00:00:00Z,temp,1.5\r\n"
        b"P-1,2024-01-01T00:01:00Z,temp,2\r\n"
    )
    assert store.ingest_file(path).written == 2
    assert store.readings("P-1")["value"].tolist() == [1.5, 2.0]


def test_two_stores_on_one_file_see_each_others_new_assets_and_channels(tmp_path: Path):
    path = tmp_path / "shared.duckdb"
    with Store(path) as api, Store(path) as feed:
        feed.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-01"], "temp": [1.0]}))
        assert api.readings("P-1")["channel"].tolist() == ["temp"]  # api caches P-1's series here
        feed.ingest_readings(pd.DataFrame({"asset_id": ["P-1", "P-2"], "ts": ["2024-01-02"] * 2, "vib": [2.0, 3.0]}))
        assert api.readings("P-1")["channel"].tolist() == ["temp", "vib"]
        assert api.readings("P-2")["value"].tolist() == [3.0]


@pytest.mark.parametrize(
    ("name", "content", "said"), [("m.csv", b"a,b\n1,2\n", "a CSV file"), ("s.duckdb", b"", "empty")]
)
def test_a_file_that_is_no_duckdb_store_is_named_as_what_it_is(
    tmp_path: Path, name: str, content: bytes, said: str
) -> None:
    """``--store export.csv`` (a plant export given as the store) is one line saying what the file is, for writing
    and for reading, and the file is left as it was (DuckDB said "Catalog Error: Cannot launch in-memory database")."""
    path = tmp_path / name
    path.write_bytes(content)
    for read_only in (False, True):
        with pytest.raises(ConfigError, match=f"is not a DuckDB store file; it is {said}"):
            Store(path, read_only=read_only)
    assert path.read_bytes() == content
