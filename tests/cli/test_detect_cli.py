"""``forewarn detect`` on the command line: alarms and episodes, assets, the store, errors, a light start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testkit import run_cli


def _fleet(n: int = 300, assets: str = "ab") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for i, asset in enumerate(assets):
        drive = np.zeros(n)
        for t in range(1, n):
            drive[t] = 0.9 * drive[t - 1] + rng.normal(0, 0.2)
        part = pd.DataFrame(
            {
                "asset": asset,
                "ts": pd.date_range("2024-05-01", periods=n, freq="1min").strftime("%Y-%m-%d %H:%M:%S"),
                "temp": 70 + 5 * i + 3 * drive + rng.normal(0, 0.2, n),
                "current": 12 + drive + rng.normal(0, 0.1, n),
            }
        )
        if i == 0:
            part.loc[200:, "current"] += 2.0
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_alarms_episodes_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fleet.csv"
    _fleet().to_csv(source, index=False)
    out, events = tmp_path / "scores.csv", tmp_path / "events.csv"
    code, stdout, stderr = _run(["detect", str(source), "--out", str(out), "--events", str(events)], capsys)
    assert code == 0, stderr
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["asset_id", "timestamp", "anomaly_score", "alarm"] and len(scores) == 600
    table = pd.read_csv(events)
    assert len(table) == int(scores["alarm"].sum()) >= 1
    assert f"{len(table)} alarm episode(s) (open at anomaly_score >= 0.5" in stdout
    assert "600 rows of 2 asset(s)" in stdout and "2 asset(s) with a model of their own" in stdout
    fault = table[(table["asset_id"] == "a") & (table["start"] <= 210) & (table["end"] >= 210)]
    assert len(fault) == 1 and fault["top_channels"].iloc[0].split(";")[0] == "current"


def test_few_rows_warn_in_one_line_and_still_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "short.csv"
    _fleet(n=12, assets="abcd").to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    code, stdout, stderr = _run(["detect", str(source), "--out", str(out)], capsys)
    assert code == 0, stderr
    warnings_ = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings_) == 1 and "4 asset(s)" in warnings_[0] and "fewer than 20 training rows" in warnings_[0]
    assert len(pd.read_csv(out)) == 48 and "4 pooled (one pool)" in stdout


def test_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from forewarn.schema import Asset
    from forewarn.store import Store

    fleet = _fleet(n=200).rename(columns={"asset": "asset_id"})
    fleet["ts"] = pd.to_datetime(fleet["ts"]).dt.tz_localize("UTC")
    db_path = tmp_path / "plant.duckdb"
    with Store(db_path) as db:
        db.add_assets([Asset("a", "pump", line_id="L1"), Asset("b", "fan", line_id="L2")])
        db.ingest_readings(fleet)
    out = tmp_path / "scores.csv"
    code, stdout, stderr = _run(["detect", "--store", str(db_path), "--class", "pump", "--out", str(out)], capsys)
    assert code == 0, stderr
    scores = pd.read_csv(out)
    assert set(scores["asset_id"]) == {"a"} and len(scores) == 200
    code, _, stderr = _run(["detect", "--store", str(db_path), "--line", "L9", "--out", str(out)], capsys)
    assert code == 2 and stderr.startswith("forewarn: error: --line L9: not in the store")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scores.csv"
    bad = _fleet()
    bad.loc[7, "asset"] = None
    source = tmp_path / "bad.csv"
    bad.to_csv(source, index=False)
    code, _, stderr = _run(["detect", str(source), "--out", str(out)], capsys)
    assert code == 2 and stderr.count("\n") == 1 and "line 9" in stderr and "missing asset id" in stderr
    assert "Traceback" not in stderr and not out.exists()
    code, _, stderr = _run(["detect", "--out", str(out)], capsys)
    assert code == 2 and "INPUT.csv or --store" in stderr
    code, _, stderr = _run(["detect", str(source), "--site", "S1", "--out", str(out)], capsys)
    assert code == 2 and "need --store" in stderr


def _modules_after(code: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after running ``code``, and what it printed to stderr."""
    wrapped = (
        f"try:\n    exec({code!r})\nexcept SystemExit:\n    pass\n"
        "import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1])), done.stderr


def test_a_detect_run_imports_no_torch_nor_lightgbm(tmp_path: Path) -> None:
    source = tmp_path / "fleet.csv"
    _fleet(n=100, assets="a").to_csv(source, index=False)
    argv = ["detect", str(source), "--out", str(tmp_path / "scores.csv")]
    loaded, stderr = _modules_after(f"from forewarn.cli.main import run; run({argv!r})")
    assert (tmp_path / "scores.csv").exists(), stderr
    assert not loaded & {"torch", "lightgbm", "fastapi"}
    help_loaded, _ = _modules_after("from forewarn.cli.main import run; run(['detect', '--help'])")
    assert not help_loaded & {"torch", "lightgbm", "numpy", "pandas"}


def test_contamination_reaches_the_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _fleet(assets="a")
    frame.loc[10:20, "temp"] += 30.0  # anomalies inside the training part (the first 15 %: 45 rows)
    source = tmp_path / "fleet.csv"
    frame.to_csv(source, index=False)
    outs = {}
    for value in (None, "0.2"):
        out = tmp_path / f"scores-{value}.csv"
        argv = ["detect", str(source), "--out", str(out)] + (["--contamination", value] if value else [])
        code, _, stderr = _run(argv, capsys)
        assert code == 0, stderr
        outs[value] = pd.read_csv(out)["anomaly_score"].to_numpy()
    assert not np.allclose(outs[None], outs["0.2"]), "the trimmed fit changes the scores"
    code, _, stderr = _run(
        [
            "detect",
            str(source),
            "--out",
            str(tmp_path / "x.csv"),
            "--detector",
            "var-residual",
            "--contamination",
            "0.1",
        ],
        capsys,
    )
    assert code == 2 and "takes no contamination" in stderr


def test_transition_rows_reaches_the_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    n = 600
    on = (np.arange(n) // 40) % 2 == 0  # runs and stops in blocks of 40 rows
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-05-01", periods=n, freq="1h").strftime("%Y-%m-%d %H:%M:%S"),
            "speed": np.where(on, 1500 + rng.normal(0, 10, n), 0.0),
            "current": np.where(on, 40 + rng.normal(0, 1, n), 0.0),
            "flow": np.where(on, 80 + rng.normal(0, 2, n), 0.0),
        }
    )
    start = 480  # a start (rows 480-519 run); the current steps up 15 spreads from its 6th row on
    frame.loc[start + 5 : start + 30, "current"] += 15.0
    source = tmp_path / "machine.csv"
    frame.to_csv(source, index=False)
    first = {}
    for value in (None, "12"):
        out = tmp_path / f"scores-{value}.csv"
        argv = ["detect", str(source), "--out", str(out), "--train-fraction", "0.5"]
        code, _, stderr = _run(argv + (["--transition-rows", value] if value else []), capsys)
        assert code == 0, stderr
        alarms = pd.read_csv(out)["alarm"].to_numpy()
        first[value] = int(np.flatnonzero(alarms[start:])[0])
    assert first[None] < 12 <= first["12"], first  # held until the 12 rows after the start have passed
    argv = ["detect", str(source), "--out", str(tmp_path / "x.csv"), "--detector", "var-residual"]
    code, _, stderr = _run(argv + ["--transition-rows", "12"], capsys)
    assert code == 2 and "takes no transition rows" in stderr
