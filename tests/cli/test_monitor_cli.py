"""forewarn monitor / retrain: bad options are one clear error before any work (the plant-backed runs are in
tests/monitor/test_monitor_plant.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.exceptions import ConfigError
from forewarn.monitor.retrain import retrain
from forewarn.monitor.runner import _end
from testkit import run_cli


@pytest.mark.parametrize("end", ["yesterday", "", "2024-13-45"])
def test_an_end_that_is_no_time_is_a_config_error(end: str) -> None:
    with pytest.raises(ConfigError, match="is not a time"):  # was pandas' DateParseError traceback
        _end(end)
    assert _end("2024-05-30") == _end("2024-05-30T00:00:00")


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), -0.1])
def test_retrain_refuses_a_margin_no_comparison_can_meet(tmp_path: Path, margin: float) -> None:
    # nan was accepted: every "better by the margin" was false, and the run trained a challenger for nothing
    with pytest.raises(ConfigError, match="margin a number >= 0"):
        retrain(tmp_path / "none.duckdb", tmp_path, "failure", margin=margin)


@pytest.mark.parametrize("command", ["monitor", "retrain"])
def test_an_output_file_in_a_missing_folder_is_refused_before_the_work(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, "--store", str(tmp_path / "none.duckdb"), "--models", str(tmp_path), "--json", "/nonexist/x.json"]
    code = run_cli([*args, "--model-id", "failure"])
    # the store does not exist either: the output's folder is named first (monitor ran to the end, then failed)
    assert code == 2 and "its folder '/nonexist' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("every", ["1s", "59min", "0.5h"])
def test_serve_refuses_a_retraining_period_under_an_hour(every: str) -> None:
    from forewarn.serve.retraining import parse_every

    # '1s' was taken: the schedule retrained without a pause and filed a new version every few seconds
    with pytest.raises(ConfigError, match="1h or more"):
        parse_every(every)
    assert parse_every("1h") == parse_every("60min") and parse_every("7d").days == 7


def test_a_decision_without_a_figure_says_why() -> None:
    from forewarn.monitor.retrain import reason

    judged = {"champion": {"roc_auc": None, "failures": 0}, "challenger": {"roc_auc": None, "failures": 0}}
    # was "challenger roc_auc None vs champion None (margin 0.02)"
    assert "None" not in reason("roc_auc", judged, 0.02) and "0 failures" in reason("roc_auc", judged, 0.02)
    judged = {"champion": {"roc_auc": 0.7}, "challenger": {"roc_auc": 0.8}}
    assert reason("roc_auc", judged, 0.02) == "challenger roc_auc 0.8 vs champion 0.7 (margin 0.02)"
