"""Fault classifiers: LightGBM on features, spectral-gbm and cnn-fault on raw vibration segments."""

import json

import numpy as np
import pandas as pd
import pytest

from forewarn.base.persistence import load, save
from forewarn.exceptions import ConfigError, ParameterError, SchemaError, StateError
from forewarn.features.spectral import CWRU_DRIVE_END
from forewarn.models.deep import cnn_fault
from forewarn.models.deep.cnn_fault import CNNFault
from forewarn.models.fault import LightGBMFault, SpectralGBM

FS = 12_000.0
SHAFT = 29.95
N = 1024


def _segment(kind, rng):
    """Synthetic bearing vibration: noise, plus decaying 3 kHz rings at BPFO or BPFI for a faulty bearing."""
    noise = rng.normal(0, 0.2, N)
    if kind == "normal":
        return noise
    rate = CWRU_DRIVE_END.fault_frequencies(SHAFT)["bpfo" if kind == "outer" else "bpfi"]
    gate = np.zeros(N)
    gate[((np.arange(0, N / FS, 1 / rate) + rng.uniform(0, 1 / rate)) * FS).astype(int) % N] = 1.0
    ring = np.exp(-np.arange(48) / 8.0) * np.sin(2 * np.pi * 3_000 * np.arange(48) / FS)
    return noise + np.convolve(gate, ring)[:N]


def _bearing_data(n_per_class, seed):
    rng = np.random.default_rng(seed)
    kinds = ["normal", "outer", "inner"] * n_per_class
    X = pd.DataFrame([_segment(k, rng) for k in kinds], columns=[f"s{i}" for i in range(N)])
    return X, np.array(kinds)


def test_lightgbm_fault_handles_string_int_and_two_class_labels():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    codes = (X["a"] > 0).astype(int) + (X["b"] > 0.5).astype(int)
    for y in (codes.to_numpy(), np.array(["x", "y", "z"])[codes], (codes > 0).to_numpy()):
        model = LightGBMFault(n_estimators=30).fit(X, y)
        proba = model.predict_proba(X)
        assert proba.shape == (300, len(np.unique(y)))
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert (model.predict(X) == y).mean() > 0.9


def test_lightgbm_fault_object_labels_save_without_pickle(tmp_path):
    X = pd.DataFrame({"a": np.arange(40.0)})
    y = pd.Series(["ok"] * 20 + ["worn"] * 20, dtype=object)
    folder = save(LightGBMFault(n_estimators=10, min_child_samples=2).fit(X, y), tmp_path)
    assert load(folder).classes_.tolist() == ["ok", "worn"]
    assert json.loads((folder / "manifest.json").read_text())["params"]["class_weight"] == "sqrt"


def test_lightgbm_fault_rejects_one_class_and_missing_labels():
    X = pd.DataFrame({"a": np.arange(10.0)})
    with pytest.raises(SchemaError, match="at least two classes"):
        LightGBMFault().fit(X, ["ok"] * 10)
    with pytest.raises(SchemaError, match="missing"):
        LightGBMFault().fit(X, np.array(["ok", None] * 5, dtype=object))
    with pytest.raises(ParameterError, match="'class_weight' parameter"):
        LightGBMFault(class_weight="inverse").fit(X, [0, 1] * 5)


def test_spectral_gbm_diagnoses_unseen_segments():
    X, y = _bearing_data(30, seed=0)
    X_new, y_new = _bearing_data(10, seed=1)
    params = dict(
        sampling_rate_hz=FS,
        shaft_hz=SHAFT,
        n_elements=9,
        element_diameter=0.3126,
        pitch_diameter=1.537,
        n_estimators=60,
        seed=0,
    )
    model = SpectralGBM(**params).fit(X, y)
    assert (model.predict(X_new) == y_new).mean() >= 0.95
    features = model.features(X_new.head(3))
    assert {"fault_bpfo_h1", "fault_bpfi_h2", "kurtosis", "envelope_rms"} <= set(features.columns)
    importance = model.feature_importance()
    assert importance.index[0] in features.columns


def test_spectral_gbm_recipe_travels_with_the_saved_model(tmp_path):
    X, y = _bearing_data(8, seed=2)
    model = SpectralGBM(
        sampling_rate_hz=FS,
        shaft_hz=SHAFT,
        n_elements=9,
        element_diameter=0.3126,
        pitch_diameter=1.537,
        envelope_low_hz=2_000,
        n_estimators=15,
        min_child_samples=2,
    ).fit(X, y)
    again = load(save(model, tmp_path))
    assert again.get_params() == model.get_params()
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X))
    without_geometry = SpectralGBM(n_estimators=5, min_child_samples=2).fit(X, y)
    assert not any(c.startswith("fault_") for c in without_geometry.features(X).columns)


def test_cnn_fault_learns_and_round_trips_its_network(tmp_path):
    X, y = _bearing_data(20, seed=3)
    X_new, y_new = _bearing_data(10, seed=4)
    model = CNNFault(epochs=20, width=8, batch_size=16, seed=0).fit(X, y)
    assert (model.predict(X_new) == y_new).mean() >= 0.8  # chance: 0.33
    state = model.get_state()
    assert any(k.startswith("net.") and k.endswith("weight") for k in state)
    assert all(isinstance(v, np.ndarray) for k, v in state.items() if k.startswith("net."))
    again = load(save(model, tmp_path))
    np.testing.assert_allclose(again.predict_proba(X_new), model.predict_proba(X_new), rtol=1e-5, atol=1e-6)


def test_cnn_fault_state_from_another_shape_is_refused():
    X, y = _bearing_data(2, seed=5)
    state = CNNFault(epochs=1, width=4).fit(X, y).get_state()
    with pytest.raises(StateError, match="network state"):
        CNNFault(width=8).set_state(state)


def test_cnn_fault_without_torch_says_how_to_install(monkeypatch):
    def missing():
        raise ConfigError("cnn-fault needs PyTorch; pip install 'forewarn[deep]'")

    monkeypatch.setattr(cnn_fault, "_torch", missing)
    with pytest.raises(ConfigError, match="forewarn\\[deep\\]"):
        CNNFault().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}), [0, 1])
