"""AI4I runner: features without leaks, thresholds from training folds only, a small real run."""

import numpy as np
import pandas as pd
import pytest

from forewarn.bench import ai4i
from forewarn.datasets.ai4i import load_ai4i
from forewarn.exceptions import ConfigError
from forewarn.models.failure import LightGBMFailure
from forewarn.models.fault import LightGBMFault


def test_features_are_row_wise_and_never_the_labels():
    frame = pd.DataFrame(
        {
            "udi": [1, 2],
            "product_id": ["L1", "H2"],
            "type": pd.Categorical(["L", "H"], categories=["L", "M", "H"]),
            "air_temperature_k": [300.0, 301.0],
            "process_temperature_k": [310.0, 309.5],
            "rotational_speed_rpm": [1400, 2800],
            "torque_nm": [50.0, 4.0],
            "tool_wear_min": [200, 0],
            "machine_failure": [1, 0],
            "twf": [1, 0],
            "hdf": [0, 0],
            "pwf": [0, 0],
            "osf": [0, 0],
            "rnf": [0, 0],
        }
    )
    features = ai4i.process_features(frame)
    assert not set(features.columns) & {"machine_failure", "twf", "hdf", "pwf", "osf", "rnf", "udi", "product_id"}
    assert features["power_w"].tolist() == pytest.approx([50 * 1400 * 2 * np.pi / 60, 4 * 2800 * 2 * np.pi / 60])
    assert features["temperature_difference_k"].tolist() == pytest.approx([10.0, 8.5])
    assert features["wear_torque"].tolist() == [10_000.0, 0.0]
    assert features[["type_L", "type_M", "type_H"]].to_numpy().tolist() == [[1, 0, 0], [0, 0, 1]]
    # one row's features do not depend on the other rows
    pd.testing.assert_frame_equal(ai4i.process_features(frame.iloc[[1]]), features.iloc[[1]])


def test_failure_type_labels(shared_data_dir):
    frame = load_ai4i(shared_data_dir).frame
    labels = pd.Series(ai4i.failure_types(frame)).value_counts().to_dict()
    assert labels["none"] == (frame["machine_failure"] == 0).sum()
    assert labels["unspecified"] == 9  # failures without any mode flag
    assert sum(labels.values()) == len(frame) and "rnf" not in labels  # the one RNF failure also has TWF
    assert labels["hdf"] + labels["pwf"] + labels["osf"] + labels["twf"] == 330


class _Spy(LightGBMFailure):
    """Records the columns every fit sees."""

    columns: set = set()

    def fit(self, X, y=None):
        _Spy.columns |= set(X.columns)
        return super().fit(X, y)


def test_small_run_thresholds_come_from_training_rows_only(shared_data_dir, monkeypatch):
    sizes = []
    real = ai4i.best_f1_threshold

    def recording(y, score):
        sizes.append(len(y))
        return real(y, score)

    monkeypatch.setattr(ai4i, "best_f1_threshold", recording)
    monkeypatch.setattr(
        ai4i,
        "MODELS",
        {
            "lightgbm-failure": lambda seed: _Spy(n_estimators=25, seed=seed),
            "lightgbm-fault": lambda seed: LightGBMFault(n_estimators=15, seed=seed),
        },
    )
    messages = []
    payload = ai4i.run(None, seeds=1, data_dir=shared_data_dir, progress=messages.append)
    assert sizes == [8000] * 5  # one threshold per outer fold, from the 8000 training rows of that fold
    assert not _Spy.columns & {"twf", "hdf", "pwf", "osf", "rnf", "machine_failure"}
    failure, kinds = payload["results"]
    assert failure["model"] == "lightgbm-failure" and 0.7 < failure["f1"] <= 1 and failure["roc_auc"] > 0.93
    assert kinds["model"] == "lightgbm-fault" and 0.5 < kinds["macro_f1"] <= 1
    assert payload["primary_metric"] == "f1" and any("f1" in row for row in payload["published"])
    assert len(messages) == 10


def test_unknown_model_or_option_is_refused():
    with pytest.raises(ConfigError, match="unknown model"):
        ai4i.run(["xgboost"], seeds=1)
    with pytest.raises(ConfigError, match="no options"):
        ai4i.run(None, seeds=1, subset="FD001")
