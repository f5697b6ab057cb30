"""The protocol itself: params, registry, persistence errors, and checks that really fail bad models."""

import json

import numpy as np
import pandas as pd
import pytest

from forewarn.base import AnomalyDetector, checks, clone, load, register, registry, save
from forewarn.exceptions import NotFittedError, ParameterError, RegistryError, SchemaError, StateError
from forewarn.models.anomaly.pca import PCADetector


class _MutatingDetector(AnomalyDetector):
    """Breaks the protocol on purpose: it scales its input in place and ignores its seed."""

    def __init__(self, *, seed: int = 0):
        self.seed = seed

    def _fit(self, X, y):
        X.iloc[:, 0] = X.iloc[:, 0] * 2.0
        self.centre_ = np.asarray(X.mean(axis=0))

    def _score(self, X):
        return np.abs(X.to_numpy() - self.centre_).sum(axis=1) + np.random.default_rng().random(len(X))

    def _state_names(self):
        return ("centre_",)


def test_checks_catch_a_mutating_model():
    with pytest.raises(AssertionError, match="X after fit"):
        checks.check_input_not_mutated(_MutatingDetector())


def test_checks_catch_a_model_that_ignores_its_seed():
    with pytest.raises(AssertionError, match="same seed"):
        checks.check_same_seed_same_output(_MutatingDetector())


def test_unregistered_model_cannot_be_saved(tmp_path):
    model = _MutatingDetector().fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(StateError, match="not registered"):
        save(model, tmp_path)


def test_params_round_trip_and_unknown_param():
    det = PCADetector(variance=0.8)
    assert det.get_params() == {"quantile": 0.99, "variance": 0.8}
    assert repr(clone(det)) == "PCADetector(variance=0.8)"
    with pytest.raises(ParameterError, match="Invalid parameter 'nope' for estimator PCADetector"):
        det.set_params(nope=1)


def test_registry_rejects_unknown_and_taken_names():
    with pytest.raises(RegistryError, match="no model named 'missing'"):
        registry.get("missing")
    with pytest.raises(RegistryError, match="already taken"):
        register("pca-t2q")(_MutatingDetector)


def test_fit_rejects_nan_and_missing_targets():
    with pytest.raises(SchemaError, match="not finite"):
        PCADetector().fit(pd.DataFrame({"a": [1.0, np.nan, 2.0]}))
    with pytest.raises(SchemaError, match="requires y to be passed"):
        registry.create("lightgbm-rul").fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(NotFittedError):
        PCADetector().get_state()


def test_load_rejects_damaged_folders(tmp_path):
    X, _ = checks.task_data("anomaly")
    folder = save(PCADetector().fit(X), tmp_path / "m", metrics={"f1": 0.5}, training_data=X)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "pca-t2q" and manifest["metrics"] == {"f1": 0.5} and len(manifest["data_hash"]) == 16
    assert manifest["feature_names"] == list(X.columns)
    with pytest.raises(StateError, match="not a saved Forewarn model"):
        load(tmp_path)
    (folder / "manifest.json").write_text("{ not json")
    with pytest.raises(StateError, match="not valid JSON"):
        load(folder)


def test_load_never_unpickles(tmp_path):
    X, _ = checks.task_data("anomaly")
    folder = save(PCADetector().fit(X), tmp_path / "m")
    with np.load(folder / "state.npz") as saved:
        arrays = dict(saved)
    arrays["mean_"] = np.array([object()], dtype=object)
    np.savez(folder / "state.npz", **arrays)
    with pytest.raises(StateError, match="never unpickles"):
        load(folder)
