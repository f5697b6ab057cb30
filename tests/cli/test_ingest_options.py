"""``forewarn ingest`` options for a plant's own exports, and ``forewarn assets import`` / ``set``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from forewarn.cli.main import app
from forewarn.store import Store
from testkit import forewarn_process

runner = CliRunner()


def _invoke(*args: str):  # noqa: ANN202 - a click Result
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result


_forewarn = forewarn_process


def _readings(store: Path, asset: str) -> pd.DataFrame:
    with Store(store, read_only=True) as db:
        return db.readings(asset)


def test_renamed_columns_day_first_format_and_zone(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Anlage,Zeit,temp\nP-1,31/01/2024 10:00,40.5\nP-1,01/07/2024 10:00,41\n")
    store = tmp_path / "plant.duckdb"
    done = _invoke(
        "ingest",
        str(path),
        "--store",
        str(store),
        "--asset-column",
        "Anlage",
        "--time-column",
        "Zeit",
        "--time-format",
        "%d/%m/%Y %H:%M",
        "--timezone",
        "Europe/Berlin",
    )
    assert done.exit_code == 0, done.output
    assert _readings(store, "P-1")["ts"].tolist() == [
        pd.Timestamp("2024-01-31 09:00", tz="UTC"),
        pd.Timestamp("2024-07-01 08:00", tz="UTC"),
    ]


def test_one_asset_file_and_label_columns(tmp_path):
    path = tmp_path / "pump7.csv"
    path.write_text("ts,temp,state,code\n2024-01-01T00:00Z,40,run,0\n2024-01-01T00:01Z,41,fault,12\n")
    store = tmp_path / "plant.duckdb"
    done = _invoke("ingest", str(path), "--store", str(store), "--asset", "P-7", "--label-columns", "state,code")
    assert done.exit_code == 0, done.output
    assert "4 label(s) written" in done.output
    with Store(store, read_only=True) as db:
        assert db.channels()["channel"].tolist() == ["temp"]
        assert db.label_names() == ["code", "state"]
        assert db.labels(["P-7"], name="code")["value"].tolist() == ["0", "12"]


def test_on_conflict_modes_print_their_counts(tmp_path):
    store = tmp_path / "plant.duckdb"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00Z,40\nP-1,2024-01-01T00:01Z,41\n")
    second.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00Z,50\nP-1,2024-01-01T00:01Z,51\n")
    assert _invoke("ingest", str(first), "--store", str(store)).exit_code == 0
    kept = _invoke("ingest", str(second), "--store", str(store))
    assert kept.exit_code == 0
    assert "2 stored values differed (kept the stored ones; --on-conflict replace to take the new ones)" in kept.output
    refused = _forewarn("ingest", str(second), "--store", str(store), "--on-conflict", "error")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0
    assert "second.csv, line 2, column 'temp'" in refused.stderr
    assert _readings(store, "P-1")["value"].tolist() == [40.0, 41.0]
    replaced = _invoke("ingest", str(second), "--store", str(store), "--on-conflict", "replace")
    assert replaced.exit_code == 0 and "2 stored values differed (replaced them" in replaced.output
    assert _readings(store, "P-1")["value"].tolist() == [50.0, 51.0]
    assert _invoke("ingest", str(second), "--store", str(store), "--on-conflict", "merge").exit_code == 2


def test_a_windows_1252_export_with_a_degree_sign(tmp_path):
    path = tmp_path / "historian.csv"
    path.write_bytes("asset_id,ts,temp °C\nP-1,2024-01-01T00:00Z,40.5\n".encode("cp1252"))
    store = tmp_path / "plant.duckdb"
    done = _forewarn("ingest", str(path), "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert "read as Windows-1252" in done.stderr
    with Store(store, read_only=True) as db:
        assert db.channels()["channel"].tolist() == ["temp °C"]


def test_a_bad_encoding_is_one_line_without_traceback_and_writes_nothing(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"asset_id,ts,temp\nP-\x81,2024-01-01T00:00Z,1\n")
    store = tmp_path / "plant.duckdb"
    done = _forewarn("ingest", str(path), "--store", str(store))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "odd.csv, line 2" in done.stderr and "--encoding" in done.stderr
    unknown = _forewarn("ingest", str(path), "--store", str(store), "--encoding", "klingon")
    assert unknown.returncode == 2 and "unknown encoding" in unknown.stderr
    with Store(store, read_only=True) as db:
        assert db.count_readings() == 0 and db.assets().empty


def test_assets_import_set_and_the_bare_listing(tmp_path):
    store = tmp_path / "plant.duckdb"
    listed = tmp_path / "assets.csv"
    listed.write_text("asset_id,site,line,asset_class,rated_kw\nP-1,S1,L1,pump,55\nF-2,S1,L2,fan,\n")
    done = _invoke("assets", "import", str(listed), "--store", str(store))
    assert done.exit_code == 0 and "2 asset(s) created, 0 updated" in done.output, done.output
    changed = _invoke(
        "assets",
        "set",
        "P-1",
        "--store",
        str(store),
        "--class",
        "centrifugal_pump",
        "--name",
        "Feed pump",
        "--meta",
        "serial=X9",
        "--meta",
        "rated_kw=60",
    )
    assert changed.exit_code == 0 and "updated asset P-1" in changed.output
    new = _invoke("assets", "set", "M-3", "--store", str(store), "--line", "L2")
    assert new.exit_code == 0 and "created asset M-3" in new.output
    with Store(store, read_only=True) as db:
        assets = db.assets().set_index("asset_id")
        assert db.hierarchy() == {"S1": {"L1": ["P-1"], "L2": ["F-2", "M-3"]}}
    assert assets.loc["P-1", "asset_class"] == "centrifugal_pump" and assets.loc["P-1", "name"] == "Feed pump"
    assert assets.loc["P-1", "metadata"] == {"rated_kw": "60", "serial": "X9"}
    for listing in (_invoke("assets", "--store", str(store)), _invoke("assets", "list", "--store", str(store))):
        assert listing.exit_code == 0 and "3 asset(s)" in listing.output and "centrifugal_pump" in listing.output
    bad = _forewarn("assets", "set", "P-1", "--store", str(store), "--meta", "oops")
    assert bad.returncode == 2 and "key=value" in bad.stderr and "Traceback" not in bad.stderr


def test_na_values_names_an_exports_marks_for_no_value(tmp_path):
    path = tmp_path / "historian.csv"
    path.write_text("asset_id;ts;temp;flow\nP-1;2024-01-01T00:00Z;n/a;1,5\nP-1;2024-01-01T01:00Z;41;#DIV/0!\n")
    store = tmp_path / "plant.duckdb"
    refused = _forewarn("ingest", str(path), "--store", str(store))
    assert refused.returncode == 2 and "'n/a' is not a number" in refused.stderr and "--na-values" in refused.stderr
    done = _invoke("ingest", str(path), "--store", str(store), "--na-values", "n/a,#DIV/0!")
    assert done.exit_code == 0, done.output
    got = _readings(store, "P-1")
    assert sorted(zip(got["channel"], got["value"], strict=True)) == [("flow", 1.5), ("temp", 41.0)]
