"""Exports in the plant's own shape, read without conversion (issue 12, a new user's walk):

* a historian's long export (``tag, timestamp, value, quality``) with a tag-to-asset map: bad-quality rows and
  tags the map does not name are skipped and counted, never stored (a failed read written as 0 is no reading);
* a failure log with its own column names, or with no kind column at all (``--event-kind failure``);
* an asset list with the plant's own header (``--rename``);
* rows and values counted apart (a wide row of two channels is one row, two values).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, IngestError
from forewarn.store import Store

HISTORIAN = (
    "tag,timestamp,value,quality\n"
    "PLANT.P1.TEMP,2024-01-01T00:00:00Z,40.5,Good\n"
    "PLANT.P1.TEMP,2024-01-01T01:00:00Z,0,Bad\n"
    "PLANT.P1.VIB,2024-01-01T00:00:00Z,1.5,good\n"
    "PLANT.P1.VIB,2024-01-01T01:00:00Z,1.7,Uncertain\n"
    "PLANT.P2.TEMP,2024-01-01T00:00:00Z,38.0,192\n"
    "PLANT.LIGHTS,2024-01-01T00:00:00Z,1,Good\n"
)
TAG_MAP = "tag,asset,channel,unit\nPLANT.P1.TEMP,P-1,temp,degC\nPLANT.P1.VIB,P-1,vib,mm/s\nPLANT.P2.TEMP,P-2,temp,\n"


@pytest.fixture
def duck(tmp_path: Path):
    with Store(tmp_path / "plant.duckdb") as db:
        yield db


def _files(tmp_path: Path, historian: str = HISTORIAN, tag_map: str = TAG_MAP) -> tuple[Path, Path]:
    data, mapping = tmp_path / "historian.csv", tmp_path / "tags.csv"
    data.write_text(historian)
    mapping.write_text(tag_map)
    return data, mapping


def test_a_historian_export_reads_good_rows_of_mapped_tags(store: Store, tmp_path: Path):
    data, mapping = _files(tmp_path)
    report = store.ingest_file(data, time_column="timestamp", tag_map=mapping, quality_column="quality")
    got = pd.concat([store.readings(a) for a in ("P-1", "P-2")]).sort_values(["asset_id", "channel", "ts"])
    assert list(zip(got["asset_id"], got["channel"], got["value"], strict=True)) == [
        ("P-1", "temp", 40.5),
        ("P-1", "vib", 1.5),
        ("P-2", "temp", 38.0),
    ]
    assert (report.file_rows, report.rows_read, report.written) == (6, 3, 3)
    assert report.assets_created == ("P-1", "P-2")
    quality, unmapped = report.notes
    assert "2 row(s) of a quality other than Good, 192 skipped (Bad: 1, Uncertain: 1)" in quality
    assert "1 row(s) of 1 tag(s) the tag map does not name skipped: PLANT.LIGHTS" in unmapped


def test_the_tag_map_gives_units_and_reingest_adds_nothing(duck: Store, tmp_path: Path):
    data, mapping = _files(tmp_path)
    duck.ingest_file(data, time_column="timestamp", tag_map=mapping, quality_column="quality")
    units = duck.channels().set_index(["asset_id", "channel"])["unit"].to_dict()
    assert units[("P-1", "temp")] == "degC" and units[("P-1", "vib")] == "mm/s" and units[("P-2", "temp")] == "degC"
    again = duck.ingest_file(data, time_column="timestamp", tag_map=mapping, quality_column="quality")
    assert again.written == 0 and again.duplicates == 3


def test_without_a_quality_column_a_bad_read_would_be_stored(duck: Store, tmp_path: Path):
    """The filter is what keeps the Bad row's placeholder 0 out: without it the 0 is stored as a reading."""
    data, mapping = _files(tmp_path)
    report = duck.ingest_file(data, time_column="timestamp", tag_map=mapping)
    assert report.written == 5 and 0.0 in duck.readings("P-1")["value"].tolist()


def test_tag_map_mistakes_are_named(duck: Store, tmp_path: Path):
    data, mapping = _files(tmp_path, tag_map=TAG_MAP + "PLANT.P1.TEMP,P-9,temp,degC\n")
    with pytest.raises(IngestError, match=r"tag 'PLANT.P1.TEMP' is named twice \(lines 2 and 5\)"):
        duck.ingest_file(data, time_column="timestamp", tag_map=mapping)
    data, mapping = _files(tmp_path, tag_map="Tag,Machine\nA,B\n")
    with pytest.raises(IngestError, match="missing column.*channel.*found Tag, Machine"):
        duck.ingest_file(data, time_column="timestamp", tag_map=mapping)
    data, mapping = _files(tmp_path)
    with pytest.raises(IngestError, match="missing quality column 'Qualität'"):
        duck.ingest_file(data, time_column="timestamp", tag_map=mapping, quality_column="Qualität")
    with pytest.raises(IngestError, match="missing tag column 'TagName'"):
        duck.ingest_file(data, time_column="timestamp", tag_map=mapping, tag_column="TagName")
    assert duck.assets().empty  # nothing half-written


def test_a_failure_log_in_the_plants_own_words(duck: Store, tmp_path: Path):
    log = tmp_path / "work_orders.csv"
    log.write_text(
        "Equipment,Reported,Type,Failure mode,Work done\n"
        "P-1,2024-01-05 14:17,failure,bearing,\n"
        "P-1,2024-01-06 09:00,maintenance,,replace\n"
    )
    report = duck.ingest_file(
        log,
        asset_column="Equipment",
        time_column="Reported",
        rename="Type=kind,Failure mode=failure_mode,Work done=action",
    )
    assert report.kind == "events" and report.written == 2
    events = duck.events()
    assert events["kind"].tolist() == ["failure", "maintenance"]
    assert events["failure_mode"].tolist()[0] == "bearing" and events["action"].tolist()[1] == "replace"
    assert events["ts"].tolist()[0] == pd.Timestamp("2024-01-05 14:17", tz="UTC")


