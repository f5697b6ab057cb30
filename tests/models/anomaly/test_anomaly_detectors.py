"""Behaviour of the anomaly detectors beyond the shared conformance suite."""

import numpy as np
import pandas as pd
import pytest

from forewarn.base import registry
from forewarn.exceptions import ParameterError, SchemaError
from forewarn.models.anomaly import KNNDetector, MSETDetector, VARResidualDetector
from forewarn.models.anomaly.mset import select_memory
from forewarn.models.anomaly.var_residual import lagged
from forewarn.models.deep.autoencoder import AutoencoderDetector

SENSORS = ["temperature", "pressure", "flow"]


def _plant(n=900, fault_at=600, seed=0):
    """Three correlated, autocorrelated sensors; from ``fault_at`` pressure stops following flow."""
    rng = np.random.default_rng(seed)
    drive = np.zeros(n)
    for t in range(1, n):
        drive[t] = 0.95 * drive[t - 1] + rng.normal(0, 0.3)
    frame = pd.DataFrame(
        {
            "temperature": 60 + 2 * drive + rng.normal(0, 0.3, n),
            "pressure": 5 + 0.5 * drive + rng.normal(0, 0.05, n),
            "flow": 20 - 1.5 * drive + rng.normal(0, 0.2, n),
        }
    )
    frame.loc[fault_at:, "pressure"] -= 1.0  # a leak: pressure drops with flow unchanged
    return frame


@pytest.mark.parametrize("name", ["knn", "mset", "var-residual", "pca-t2q", "autoencoder"])
def test_detectors_flag_a_broken_relation(name):
    frame = _plant()
    params = {"epochs": 40} if name == "autoencoder" else {}
    model = registry.create(name, **params).fit(frame.iloc[:400])
    scores = model.score(frame)
    normal, faulty = scores[400:600], scores[600:]
    assert np.median(faulty) > 1.5 * np.median(normal), name


def test_detectors_standardise_with_training_statistics_only():
    frame = _plant()
    model = KNNDetector().fit(frame.iloc[:400])
    np.testing.assert_allclose(model.mean_, frame.iloc[:400].mean().to_numpy())
    before = model.score(frame.iloc[400:500])
    changed = frame.copy()
    changed.iloc[500:] *= 10.0  # later rows do not move what earlier rows score
    assert np.array_equal(model.score(changed.iloc[400:500]), before)


def test_knn_score_reads_as_standard_deviations():
    rng = np.random.default_rng(1)
    train = rng.normal(0, 1, size=(2000, 4))
    model = KNNDetector(k=1).fit(train)
    shifted = model.score(np.array([[10.0, 10.0, 10.0, 10.0]]))[0]
    assert 8.0 < shifted < 11.0  # about 10 standard deviations in every feature
    assert KNNDetector(k=50).fit(train[:10]).score(train[:3]).shape == (3,)  # k above the memory size


def test_knn_memory_is_capped():
    model = KNNDetector(max_memory=100).fit(np.random.default_rng(0).normal(size=(1000, 2)))
    assert model.memory_.shape == (100, 2)


def test_mset_reproduces_normal_states_and_not_faulty_ones():
    frame = _plant()
    model = MSETDetector().fit(frame.iloc[:400])
    estimate = model.estimate(frame.iloc[400:600])
    error = np.abs(estimate - frame.iloc[400:600].to_numpy()).mean(axis=0)
    assert (error < frame.iloc[:400].std().to_numpy()).all()
    faulty = np.abs(model.estimate(frame.iloc[600:]) - frame.iloc[600:].to_numpy())[:, 1].mean()
    assert faulty > 3 * error[1]


def test_mset_memory_holds_the_training_envelope():
    rows = np.random.default_rng(0).normal(size=(300, 3))
    chosen = select_memory(rows, 20)
    assert len(chosen) == 20 and len(set(chosen.tolist())) == 20
    for column in range(3):
        assert rows[:, column].argmin() in chosen and rows[:, column].argmax() in chosen


def test_var_residual_is_causal_and_needs_enough_rows():
    frame = _plant()
    model = VARResidualDetector(lags=3).fit(frame.iloc[:400])
    full = model.score(frame)
    truncated = model.score(frame.iloc[:700])
    np.testing.assert_allclose(full[:700], truncated)  # later rows never change earlier scores
    assert model.innovations(frame).shape == frame.shape
    with pytest.raises(SchemaError, match="training rows"):
        VARResidualDetector(lags=3).fit(frame.iloc[:8])
    with pytest.raises(ParameterError, match="'lags' parameter"):
        VARResidualDetector(lags=0).fit(frame)


def test_var_residual_fit_is_robust_to_a_burst_of_gross_outliers_in_training():
    frame = _plant()
    dirty = frame.copy()
    dirty.iloc[200:215, 0] += 50.0
    clean = VARResidualDetector().fit(frame.iloc[:400]).score(frame)
    robust = VARResidualDetector().fit(dirty.iloc[:400]).score(frame)
    trusting = VARResidualDetector(outlier_cutoff=np.inf).fit(dirty.iloc[:400]).score(frame)
    assert np.median(robust[600:]) > 30 * np.median(robust[400:600])
    for part in (slice(400, 600), slice(600, None)):
        robust_gap = abs(np.log(np.median(robust[part]) / np.median(clean[part])))
        trusting_gap = abs(np.log(np.median(trusting[part]) / np.median(clean[part])))
        assert robust_gap < min(0.1, trusting_gap)


def test_lagged_design_pads_history_with_the_first_row():
    design = lagged(np.array([[1.0, 10.0], [2.0, 20.0]]), 1)
    assert design.tolist() == [[1.0, 10.0, 1.0], [1.0, 10.0, 1.0]]


def test_autoencoder_state_is_named_arrays_and_reconstructs():
    frame = _plant()
    model = AutoencoderDetector(epochs=30, seed=3).fit(frame.iloc[:400])
    state = model.get_state()
    assert "layer0_weight_" in state and state["layer0_weight_"].shape == (32, 3)
    assert all(isinstance(v, np.ndarray) for v in state.values())
    again = AutoencoderDetector(epochs=30, seed=3).set_state(state)
    np.testing.assert_allclose(again.score(frame), model.score(frame), rtol=1e-6)
    assert model.reconstruct(frame.iloc[:5]).shape == (5, 3)
    with pytest.raises(ParameterError, match="'epochs' parameter of AutoencoderDetector must be an int >= 1"):
        AutoencoderDetector(epochs=0).fit(frame)


def test_new_detectors_are_registered_as_anomaly_models():
    assert {"knn", "mset", "var-residual", "autoencoder"} <= set(registry.names(task="anomaly"))
    assert registry.get("var-residual").get_tags()["sequential"] is True
