"""``forewarn detect --rebase-rows`` (issue 14, long series): the option reaches the ensemble, is refused elsewhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testkit import run_cli


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_cli(argv)
    return code, capsys.readouterr().err


def _drifting_csv(path: Path, n: int = 4000) -> Path:
    rng = np.random.default_rng(3)
    x = np.zeros((n, 2))
    shocks = rng.normal(size=(n, 2))
    for t in range(1, n):
        x[t] = 0.6 * x[t - 1] + shocks[t]
    x[:, 0] += np.linspace(0.0, 3.0, n)  # a slow climb the first 15 % never saw
    pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="1h").strftime("%Y-%m-%d %H:%M:%S"),
            "level": x[:, 0],
            "other": x[:, 1],
        }
    ).to_csv(path, index=False)
    return path


def test_rebase_rows_reaches_the_ensemble(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _drifting_csv(tmp_path / "metric.csv", n=2500)
    scores = {}
    for value in (None, "1000"):
        out = tmp_path / f"scores-{value}.csv"
        argv = ["detect", str(source), "--out", str(out)] + (["--rebase-rows", value] if value else [])
        code, stderr = _run(argv, capsys)
        assert code == 0, stderr
        scores[value] = pd.read_csv(out)["anomaly_score"].to_numpy()
    # rows with fewer than 1,000 rows before them score as without the option; the drift's later rows are rebased
    assert np.array_equal(scores["1000"][:1000], scores[None][:1000])
    assert (scores["1000"][1000:] < scores[None][1000:] - 1e-9).any()


def test_rebase_rows_is_refused_by_a_detector_without_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _drifting_csv(tmp_path / "metric.csv", n=300)
    argv = ["detect", str(source), "--out", str(tmp_path / "x.csv"), "--detector", "var-residual"]
    code, stderr = _run(argv + ["--rebase-rows", "100"], capsys)
    assert code == 2 and "takes no rebase rows" in stderr
    code, stderr = _run(["detect", str(source), "--out", str(tmp_path / "y.csv"), "--rebase-rows", "5"], capsys)
    assert code == 2 and "rebase-rows" in stderr
