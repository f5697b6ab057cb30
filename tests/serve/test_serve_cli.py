"""``forewarn serve --store``: a store file that does not exist is refused unless ``--create`` is given."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from testkit import free_port


def _serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "forewarn.cli.main", "serve", *args]


def test_a_missing_store_is_refused_in_one_line(tmp_path: Path) -> None:
    typo = tmp_path / "plnat.duckdb"
    done = subprocess.run(_serve("--store", str(typo)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"forewarn: error: store '{typo}' does not exist; pass --create to start an empty one"
    ]
    assert not typo.exists()


def test_create_starts_an_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "new.duckdb"
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            _serve("--store", str(store), "--create", "--port", str(port), "--no-evaluate", "--log-level", "warning"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no answer within 60 s"
                time.sleep(0.2)
        assert store.exists()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_what_if_concurrency_reaches_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import forewarn.serve.server as server
    from forewarn.cli.main import app

    seen: dict[str, object] = {}
    monkeypatch.setattr(server, "run_server", lambda settings, **kwargs: seen.update(settings=settings))
    result = CliRunner().invoke(
        app, ["serve", "--store", str(tmp_path / "s.duckdb"), "--create", "--what-if-concurrency", "3"]
    )
    assert result.exit_code == 0, result.output
    assert seen["settings"].what_if_concurrency == 3  # type: ignore[attr-defined]
    refused = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "s.duckdb"), "--what-if-concurrency", "0"])
    assert refused.exit_code == 2


def test_quality_settings_reach_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``/quality``'s model, review queue and image folders were reachable only from Python (``extra``)."""
    import forewarn.serve.server as server
    from forewarn.cli.main import app

    seen: dict[str, object] = {}
    monkeypatch.setattr(server, "run_server", lambda settings, **kwargs: seen.update(settings=settings))
    (tmp_path / "model").mkdir()
    (tmp_path / "cam").mkdir()
    base = ["serve", "--store", str(tmp_path / "s.duckdb"), "--create"]
    given = ["--quality-model", str(tmp_path / "model"), "--quality-reviews", str(tmp_path / "q.duckdb")]
    result = CliRunner().invoke(app, [*base, *given, "--quality-images", str(tmp_path / "cam")])
    assert result.exit_code == 0, result.output
    extra = seen["settings"].extra  # type: ignore[attr-defined]
    assert (extra["quality_model"], extra["quality_reviews"], extra["quality_images"]) == (
        str(tmp_path / "model"),
        str(tmp_path / "q.duckdb"),
        str(tmp_path / "cam"),
    )
    for wrong, said in (
        (["--quality-model", str(tmp_path / "nope")], "is not a folder"),
        (["--quality-reviews", str(tmp_path / "no" / "q.duckdb")], "its folder does not exist"),
        (["--quality-images", str(tmp_path / "gone")], "is not a folder"),
    ):
        refused = CliRunner().invoke(app, [*base, *wrong])
        assert refused.exit_code != 0 and said in str(refused.exception), refused.output
