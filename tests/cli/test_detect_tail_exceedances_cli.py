"""``forewarn detect --tail-exceedances N``: a short series' alarm levels rest on more of its training rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testkit import run_cli


def _short(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    times = pd.date_range("2024-01-01", periods=rows, freq="10min")
    values = rng.normal(size=(rows, 2))
    return pd.DataFrame({"ts": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "a": values[:, 0], "b": values[:, 1]})


def _scores(tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]) -> np.ndarray:
    out = tmp_path / f"scores{len(extra)}.csv"
    assert run_cli(["detect", str(tmp_path / "short.csv"), "--out", str(out), *extra]) == 0
    capsys.readouterr()
    return pd.read_csv(out)["anomaly_score"].to_numpy()


def test_the_option_reaches_a_short_fit_and_leaves_a_long_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _short(600).to_csv(tmp_path / "short.csv", index=False)  # 90 training rows
    assert not np.allclose(_scores(tmp_path, [], capsys), _scores(tmp_path, ["--tail-exceedances", "40"], capsys))
    _short(4000).to_csv(tmp_path / "short.csv", index=False)  # 600 training rows: nothing changes
    assert np.array_equal(_scores(tmp_path, [], capsys), _scores(tmp_path, ["--tail-exceedances", "40"], capsys))


def test_tail_exceedances_below_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _short(200).to_csv(tmp_path / "short.csv", index=False)
    code = run_cli(["detect", str(tmp_path / "short.csv"), "--out", str(tmp_path / "s.csv"), "--tail-exceedances", "0"])
    assert code == 2
    assert "--tail-exceedances" in capsys.readouterr().err
