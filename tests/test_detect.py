"""``forewarn detect``: scoring any CSV without look-ahead, calibrated to [0, 1]."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from forewarn.cli.detect import register
from forewarn.detect import detect_file, detect_frame, read_table
from forewarn.exceptions import ConfigError, DataNotFoundError, RegistryError, SchemaError


def _export(n=600, fault_at=400, seed=0):
    rng = np.random.default_rng(seed)
    drive = np.zeros(n)
    for t in range(1, n):
        drive[t] = 0.9 * drive[t - 1] + rng.normal(0, 0.2)
    frame = pd.DataFrame(
        {
            "Time": pd.date_range("2024-05-01 08:00", periods=n, freq="10s").strftime("%Y-%m-%d %H:%M:%S"),
            "motor_temp": 70 + 3 * drive + rng.normal(0, 0.2, n),
            "current": 12 + 1.0 * drive + rng.normal(0, 0.1, n),
            "status": np.where(np.arange(n) % 2, "RUN", "OK"),
        }
    )
    frame.loc[fault_at:, "current"] += 1.5  # current rises while the temperature does not follow
    return frame


def test_a_fault_scores_higher_than_normal_rows(tmp_path):
    path = tmp_path / "export.csv"
    _export().to_csv(path, index=False)
    result = detect_file(path, tmp_path / "scores.csv")
    written = pd.read_csv(tmp_path / "scores.csv")
    assert list(written.columns) == ["timestamp", "anomaly_score"] and len(written) == 600
    assert written["timestamp"].iloc[0] == "2024-05-01 08:00:00"
    assert result.timestamp_column == "Time" and result.features == ["motor_temp", "current"]
    score = written["anomaly_score"].to_numpy()
    assert ((score >= 0) & (score <= 1)).all()
    assert np.median(score[410:]) > 0.9 and np.median(score[100:400]) < 0.5
    assert result.n_train == 90 and result.detector == "var-residual"


@pytest.mark.parametrize("detector", ["var-residual", "knn", "pca-t2q"])
def test_no_look_ahead(detector):
    frame = _export()
    base = detect_frame(frame, detector=detector).scores["anomaly_score"].to_numpy()
    changed = frame.copy()
    changed.loc[300:, ["motor_temp", "current"]] = 1e3  # every row after t = 299 changes
    after = detect_frame(changed, detector=detector).scores["anomaly_score"].to_numpy()
    np.testing.assert_array_equal(base[:300], after[:300])
    shorter = detect_frame(frame.iloc[:300], detector=detector, train_fraction=0.3).scores
    assert len(shorter) == 300


def test_rows_out_of_time_order_keep_their_order(tmp_path):
    frame = _export()
    shuffled = frame.sample(frac=1.0, random_state=0)
    in_order = detect_frame(frame).scores.set_index("timestamp")["anomaly_score"]
    result = detect_frame(shuffled).scores
    assert result["timestamp"].tolist() == shuffled["Time"].tolist()
    np.testing.assert_allclose(result.set_index("timestamp")["anomaly_score"].loc[in_order.index], in_order)


def test_semicolons_decimal_commas_gaps_and_excluded_columns(tmp_path):
    frame = _export()
    frame["label"] = (np.arange(600) >= 400).astype(int)
    frame.loc[50, "motor_temp"] = np.nan
    text = frame.to_csv(sep=";", index=False, float_format="%.4f").replace(".", ",")
    text = text.replace("Time", "timestamp")
    path = tmp_path / "eu.csv"
    path.write_text(text, encoding="utf-8")
    table = read_table(path)
    assert "motor_temp" in table.columns
    result = detect_frame(table, exclude=["label"])
    assert result.features == ["motor_temp", "current"] and result.timestamp_column == "timestamp"
    assert np.isfinite(result.scores["anomaly_score"]).all()


def test_a_skab_file(shared_data_dir, tmp_path):
    source = Path(shared_data_dir) / "skab" / "data" / "other" / "9.csv"
    result = detect_file(source, tmp_path / "skab.csv", exclude=["anomaly", "changepoint"], train_fraction=0.35)
    labels = pd.read_csv(source, sep=";")["anomaly"].to_numpy()
    score = result.scores["anomaly_score"].to_numpy()
    assert result.timestamp_column == "datetime" and len(result.features) == 8
    test = slice(result.n_train, None)
    assert score[test][labels[test] == 1].mean() > score[test][labels[test] == 0].mean() + 0.3


def test_bad_input_raises_clear_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        detect_file(tmp_path / "missing.csv", tmp_path / "out.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SchemaError, match="empty"):
        detect_file(empty, tmp_path / "out.csv")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("ts,a\n2024-01-01,1\n2024-01-02,2,3,4\n")
    with pytest.raises(SchemaError, match="parse"):
        detect_file(ragged, tmp_path / "out.csv")
    text_only = pd.DataFrame(
        {"ts": pd.date_range("2024-01-01", periods=200, freq="h").astype(str), "state": ["on"] * 200}
    )
    with pytest.raises(SchemaError, match="no numeric column"):
        detect_frame(text_only)
    short = _export(n=60)
    with pytest.raises(SchemaError, match="too few rows"):
        detect_frame(short)
    no_time = pd.DataFrame({"a": np.arange(300.0), "b": ["x"] * 300})
    with pytest.raises(SchemaError, match="no timestamp column"):
        detect_frame(no_time)
    bad_time = _export()
    bad_time.loc[7, "Time"] = "yesterday-ish"
    with pytest.raises(SchemaError, match="line 9"):
        detect_frame(bad_time)
    with pytest.raises(RegistryError):
        detect_frame(_export(), detector="nope")
    with pytest.raises(ConfigError, match="not an anomaly detector"):
        detect_frame(_export(), detector="lightgbm-rul")
    with pytest.raises(ConfigError, match="train fraction"):
        detect_frame(_export(), train_fraction=1.5)
    with pytest.raises(ConfigError, match="cannot exclude"):
        detect_frame(_export(), exclude=["nope"])
    with pytest.raises(ConfigError, match="no timestamp column 'when'"):
        detect_frame(_export(), timestamp_column="when")
    assert not (tmp_path / "out.csv").exists()  # nothing half-written


def test_cli_command(tmp_path):
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps Typer in sub-command mode, as in the main app
        """Placeholder."""

    path = tmp_path / "export.csv"
    _export().to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["detect", str(path), "--out", str(out), "--detector", "knn", "--smooth", "5"])
    assert result.exit_code == 0, result.output
    assert "scored 600 rows" in result.output and "knn" in result.output
    assert len(pd.read_csv(out)) == 600
