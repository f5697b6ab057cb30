"""`forewarn bench neu --epochs N` hands the epoch count to the runner; other benchmarks refuse it in one line."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import forewarn.bench.neu as neu
from forewarn.cli.main import app
from forewarn.exceptions import ConfigError


class _Seen(Exception):
    """Raised by the stand-in runner with the options the command handed it."""


def test_epochs_reach_the_neu_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    def stand_in(models: Any, seeds: int, data_dir: Any, **options: Any) -> dict[str, Any]:
        raise _Seen({**options, "seeds": seeds})

    monkeypatch.setattr(neu, "run", stand_in)
    out = CliRunner().invoke(app, ["bench", "neu", "--seeds", "1", "--epochs", "2"])
    assert isinstance(out.exception, _Seen)
    seen = out.exception.args[0]
    assert seen["epochs"] == 2 and seen["seeds"] == 1
    out = CliRunner().invoke(app, ["bench", "neu", "--seeds", "1"])
    assert isinstance(out.exception, _Seen) and "epochs" not in out.exception.args[0]  # the runner's 30


def test_epochs_on_a_benchmark_without_a_network_is_refused() -> None:
    out = CliRunner().invoke(app, ["bench", "skab", "--epochs", "2"])
    assert isinstance(out.exception, ConfigError)
    assert str(out.exception) == "--epochs: skab takes no epoch count; neu does"
