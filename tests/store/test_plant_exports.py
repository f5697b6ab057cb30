"""Plant exports as they come out of Excel and historians: semicolons and decimal commas, tabs, UTF-16 with a
byte order mark. Each is read without conversion, with the values it holds (nothing lost, nothing invented)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forewarn.exceptions import IngestError
from forewarn.store import Store


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def duck(tmp_path):
    with Store(tmp_path / "plant.duckdb") as db:
        yield db


def test_a_semicolon_export_with_decimal_commas_reads_its_numbers(duck, tmp_path):
    path = _write(
        tmp_path / "excel_de.csv",
        "Anlage;Zeit;Temp °C;Druck\nP-1;31.01.2024 10:00;40,5;1,25\nP-1;31.01.2024 11:00;41;-3,5e-1\n"
        "P-1;31.01.2024 12:00;;2.5\n",
    )
    report = duck.ingest_file(path, asset_column="Anlage", time_column="Zeit", time_format="%d.%m.%Y %H:%M")
    assert report.rows_read == report.written == 5
    got = duck.readings("P-1", wide=True)
    assert got["Temp °C"].dropna().tolist() == [40.5, 41.0]
    assert got["Druck"].tolist() == [1.25, -0.35, 2.5]
    assert got["ts"].iloc[0] == _utc("2024-01-31 10:00")


def test_a_tab_separated_long_export_is_read(duck, tmp_path):
    path = _write(tmp_path / "long.csv", "asset_id\tts\tchannel\tvalue\nP-1\t2024-01-01T00:00Z\ttemp\t1.5\n")
    assert duck.ingest_file(path).written == 1
    assert duck.readings("P-1")["value"].tolist() == [1.5]


def test_a_bad_line_of_a_semicolon_file_is_named_with_its_separator(duck, tmp_path):
    path = _write(tmp_path / "bad.csv", "asset_id;ts;temp\nP-1;2024-01-01;1\nP-1;2024-01-02;2;9\n")
    with pytest.raises(IngestError, match="separated by semicolons") as caught:
        duck.ingest_file(path)
    assert caught.value.line == 3 and duck.count_readings() == 0


def test_a_bad_number_in_a_semicolon_file_names_its_line_and_column(duck, tmp_path):
    path = _write(tmp_path / "bad.csv", "asset_id;ts;temp\nP-1;2024-01-01;1,5\nP-1;2024-01-02;warm\n")
    with pytest.raises(IngestError, match="'warm' is not a number") as caught:
        duck.ingest_file(path)
    assert (caught.value.line, caught.value.column) == (3, "temp") and duck.count_readings() == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_unicode_export_with_a_byte_order_mark_needs_no_encoding_option(duck, tmp_path, encoding):
    text = "asset_id,ts,temp °C\nP-1,2024-01-01T00:00Z,40.5\nP-1,2024-01-01T01:00Z,41\n"
    bom = {"utf-16": "", "utf-16-be": "\ufeff", "utf-32": ""}[encoding]
    path = _write(tmp_path / "unicode.csv", bom + text, encoding)
    report = duck.ingest_file(path)
    assert report.written == 2 and not report.notes
    assert duck.channels()["channel"].tolist() == ["temp °C"]


def test_a_semicolon_events_file_is_told_from_readings_by_its_kind_column(duck, tmp_path):
    path = _write(tmp_path / "log.csv", "asset_id;ts;kind;failure_mode\nP-1;2024-01-05T00:00Z;failure;bearing\n")
    report = duck.ingest_file(path)
    assert report.kind == "events" and report.written == 1


FALL_BACK = (  # Europe/Berlin, 2024-10-27: the clocks go from 03:00 summer time back to 02:00
    ("2024-10-27 01:30", "2024-10-26 23:30"),
    ("2024-10-27 02:00", "2024-10-27 00:00"),
    ("2024-10-27 02:30", "2024-10-27 00:30"),
    ("2024-10-27 02:00", "2024-10-27 01:00"),
    ("2024-10-27 02:30", "2024-10-27 01:30"),
    ("2024-10-27 03:00", "2024-10-27 02:00"),
)


def test_local_times_of_the_hour_the_clocks_go_back_are_all_kept_in_order(duck, tmp_path):
    rows = "".join(f"P-1,{local},{i},{10 * i}\n" for i, (local, _) in enumerate(FALL_BACK))
    path = _write(tmp_path / "local.csv", "asset_id,ts,a,b\n" + rows)
    report = duck.ingest_file(path, timezone="Europe/Berlin")
    assert report.written == report.rows_read == 12 and report.duplicates == 0
    assert any("repeats when its clocks go back" in note for note in report.notes)
    got = duck.readings("P-1", wide=True)
    assert got["ts"].tolist() == [_utc(utc) for _, utc in FALL_BACK]
    assert got["a"].tolist() == list(range(6)) and got["b"].tolist() == [10 * i for i in range(6)]


def test_the_repeated_hour_in_a_long_export_with_a_format(duck, tmp_path):
    rows = "".join(
        f"P-1;{pd.Timestamp(local):%d.%m.%Y %H:%M};{channel};{i}\n"
        for channel in ("x", "y")
        for i, (local, _) in enumerate(FALL_BACK)
    )
    path = _write(tmp_path / "long.csv", "asset_id;ts;channel;value\n" + rows)
    report = duck.ingest_file(path, timezone="Europe/Berlin", time_format="%d.%m.%Y %H:%M")
    assert report.written == 12
    for channel in ("x", "y"):
        got = duck.readings("P-1", channels=[channel])
        assert got["ts"].tolist() == [_utc(utc) for _, utc in FALL_BACK] and got["value"].tolist() == list(range(6))


def test_a_single_time_in_the_repeated_hour_and_utc_files_are_left_as_they_were(duck, tmp_path):
    path = _write(tmp_path / "once.csv", "asset_id,ts,a\nP-1,2024-10-27 02:30,1\nP-1,2024-10-27 03:30,2\n")
    report = duck.ingest_file(path, timezone="Europe/Berlin")
    assert not report.notes
    assert duck.readings("P-1")["ts"].tolist() == [_utc("2024-10-27 01:30"), _utc("2024-10-27 02:30")]
    path = _write(tmp_path / "utc.csv", "asset_id,ts,a\nP-2,2024-10-27 02:30,1\nP-2,2024-10-27 02:30,2\n")
    report = duck.ingest_file(path)
    assert report.written == 1 and report.duplicates == 1  # in UTC a repeated time is a duplicate: the first is kept


def test_na_values_are_gaps_and_everything_else_is_kept(duck, tmp_path):
    path = _write(
        tmp_path / "marks.csv",
        "asset_id,ts,a,b,c\nP-1,2024-01-01T00:00Z,---,2,NaN\nP-1,2024-01-01T01:00Z,1,#DIV/0!,n/a\n"
        "P-1,2024-01-01T02:00Z,-,3,4\n",
    )
    with pytest.raises(IngestError, match="'---' is not a number"):
        duck.ingest_file(path)
    report = duck.ingest_file(path, na_values="---,#DIV/0!, n/a ,-")
    assert report.rows_read == report.written == 4  # 9 cells: 4 marks for no value, NaN (a gap too), 4 numbers
    got = duck.readings("P-1", wide=True)
    assert (
        got["a"].tolist()[1] == 1.0 and got["b"].dropna().tolist() == [2.0, 3.0] and got["c"].dropna().tolist() == [4.0]
    )


def test_a_failure_log_in_the_plants_own_time_format_and_zone(duck, tmp_path):
    path = _write(
        tmp_path / "cmms.csv",
        "Anlage;Datum;kind;failure_mode\nP-1;27.10.2024 14:30;failure;bearing\nP-2;01.07.2024 08:00;maintenance;\n",
    )
    options = {"asset_column": "Anlage", "time_column": "Datum", "time_format": "%d.%m.%Y %H:%M"}
    report = duck.ingest_file(path, timezone="Europe/Berlin", **options)
    assert report.kind == "events" and report.written == 2
    got = duck.events().set_index("asset_id")["ts"]
    assert got["P-1"] == _utc("2024-10-27 13:30") and got["P-2"] == _utc("2024-07-01 06:00")
    bad = _write(tmp_path / "bad.csv", "Anlage;Datum;kind\nP-1;27.10.2024 14:30;failure\nP-1;2024-10-28;failure\n")
    with pytest.raises(IngestError, match="cannot parse timestamp '2024-10-28'") as caught:
        duck.ingest_file(bad, **options)
    assert (caught.value.line, caught.value.column) == (3, "Datum") and len(duck.events()) == 2


def test_epoch_seconds_and_milliseconds_with_the_unit_checked(duck, tmp_path):
    seconds = _write(tmp_path / "s.csv", "asset_id,ts,temp\nP-1,1729382400,1\nP-1,1729386000.5,2\n")
    with pytest.raises(IngestError, match="epoch_ms for numbers of seconds / milliseconds"):
        duck.ingest_file(seconds)
    with pytest.raises(IngestError, match="not a number of milliseconds since 1970") as caught:
        duck.ingest_file(seconds, time_format="epoch_ms")  # seconds read as ms would be January 1970
    assert caught.value.line == 2 and duck.count_readings() == 0
    assert duck.ingest_file(seconds, time_format="epoch").written == 2
    assert duck.readings("P-1")["ts"].tolist() == [_utc("2024-10-20 00:00"), _utc("2024-10-20 01:00:00.5")]
    table = pd.DataFrame({"asset_id": ["P-2"], "ts": [1729382400123], "temp": [3.0]})
    table.to_parquet(tmp_path / "ms.parquet")
    assert duck.ingest_file(tmp_path / "ms.parquet", time_format="epoch_ms").written == 1
    assert duck.readings("P-2")["ts"].tolist() == [_utc("2024-10-20 00:00:00.123")]


def test_an_asset_list_from_excel_semicolons_or_utf16(duck, tmp_path):
    semicolons = _write(tmp_path / "a.csv", "asset_id;site;line;class;rated_kw\nP-1;Werk Nord;L1;pump;55,5\n")
    unicode = _write(tmp_path / "b.csv", "asset_id,site,class\nM-2,Werk Süd,motor\n", "utf-16")
    assert duck.import_assets(semicolons).created == ("P-1",) and duck.import_assets(unicode).created == ("M-2",)
    got = duck.assets().set_index("asset_id")
    assert got.loc["P-1", "site_id"] == "Werk Nord" and got.loc["P-1", "metadata"] == {"rated_kw": "55,5"}
    assert (got.loc["M-2", "site_id"], got.loc["M-2", "asset_class"]) == ("Werk Süd", "motor")


def test_labels_of_the_repeated_hour_keep_both_passes_like_the_readings(duck, tmp_path):
    rows = "".join(f"P-1,{local},{i},{'yes' if i == 3 else 'no'}\n" for i, (local, _) in enumerate(FALL_BACK))
    path = _write(tmp_path / "labelled.csv", "asset_id,ts,temp,fails\n" + rows)
    report = duck.ingest_file(path, timezone="Europe/Berlin", label_columns="fails")
    assert report.labels_written == 6
    got = duck.labels(["P-1"], name="fails").sort_values("ts")
    assert got["ts"].tolist() == [_utc(utc) for _, utc in FALL_BACK]
    assert got["value"].tolist() == ["no", "no", "no", "yes", "no", "no"]


def test_units_rows_under_the_header_are_read_as_units_not_refused(duck, tmp_path):
    path = _write(
        tmp_path / "units.csv",
        "asset_id;ts;temp;flow\n;;°C;m3/h\nP-1;2024-01-01T00:00Z;40,5;1\nP-1;2024-01-01T01:00Z;x;2\n",
    )
    with pytest.raises(IngestError, match="value 'x' is not a number") as caught:  # before: refused at line 2
        duck.ingest_file(path)
    assert caught.value.line == 4 and duck.count_readings() == 0  # lines still the file's own
    two = _write(
        tmp_path / "two.csv",
        "Anlage,Zeit,temp,flow\n,Beschreibung,Pump temperature,Flow rate\n,,degC,[m3/h]\n"
        "P-1,2024-01-01T00:00Z,40.5,1\nP-1,2024-01-01T01:00Z,41,\n",
    )
    report = duck.ingest_file(two, asset_column="Anlage", time_column="Zeit")
    assert report.rows_read == report.written == 3
    assert report.notes == (
        f"{two}: lines 2-3 read as the channels' units, not as readings (temp: degC, flow: [m3/h])",
    )
    got = duck.readings("P-1", wide=True)
    assert got["temp"].tolist() == [40.5, 41.0] and got["ts"].tolist() == [
        _utc("2024-01-01T00:00"),
        _utc("2024-01-01T01:00"),
    ]
    # the row nearest the data is stored as the channels' units (a unit declared before is kept)
    units = duck.channels("P-1").set_index("channel")["unit"].to_dict()
    assert units == {"temp": "degC", "flow": "[m3/h]"}
    duck.ingest_file(_write(tmp_path / "again.csv", "asset_id,ts,temp\n,,K\nP-1,2024-01-02T00:00Z,300\n"))
    assert duck.channels("P-1").set_index("channel")["unit"].to_dict()["temp"] == "degC"
    blank = _write(tmp_path / "blank.csv", "asset_id,ts,temp\n,2024-01-01T00:00Z,40\n")
    with pytest.raises(IngestError, match="missing asset_id"):  # a number in the row: data, not units
        duck.ingest_file(blank)
    later = _write(tmp_path / "later.csv", "asset_id,ts,temp\nP-1,2024-01-01T00:00Z,40\n,,degC\n")
    with pytest.raises(IngestError, match="missing asset_id") as caught:  # only leading rows are units
        duck.ingest_file(later)
    assert caught.value.line == 3
