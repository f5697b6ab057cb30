"""``forewarn detect --save-models DIR``: the fits kept as ``detect`` scored with them, what is refused, in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.detect import detect_frame
from forewarn.detect.saved import INDEX_FILE, SavedFits, save_fits
from forewarn.exceptions import ConfigError
from testkit import run_cli


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _csv(path: Path, assets: str = "ab", n: int = 200) -> Path:
    rng = np.random.default_rng(1)
    parts = [
        pd.DataFrame(
            {
                "asset": a,
                "ts": pd.date_range("2024-05-01", periods=n, freq="1min").strftime("%Y-%m-%d %H:%M:%S"),
                "temp": 60 + i + rng.normal(0, 0.3, n),
                "flow": 5 + rng.normal(0, 0.1, n),
            }
        )
        for i, a in enumerate(assets)
    ]
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def test_a_file_with_assets_saves_each_fit_and_a_rerun_replaces_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, folder = _csv(tmp_path / "in.csv"), tmp_path / "fits"
    argv = ["detect", str(source), "--out", str(tmp_path / "s.csv"), "--save-models", str(folder)]
    code, stdout, stderr = _run(argv, capsys)
    assert code == 0, stderr
    assert "saved 2 fit(s) of 2 asset(s)" in stdout and f'path = "{folder.resolve()}"' in stdout
    fits = SavedFits(folder)
    assert fits.assets == ["a", "b"] and fits.index["options"]["train_fraction"] == 0.15
    frame = pd.read_csv(source)
    part = frame[frame["asset"] == "b"]
    X = part[["temp", "flow"]].set_axis(pd.DatetimeIndex(pd.to_datetime(part["ts"], utc=True)))
    scores = pd.read_csv(tmp_path / "s.csv")
    fit = fits.fit_for("b")
    assert fit is not None and fit.channels == ["temp", "flow"]
    np.testing.assert_allclose(fit.score(X), scores["anomaly_score"][scores["asset_id"] == "b"], atol=5e-7)
    _csv(source, assets="c")  # saved again into the same folder: the old fits go
    code, _, stderr = _run(argv, capsys)
    assert code == 0, stderr
    assert SavedFits(folder).assets == ["c"] and not (tmp_path / "fits.saving").exists()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--detector", "var-residual"], "var-residual is not one"),
        (["--smooth", "5"], "leave out --smooth 5"),
    ],
)
def test_what_the_stream_could_not_score_as_detect_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    source = _csv(tmp_path / "in.csv")
    argv = ["detect", str(source), "--out", str(tmp_path / "s.csv"), "--save-models", str(tmp_path / "f"), *extra]
    code, _, stderr = _run(argv, capsys)
    assert code == 2 and says in stderr and "Traceback" not in stderr
    assert not (tmp_path / "f").exists() and not (tmp_path / "s.csv").exists()


def test_interval_and_a_foreign_folder_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["detect", "--store", str(tmp_path / "x.duckdb"), "--interval", "10min", "--out", str(tmp_path / "s.csv")]
    code, _, stderr = _run([*argv, "--save-models", str(tmp_path / "f")], capsys)
    assert code == 2 and "leave out --interval" in stderr
    result = detect_frame(pd.read_csv(_csv(tmp_path / "in.csv")), keep_models=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not saved fits"):
        save_fits(result, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    single = detect_frame(pd.read_csv(tmp_path / "in.csv").drop(columns="asset").iloc[:200], keep_models=True)
    with pytest.raises(ConfigError, match="needs assets"):
        save_fits(single, tmp_path / "one")


def test_a_bad_index_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / INDEX_FILE).write_text('{"format": 9}')
    with pytest.raises(ConfigError, match="not an index of saved fits"):
        SavedFits(tmp_path)
    (tmp_path / INDEX_FILE).write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        SavedFits(tmp_path)
