"""Exports written on a coarse grid (issue 14, item 2): by default ``forewarn detect`` takes one step of a grid of
written decimals as noise (a historian's four decimals put a quiet channel on a grid of a few steps, and each
step alarmed); ``--rounding`` does so on every grid, a sensor's own quantisation too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.cli.main import run
from forewarn.twin import FleetConfig, simulate_fleet


@pytest.fixture(scope="module")
def site() -> pd.DataFrame:
    """A failing twin site (8 assets x 90 days, hourly, seed 11: a validation fleet)."""
    return simulate_fleet(
        FleetConfig(sites=1, assets=8, days=90, seed=11, interval="1h", degradation_scale=3.0)
    ).readings


def _written(rows: pd.DataFrame, path: Path, step: float | None = None, decimals: int | None = None) -> Path:
    channels = [c for c in rows.columns if c not in ("asset_id", "ts")]
    if decimals is not None:
        rows = rows.assign(**{c: rows[c].round(decimals) for c in channels})
    if step is not None:
        rows = rows.assign(**{c: np.round(rows[c] / step) * step for c in channels})
    rows.to_csv(path, index=False)
    return path


def _alarms(argv: list[str], capsys: pytest.CaptureFixture[str], out: Path) -> int:
    try:
        run([*argv, "--out", str(out)])
    except SystemExit as exit_:
        assert not exit_.code, capsys.readouterr().err
    return int(pd.read_csv(out)["alarm"].sum())


def test_four_decimals_alarm_about_as_the_full_values(site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = _alarms(
        ["detect", str(_written(site, tmp_path / "full.csv")), "--asset-column", "asset_id"], capsys, tmp_path / "a.csv"
    )
    export = _written(site, tmp_path / "export.csv", decimals=4)
    default = _alarms(["detect", str(export), "--asset-column", "asset_id"], capsys, tmp_path / "b.csv")
    assert full >= 10 and default <= 1.3 * full, (full, default)  # 56 and 60 (207 before the default widened)


def test_rounding_widens_a_sensors_own_grid_too(site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _written(site, tmp_path / "adc.csv", step=2e-4)  # a converter's step, not written decimals
    default = _alarms(["detect", str(source), "--asset-column", "asset_id"], capsys, tmp_path / "default.csv")
    rounding = _alarms(
        ["detect", str(source), "--asset-column", "asset_id", "--rounding"], capsys, tmp_path / "rounding.csv"
    )
    assert rounding < default / 2, (default, rounding)  # 56 against 395