def test_a_failure_log_without_a_kind_column(duck: Store, tmp_path: Path):
    log = tmp_path / "failures.csv"
    log.write_text("engine,date,description\nE1,2024-01-09 00:00:00,removed\nE2,2024-01-12 23:00:00,removed\n")
    with pytest.raises(IngestError, match="--event-kind failure"):
        duck.ingest_file(log, asset_column="engine", time_column="date", kind="events")
    report = duck.ingest_file(log, asset_column="engine", time_column="date", event_kind="failure")
    assert report.kind == "events" and report.written == 2
    assert duck.events()["kind"].tolist() == ["failure", "failure"]
    with pytest.raises(ConfigError, match="event_kind='breakdown'"):
        duck.ingest_file(log, asset_column="engine", time_column="date", event_kind="breakdown")


def test_rename_mistakes_are_named(duck: Store, tmp_path: Path):
    log = tmp_path / "failures.csv"
    log.write_text("engine,date,event\nE1,2024-01-09 00:00:00,failure\n")
    with pytest.raises(IngestError, match=r"missing column 'Type'.*--rename Type=kind"):
        duck.ingest_file(log, asset_column="engine", time_column="date", rename="Type=kind")
    with pytest.raises(ConfigError, match="has no '='"):
        duck.ingest_file(log, asset_column="engine", time_column="date", rename="event")
    with pytest.raises(ConfigError, match="--time-column"):
        duck.ingest_file(log, asset_column="engine", rename="date=ts")


def test_a_long_file_with_its_own_channel_and_value_names(duck: Store, tmp_path: Path):
    path = tmp_path / "long.csv"
    path.write_text("asset_id,ts,Messstelle,Wert\nP-1,2024-01-01T00:00:00Z,temp,40.5\n")
    report = duck.ingest_file(path, rename="Messstelle=channel,Wert=value")
    assert report.written == 1 and duck.readings("P-1")["channel"].tolist() == ["temp"]


def test_rows_and_values_are_counted_apart(duck: Store, tmp_path: Path):
    path = tmp_path / "wide.csv"
    path.write_text("asset_id,ts,temp,vib\nP-1,2024-01-01T00:00:00Z,40,1\nP-1,2024-01-01T01:00:00Z,41,\n")
    report = duck.ingest_file(path)
    assert (report.file_rows, report.rows_read, report.written) == (2, 3, 3)
    assert report.counts_line() == "2 rows read (3 values), 3 values written, 0 already stored"


def test_an_asset_list_with_the_plants_own_header(duck: Store, tmp_path: Path):
    path = tmp_path / "anlagen.csv"
    path.write_bytes(
        "\ufeffMaschine;Standort;Linie;Klasse;Baujahr\nM01;Werk Nord;Fräsen 1;Fräsmaschine;2011\n".encode()
    )
    with pytest.raises(IngestError, match="--rename 'Machine=asset_id"):
        duck.import_assets(path)
    report = duck.import_assets(path, rename="Maschine=asset_id,Standort=site,Linie=line,Klasse=class")
    assert report.created == ("M01",)
    asset = duck.assets().set_index("asset_id").loc["M01"]
    assert (asset["asset_class"], asset["site_id"], asset["line_id"]) == ("Fräsmaschine", "Werk Nord", "Fräsen 1")
    with pytest.raises(IngestError, match="'Standort' is not a field"):
        duck.import_assets(path, rename="Maschine=asset_id,Linie=Standort")


def test_a_failure_flag_column_files_one_failure_per_run_of_flags(store: Store, tmp_path: Path):
    path = tmp_path / "hourly.csv"
    path.write_text(
        "Maschine;Zeit;Drehmoment [Nm];Ausfall\n"
        "M1;01.03.2024 00:00;40,5;0\nM1;01.03.2024 01:00;41,0;1\nM1;01.03.2024 02:00;41,5;1\n"
        "M1;01.03.2024 03:00;40,0;0\nM1;01.03.2024 04:00;40,2;ja\nM2;01.03.2024 00:00;39,0;nein\n"
    )
    options = {"asset_column": "Maschine", "time_column": "Zeit", "time_format": "%d.%m.%Y %H:%M"}
    report = store.ingest_file(path, failure_column="Ausfall", **options)
    failures = store.events()
    assert failures["kind"].tolist() == ["failure", "failure"]  # the two-hour run is one failure
    assert failures["ts"].tolist() == [_utc("2024-03-01 01:00"), _utc("2024-03-01 04:00")]
    assert report.written == 6 and store.label_names() == ["Ausfall"]  # a label, never a channel
    assert "2 failure(s) marked in the column 'Ausfall'" in report.notes[-1]
    again = store.ingest_file(path, failure_column="Ausfall", **options)
    assert len(store.events()) == 2 and "0 failure event(s) filed, 2 already stored" in again.notes[-1]


def test_a_failure_flag_that_is_no_flag_is_refused_at_its_line(duck: Store, tmp_path: Path):
    path = tmp_path / "hourly.csv"
    path.write_text("asset_id,ts,temp,failed\nM1,2024-03-01T00:00Z,40,0\nM1,2024-03-01T01:00Z,41,maybe\n")
    with pytest.raises(IngestError, match=r"line 3.*'failed'.*failure flag 'maybe'"):
        duck.ingest_file(path, failure_column="failed")
    assert duck.events().empty


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
