"""``forewarn detect --recurrence``: a height the series has already reached in enough separate excursions is normal
(a queue that empties again and again, long after the training rows); 8 by default since 2026-12-06, 0 turns it
off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testkit import run_cli


def _queue(rows: int = 8000) -> pd.DataFrame:
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


def test_recurrence_reads_a_reset_seen_again_and_again_as_normal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _queue().to_csv(tmp_path / "queue.csv", index=False)
    off = _alarms(tmp_path, ["--recurrence", "0"], capsys)
    capped = _alarms(tmp_path, ["--recurrence", "8"], capsys)
    assert off >= 10  # without it an episode opens at many of the emptyings the fit did not learn
    assert capped <= 0.7 * off
    assert _alarms(tmp_path, [], capsys) == capped  # the default


def test_recurrence_below_two_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _queue(400).to_csv(tmp_path / "queue.csv", index=False)
    assert run_cli(["detect", str(tmp_path / "queue.csv"), "--out", str(tmp_path / "s.csv"), "--recurrence", "1"]) == 2
    assert "--recurrence" in capsys.readouterr().err
