"""The command line: version, user errors as one line, ingest and assets against a real store file."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forewarn.cli.main import app
from testkit import forewarn_process, free_port

runner = CliRunner()


def _forewarn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed entry point as a user would."""
    return forewarn_process(*args, cwd=cwd, columns=120)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("forewarn 0.")


def test_user_error_is_one_line_without_traceback(tmp_path):
    done = _forewarn("assets", "--store", str(tmp_path / "absent.duckdb"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "Traceback" not in done.stderr and "no store at" in done.stderr


def test_bad_file_is_reported_with_line_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("asset_id,ts,channel,value\np1,2024-01-01T00:00:00Z,temp,1.5\np1,2024-01-01T00:01:00Z,temp,abc\n")
    done = _forewarn("ingest", str(bad), "--store", str(tmp_path / "s.duckdb"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad.csv" in done.stderr and "line 3" in done.stderr and "value" in done.stderr


def test_ingest_then_assets(tmp_path):
    good = tmp_path / "pump.csv"
    good.write_text(
        "asset_id,ts,temp,vib\nP-1,2024-01-01T00:00:00Z,40.0,0.2\nP-1,2024-01-01T00:01:00Z,41.0,0.3\n"
        "P-2,2024-01-01T00:00:00Z,39.0,\n"
    )
    store = tmp_path / "plant.duckdb"
    first = runner.invoke(app, ["ingest", str(good), "--store", str(store)])
    assert first.exit_code == 0, first.output
    # three rows of two channels, one cell empty: rows and values said apart (it said "5 rows read")
    assert "3 rows read (5 values), 5 values written, 0 already stored" in " ".join(first.output.split())
    assert "3 rows read, 5 readings and events written, 0 duplicates skipped" in first.output
    again = runner.invoke(app, ["ingest", str(good), "--store", str(store)])
    assert again.exit_code == 0 and "0 readings and events written, 5 duplicates skipped" in again.output
    listing = runner.invoke(app, ["assets", "--store", str(store)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    assert "P-1" in listing.output and "P-2" in listing.output and "2 asset(s)" in listing.output


def test_unknown_kind_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["ingest", "x.csv", "--kind", "photos", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, shared_data_dir):
    done = _forewarn("demo", "--store", str(tmp_path / "demo.duckdb"), "--data-dir", str(shared_data_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "ranked by risk" in out and "FD001-test-" in out
    assert "Forewarn LightGBM RUL" in out and "Babu et al." in out
    rmse = float(out.split("one seed)")[1].split()[1].strip("│").strip())
    assert 9.0 < rmse < 16.0, f"implausible RMSE {rmse}"
    bundle = tmp_path / "demo.duckdb.models" / "rul" / "v1"
    assert (bundle / "manifest.json").is_file() and (bundle / "serving.json").is_file()
    rerun = _forewarn(
        "demo", "--store", str(tmp_path / "demo.duckdb"), "--data-dir", str(shared_data_dir), cwd=tmp_path
    )
    assert rerun.returncode == 0 and "(0 new this run)" in " ".join(rerun.stdout.split())  # any line wrap


def test_demo_with_a_missing_data_dir_is_a_user_error(tmp_path):
    done = _forewarn("demo", "--store", str(tmp_path / "d.duckdb"), "--data-dir", str(tmp_path / "nope"))
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_demo_without_benchmark_data_runs_on_a_simulated_fleet_and_serves_it(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    port = free_port()
    code = "import sys; from forewarn.cli.main import run; sys.argv[0] = 'forewarn'; run()"
    args = [
        "demo",
        "--store",
        str(tmp_path / "d.duckdb"),
        "--data-dir",
        str(empty),
        "--top",
        "5",
        "--serve",
        "--port",
        str(port),
    ]
    errors = open(tmp_path / "stderr.txt", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "120"},
    )
    lines = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving the demo's dashboard" in line:
                break
        out = "".join(lines)
        flat = " ".join(out.split())  # rich wraps long lines
        assert "running on a simulated fleet" in flat and "Simulated fleet ranked by risk now" in flat, out
        assert "held-out assets" in flat
        assert (tmp_path / "d.duckdb.models" / "rul" / "v1" / "manifest.json").is_file()
        ranked = [line for line in out.splitlines() if line.startswith("│") and "S1-" in line]
        assert len(ranked) == 5
        assert f"http://127.0.0.1:{port}/" in out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
            health = json.load(reply)
        assert health["status"] == "ok" and health["model"] == "rul:v1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.status == 200 and "fleet-grid" in reply.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/assets", timeout=10) as reply:
            assert len(json.load(reply)) == 30
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errors.close()
