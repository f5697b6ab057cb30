"""``forewarn serve --models DIR`` with the fits of ``forewarn detect --save-models DIR``: refused in one line that gives
the ``serve --stream`` config entry to use (before, the service started "healthy" and scored nothing: the registry saw
no bundle in the folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.detect import detect_frame
from forewarn.detect.saved import save_fits
from forewarn.exceptions import ConfigError
from forewarn.serve import ServeSettings
from testkit import run_cli


@pytest.fixture(scope="module")
def fits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "asset_id": np.repeat(["P-1", "P-2"], 300),
            "ts": np.tile(pd.date_range("2024-01-01", periods=300, freq="min").astype(str), 2),
            "temp": 50 + rng.normal(0, 1, 600),
        }
    )
    return save_fits(detect_frame(frame, keep_models=True), tmp_path_factory.mktemp("detect") / "fits")


def test_serve_refuses_detects_fits_and_names_the_stream_entry(
    fits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "plant.duckdb")
    assert run_cli(["serve", "--store", store, "--create", "--models", str(fits)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"forewarn: error: models folder '{fits}' holds the fits of 'forewarn detect")
    assert f'[[models]] path = "{fits}" model_id = "detect" alarm = {{}} context = 512' in lines[0]
    assert "serve --stream CONFIG" in lines[0]
    with pytest.raises(ConfigError, match="holds the fits of 'forewarn detect --save-models'"):
        ServeSettings(store=store, models=str(fits.parent))  # a models folder with the fits one level down too


def test_a_models_folder_of_bundles_is_not_refused(tmp_path: Path) -> None:
    (tmp_path / "models" / "rul").mkdir(parents=True)
    assert ServeSettings(store=":memory:", models=str(tmp_path / "models")).models == str(tmp_path / "models")
