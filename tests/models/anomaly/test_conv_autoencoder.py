"""The convolutional sequence autoencoder (``conv-ae``) beyond the shared conformance suite."""

import numpy as np
import pandas as pd
import pytest

from forewarn.base import registry
from forewarn.base.persistence import load, save
from forewarn.exceptions import ParameterError
from forewarn.models.anomaly.series import ScoreCalibration, score_series
from forewarn.models.deep.conv_autoencoder import ConvAutoencoderDetector, trailing_windows

FAST = {"window": 20, "epochs": 60}  # short windows keep the tests quick; the other settings are the defaults
QUICK = {"window": 20, "epochs": 5}


def _rig(n=700, fault_at=500, seed=0):
    """Four channels driven by one slow cycle plus an autocorrelated load; from ``fault_at`` the flow stops
    following the pump (a blockage), every channel staying inside its training range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    load_ = np.zeros(n)
    for i in range(1, n):
        load_[i] = 0.9 * load_[i - 1] + rng.normal(0, 0.2)
    pump = np.sin(2 * np.pi * t / 40) + 0.5 * load_
    frame = pd.DataFrame(
        {
            "pump": pump + rng.normal(0, 0.05, n),
            "flow": 2.0 * pump + rng.normal(0, 0.1, n),
            "pressure": -pump + rng.normal(0, 0.05, n),
            "temperature": 0.3 * load_ + rng.normal(0, 0.05, n),
        }
    )
    frame.loc[fault_at:, "flow"] = 2.0 * np.sin(2 * np.pi * t[fault_at:] / 40 + np.pi / 2)
    return frame


@pytest.fixture(scope="module")
def fitted():
    frame = _rig()
    return ConvAutoencoderDetector(seed=0, **FAST).fit(frame.iloc[:400]), frame


def test_a_broken_relation_scores_above_the_training_alarm_level(fitted):
    model, frame = fitted
    scores = model.score(frame)
    level = ScoreCalibration.fit(scores[:400]).level
    normal, faulty = scores[400:500], scores[520:]  # after the fault, once the window has filled
    assert np.mean(normal > level) < 0.05
    assert np.mean(faulty > level) > 0.8
    assert np.median(faulty) > 3 * np.median(normal)


def test_channel_errors_point_at_the_broken_channel(fitted):
    model, frame = fitted
    errors = model.channel_errors(frame.iloc[550:])
    assert errors.shape == (150, 4)
    assert np.allclose(errors.mean(axis=1), model.score(frame.iloc[550:]))
    assert list(frame.columns)[int(np.argmax(np.median(errors, axis=0)))] == "flow"


def test_scores_are_causal(fitted):
    model, frame = fitted
    changed = frame.copy()
    changed.iloc[450:] = changed.iloc[450:] * 5.0 + 3.0  # the future changes completely
    before, after = model.score(frame), model.score(changed)
    assert np.array_equal(before[:450], after[:450])
    assert not np.allclose(before[450:], after[450:])


def test_rows_before_the_first_full_window_see_the_first_row_as_history(fitted):
    model, frame = fitted
    window = model.window
    prefixed = pd.concat([frame.iloc[[0] * (window - 1)], frame.iloc[:100]], ignore_index=True)
    np.testing.assert_allclose(model.score(frame.iloc[:100]), model.score(prefixed)[window - 1 :], rtol=1e-5)
    short = model.score(frame.iloc[:5])  # fewer rows than one window still scores every row
    assert short.shape == (5,) and np.isfinite(short).all()


def test_trailing_windows_end_at_each_row():
    z = np.arange(12.0).reshape(6, 2)
    windows = trailing_windows(z, 3)
    assert windows.shape == (6, 2, 3)
    assert windows[5].tolist() == [[6.0, 8.0, 10.0], [7.0, 9.0, 11.0]]
    assert windows[0].tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]


def test_save_load_gives_identical_scores(fitted, tmp_path):
    model, frame = fitted
    again = load(save(model, tmp_path / "conv-ae", training_data=frame.iloc[:400]))
    assert isinstance(again, ConvAutoencoderDetector) and again.get_params() == model.get_params()
    assert np.array_equal(again.score(frame), model.score(frame))
    state = model.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["layer0_weight_"].shape == (32, 4, 7)  # filters x channels x kernel
    assert state["layer10_weight_"].shape == (32, 4, 7)  # last transpose: filters in, one channel out each


def test_the_seed_fixes_training_and_different_seeds_differ():
    frame = _rig(n=300)
    a = ConvAutoencoderDetector(seed=1, **QUICK).fit(frame).score(frame)
    b = ConvAutoencoderDetector(seed=1, **QUICK).fit(frame).score(frame)
    c = ConvAutoencoderDetector(seed=2, **QUICK).fit(frame).score(frame)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_training_budget_and_early_stopping():
    frame = _rig(n=200)
    full = ConvAutoencoderDetector(window=12, epochs=7, validation_fraction=0.0).fit(frame)
    assert full.n_epochs_ == 7  # no validation windows: no early stopping
    capped = ConvAutoencoderDetector(window=12, epochs=7, max_steps=1).fit(frame)
    assert capped.n_epochs_ == 1
    odd = ConvAutoencoderDetector(window=13, epochs=2).fit(frame)  # a length the strides do not divide
    assert odd.score(frame).shape == (200,)


@pytest.mark.parametrize(
    "params", [{"window": 0}, {"kernel_size": 4}, {"dropout": 1.0}, {"epochs": 0}, {"validation_fraction": -0.1}]
)
def test_bad_parameters_raise_parameter_errors(params):
    with pytest.raises(ParameterError, match=f"'{next(iter(params))}' parameter of ConvAutoencoderDetector"):
        ConvAutoencoderDetector(**params).fit(_rig(n=100))


def test_registered_as_a_sequential_deep_detector():
    cls = registry.get("conv-ae")
    assert cls is ConvAutoencoderDetector and cls.task == "anomaly"
    assert cls.get_tags()["sequential"] is True and cls.get_tags()["deep"] is True
    defaults = cls()
    assert (defaults.window, defaults.filters, defaults.kernel_size, defaults.batch_size) == (60, 32, 7, 32)


def test_score_series_fits_on_training_rows_only():
    frame = _rig(n=500)
    model, scores = score_series(ConvAutoencoderDetector(seed=0, **QUICK), frame, 300, smooth=10)
    np.testing.assert_allclose(model.mean_, frame.iloc[:300].mean().to_numpy())
    assert scores.shape == (500,)
