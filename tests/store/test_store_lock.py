"""A store file held by another process: one clear line that names the file and points at ``serve --stream``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.cli.main import run
from forewarn.exceptions import ConfigError
from forewarn.store import Store

HOLD = (
    "import sys; from forewarn.store import Store; s = Store(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
)


@pytest.fixture()
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A store file kept open for writing by another process (ends when its stdin closes)."""
    path = tmp_path / "plant.duckdb"
    Store(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield path, proc.pid
    finally:
        proc.communicate(timeout=30)  # closes stdin (the holder exits) and stdout


@pytest.mark.parametrize("read_only", [False, True])
def test_open_names_the_file_the_holder_and_serve_stream(held: tuple[Path, int], read_only: bool) -> None:
    path, pid = held
    with pytest.raises(ConfigError) as caught:
        Store(path, read_only=read_only)
    message = str(caught.value)
    assert "\n" not in message
    assert f"store file {str(path)!r} is in use by another process (PID {pid}" in message
    assert f"forewarn serve --store {path} --stream CONFIG.toml" in message


def test_other_open_errors_keep_duckdb_s_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.duckdb"
    bad.write_bytes(b"\0" * 8 + b"DUCK" + b"a damaged header" * 100)  # DuckDB's mark, then nothing DuckDB can read
    with pytest.raises(ConfigError, match="cannot open store") as caught:
        Store(bad)
    assert "in use by another process" not in str(caught.value)
    other = tmp_path / "not-a-store.duckdb"
    other.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="is not a DuckDB store file; it is another kind of file"):
        Store(other)


def _stream_config(tmp_path: Path) -> Path:
    config = tmp_path / "stream.toml"
    config.write_text(
        '[mqtt]\nport = 1\n[[mqtt.subscriptions]]\ntopic = "p/+/+"\nlayout = "value"\nasset = "{1}"\nchannel = "{2}"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("command", ["ingest", "stream", "serve", "assets"])
def test_cli_commands_say_it_in_one_line_and_exit_2(
    held: tuple[Path, int], tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, pid = held
    readings = tmp_path / "readings.csv"
    readings.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00Z,40.0\n", encoding="utf-8")
    argv = {
        "ingest": ["ingest", str(readings), "--store", str(path)],
        "stream": ["stream", "--config", str(_stream_config(tmp_path)), "--store", str(path)],
        "serve": ["serve", "--store", str(path), "--stream", str(_stream_config(tmp_path))],
        "assets": ["assets", "--store", str(path)],
    }[command]
    with pytest.raises(SystemExit) as stopped:
        run(argv)
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("forewarn: error:")]
    assert len(errors) == 1 and f"(PID {pid}" in errors[0] and "--stream CONFIG.toml" in errors[0]
    assert "Traceback" not in capsys.readouterr().err
