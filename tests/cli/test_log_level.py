"""``--log-level`` applies to Forewarn's own loggers (``forewarn.*``): ``serve --log-level info`` shows them."""

import logging

import pytest
from typer.testing import CliRunner

from forewarn.cli import _logging
from forewarn.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_logging():
    _logging.reset()
    yield
    _logging.reset()


@pytest.fixture
def served(monkeypatch):
    """``forewarn serve`` with a stand-in server that logs as the service does, and records uvicorn's level."""
    from forewarn.serve import server

    seen = {}

    def run_server(settings, *, host, port, log_level, on_ready=None):
        seen["log_level"] = log_level
        logging.getLogger("forewarn.serve").info("evaluated the fleet at start-up: 0 new alert(s)")
        logging.getLogger("forewarn.serve").debug("a debug line")
        logging.getLogger("elsewhere").info("another library's info line")

    monkeypatch.setattr(server, "run_server", run_server)
    monkeypatch.delenv("FOREWARN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("FOREWARN_API_TOKEN", raising=False)
    return seen


def test_serve_log_level_info_shows_forewarn_lines(served):
    result = runner.invoke(app, ["serve", "--store", ":memory:", "--log-level", "info"])
    assert result.exit_code == 0, result.output
    assert "INFO forewarn.serve: evaluated the fleet at start-up" in result.stderr
    assert "a debug line" not in result.stderr and "another library" not in result.stderr
    assert served["log_level"] == "info"


def test_serve_defaults_to_info_for_forewarn_and_uvicorn(served):
    result = runner.invoke(app, ["serve", "--store", ":memory:"])
    assert result.exit_code == 0, result.output
    assert "INFO forewarn.serve: evaluated the fleet" in result.stderr and served["log_level"] == "info"


def test_root_log_level_reaches_serve_and_its_own_option_wins(served):
    result = runner.invoke(app, ["--log-level", "debug", "serve", "--store", ":memory:"])
    assert "DEBUG forewarn.serve: a debug line" in result.stderr and served["log_level"] == "debug"
    _logging.reset()
    result = runner.invoke(app, ["--log-level", "debug", "serve", "--store", ":memory:", "--log-level", "WARNING"])
    assert "forewarn.serve" not in result.stderr and served["log_level"] == "warning"


def test_log_level_from_the_environment(served):
    result = runner.invoke(app, ["serve", "--store", ":memory:"], env={"FOREWARN_LOG_LEVEL": "error"})
    assert result.exit_code == 0 and "forewarn.serve" not in result.stderr and served["log_level"] == "error"


def test_root_option_sets_the_forewarn_loggers_for_any_command(tmp_path):
    root_level = logging.getLogger().level
    result = runner.invoke(app, ["--log-level", "debug", "assets", "--store", str(tmp_path / "absent.duckdb")])
    assert result.exit_code != 0  # no such store; the level is set before the command runs
    assert logging.getLogger("forewarn.train").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger().level == root_level  # other libraries' loggers are left alone


def test_an_unknown_level_is_a_usage_error():
    result = runner.invoke(app, ["--log-level", "loud", "assets"])
    assert result.exit_code == 2 and "loud" in result.output


def test_configure_twice_keeps_one_handler():
    _logging.configure("info")
    _logging.configure("debug")
    handlers = [h for h in logging.getLogger("forewarn").handlers if isinstance(h, _logging._StderrHandler)]
    assert len(handlers) == 1 and logging.getLogger("forewarn").level == logging.DEBUG
