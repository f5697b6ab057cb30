"""A bad file is rejected whole: the error names the file, the line and the column, and nothing is written."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from store_helpers import assert_unchanged, snapshot, write_table

from forewarn.exceptions import DataNotFoundError, IngestError, UnknownAssetError
from forewarn.schema import Asset
from forewarn.store import Store

SUFFIXES = {"csv": ".csv", "csv.gz": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


def _line(fmt: str, row: int) -> int:
    """Line shown for 0-based data row ``row``: text files count the header as line 1, Parquet counts rows."""
    return row + 2 if fmt.startswith("csv") else row + 1


def _write(tmp_path: Path, fmt: str, frame: pd.DataFrame, name: str = "bad") -> Path:
    path = write_table(tmp_path / f"{name}{SUFFIXES[fmt]}", frame)
    if fmt == "csv.gz":
        zipped = path.with_name(path.name + ".gz")
        zipped.write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
        return zipped
    return path


def _long(values: list[str], ts: list[str] | None = None, assets: list[str] | None = None) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "asset_id": assets or ["P-1"] * n,
            "ts": ts or [f"2024-01-01T00:0{i}:00Z" for i in range(n)],
            "channel": ["temp"] * n,
            "value": values,
        }
    )


def _filled(store: Store) -> Store:
    """A store that already holds readings, an asset declared by hand and an event."""
    store.add_assets([Asset("P-1", asset_class="pump")])
    store.ingest_readings(_long(["1.0", "2.0"], ts=["2023-12-31T00:00:00Z", "2023-12-31T00:01:00Z"]))
    store.ingest_events(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2023-12-30"], "kind": ["inspection"]}))
    return store


@pytest.fixture
def filled(store: Store) -> Store:
    return _filled(store)


@pytest.fixture(scope="module")
def shared_filled(make_module_store) -> Store:
    """One filled store for the many rejection cases: each case checks that it is left unchanged."""
    return _filled(make_module_store())


BAD_CASES = {
    # name: (frame, 0-based bad row or None for the header, column, words in the message)
    "timestamp": (
        _long(["1", "2", "3"], ts=["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "not a time"]),
        2,
        "ts",
        "cannot parse timestamp 'not a time'",
    ),
    "number as timestamp": (
        _long(["1", "2"], ts=["2024-01-01T00:00:00Z", "1704067200"]),
        1,
        "ts",
        "cannot parse timestamp '1704067200'",
    ),
    "value": (_long(["1", "abc", "3"]), 1, "value", "value 'abc' is not a number"),
    "infinite value": (_long(["1", "2", "inf"]), 2, "value", "is infinite"),
    "missing asset": (_long(["1", "2"], assets=["P-1", None]), 1, "asset_id", "missing asset_id"),
    "blank asset": (_long(["1", "2"], assets=["P-1", "  "]), 1, "asset_id", "missing asset_id"),
    "missing column": (_long(["1", "2"]).drop(columns=["value"]), None, "value", "missing column(s) value"),
    "no asset column": (_long(["1"]).drop(columns=["asset_id"]), None, "asset_id", "missing column(s) asset_id"),
    "wide value": (
        pd.DataFrame(
            {"asset_id": ["P-1", "P-1"], "ts": ["2024-01-01", "2024-01-02"], "temp": ["1", "2"], "vib": ["0.1", "high"]}
        ),
        1,
        "vib",
        "value 'high' is not a number",
    ),
}


@pytest.mark.parametrize("fmt", list(SUFFIXES))
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_file_is_rejected_whole_with_file_line_and_column(
    shared_filled: Store, tmp_path: Path, fmt: str, case: str
):
    filled = shared_filled
    frame, row, column, words = BAD_CASES[case]
    path = _write(tmp_path, fmt, frame)
    before = snapshot(filled)
    with pytest.raises(IngestError) as caught:
        filled.ingest_file(path)
    err = caught.value
    line = 1 if row is None else _line(fmt, row)
    assert (err.source, err.line, err.column) == (str(path), line, column)
    assert f"{path}, line {line}, column '{column}'" in str(err) and words in str(err)
    assert_unchanged(filled, before)


@pytest.mark.parametrize("fmt", list(SUFFIXES))
def test_unknown_asset_under_strict_rejects_the_file(filled: Store, tmp_path: Path, fmt: str):
    path = _write(tmp_path, fmt, _long(["1", "2", "3", "4"], assets=["P-1", "P-1", "P-9", "P-8"]))
    before = snapshot(filled)
    with pytest.raises(UnknownAssetError) as caught:
        filled.ingest_file(path, strict=True)
    assert (caught.value.line, caught.value.column) == (_line(fmt, 2), "asset_id")
    assert "unknown asset 'P-9'" in str(caught.value) and str(path) in str(caught.value)
    assert_unchanged(filled, before)
    report = filled.ingest_file(path)  # without strict the assets are created
    assert report.assets_created == ("P-8", "P-9") and report.written == 4


def test_unknown_asset_in_events_under_strict(filled: Store, tmp_path: Path):
    path = write_table(
        tmp_path / "ev.csv",
        pd.DataFrame({"asset_id": ["P-1", "X-1"], "ts": ["2024-01-01"] * 2, "kind": ["failure", "maintenance"]}),
    )
    before = snapshot(filled)
    with pytest.raises(UnknownAssetError, match=r"ev.csv, line 3, column 'asset_id': unknown asset 'X-1'"):
        filled.ingest_file(path, strict=True)
    assert_unchanged(filled, before)


def test_unknown_asset_in_a_frame_under_strict(filled: Store):
    before = snapshot(filled)
    frame = pd.DataFrame({"asset_id": ["P-1", "Q-7"], "ts": ["2024-01-01", "2024-01-01"], "temp": [1.0, 2.0]})
    with pytest.raises(UnknownAssetError, match=r"plant feed, line 2, column 'asset_id'"):
        filled.ingest_readings(frame, source="plant feed", strict=True)
    with pytest.raises(UnknownAssetError, match=r"line 2, column 'asset_id'"):
        import pyarrow as pa

        filled.ingest_readings(pa.Table.from_pandas(frame), strict=True)
    assert_unchanged(filled, before)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_bad_event_file(filled: Store, tmp_path: Path, fmt: str):
    frame = pd.DataFrame(
        {
            "asset_id": ["P-1", "P-1"],
            "ts": ["2024-01-01", "2024-01-02"],
            "kind": ["failure", "explosion"],
            "failure_mode": ["seal", None],
        }
    )
    path = _write(tmp_path, fmt, frame, name="events")
    before = snapshot(filled)
    with pytest.raises(IngestError, match=rf"line {_line(fmt, 1)}, column 'kind': unknown event kind 'explosion'"):
        filled.ingest_file(path)
    assert_unchanged(filled, before)


def test_csv_line_numbers_count_physical_lines(filled: Store, tmp_path: Path):
    path = tmp_path / "quoted.csv"
    path.write_text('asset_id,ts,channel,value\nP-1,2024-01-01,"multi\nline name",1\n\nP-1,2024-01-02,temp,oops\n')
    before = snapshot(filled)
    with pytest.raises(IngestError, match=r"quoted.csv, line 5, column 'value': value 'oops'"):
        filled.ingest_file(path)
    assert_unchanged(filled, before)


def test_an_event_log_read_as_readings_is_named_so(filled: Store, tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("asset_id,ts,Event\nP-1,2024-01-01T00:00:00Z,Failure\n")
    before = snapshot(filled)
    with pytest.raises(IngestError, match=r"column 'Event': value 'Failure' is not a number") as err:
        filled.ingest_file(path, kind="readings")
    assert "looks like an event log read as readings: ingest it with --kind events" in str(err.value)
    assert_unchanged(filled, before)
    path.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00:00Z,warm\n")  # any other word: the usual hint
    with pytest.raises(IngestError, match="readings must be numeric") as err:
        filled.ingest_file(path, kind="readings")
    assert "event log" not in str(err.value)


def test_malformed_text_files(filled: Store, tmp_path: Path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("asset_id,ts,channel,value\nP-1,2024-01-01,temp,1\nP-1,2024-01-02,temp,2,extra\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"asset_id": "P-1", "ts": "2024-01-01", "channel": "t", "value": 1}\n{"asset_id": "P-1", \n')
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    before = snapshot(filled)
    with pytest.raises(IngestError, match=r"ragged.csv, line 3: the line has 5 fields, the header has 4"):
        filled.ingest_file(ragged)
    with pytest.raises(IngestError, match=r"broken.jsonl, line 2: the line is not valid JSON"):
        filled.ingest_file(broken)
    with pytest.raises(IngestError, match=r"empty.csv, line 1: the file is empty"):
        filled.ingest_file(empty)
    assert_unchanged(filled, before)


def test_missing_and_unsupported_files(filled: Store, tmp_path: Path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        filled.ingest_file(tmp_path / "nope.csv")
    other = tmp_path / "data.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(IngestError, match=r"unsupported file type '.xlsx'.*\.parquet"):
        filled.ingest_file(other)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    with pytest.raises(IngestError, match="corrupt.parquet: cannot read the Parquet file"):
        filled.ingest_file(corrupt)


def test_bad_frames_raise_ingest_errors_with_rows(filled: Store):
    before = snapshot(filled)
    frame = pd.DataFrame({"asset_id": ["P-1", "P-1"], "ts": ["2024-01-01", "someday"], "temp": [1.0, 2.0]})
    with pytest.raises(IngestError, match=r"frame, line 2, column 'ts': cannot parse timestamp 'someday'"):
        filled.ingest_readings(frame)
    with pytest.raises(IngestError, match=r"line 2, column 'kind'"):
        filled.ingest_events(
            pd.DataFrame({"asset_id": ["P-1", "P-1"], "ts": ["2024-01-01"] * 2, "kind": ["failure", "bad"]})
        )
    with pytest.raises(IngestError, match="expected a pandas DataFrame or a pyarrow Table"):
        filled.ingest_readings([{"asset_id": "P-1"}])  # type: ignore[arg-type]
    assert_unchanged(filled, before)
