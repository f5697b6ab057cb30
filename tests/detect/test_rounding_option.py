"""``forewarn detect --rounding`` (issue 14, exports written with few decimals): a quiet channel written to four
decimals sits on a grid of a few steps, and the default alarms at every step; with the option one step is noise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forewarn.cli.main import run
from forewarn.twin import FleetConfig, simulate_fleet


def _rounded_csv(path: Path) -> Path:
    """A failing twin site (8 assets x 90 days, hourly, seed 11) written as a historian does: four decimals."""
    fleet = simulate_fleet(FleetConfig(sites=1, assets=8, days=90, seed=11, interval="1h", degradation_scale=3.0))
    rows = fleet.readings
    channels = [c for c in rows.columns if c not in ("asset_id", "ts")]
    rows.assign(**{c: rows[c].round(4) for c in channels}).to_csv(path, index=False)
    return path


def _alarms(argv: list[str], capsys: pytest.CaptureFixture[str], out: Path) -> int:
    try:
        run([*argv, "--out", str(out)])
    except SystemExit as exit_:
        assert not exit_.code, capsys.readouterr().err
    return int(pd.read_csv(out)["alarm"].sum())


def test_rounding_takes_a_recording_step_as_noise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _rounded_csv(tmp_path / "export.csv")
    default = _alarms(["detect", str(source), "--asset-column", "asset_id"], capsys, tmp_path / "default.csv")
    rounding = _alarms(
        ["detect", str(source), "--asset-column", "asset_id", "--rounding"], capsys, tmp_path / "rounding.csv"
    )
    assert rounding < default / 2, (default, rounding)
