"""The C-MAPSS runner on a few engines: the contract's shape, the protocol, and no leakage from test rows."""

import numpy as np
import pandas as pd
import pytest

from forewarn.bench import cmapss
from forewarn.exceptions import ConfigError

TINY = {
    "lightgbm-rul": {"n_estimators": 20},
    "cnn-rul": {"epochs": 1},
    "ensemble-rul": {"member_params": {"lightgbm-rul": {"n_estimators": 20}, "cnn-rul": {"epochs": 1}}},
}


@pytest.fixture(scope="module")
def small_copy(tmp_path_factory, shared_data_dir):
    """FD001 cut to its first 12 engines, written as plain text into a temporary data directory."""
    from forewarn.datasets.cmapss import COLUMNS, load_cmapss

    data = load_cmapss("FD001", shared_data_dir)
    root = tmp_path_factory.mktemp("data")
    (root / "cmapss").mkdir()

    def write(frame, name):
        frame[list(COLUMNS)].to_csv(root / "cmapss" / name, sep=" ", header=False, index=False)

    write(data.train[data.train["unit"] <= 12], "train_FD001.txt")
    write(data.test[data.test["unit"] <= 6], "test_FD001.txt")
    data.test_rul["rul"].head(6).to_csv(root / "cmapss" / "RUL_FD001.txt", header=False, index=False)
    return root


def test_run_follows_the_contract(small_copy):
    messages = []
    payload = cmapss.run(
        None, 1, small_copy, subset="fd001", model_params=TINY, progress=messages.append, window=20, sequence_window=10
    )
    assert payload["dataset"] == "cmapss" and payload["subset"] == "FD001" and payload["primary_metric"] == "rmse"
    assert "125" in payload["protocol"] and payload["published"]
    assert [r["model"] for r in payload["results"]] == ["lightgbm-rul", "cnn-rul", "ensemble-rul"]
    for row in payload["results"]:
        assert np.isfinite([row["rmse"], row["score"], row["fit_s"], row["predict_s"]]).all()
        assert [p["unit"] for p in row["predictions"]] == [1, 2, 3, 4, 5, 6]
        assert all(p["predicted"] >= 0 for p in row["predictions"])
    assert any("fitting" in m for m in messages)


def test_one_prediction_per_engine_from_its_last_cycle(small_copy):
    prepared = cmapss.prepare("FD001", small_copy, window=20, sequence_window=10)
    from forewarn.datasets.cmapss import load_cmapss

    data = load_cmapss("FD001", small_copy)
    assert len(prepared.test_X) == 6
    np.testing.assert_array_equal(prepared.test_X["cycle"], data.test.groupby("unit")["cycle"].max())
    np.testing.assert_array_equal(prepared.test_rul, data.test_rul["rul"])  # uncapped truth
    assert prepared.train_y.max() == 125 and prepared.train_y.min() == 0
    assert len(prepared.sensors) == 14 and prepared.n_regimes == 1


def test_test_rows_never_change_training_inputs(small_copy, tmp_path):
    """Scramble the test file: the training features (and so the fitted models) must not move."""
    before = cmapss.prepare("FD001", small_copy, window=20, sequence_window=10)
    altered = tmp_path / "cmapss"
    altered.mkdir()
    for name in ("train_FD001.txt", "RUL_FD001.txt"):
        (altered / name).write_bytes((small_copy / "cmapss" / name).read_bytes())
    test = pd.read_csv(small_copy / "cmapss" / "test_FD001.txt", sep=" ", header=None)
    test.iloc[:, 5:] *= 3.0
    test.to_csv(altered / "test_FD001.txt", sep=" ", header=False, index=False)
    after = cmapss.prepare("FD001", tmp_path, window=20, sequence_window=10)
    pd.testing.assert_frame_equal(before.train_X, after.train_X)
    assert not np.allclose(before.test_X.to_numpy(), after.test_X.to_numpy())


def test_bad_options_are_named(small_copy):
    with pytest.raises(ConfigError, match="unknown C-MAPSS model"):
        cmapss.run(["xgboost"], 1, small_copy)
    with pytest.raises(ConfigError, match="unknown C-MAPSS option"):
        cmapss.run(None, 1, small_copy, windw=3)
