"""A plant export whose headers hold characters LightGBM refuses (``Temp [°C]``, ``Vib: "rms"``) trains a LightGBM
model through ``forewarn train`` and is ranked by ``forewarn score`` with the real channel names as drivers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from forewarn.cli.main import app

TEMP, VIB = "Temp [°C]", 'Vib: "rms"'


def _export(path: Path) -> None:
    """8 machines x 240 hours; a machine runs hot before its failures (label: failure within 24 h)."""
    rng = np.random.default_rng(4)
    frames = []
    for m in range(8):
        ts = pd.date_range("2026-01-01", periods=240, freq="1h")
        fail24 = np.zeros(240, dtype=int)
        for end in (90 + 7 * m, 250 if m < 3 else 200 + 3 * m):  # machines 0-2 fail just after the export
            fail24[end - 24 : end] = 1
        temp = 50 + rng.normal(0, 0.5, 240) + 8.0 * fail24
        vib = 0.8 + rng.normal(0, 0.05, 240)
        frames.append(pd.DataFrame({"machine": f"M{m}", "time": ts, TEMP: temp, VIB: vib, "fail24": fail24}))
    pd.concat(frames).to_csv(path, index=False)


def test_lightgbm_trains_and_scores_on_channels_with_json_characters(tmp_path: Path) -> None:
    _export(tmp_path / "plant.csv")
    store, models = str(tmp_path / "s.duckdb"), str(tmp_path / "m")
    runner = CliRunner()
    ingest = runner.invoke(
        app,
        ["ingest", str(tmp_path / "plant.csv"), "--store", store, "--asset-column", "machine"]
        + ["--time-column", "time", "--label-columns", "fail24"],
    )
    assert ingest.exit_code == 0, ingest.output
    train = runner.invoke(
        app,
        ["train", "--store", store, "--models", models, "--label", "fail24", "--horizon", "24h"]
        + ["--model", "lightgbm-failure"],
    )
    assert train.exit_code == 0, train.output
    assert "LightGBMFailure cannot take" not in train.output and "filed failure v1" in train.output
    scored = runner.invoke(app, ["score", "--store", store, "--models", models, "--format", "json"])
    assert scored.exit_code == 0, scored.output
    rows = json.loads(scored.output)
    assert len(rows) == 8 and all(r["probability"] is not None for r in rows)
    assert {r["asset_id"] for r in rows[:3]} == {"M0", "M1", "M2"}  # running hot now
    drivers = {name for r in rows for name in (r["drivers"] or "").split(", ") if name}
    assert TEMP in drivers and drivers <= {TEMP, VIB}  # the real names, not feature_0
    card = json.loads(next(Path(models).glob("failure/v1/card.json")).read_text())
    assert card["model"] == "lightgbm-failure"
