"""``forewarn detect --tail-visits``: rare events that recur in the training rows are normal (a queue that empties)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testkit import run_cli


def _queue(rows: int = 6000) -> pd.DataFrame:
    """A queue that fills over 80-200 rows and empties within a row, again and again: its normal behaviour."""
    rng = np.random.default_rng(4)
    level, values = 0.0, []
    length = int(rng.integers(80, 200))
    for _ in range(rows):
        level += 1.0 / length * 30
        if level >= 30:
            level, length = 0.0, int(rng.integers(80, 200))
        values.append(level + rng.normal(0, 0.5))
    times = pd.date_range("2024-01-01", periods=rows, freq="5min")
    return pd.DataFrame({"ts": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "depth": values})


def _alarms(tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]) -> int:
    out = tmp_path / f"scores{len(extra)}.csv"
    assert run_cli(["detect", str(tmp_path / "queue.csv"), "--out", str(out), *extra]) == 0
    capsys.readouterr()
    return int(pd.read_csv(out)["alarm"].sum())


def test_tail_visits_reads_a_recurring_reset_as_normal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _queue().to_csv(tmp_path / "queue.csv", index=False)
    default = _alarms(tmp_path, [], capsys)
    widened = _alarms(tmp_path, ["--tail-visits", "3"], capsys)
    assert default >= 5  # the default opens an episode at many of the emptyings it did not learn
    assert widened < default / 2


def test_tail_visits_below_two_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _queue(400).to_csv(tmp_path / "queue.csv", index=False)
    assert run_cli(["detect", str(tmp_path / "queue.csv"), "--out", str(tmp_path / "s.csv"), "--tail-visits", "1"]) == 2
    assert "--tail-visits" in capsys.readouterr().err
