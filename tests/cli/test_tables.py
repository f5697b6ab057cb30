"""Tables in an 80-column terminal: no cell cut with an ellipsis; the same rows as CSV and JSON (--format)."""

from __future__ import annotations

import csv
import io
import json
import re
import types
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from forewarn.bench.anchors import anchor_protocol, anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.cli.bench import print_results, result_records
from forewarn.cli.main import app
from forewarn.cli.tables import Column, print_table, write_records
from forewarn.exceptions import ConfigError

runner = CliRunner()
MODELS = ("lightgbm-rul", "cnn-rul", "ensemble-rul-with-a-long-name")


def _payload() -> dict:
    runs = [
        ModelRun(
            m,
            s,
            {
                "rmse": 15.2 + s,
                "score": 412.0 + 3 * s,
                "rmse_capped_truth": 13.1 + s / 10,
                "score_capped_truth": 300.5 - s,
            },
            12.3 + s,
            0.0123,
        )
        for m in MODELS
        for s in range(3)
    ]
    return {
        "dataset": "cmapss",
        "subset": "FD001",
        "protocol": anchor_protocol("cmapss"),
        "primary_metric": "rmse",
        "results": summarise(runs),
        "published": anchor_rows("cmapss", subset="FD001"),
    }


def _words(text: str) -> list[str]:
    """The text of table cells, the box drawing removed."""
    return re.sub(r"[│┃┏┓┗┛┡┩└┘├┤┼┳┻╇━─┬┴]", " ", text).split()


def _check_whole(text: str, payload: dict) -> None:
    assert "…" not in text and "..." not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    words = _words(text)
    for header in ("rmse", "rmse_capped_truth", "score", "score_capped_truth", "seeds", "fit", "predict", "model"):
        assert header in words, header
    for model in MODELS:
        assert words.count(model) >= 2, model  # whole, in every part of the table
    for row in payload["published"]:
        assert all(word in words for word in row["method"].split()), row["method"]


def test_bench_table_fits_80_columns_without_cutting_a_cell() -> None:
    payload = _payload()
    out = io.StringIO()
    print_results(Console(file=out, width=80, color_system=None), payload)
    text = out.getvalue()
    _check_whole(text, payload)
    first = text.split("(continued)")[0]
    assert "rmse ↓" in first and "16.20 ± 0.816" in first  # the primary metric comes in the first part


def _fake_runner(payload: dict) -> types.ModuleType:
    module = types.ModuleType("forewarn_test_fake_bench")
    module.MODELS = {m: None for m in MODELS}  # type: ignore[attr-defined]
    module.run = lambda chosen, seeds, data_dir, progress, **_: (progress("fitting"), payload)[1]  # type: ignore
    return module


@pytest.fixture()
def fake_bench(monkeypatch: pytest.MonkeyPatch) -> dict:
    import sys

    from forewarn.bench import RUNNERS

    payload = _payload()
    monkeypatch.setitem(sys.modules, "forewarn_test_fake_bench", _fake_runner(payload))
    monkeypatch.setitem(RUNNERS, "fake", "forewarn_test_fake_bench")
    return payload


def test_forewarn_bench_in_80_columns(fake_bench: dict, tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "fake", "--chart", str(tmp_path / "c.png")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    _check_whole(result.output, fake_bench)
    assert "fitting" in result.output and "under the line: published figures" in result.output


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_forewarn_bench_format_gives_only_the_rows_on_stdout(fake_bench: dict, tmp_path: Path, fmt: str) -> None:
    result = runner.invoke(
        app, ["bench", "fake", "--format", fmt, "--chart", str(tmp_path / "c.png")], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    assert "fitting" not in result.stdout and "fitting" in result.stderr
    rows = json.loads(result.stdout) if fmt == "json" else list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["model"] for r in rows[:3]] == list(MODELS) and {r["kind"] for r in rows[3:]} == {"published"}
    assert len(rows) == 3 + len(fake_bench["published"])
    first = rows[0]
    assert float(first["rmse"]) == pytest.approx(16.2) and float(first["rmse_std"]) == pytest.approx(0.8165, 1e-3)
    assert int(first["seeds"]) == 3 and first["source"] == "forewarn"
    assert list(first)[:6] == ["kind", "model", "seeds", "fit_s", "predict_s", "rmse"]
    assert result_records(fake_bench)[3]["model"] == fake_bench["published"][0]["method"]


def test_an_unknown_format_is_a_user_error(fake_bench: dict) -> None:
    result = runner.invoke(app, ["bench", "fake", "--format", "xml"])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert "use one of table, csv, json" in str(result.exception)


def test_assets_list_in_80_columns_and_as_csv(tmp_path: Path) -> None:
    data = tmp_path / "fleet.csv"
    data.write_text(
        "asset_id,ts,temp,vib\n"
        + "".join(
            f"Pump-with-a-long-id-{i},2024-01-0{d}T00:00:00Z,{40 + i},0.{d}\n" for i in range(3) for d in range(1, 4)
        )
    )
    store = tmp_path / "plant.duckdb"
    assert runner.invoke(app, ["ingest", str(data), "--store", str(store)]).exit_code == 0
    listing = runner.invoke(app, ["assets", "--store", str(store)], env={"COLUMNS": "80"})
    assert listing.exit_code == 0, listing.output
    text = listing.output
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    words = _words(text)
    for name in ("asset_id", "asset_class", "n_readings", "first_ts", "last_ts", "n_failures"):
        assert name in words
    assert words.count("Pump-with-a-long-id-2") >= 2 and "2024-01-03" in words
    rows = list(
        csv.DictReader(
            io.StringIO(runner.invoke(app, ["assets", "list", "--store", str(store), "--format", "csv"]).stdout)
        )
    )
    assert [r["asset_id"] for r in rows] == [f"Pump-with-a-long-id-{i}" for i in range(3)]
    assert rows[0]["n_readings"] == "6" and rows[0]["first_ts"].startswith("2024-01-01T00:00:00")
    as_json = json.loads(runner.invoke(app, ["assets", "--store", str(store), "--format", "json"]).stdout)
    assert as_json[2]["n_channels"] == 2


def test_print_table_keeps_wide_cells_whole_and_wraps_only_keys() -> None:
    out = io.StringIO()
    columns = [Column("name"), *[Column(f"column_number_{i}", "right") for i in range(6)]]
    rows = [["a name of several words that wraps", *[f"{i * 1000.5:.1f} ± 0.25" for i in range(6)]]]
    print_table(Console(file=out, width=60, color_system=None), columns, rows, title="t")
    text = out.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 60
    for i in range(6):
        assert f"column_number_{i}" in text and f"{i * 1000.5:.1f} ± 0.25" in text
    assert text.count("(continued)") >= 2


def test_write_records_leaves_missing_values_empty() -> None:
    out = io.StringIO()
    write_records([{"a": 1, "b": float("nan")}, {"a": 2}], "json", out=out)
    assert json.loads(out.getvalue()) == [{"a": 1, "b": None}, {"a": 2, "b": None}]
