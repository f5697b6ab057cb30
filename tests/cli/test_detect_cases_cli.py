"""``forewarn detect --cases`` / ``--models`` / ``--close-quiet``: what is refused, in one line naming the option; a
new asset without a kept fit is fitted, said in one line, and added to the folder with ``--save-models``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.detect.saved import SavedFits
from forewarn.schema import Asset
from forewarn.store import Store
from testkit import run_cli


def _flat(text: str) -> str:
    """An error as one line (the terminal's box and wrapping taken out)."""
    return " ".join(text.replace("│", " ").split())


def _store(path: Path, assets: tuple[str, ...]) -> Path:
    rng = np.random.default_rng(3)
    with Store(path) as db:
        db.add_assets([Asset(a, "fan") for a in assets])
        for a in assets:
            ts = pd.date_range("2024-06-01", periods=200, freq="h", tz="UTC")
            db.ingest_readings(pd.DataFrame({"asset_id": a, "ts": ts, "rpm": 1500 + rng.normal(0, 5, 200)}))
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cases_cli")
    store = _store(root / "plant.duckdb", ("F-1", "F-2"))
    argv = ["detect", "--store", str(store), "--out", str(root / "s.csv"), "--save-models", str(root / "fits")]
    assert run_cli(argv) == 0
    return store, root / "fits"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--cases"], "give --store DB with --cases"),
        (["--models", "{fits}", "--detector", "var-residual"], "--detector var-residual (the fits are ensemble)"),
        (["--models", "{fits}", "--train-fraction", "0.3"], "--train-fraction 0.3 (they were fitted on 0.15)"),
        (["--models", "{fits}", "--contamination", "0.1"], "--contamination (they were fitted without it)"),
        (["--models", "{root}"], "is not a folder of saved fits"),
    ],
)
def test_what_is_refused_in_one_line(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    store, fits = saved
    source = tmp_path / "in.csv"
    pd.DataFrame({"asset_id": ["a"] * 30, "ts": pd.date_range("2024-01-01", periods=30, freq="h"), "x": 1.0}).to_csv(
        source, index=False
    )
    given = [e.format(fits=fits, root=tmp_path) for e in extra]
    where = [str(source)] if "--cases" in extra else ["--store", str(store)]
    code = run_cli(["detect", *where, "--out", str(tmp_path / "o.csv"), *given])
    err = _flat(capsys.readouterr().err)
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "o.csv").exists()


def test_a_bad_gap_is_refused(saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = saved
    code = run_cli(["detect", "--store", str(store), "--out", str(tmp_path / "o.csv"), "--cases", "--close-quiet", "x"])
    err = _flat(capsys.readouterr().err)
    assert code == 2 and "'x' is not a time span" in err and "--close-quiet" in err


def test_a_new_asset_is_fitted_and_added(saved: tuple[Path, Path], tmp_path: Path, capsys) -> None:  # noqa: ANN001
    store, fits = saved
    grown = _store(tmp_path / "grown.duckdb", ("F-1", "F-2", "F-3"))
    folder = tmp_path / "fits"
    argv = ["detect", "--store", str(grown), "--out", str(tmp_path / "o.csv"), "--models", str(fits)]
    assert run_cli([*argv, "--save-models", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"2 asset(s) scored with their fits kept in {fits}; 1 without a fit there fitted now (F-3): added to" in out
    assert SavedFits(folder).assets == ["F-1", "F-2", "F-3"] and "saved 3 fit(s) of 3 asset(s)" in out
    assert run_cli(argv) == 0
    assert "(F-3): not kept: add --save-models DIR to keep them" in capsys.readouterr().out
